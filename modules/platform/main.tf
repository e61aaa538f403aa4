locals {
  settings = var.settings

  # HTTPS with a certificate, given or created here (then its ARN is known only after apply).
  create_certificate = local.settings.load_balancer.create_certificate
  https              = local.create_certificate || local.settings.load_balancer.certificate_arn != null
  # A created certificate is the validated one: the HTTPS listener waits for the validation.
  certificate_arn = local.create_certificate ? aws_acm_certificate_validation.this[0].certificate_arn : local.settings.load_balancer.certificate_arn
  url_scheme      = local.https ? "https" : "http"

  # The execution role reads the database password and any secret the app stacks inject.
  task_secret_arns = distinct(concat(
    [local.settings.database.master_password_secret_arn],
    local.settings.database.app_password_secret_arn != null ? [local.settings.database.app_password_secret_arn] : [],
    local.cache ? [local.settings.cache.auth_token_secret_arn] : [],
    local.settings.task_secret_arns,
  ))

  # The optional Redis cache (off by default): a replication group reachable from the app tasks.
  cache = local.settings.cache.enabled

  # The GitHub roles' reach follows deploytool's naming: branch environments deploy `<env>-<slug>`
  # services in workspaces `<env>-<slug>`; the others deploy `<project>-<env>[-colour]` in the default
  # workspace. State keys: see deploytool/state.py (workspace_key_prefix "workspaces") and ledger.py.
  branches            = local.settings.branch_environments
  environment         = local.settings.environment
  service_name_prefix = local.branches ? "${local.environment}-" : "${local.settings.project}-${local.environment}"
  state_key_patterns = concat(
    ["${local.environment}/app/*"],
    local.branches ? ["workspaces/*/${local.environment}/app/*"] : [],
    ["${local.settings.github.ledger_prefix}/${local.environment}/*"],
  )

  # Who may assume which role. Branch environments: the staging workflow's pull requests and pushed
  # branches (.github/workflows/deploy-staging.yml), and the janitor (.github/workflows/cleanup.yml),
  # whose job is bound to the GitHub environment of the same name. Other environments: only jobs
  # bound to their GitHub environment, whose reviewers and branch rules then guard every use of the
  # role; tag-triggered runs go through it too. Builds: the refs that build images for the
  # environment (the branches above; main and v* tags for the others).
  staging_push_branches = ["feature/*", "hotfix/*", "develop"]
  deploy_role_trust = local.branches ? {
    branches      = local.staging_push_branches
    tags          = []
    environments  = [local.environment]
    pull_requests = true
    } : {
    branches      = []
    tags          = []
    environments  = [local.environment]
    pull_requests = false
  }
  build_role_trust = {
    branches      = local.branches ? local.staging_push_branches : ["main"]
    tags          = local.branches ? [] : ["v*"]
    environments  = []
    pull_requests = false
  }

  # Blue-green services are known in advance and get alarms; branch services come and go. Target groups
  # belong to the app stacks, which alarm on their unhealthy hosts themselves (ecs-service).
  monitored_service_names = local.settings.strategy == "blue-green" ? [for c in ["blue", "green"] : "${local.service_name_prefix}-${c}"] : []
}

################################################################################
# Network: a new VPC, or an existing one with its subnets
################################################################################

module "network" {
  source = "../network"

  name                        = local.settings.name
  create_vpc                  = local.settings.network.create_vpc
  cidr                        = local.settings.network.vpc_cidr
  azs                         = local.settings.network.azs
  nat_gateway_mode            = local.settings.network.nat_gateway_mode
  existing_vpc_id             = local.settings.network.existing_vpc_id
  existing_public_subnet_ids  = local.settings.network.existing_public_subnet_ids
  existing_private_subnet_ids = local.settings.network.existing_private_subnet_ids
}

################################################################################
# ECS cluster, task execution role, container log group
################################################################################

module "ecs_cluster" {
  source = "../ecs-cluster"

  name                  = local.settings.cluster_name
  container_insights    = var.container_insights
  secret_arns           = local.task_secret_arns
  log_retention_in_days = var.log_retention_in_days
}

################################################################################
# Shared security group of the app tasks: the database admits it
################################################################################

resource "aws_security_group" "tasks" {
  # checkov:skip=CKV2_AWS_5: the group is the environment's door to the database for tasks to join; this stack attaches it to nothing
  name        = "${local.settings.name}-tasks"
  description = "App tasks of ${local.settings.name}: HTTPS out (ECR, logs, secrets) and PostgreSQL inside the VPC"
  vpc_id      = module.network.vpc_id

  tags = { Name = "${local.settings.name}-tasks" }
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
  from_port         = module.db.port
  to_port           = module.db.port
  cidr_blocks       = [module.network.vpc_cidr_block]
}

