output "active_color" {
  description = "Colour serving production traffic."
  value       = local.active
}

output "idle_color" {
  description = "Colour reachable through the test route only."
  value       = local.idle
}

output "cluster_name" {
  description = "Name of the ECS cluster the services run in."
  value       = local.platform.cluster_name
}

output "blue_service_name" {
  description = "Name of the blue ECS service."
  value       = module.service["blue"].name
}

output "green_service_name" {
  description = "Name of the green ECS service."
  value       = module.service["green"].name
}

output "active_service_name" {
  description = "Name of the ECS service of the active colour."
  value       = module.service[local.active].name
}

output "idle_service_name" {
  description = "Name of the ECS service of the idle colour."
  value       = module.service[local.idle].name
}

output "blue_task_definition_arn" {
  description = "Task definition ARN (with revision) of the blue service."
  value       = module.service["blue"].task_definition_arn
}

output "green_task_definition_arn" {
  description = "Task definition ARN (with revision) of the green service."
  value       = module.service["green"].task_definition_arn
}

output "blue_image_tag" {
  description = "Image tag or digest of the blue service."
  value       = module.service["blue"].image_tag
}

output "green_image_tag" {
  description = "Image tag or digest of the green service."
  value       = module.service["green"].image_tag
}

output "active_image_tag" {
  description = "Image tag or digest serving production traffic."
  value       = local.image_tags[local.active]
}

output "idle_image_tag" {
  description = "Image tag or digest of the idle colour."
  value       = local.image_tags[local.idle]
}

output "blue_target_group_arn" {
  description = "ARN of the blue target group."
  value       = module.service["blue"].target_group_arn
}

output "green_target_group_arn" {
  description = "ARN of the green target group."
  value       = module.service["green"].target_group_arn
}

output "active_target_group_arn" {
  description = "ARN of the target group serving production traffic."
  value       = module.service[local.active].target_group_arn
}

output "idle_target_group_arn" {
  description = "ARN of the idle colour's target group (behind the test route)."
  value       = module.service[local.idle].target_group_arn
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
  value       = local.release.host
}

output "url" {
  description = "Production URL."
  value       = "${local.platform.url_scheme}://${local.release.host}"
}

output "test_route_header" {
  description = "Header that routes a request for the production host to the idle colour."
  value = {
    name  = local.release.test_route_header_name
    value = local.release.test_route_token
  }
}

output "log_group_name" {
  description = "CloudWatch log group of the containers."
  value       = local.platform.log_group_name
}
