output "active_color" {
  description = "Colour serving production traffic."
  value       = var.active_color
}

output "idle_color" {
  description = "Colour reachable through the test route only."
  value       = local.idle_color
}

output "cluster_name" {
  description = "Name of the ECS cluster the services run in."
  value       = local.platform.cluster_name
}

output "blue_service_name" {
  description = "Name of the blue ECS service."
  value       = module.blue.name
}

output "green_service_name" {
  description = "Name of the green ECS service."
  value       = module.green.name
}

output "active_service_name" {
  description = "Name of the ECS service of the active colour."
  value       = local.active.name
}

output "idle_service_name" {
  description = "Name of the ECS service of the idle colour."
  value       = local.idle.name
}

output "blue_task_definition_arn" {
  description = "Task definition ARN (with revision) of the blue service."
  value       = module.blue.task_definition_arn
}

output "green_task_definition_arn" {
  description = "Task definition ARN (with revision) of the green service."
  value       = module.green.task_definition_arn
}

output "blue_image_tag" {
  description = "Image tag or digest of the blue service."
  value       = module.blue.image_tag
}

output "green_image_tag" {
  description = "Image tag or digest of the green service."
  value       = module.green.image_tag
}

output "active_image_tag" {
  description = "Image tag or digest serving production traffic."
  value       = local.image_tags[var.active_color]
}

output "idle_image_tag" {
  description = "Image tag or digest of the idle colour."
  value       = local.image_tags[local.idle_color]
}

output "blue_target_group_arn" {
  description = "ARN of the blue target group."
  value       = module.blue.target_group_arn
}

output "green_target_group_arn" {
  description = "ARN of the green target group."
  value       = module.green.target_group_arn
}

output "active_target_group_arn" {
  description = "ARN of the target group serving production traffic."
  value       = local.active.target_group_arn
}

output "idle_target_group_arn" {
  description = "ARN of the idle colour's target group (behind the test route)."
  value       = local.idle.target_group_arn
}

output "production_rule_arn" {
  description = "ARN of the production listener rule (weighted forward)."
  value       = aws_lb_listener_rule.production.arn
}

output "test_rule_arn" {
  description = "ARN of the test route listener rule."
  value       = aws_lb_listener_rule.test.arn
}

output "host" {
  description = "Production host name."
  value       = var.host
}

output "url" {
  description = "Production URL."
  value       = "${try(local.platform.url_scheme, "http")}://${var.host}"
}

output "test_route_header" {
  description = "Header that routes a request for the production host to the idle colour."
  value = {
    name  = var.test_route_header_name
    value = var.test_route_token
  }
}

output "log_group_name" {
  description = "CloudWatch log group of the containers."
  value       = local.platform.log_group_name
}
