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
    { APP_ENV = var.environment, APP_VERSION = var.image_tag },
    var.container_environment,
  )
  container_secrets = concat(
    [{ name = "PGPASSWORD", value_from = local.db_password_value_from }],
    [for name in sort(keys(var.container_secrets)) : { name = name, value_from = var.container_secrets[name] }],
  )
}

################################################################################
# The branch service: task definition, service, target group, host rule
################################################################################

module "service" {
  source = "../../../modules/ecs-service"

  name                  = var.service_name
  target_group_name     = var.target_group_name
  cluster_arn           = local.platform.cluster_arn
  vpc_id                = local.platform.vpc_id
  subnet_ids            = local.platform.private_subnet_ids
  alb_security_group_id = local.platform.alb_security_group_id

  image_repository   = var.image_repository
  image_tag          = var.image_tag
  cpu                = var.cpu
  memory             = var.memory
  environment        = local.container_environment
  secrets            = local.container_secrets
  execution_role_arn = local.platform.task_execution_role_arn
  log_group_name     = local.platform.log_group_name
  log_region         = var.region
  log_stream_prefix  = coalesce(var.log_prefix, var.service_name)

  desired_count                     = var.desired_count
  health_check_grace_period_seconds = var.health_check_grace_period_seconds
  health_check_path                 = var.health_check_path

  listener_arn           = local.platform.listener_arn
  listener_rule_priority = var.listener_priority
  host_headers           = [var.host]

  create_dns_record = var.create_dns_record
  route53_zone_id   = var.hosted_zone_id
  dns_name          = var.host
  alb_dns_name      = local.platform.alb_dns_name
  alb_zone_id       = local.platform.alb_zone_id

  enable_autoscaling       = var.enable_autoscaling
  autoscaling_min_capacity = var.autoscaling_min
  autoscaling_max_capacity = var.autoscaling_max
}

# The database admits the platform's tasks security group; the service module gives each service its
# own group only, so admit this service's group for the life of the branch.
resource "aws_security_group_rule" "db_from_service" {
  description              = "PostgreSQL from ${var.service_name}"
  type                     = "ingress"
  security_group_id        = local.platform.db_security_group_id
  protocol                 = "tcp"
  from_port                = local.platform.db_port
  to_port                  = local.platform.db_port
  source_security_group_id = module.service.security_group_id
}
