# The platform's contract: the environment roots expose these as one object output, which deploytool
# reads from the state object and publishes (the non-sensitive outputs) for the app stacks.

output "region" {
  description = "AWS region of the environment."
  value       = var.settings.region
}

output "environment" {
  description = "Environment name."
  value       = var.settings.environment
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = module.ecs_cluster.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = module.ecs_cluster.arn
}

output "vpc_id" {
  description = "ID of the VPC."
  value       = module.network.vpc_id
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR block of the VPC."
  value       = module.network.vpc_cidr_block
}

output "private_subnet_ids" {
  description = "IDs of the private subnets (tasks, database)."
  value       = module.network.private_subnet_ids
}

output "public_subnet_ids" {
  description = "IDs of the public subnets (load balancer)."
  value       = module.network.public_subnet_ids
}

output "alb_arn" {
  description = "ARN of the load balancer."
  value       = module.alb.arn
}

output "alb_arn_suffix" {
  description = "ARN suffix of the load balancer (CloudWatch dimension)."
  value       = module.alb.arn_suffix
}

output "alb_dns_name" {
  description = "DNS name of the load balancer."
  value       = module.alb.dns_name
}

output "alb_zone_id" {
  description = "Route 53 zone ID of the load balancer (alias records)."
  value       = module.alb.zone_id
}

output "alb_security_group_id" {
  description = "Security group of the load balancer; services admit it on the container port."
  value       = module.alb.security_group_id
}

output "listener_arn" {
  description = "ARN of the listener app stacks add their rules to (HTTPS with a certificate, HTTP otherwise)."
  value       = module.alb.listener_arn
}

output "certificate_arn" {
  description = "ARN of the certificate the HTTPS listener serves (validated, when created here), or null without HTTPS."
  value       = local.https ? local.certificate_arn : null
}

output "url_scheme" {
  description = "Scheme of the service URLs: `https` with a certificate (given or created), `http` otherwise."
  value       = local.url_scheme
}

output "tasks_security_group_id" {
  description = "Shared security group of the app tasks, admitted by the database."
  value       = aws_security_group.tasks.id
}

output "task_execution_role_arn" {
  description = "ARN of the task execution role (image pull, logs, secrets)."
  value       = module.ecs_cluster.task_execution_role_arn
}

output "log_group_name" {
  description = "CloudWatch log group of the containers."
  value       = module.ecs_cluster.log_group_name
}

output "db_address" {
  description = "Host name of the database."
  value       = module.db.address
}

output "db_port" {
  description = "Port of the database."
  value       = module.db.port
}

output "db_username" {
  description = "Master user name of the database."
  value       = module.db.username
}

output "db_app_username" {
  description = "The service's database role (its migration creates it with the password in `db_app_secret_arn`), or null when the service connects as the master user."
  value       = local.settings.database.app_password_secret_arn != null ? "${replace(local.settings.name, "-", "_")}_app" : null
}

output "db_app_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the service role's password (never the password itself), or null."
  value       = local.settings.database.app_password_secret_arn
}

output "db_name" {
  description = "Database the app connects to (the instance's default database)."
  value       = "postgres"
}

output "db_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the database password (never the password itself)."
  value       = module.db.secret_arn
}

output "db_security_group_id" {
  description = "Security group of the database."
  value       = module.db.security_group_id
}

output "db_instance_identifier" {
  description = "Identifier of the DB instance."
  value       = module.db.identifier
}

output "cache_url" {
  description = "`rediss://<host>:<port>` of the cache (TLS, no credentials), or null without a cache."
  value       = try(module.cache[0].url, null)
}

output "cache_port" {
  description = "Port of the cache, or null without a cache."
  value       = try(module.cache[0].port, null)
}

output "cache_security_group_id" {
  description = "Security group of the cache (app stacks admit their services' groups), or null without a cache."
  value       = try(module.cache[0].security_group_id, null)
}

output "cache_auth_token_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the cache's auth token (never the token itself), or null without a cache."
  value       = try(module.cache[0].auth_token_secret_arn, null)
}

output "sns_topic_arn" {
  description = "ARN of the alarm topic."
  value       = module.monitoring.sns_topic_arn
}

output "dashboard_name" {
  description = "Name of the CloudWatch dashboard, or null."
  value       = module.monitoring.dashboard_name
}

output "github_oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider the roles trust (created here or given), or null when no role is created."
  value       = try(module.github_oidc[0].oidc_provider_arn, null)
}

output "github_deploy_role_arn" {
  description = "ARN of the GitHub Actions deploy role of the environment (plan, deploy, destroy), or null when not created."
  value       = try(module.github_oidc[0].deploy_role_arn, null)
}

output "github_build_role_arn" {
  description = "ARN of the GitHub Actions build role of the environment (pushes images to the ECR repository, nothing else), or null when not created."
  value       = try(module.github_oidc[0].build_role_arn, null)
}

output "github_roles" {
  description = "The GitHub Actions roles of the environment by kind (`deploy`, `build`): IAM name and the `sub` claim patterns each trusts; empty when none are created."
  value = try({
    for key, subjects in module.github_oidc[0].trusted_subjects : key => {
      name             = key == "build" ? module.github_oidc[0].build_role_name : module.github_oidc[0].deploy_role_name
      trusted_subjects = subjects
    }
  }, {})
}
