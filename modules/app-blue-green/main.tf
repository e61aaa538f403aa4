locals {
  platform = var.platform
  release  = var.release

  colors     = toset(["blue", "green"])
  active     = local.release.active_color
  idle       = local.active == "blue" ? "green" : "blue"
  image_tags = { blue = local.release.blue_image_tag, green = local.release.green_image_tag }
  weights    = { for c in local.colors : c => c == local.active ? 100 : 0 }

  # What differs per colour: its release (image and settings) and its task count. The active colour
  # scales between autoscaling min and max; the idle one is held at its desired count, 0 included:
  # Application Auto Scaling moves a service's count into [min, max] whenever they change, and the
  # service ignores desired_count once autoscaled, so a max of 1 would leave a colour scaled "to 0"
  # running one task.
  color = {
    blue = {
      environment   = local.release.blue_environment
      desired_count = local.release.blue_desired_count
    }
    green = {
      environment   = local.release.green_environment
      desired_count = local.release.green_desired_count
    }
  }
  scaling = {
    for c in local.colors : c => c == local.active ? {
      min = local.release.autoscaling.min
      max = local.release.autoscaling.max
      } : {
      min = local.color[c].desired_count
      max = local.color[c].desired_count
    }
  }
}

module "container" {
  source = "../container-config"

  platform          = local.platform
  password_json_key = local.release.db_password_json_key
  environment       = merge({ APP_ENV = local.release.environment }, local.release.container_environment)
  secrets           = local.release.container_secrets
}

################################################################################
# One service per colour; routing is owned by the rules in routing.tf
################################################################################

module "service" {
  source   = "../ecs-service"
  for_each = local.colors

  name                  = "${local.release.service_name}-${each.key}"
  target_group_name     = "${local.release.target_group_name_prefix}-${each.key}"
  cluster_arn           = local.platform.cluster_arn
  vpc_id                = local.platform.vpc_id
  subnet_ids            = local.platform.private_subnet_ids
  alb_security_group_id = local.platform.alb_security_group_id

  image_repository   = local.release.image_repository
  image_tag          = local.image_tags[each.key]
  cpu                = local.release.cpu
  memory             = local.release.memory
  environment        = merge(module.container.environment, local.color[each.key].environment, { APP_VERSION = local.image_tags[each.key], DEPLOY_COLOR = each.key })
  secrets            = module.container.secrets
  execution_role_arn = local.platform.task_execution_role_arn
  log_group_name     = local.platform.log_group_name
  log_region         = local.release.region
  log_stream_prefix  = "${local.release.log_prefix}-${each.key}"

  desired_count     = local.color[each.key].desired_count
  health_check_path = local.release.health_check_path

  create_listener_rule = false
  listener_rule_arns   = [aws_lb_listener_rule.production.arn]

  enable_autoscaling       = local.release.autoscaling.enabled
  autoscaling_min_capacity = local.scaling[each.key].min
  autoscaling_max_capacity = local.scaling[each.key].max
  autoscaling_cpu_target   = local.release.autoscaling.cpu_target

  # Each colour's target group is created here, so its alarm is too (the platform cannot know it).
  unhealthy_hosts_alarm = {
    load_balancer_arn_suffix = local.platform.alb_arn_suffix
    alarm_actions            = [local.platform.sns_topic_arn]
  }
}

# The database admits the platform's tasks security group; the service module gives each service its
# own group only, so admit both colours' groups.
resource "aws_security_group_rule" "db_from_service" {
  for_each = local.colors

  description              = "PostgreSQL from ${local.release.service_name}-${each.key}"
  type                     = "ingress"
  security_group_id        = local.platform.db_security_group_id
  protocol                 = "tcp"
  from_port                = local.platform.db_port
  to_port                  = local.platform.db_port
  source_security_group_id = module.service[each.key].security_group_id
}

# Likewise the cache, when the platform has one.
resource "aws_security_group_rule" "cache_from_service" {
  for_each = local.platform.cache_url != null ? local.colors : toset([])

  description              = "Redis from ${local.release.service_name}-${each.key}"
  type                     = "ingress"
  security_group_id        = local.platform.cache_security_group_id
  protocol                 = "tcp"
  from_port                = local.platform.cache_port
  to_port                  = local.platform.cache_port
  source_security_group_id = module.service[each.key].security_group_id
}
