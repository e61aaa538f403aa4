locals {
  log_group_name = "/ecs/${var.name}"

  execution_role_name = "${var.name}-task-execution"

  # Statements are kept only for the kinds of secret actually given, so the
  # role can read exactly the listed secrets and nothing else.
  secret_statements = concat(
    length(var.secret_arns) > 0 ? [{
      Sid      = "ReadSecrets"
      Effect   = "Allow"
      Action   = ["secretsmanager:GetSecretValue"]
      Resource = var.secret_arns
    }] : [],
    length(var.ssm_parameter_arns) > 0 ? [{
      Sid      = "ReadParameters"
      Effect   = "Allow"
      Action   = ["ssm:GetParameters"]
      Resource = var.ssm_parameter_arns
    }] : [],
    var.kms_key_arn != null ? [{
      Sid      = "DecryptSecrets"
      Effect   = "Allow"
      Action   = ["kms:Decrypt"]
      Resource = [var.kms_key_arn]
    }] : [],
  )
}

data "aws_partition" "current" {}

################################################################################
# Cluster
################################################################################

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = var.container_insights ? "enabled" : "disabled"
  }

  tags = var.tags
}

################################################################################
# Logs
################################################################################

resource "aws_cloudwatch_log_group" "this" {
  name              = local.log_group_name
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}

################################################################################
# Task execution role
################################################################################

resource "aws_iam_role" "task_execution" {
  name        = local.execution_role_name
  description = "Lets ECS pull images, write logs and read the secrets of the tasks in the ${var.name} cluster."

  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EcsTasksAssumeRole"
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
    }]
  })

  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "task_execution" {
  role       = aws_iam_role.task_execution.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role_policy" "task_execution_secrets" {
  count = length(var.secret_arns) + length(var.ssm_parameter_arns) > 0 ? 1 : 0

  name = "read-task-secrets"
  role = aws_iam_role.task_execution.id

  policy = jsonencode({
    Version   = "2012-10-17"
    Statement = local.secret_statements
  })
}
