data "terraform_remote_state" "platform" {
  backend = "s3"
  config  = var.platform_state
}

locals {
  platform = data.terraform_remote_state.platform.outputs

  # Connection details in plain sight; the password only as a secret reference, resolved by ECS at task start.
  db_environment = {
    DATABASE_URL = "postgresql://${local.platform.db_username}@${local.platform.db_address}:${local.platform.db_port}/${local.platform.db_name}?sslmode=require"
    PGHOST       = local.platform.db_address
    PGPORT       = tostring(local.platform.db_port)
    PGUSER       = local.platform.db_username
    PGDATABASE   = local.platform.db_name
    PGSSLMODE    = "require"
  }
  db_password_value_from = var.db_password_json_key == null ? local.platform.db_secret_arn : "${local.platform.db_secret_arn}:${var.db_password_json_key}::"

  container_environment = merge(
    local.db_environment,
    { APP_ENV = var.environment },
    var.container_environment,
  )
  container_secrets = concat(
    [{ name = "PGPASSWORD", value_from = local.db_password_value_from }],
    [for name in sort(keys(var.container_secrets)) : { name = name, value_from = var.container_secrets[name] }],
  )

  colors     = ["blue", "green"]
  idle_color = var.active_color == "blue" ? "green" : "blue"
  log_prefix = coalesce(var.log_prefix, var.service_name)

  image_tags     = { blue = var.blue_image_tag, green = var.green_image_tag }
  desired_counts = { blue = var.blue_desired_count, green = var.green_desired_count }
  weights        = { for c in local.colors : c => c == var.active_color ? 100 : 0 }

  # The active colour scales between autoscaling_min and _max; the idle one is held at its desired count.
  scaling = {
    for c in local.colors : c => c == var.active_color ? {
      min = var.autoscaling_min
      max = var.autoscaling_max
      } : {
      min = local.desired_counts[c]
      max = max(local.desired_counts[c], 1)
    }
  }

  services = { blue = module.blue, green = module.green }
  active   = local.services[var.active_color]
  idle     = local.services[local.idle_color]
}

################################################################################
# Two services, one per colour; routing is owned by the rules below
################################################################################

module "blue" {
  source = "../../../modules/ecs-service"

  name                  = "${var.service_name}-blue"
  target_group_name     = "${var.target_group_name_prefix}-blue"
  cluster_arn           = local.platform.cluster_arn
  vpc_id                = local.platform.vpc_id
  subnet_ids            = local.platform.private_subnet_ids
  alb_security_group_id = local.platform.alb_security_group_id

  image_repository   = var.image_repository
  image_tag          = var.blue_image_tag
  cpu                = var.cpu
  memory             = var.memory
  environment        = merge(local.container_environment, var.blue_environment, { APP_VERSION = var.blue_image_tag, DEPLOY_COLOR = "blue" })
  secrets            = local.container_secrets
  execution_role_arn = local.platform.task_execution_role_arn
  log_group_name     = local.platform.log_group_name
  log_region         = var.region
  log_stream_prefix  = "${local.log_prefix}-blue"

  desired_count                     = var.blue_desired_count
  health_check_grace_period_seconds = var.health_check_grace_period_seconds
  health_check_path                 = var.health_check_path

  create_listener_rule = false
  listener_rule_arns   = [aws_lb_listener_rule.production.arn]

  enable_autoscaling       = var.enable_autoscaling
  autoscaling_min_capacity = local.scaling.blue.min
  autoscaling_max_capacity = local.scaling.blue.max
}

module "green" {
  source = "../../../modules/ecs-service"

  name                  = "${var.service_name}-green"
  target_group_name     = "${var.target_group_name_prefix}-green"
  cluster_arn           = local.platform.cluster_arn
  vpc_id                = local.platform.vpc_id
  subnet_ids            = local.platform.private_subnet_ids
  alb_security_group_id = local.platform.alb_security_group_id

  image_repository   = var.image_repository
  image_tag          = var.green_image_tag
  cpu                = var.cpu
  memory             = var.memory
  environment        = merge(local.container_environment, var.green_environment, { APP_VERSION = var.green_image_tag, DEPLOY_COLOR = "green" })
  secrets            = local.container_secrets
  execution_role_arn = local.platform.task_execution_role_arn
  log_group_name     = local.platform.log_group_name
  log_region         = var.region
  log_stream_prefix  = "${local.log_prefix}-green"

  desired_count                     = var.green_desired_count
  health_check_grace_period_seconds = var.health_check_grace_period_seconds
  health_check_path                 = var.health_check_path

  create_listener_rule = false
  listener_rule_arns   = [aws_lb_listener_rule.production.arn]

  enable_autoscaling       = var.enable_autoscaling
  autoscaling_min_capacity = local.scaling.green.min
  autoscaling_max_capacity = local.scaling.green.max
}

# The database admits the platform's tasks security group; the service module gives each service its
# own group only, so admit both colours' groups.
resource "aws_security_group_rule" "db_from_service" {
  for_each = toset(local.colors)

  description              = "PostgreSQL from ${var.service_name}-${each.key}"
  type                     = "ingress"
  security_group_id        = local.platform.db_security_group_id
  protocol                 = "tcp"
  from_port                = local.platform.db_port
  to_port                  = local.platform.db_port
  source_security_group_id = local.services[each.key].security_group_id
}
