locals {
  cluster_name = coalesce(var.cluster_name, var.name)
  url_scheme   = var.certificate_arn != null ? "https" : "http"

  # The execution role reads the database password and any secret the app stacks inject.
  task_secret_arns = distinct(concat([var.master_password_secret_arn], var.task_secret_arns))
}

################################################################################
# Network: a new VPC, or an existing one with its subnets
################################################################################

module "network" {
  source = "../../../modules/network"

  name                        = var.name
  create_vpc                  = var.create_vpc
  cidr                        = var.vpc_cidr
  azs                         = var.azs
  public_subnet_cidrs         = var.public_subnet_cidrs
  private_subnet_cidrs        = var.private_subnet_cidrs
  nat_gateway_mode            = var.nat_gateway_mode
  existing_vpc_id             = var.existing_vpc_id
  existing_public_subnet_ids  = var.existing_public_subnet_ids
  existing_private_subnet_ids = var.existing_private_subnet_ids
}

################################################################################
# ECS cluster, task execution role, container log group
################################################################################

module "ecs_cluster" {
  source = "../../../modules/ecs-cluster"

  name                  = local.cluster_name
  container_insights    = var.container_insights
  secret_arns           = local.task_secret_arns
  kms_key_arn           = var.secrets_kms_key_arn
  log_retention_in_days = var.log_retention_in_days
}

################################################################################
# Shared security group of the app tasks: the database admits it
################################################################################

resource "aws_security_group" "tasks" {
  name        = "${var.name}-tasks"
  description = "App tasks of ${var.name}: HTTPS out (ECR, logs, secrets) and PostgreSQL inside the VPC"
  vpc_id      = module.network.vpc_id

  tags = { Name = "${var.name}-tasks" }
}

resource "aws_security_group_rule" "tasks_egress_https" {
  description       = "HTTPS to AWS APIs (ECR, CloudWatch Logs, Secrets Manager)"
  type              = "egress"
  security_group_id = aws_security_group.tasks.id
  protocol          = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_blocks       = ["0.0.0.0/0"]
}

resource "aws_security_group_rule" "tasks_egress_db" {
  description       = "PostgreSQL inside the VPC"
  type              = "egress"
  security_group_id = aws_security_group.tasks.id
  protocol          = "tcp"
  from_port         = var.db_port
  to_port           = var.db_port
  cidr_blocks       = [module.network.vpc_cidr_block]
}

################################################################################
# Application load balancer: HTTP only without a certificate, HTTPS otherwise
################################################################################

module "alb" {
  source = "../../../modules/alb"

  name                       = var.name
  vpc_id                     = module.network.vpc_id
  vpc_cidr_block             = module.network.vpc_cidr_block
  subnet_ids                 = module.network.public_subnet_ids
  ingress_cidr_blocks        = var.alb_ingress_cidr_blocks
  certificate_arn            = var.certificate_arn
  enable_deletion_protection = var.alb_deletion_protection
  idle_timeout               = var.alb_idle_timeout
  access_logs                = var.alb_access_logs
}
