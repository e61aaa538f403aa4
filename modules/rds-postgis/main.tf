locals {
  major_version    = split(".", var.engine_version)[0]
  parameter_family = "postgres${local.major_version}"

  parameters = concat(
    [{ name = "rds.force_ssl", value = "1", apply_method = "immediate" }],
    [for p in var.parameters : p if p.name != "rds.force_ssl"],
  )

  # Whether the module keeps the password in a secret of its own; the test is
  # on nullness only, so it is safe to reveal.
  create_secret = nonsensitive(var.master_password != null)

  master_password = local.create_secret ? var.master_password : try(
    jsondecode(data.aws_secretsmanager_secret_version.master[0].secret_string).password,
    data.aws_secretsmanager_secret_version.master[0].secret_string,
  )
}

################################################################################
# Networking
################################################################################

resource "aws_db_subnet_group" "this" {
  name        = var.identifier
  description = "Private subnets of the ${var.identifier} database"
  subnet_ids  = var.subnet_ids

  tags = var.tags
}

resource "aws_security_group" "this" {
  name_prefix = "${var.identifier}-db-"
  description = "Database ${var.identifier}: PostgreSQL from the allowed security groups only."
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.identifier}-db" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group_rule" "ingress" {
  count = length(var.allowed_security_group_ids)

  type                     = "ingress"
  description              = "PostgreSQL from an allowed security group"
  security_group_id        = aws_security_group.this.id
  protocol                 = "tcp"
  from_port                = var.port
  to_port                  = var.port
  source_security_group_id = var.allowed_security_group_ids[count.index]
}

################################################################################
# Parameters
################################################################################

resource "aws_db_parameter_group" "this" {
  name_prefix = "${var.identifier}-"
  description = "PostgreSQL ${local.major_version} parameters of ${var.identifier}"
  family      = local.parameter_family

  dynamic "parameter" {
    for_each = local.parameters

    content {
      name         = parameter.value.name
      value        = parameter.value.value
      apply_method = parameter.value.apply_method
    }
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

################################################################################
# Master password
################################################################################

data "aws_secretsmanager_secret_version" "master" {
  count = local.create_secret ? 0 : 1

  secret_id = var.master_password_secret_arn

  lifecycle {
    precondition {
      condition     = var.master_password_secret_arn != null
      error_message = "Set exactly one of master_password and master_password_secret_arn."
    }
  }
}

resource "aws_secretsmanager_secret" "master" {
  count = local.create_secret ? 1 : 0

  name_prefix             = "${var.identifier}-master-"
  description             = "Master credentials and endpoint of the ${var.identifier} database"
  kms_key_id              = var.secret_kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_in_days

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "master" {
  count = local.create_secret ? 1 : 0

  secret_id = aws_secretsmanager_secret.master[0].id
  secret_string = jsonencode({
    engine               = "postgres"
    host                 = aws_db_instance.this.address
    port                 = aws_db_instance.this.port
    username             = aws_db_instance.this.username
    password             = var.master_password
    dbInstanceIdentifier = aws_db_instance.this.identifier
  })
}

################################################################################
# DB instance
################################################################################

resource "aws_db_instance" "this" {
  identifier     = var.identifier
  engine         = "postgres"
  engine_version = var.engine_version
  instance_class = var.instance_class

  allocated_storage     = var.allocated_storage
  max_allocated_storage = var.max_allocated_storage
  storage_type          = var.storage_type
  storage_encrypted     = true
  kms_key_id            = var.kms_key_arn

  username = var.username
  password = local.master_password
  port     = var.port

  iam_database_authentication_enabled = var.iam_database_authentication_enabled

  db_subnet_group_name   = aws_db_subnet_group.this.name
  vpc_security_group_ids = [aws_security_group.this.id]
  publicly_accessible    = false
  multi_az               = var.multi_az

  parameter_group_name = aws_db_parameter_group.this.name

  backup_retention_period   = var.backup_retention_period
  backup_window             = var.backup_window
  maintenance_window        = var.maintenance_window
  copy_tags_to_snapshot     = var.copy_tags_to_snapshot
  deletion_protection       = var.deletion_protection
  skip_final_snapshot       = var.skip_final_snapshot
  final_snapshot_identifier = var.skip_final_snapshot ? null : coalesce(var.final_snapshot_identifier, "${var.identifier}-final")

  auto_minor_version_upgrade      = var.auto_minor_version_upgrade
  apply_immediately               = var.apply_immediately
  performance_insights_enabled    = var.performance_insights_enabled
  enabled_cloudwatch_logs_exports = var.enabled_cloudwatch_logs_exports

  tags = var.tags

  lifecycle {
    precondition {
      condition     = local.create_secret != (var.master_password_secret_arn != null)
      error_message = "Set exactly one of master_password and master_password_secret_arn."
    }
  }
}
