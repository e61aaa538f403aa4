output "name" {
  description = "Name of the ECS service."
  value       = local.service.name
}

output "id" {
  description = "ID (ARN) of the ECS service."
  value       = local.service.id
}

output "arn" {
  description = "ARN of the ECS service."
  value       = local.service.id
}

output "task_definition_arn" {
  description = "ARN (with revision) of the task definition the service runs."
  value       = aws_ecs_task_definition.this.arn
}

output "task_definition_family" {
  description = "Family of the task definition."
  value       = aws_ecs_task_definition.this.family
}

output "task_definition_revision" {
  description = "Revision of the task definition."
  value       = aws_ecs_task_definition.this.revision
}

output "container_name" {
  description = "Name of the application container."
  value       = var.container_name
}

output "image" {
  description = "Full image reference of the container (`repository:tag` or `repository@sha256:...`)."
  value       = local.image
}

output "image_tag" {
  description = "Image tag or digest deployed."
  value       = var.image_tag
}

output "target_group_arn" {
  description = "ARN of the target group."
  value       = aws_lb_target_group.this.arn
}

output "target_group_arn_suffix" {
  description = "ARN suffix of the target group, for CloudWatch metrics."
  value       = aws_lb_target_group.this.arn_suffix
}

output "target_group_name" {
  description = "Name of the target group."
  value       = aws_lb_target_group.this.name
}

output "security_group_id" {
  description = "ID of the service security group."
  value       = aws_security_group.this.id
}

output "listener_rule_arn" {
  description = "ARN of the listener rule, or null when not created."
  value       = try(aws_lb_listener_rule.this[0].arn, null)
}

output "fqdn" {
  description = "FQDN of the DNS record, or null when not created."
  value       = try(aws_route53_record.this[0].fqdn, null)
}

output "autoscaling_policy_arn" {
  description = "ARN of the CPU target-tracking policy, or null when autoscaling is off."
  value       = try(aws_appautoscaling_policy.cpu[0].arn, null)
}

output "unhealthy_hosts_alarm_arn" {
  description = "ARN of the target group's unhealthy-host alarm, or null without one."
  value       = try(aws_cloudwatch_metric_alarm.unhealthy_hosts[0].arn, null)
}
