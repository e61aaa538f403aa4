output "service_name" {
  description = "Name of the ECS service."
  value       = module.service.name
}

output "cluster_name" {
  description = "Name of the ECS cluster the service runs in."
  value       = local.platform.cluster_name
}

output "task_definition_arn" {
  description = "ARN (with revision) of the task definition the service runs."
  value       = module.service.task_definition_arn
}

output "image" {
  description = "Full image reference the service runs."
  value       = module.service.image
}

output "image_tag" {
  description = "Image tag or digest the service runs."
  value       = module.service.image_tag
}

output "target_group_arn" {
  description = "ARN of the branch's target group."
  value       = module.service.target_group_arn
}

output "target_group_name" {
  description = "Name of the branch's target group."
  value       = module.service.target_group_name
}

output "listener_rule_arn" {
  description = "ARN of the branch's host-header listener rule."
  value       = module.service.listener_rule_arn
}

output "host" {
  description = "Host name the branch is served on."
  value       = local.release.host
}

output "url" {
  description = "URL of the branch environment."
  value       = "${local.platform.url_scheme}://${local.release.host}"
}

output "log_group_name" {
  description = "CloudWatch log group of the containers."
  value       = local.platform.log_group_name
}

output "log_prefix" {
  description = "awslogs stream prefix of the containers."
  value       = local.release.log_prefix
}

output "security_group_id" {
  description = "Security group of the service's tasks."
  value       = module.service.security_group_id
}
