locals {
  platform = var.platform
  release  = var.release
}

module "container" {
  source = "../container-config"

  platform          = local.platform
  password_json_key = local.release.db_password_json_key
  environment       = merge({ APP_ENV = local.release.environment, APP_VERSION = local.release.image_tag }, local.release.container_environment)
  secrets           = local.release.container_secrets
}

################################################################################
# The branch service: task definition, service, target group, host rule
################################################################################

module "service" {
  source = "../ecs-service"

  name                  = local.release.service_name
  target_group_name     = local.release.target_group_name
  cluster_arn           = local.platform.cluster_arn
  vpc_id                = local.platform.vpc_id
  subnet_ids            = local.platform.private_subnet_ids
  alb_security_group_id = local.platform.alb_security_group_id

  image_repository   = local.release.image_repository
  image_tag          = local.release.image_tag
  cpu                = local.release.cpu
  memory             = local.release.memory
  environment        = module.container.environment
  secrets            = module.container.secrets
  execution_role_arn = local.platform.task_execution_role_arn
  log_group_name     = local.platform.log_group_name
  log_region         = local.release.region
  log_stream_prefix  = local.release.log_prefix

  desired_count     = local.release.desired_count
  health_check_path = local.release.health_check_path

  listener_arn           = local.platform.listener_arn
  listener_rule_priority = local.release.listener_priority
  host_headers           = [local.release.host]

  create_dns_record = local.release.create_dns_record
  route53_zone_id   = local.release.hosted_zone_id
  dns_name          = local.release.host
  alb_dns_name      = local.platform.alb_dns_name
  alb_zone_id       = local.platform.alb_zone_id

  enable_autoscaling       = local.release.autoscaling.enabled
  autoscaling_min_capacity = local.release.autoscaling.min
  autoscaling_max_capacity = local.release.autoscaling.max
  autoscaling_cpu_target   = local.release.autoscaling.cpu_target

  # The platform cannot know a branch's target group: the branch alarms on its own.
  unhealthy_hosts_alarm = {
    load_balancer_arn_suffix = local.platform.alb_arn_suffix
    alarm_actions            = [local.platform.sns_topic_arn]
  }
}

# The database admits the platform's tasks security group; the service module gives each service its
# own group only, so admit this service's group for the life of the branch.
resource "aws_security_group_rule" "db_from_service" {
  description              = "PostgreSQL from ${local.release.service_name}"
  type                     = "ingress"
  security_group_id        = local.platform.db_security_group_id
  protocol                 = "tcp"
  from_port                = local.platform.db_port
  to_port                  = local.platform.db_port
  source_security_group_id = module.service.security_group_id
}

# Likewise the cache, when the platform has one.
resource "aws_security_group_rule" "cache_from_service" {
  count = local.platform.cache_url != null ? 1 : 0

  description              = "Redis from ${local.release.service_name}"
  type                     = "ingress"
  security_group_id        = local.platform.cache_security_group_id
  protocol                 = "tcp"
  from_port                = local.platform.cache_port
  to_port                  = local.platform.cache_port
  source_security_group_id = module.service.security_group_id
}
