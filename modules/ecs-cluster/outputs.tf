output "id" {
  description = "ID of the ECS cluster."
  value       = aws_ecs_cluster.this.id
}

output "arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "task_execution_role_arn" {
  description = "ARN of the task execution role (image pull, logs, secrets)."
  value       = aws_iam_role.task_execution.arn
}

output "task_execution_role_name" {
  description = "Name of the task execution role."
  value       = aws_iam_role.task_execution.name
}

output "log_group_name" {
  description = "Name of the CloudWatch log group for the cluster's containers (`/ecs/<name>`)."
  value       = aws_cloudwatch_log_group.this.name
}

output "log_group_arn" {
  description = "ARN of the CloudWatch log group for the cluster's containers."
  value       = aws_cloudwatch_log_group.this.arn
}
