output "identifier" {
  description = "Identifier of the DB instance."
  value       = aws_db_instance.this.identifier
}

output "arn" {
  description = "ARN of the DB instance."
  value       = aws_db_instance.this.arn
}

output "resource_id" {
  description = "Resource ID of the DB instance (for IAM database authentication policies)."
  value       = aws_db_instance.this.resource_id
}

output "endpoint" {
  description = "Connection endpoint of the DB instance (`address:port`)."
  value       = aws_db_instance.this.endpoint
}

output "address" {
  description = "Host name of the DB instance."
  value       = aws_db_instance.this.address
}

output "port" {
  description = "Port of the DB instance."
  value       = aws_db_instance.this.port
}

output "username" {
  description = "Master user name."
  value       = aws_db_instance.this.username
}

output "security_group_id" {
  description = "ID of the DB instance's security group."
  value       = aws_security_group.this.id
}

output "subnet_group_name" {
  description = "Name of the DB subnet group."
  value       = aws_db_subnet_group.this.name
}

output "parameter_group_name" {
  description = "Name of the DB parameter group."
  value       = aws_db_parameter_group.this.name
}

output "secret_arn" {
  description = "ARN of the Secrets Manager secret holding the master password (key `password` when JSON): the module's own secret, or `master_password_secret_arn`."
  value       = local.create_secret ? try(aws_secretsmanager_secret.master[0].arn, null) : var.master_password_secret_arn
}
