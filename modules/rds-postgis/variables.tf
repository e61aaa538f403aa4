variable "identifier" {
  description = "Identifier of the DB instance, also used to name its subnet group, parameter group, security group and secret, e.g. `theobroma-staging`."
  type        = string

  validation {
    condition     = length(var.identifier) <= 50 && can(regex("^[a-z]([a-z0-9-]*[a-z0-9])?$", var.identifier)) && !strcontains(var.identifier, "--")
    error_message = "The identifier must be 1-50 characters of lowercase letters, digits and hyphens, start with a letter, not end with a hyphen and not contain two consecutive hyphens."
  }
}

variable "engine_version" {
  description = "PostgreSQL version: a major version (`15`, minor upgrades then follow `auto_minor_version_upgrade`) or a full one (`15.7`). PostGIS is available as an extension on every supported version."
  type        = string
  default     = "15"

  validation {
    condition     = can(regex("^(1[1-9]|[2-9][0-9])(\\.[0-9]+)?$", var.engine_version))
    error_message = "The engine_version must be a PostgreSQL version 11 or newer, e.g. 15 or 15.7."
  }
}

variable "instance_class" {
  description = "DB instance class."
  type        = string
  default     = "db.t3.micro"

  validation {
    condition     = startswith(var.instance_class, "db.")
    error_message = "The instance_class must be a DB instance class such as db.t3.micro."
  }
}

variable "allocated_storage" {
  description = "Initial storage in GiB."
  type        = number
  default     = 20

  validation {
    condition     = var.allocated_storage >= 20 && var.allocated_storage <= 65536
    error_message = "The allocated_storage must be between 20 and 65536 GiB."
  }
}

variable "max_allocated_storage" {
  description = "Upper limit in GiB for storage autoscaling; 0 turns storage autoscaling off."
  type        = number
  default     = 100
}

variable "storage_type" {
  description = "Storage type: `gp2`, `gp3`, `io1` or `standard`."
  type        = string
  default     = "gp2"

  validation {
    condition     = contains(["gp2", "gp3", "io1", "io2", "standard"], var.storage_type)
    error_message = "The storage_type must be one of: gp2, gp3, io1, io2, standard."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the storage. Null uses the AWS managed key `aws/rds`; storage is always encrypted."
  type        = string
  default     = null
}

variable "vpc_id" {
  description = "ID of the VPC of the DB instance's security group."
  type        = string
}

variable "subnet_ids" {
  description = "IDs of the private subnets (in at least two availability zones) for the DB subnet group."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "A DB subnet group needs subnets in at least two availability zones."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups (e.g. of the ECS services) allowed to connect to the database port. Nothing else is admitted."
  type        = list(string)
  default     = []
}

variable "port" {
  description = "Port the database listens on."
  type        = number
  default     = 5432

  validation {
    condition     = var.port >= 1150 && var.port <= 65535
    error_message = "The port must be between 1150 and 65535."
  }
}

variable "username" {
  description = "Master user name."
  type        = string
  default     = "postgres"

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9_]{0,62}$", var.username)) && !contains(["rdsadmin", "admin", "rdsrepladmin"], lower(var.username))
    error_message = "The username must start with a letter, hold 1-63 letters, digits or underscores, and not be a reserved name (rdsadmin, admin, rdsrepladmin)."
  }
}

variable "master_password" {
  description = "Master password. The module stores it with the connection details in a new Secrets Manager secret (`secret_arn`). Set this or `master_password_secret_arn`, not both."
  type        = string
  default     = null
  sensitive   = true

  validation {
    condition     = var.master_password == null || can(regex("^[^/\"@ ]{8,128}$", var.master_password))
    error_message = "The master_password must be 8-128 characters and must not contain /, \", @ or spaces."
  }
}

variable "master_password_secret_arn" {
  description = "ARN of an existing Secrets Manager secret holding the master password, either as JSON with a `password` key or as the plain string. Set this or `master_password`, not both."
  type        = string
  default     = null

  validation {
    condition     = var.master_password_secret_arn == null || can(regex("^arn:[a-z-]+:secretsmanager:", var.master_password_secret_arn))
    error_message = "The master_password_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "secret_kms_key_arn" {
  description = "ARN of the KMS key that encrypts the secret the module creates. Null uses the AWS managed key `aws/secretsmanager`."
  type        = string
  default     = null
}

variable "secret_recovery_window_in_days" {
  description = "Days Secrets Manager keeps the module's secret after deletion (0 deletes it at once)."
  type        = number
  default     = 7

  validation {
    condition     = var.secret_recovery_window_in_days == 0 || (var.secret_recovery_window_in_days >= 7 && var.secret_recovery_window_in_days <= 30)
    error_message = "The secret_recovery_window_in_days must be 0 or between 7 and 30."
  }
}

variable "parameters" {
  description = "Extra DB parameters; `rds.force_ssl = 1` is always set."
  type = list(object({
    name         = string
    value        = string
    apply_method = optional(string, "immediate")
  }))
  default = []

  validation {
    condition     = alltrue([for p in var.parameters : contains(["immediate", "pending-reboot"], p.apply_method)])
    error_message = "Each parameter's apply_method must be immediate or pending-reboot."
  }
}

variable "multi_az" {
  description = "Run a standby instance in a second availability zone."
  type        = bool
  default     = false
}

variable "deletion_protection" {
  description = "Protect the DB instance from deletion (turn off to let Terraform destroy it)."
  type        = bool
  default     = true
}

variable "skip_final_snapshot" {
  description = "Delete the DB instance without taking a final snapshot."
  type        = bool
  default     = false
}

variable "final_snapshot_identifier" {
  description = "Name of the final snapshot taken on deletion. Null means `<identifier>-final`."
  type        = string
  default     = null
}

variable "backup_retention_period" {
  description = "Days to keep automated backups (0 turns them off)."
  type        = number
  default     = 7

  validation {
    condition     = var.backup_retention_period >= 0 && var.backup_retention_period <= 35
    error_message = "The backup_retention_period must be between 0 and 35 days."
  }
}

variable "backup_window" {
  description = "Daily UTC window for automated backups, e.g. `03:00-04:00`. Null lets AWS choose."
  type        = string
  default     = null
}

variable "maintenance_window" {
  description = "Weekly UTC maintenance window, e.g. `sun:04:30-sun:05:30`. Null lets AWS choose."
  type        = string
  default     = null
}

variable "auto_minor_version_upgrade" {
  description = "Apply minor engine upgrades automatically during the maintenance window."
  type        = bool
  default     = true
}

variable "apply_immediately" {
  description = "Apply modifications at once instead of in the next maintenance window."
  type        = bool
  default     = false
}

variable "performance_insights_enabled" {
  description = "Enable Performance Insights."
  type        = bool
  default     = false
}

variable "iam_database_authentication_enabled" {
  description = "Allow IAM database authentication in addition to passwords."
  type        = bool
  default     = true
}

variable "copy_tags_to_snapshot" {
  description = "Copy the DB instance's tags to its snapshots."
  type        = bool
  default     = true
}

variable "enabled_cloudwatch_logs_exports" {
  description = "Logs exported to CloudWatch Logs: any of `postgresql`, `upgrade`."
  type        = list(string)
  default     = ["postgresql", "upgrade"]

  validation {
    condition     = alltrue([for l in var.enabled_cloudwatch_logs_exports : contains(["postgresql", "upgrade"], l)])
    error_message = "The enabled_cloudwatch_logs_exports entries must be postgresql or upgrade."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