resource "aws_security_group_rule" "tasks_egress_cache" {
  count = local.cache ? 1 : 0

  description       = "Redis inside the VPC"
  type              = "egress"
  security_group_id = aws_security_group.tasks.id
  protocol          = "tcp"
  from_port         = module.cache[0].port
  to_port           = module.cache[0].port
  cidr_blocks       = [module.network.vpc_cidr_block]
}

################################################################################
# Application load balancer: HTTPS with a certificate (HTTP redirects to it), plain HTTP without
################################################################################

module "alb" {
  source = "../alb"

  name                       = local.settings.name
  vpc_id                     = module.network.vpc_id
  vpc_cidr_block             = module.network.vpc_cidr_block
  subnet_ids                 = module.network.public_subnet_ids
  certificate_arn            = local.certificate_arn
  enable_https               = local.https
  enable_deletion_protection = local.settings.load_balancer.deletion_protection
}

################################################################################
# PostgreSQL with PostGIS, in the private subnets, reachable from the app tasks
################################################################################

module "db" {
  source = "../rds-postgis"

  identifier                 = local.settings.name
  instance_class             = local.settings.database.instance_class
  max_allocated_storage      = var.database_operations.max_allocated_storage
  master_password_secret_arn = local.settings.database.master_password_secret_arn

  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  allowed_security_group_ids = [aws_security_group.tasks.id]

  multi_az                = local.settings.database.multi_az
  deletion_protection     = local.settings.database.deletion_protection
  skip_final_snapshot     = local.settings.database.skip_final_snapshot
  backup_retention_period = var.database_operations.backup_retention_period
  apply_immediately       = var.database_operations.apply_immediately
}

################################################################################
# Optional: Redis for frequently read data, in the private subnets, reachable from the app tasks
################################################################################

module "cache" {
  source = "../cache"
  count  = local.cache ? 1 : 0

  name                       = local.settings.name
  node_type                  = local.settings.cache.node_type
  auth_token_secret_arn      = local.settings.cache.auth_token_secret_arn
  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  allowed_security_group_ids = [aws_security_group.tasks.id]
}

################################################################################
# Dashboard, alarms and the alarm topic
################################################################################

module "monitoring" {
  source = "../monitoring"

  name                   = local.settings.name
  cluster_name           = module.ecs_cluster.name
  service_names          = local.monitored_service_names
  alb_arn_suffix         = module.alb.arn_suffix
  db_instance_identifier = module.db.identifier
  # The Geo API's own metrics: its tasks' APP_ENV is the environment's name (app-rolling, app-blue-green).
  app_metrics = { environment = local.environment }
}

################################################################################
# Optional: the roles GitHub Actions assumes through OIDC to deploy and to build
################################################################################

module "github_oidc" {
  source = "../github-oidc"
  count  = local.settings.github.repository != null ? 1 : 0

  github_repository = local.settings.github.repository
  # An account holds one GitHub OIDC provider: the second environment in an account trusts the first's.
  create_oidc_provider = local.settings.github.oidc_provider_arn == null
  oidc_provider_arn    = local.settings.github.oidc_provider_arn
  deploy_role          = merge(local.deploy_role_trust, { name = "${local.settings.name}-github-deploy" })
  build_role           = merge(local.build_role_trust, { name = "${local.settings.name}-github-build" })

  cluster_arn          = module.ecs_cluster.arn
  service_name_prefix  = local.service_name_prefix
  alb_arn              = module.alb.arn
  vpc_id               = module.network.vpc_id
  state_bucket_name    = local.settings.github.state_bucket_name
  state_key_patterns   = local.state_key_patterns
  platform_outputs_key = "${local.environment}/platform/outputs.json"
  ecr_repository_name  = local.settings.github.image_repository
  pass_role_arns       = [module.ecs_cluster.task_execution_role_arn]
  route53_zone_ids     = local.settings.dns.create_records ? [local.settings.dns.hosted_zone_id] : []
  # The failure alert of the production workflow goes to the alarm topic.
  alert_topic_arns = local.branches ? [] : [module.monitoring.sns_topic_arn]
  # The environment roots' provider default_tags.
  resource_tags = { ManagedBy = "deploytool", Environment = local.environment }
}
