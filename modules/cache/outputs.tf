output "address" {
  description = "Host name of the primary endpoint (TLS: connect with `rediss://`)."
  value       = aws_cloudformation_stack.this.outputs["PrimaryEndpointAddress"]
}

output "port" {
  description = "Port of the cache."
  value       = var.port
}

output "url" {
  description = "`rediss://<address>:<port>`: TLS, no credentials (the token is in `auth_token_secret_arn`)."
  value       = "rediss://${aws_cloudformation_stack.this.outputs["PrimaryEndpointAddress"]}:${var.port}"
}

output "replication_group_id" {
  description = "ID of the replication group."
  value       = var.name
}

output "security_group_id" {
  description = "ID of the cache's security group."
  value       = aws_security_group.this.id
}

output "auth_token_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the auth token (never the token itself)."
  value       = var.auth_token_secret_arn
}

output "stack_name" {
  description = "Name of the CloudFormation stack holding the subnet group and the replication group."
  value       = aws_cloudformation_stack.this.name
}
