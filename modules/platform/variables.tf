variable "settings" {
  description = "The environment's platform settings, rendered by deploytool from deploy.toml (every attribute is required: deploy.toml and the settings models are the one source of these values)."
  type = object({
    project             = string
    environment         = string
    region              = string
    name                = string
    cluster_name        = string
    strategy            = string
    branch_environments = bool
    network = object({
      create_vpc                  = bool
      vpc_cidr                    = string
      nat_gateway_mode            = string
      existing_vpc_id             = string
      existing_public_subnet_ids  = list(string)
      existing_private_subnet_ids = list(string)
      azs                         = optional(list(string), [])
    })
    load_balancer = object({
      certificate_arn     = string
      create_certificate  = bool
      deletion_protection = bool
    })
    dns = object({
      domain         = string
      hosted_zone_id = string
      create_records = bool
    })
    database = object({
      master_password_secret_arn = string
      # The service's own role (made by its migration): the secret holding its password; null: the
      # service connects as the master user.
      app_password_secret_arn = optional(string)
      instance_class          = string
      multi_az                = bool
      deletion_protection     = bool
      skip_final_snapshot     = bool
    })
    cache = object({
      enabled               = bool
      node_type             = string
      auth_token_secret_arn = string
    })
    task_secret_arns = list(string)
    github = object({
      repository        = string
      state_bucket_name = string
      ledger_prefix     = string
      image_repository  = string
      oidc_provider_arn = string
    })
  })

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.settings.region))
    error_message = "The region must be an AWS region name such as us-east-1."
  }

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$", var.settings.environment)) && length(var.settings.environment) <= 16
    error_message = "The environment must be 1-16 lowercase letters, digits and single hyphens, starting with a letter."
  }

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$", var.settings.name)) && length(var.settings.name) <= 26
    error_message = "The name must be 1-26 lowercase letters, digits and single hyphens, starting with a letter (it names the load balancer and the deploy role)."
  }

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$", var.settings.cluster_name))
    error_message = "The cluster_name must be 1-40 lowercase letters, digits and hyphens, not starting or ending with a hyphen."
  }

  validation {
    condition     = contains(["rolling", "blue-green"], var.settings.strategy) && (var.settings.strategy == "rolling" || !var.settings.branch_environments)
    error_message = "The strategy must be rolling or blue-green; branch environments need rolling."
  }

  validation {
    condition     = var.settings.network.create_vpc || (var.settings.network.existing_vpc_id != null && length(var.settings.network.existing_public_subnet_ids) >= 2 && length(var.settings.network.existing_private_subnet_ids) >= 2)
    error_message = "With create_vpc = false, set existing_vpc_id and at least two existing_public_subnet_ids and existing_private_subnet_ids."
  }

  validation {
    condition     = length(var.settings.dns.domain) <= 253 && alltrue([for l in split(".", var.settings.dns.domain) : can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", l))])
    error_message = "The dns domain must be a lowercase DNS name: labels of 1-63 characters [a-z0-9-] joined by dots, at most 253 characters."
  }

  validation {
    condition     = !(var.settings.load_balancer.create_certificate || var.settings.dns.create_records) || var.settings.dns.hosted_zone_id != null
    error_message = "With create_certificate or create_records = true, set the dns hosted_zone_id."
  }

  validation {
    condition     = !(var.settings.load_balancer.create_certificate && var.settings.load_balancer.certificate_arn != null)
    error_message = "Set the load_balancer certificate_arn or create_certificate = true, not both."
  }

  validation {
    condition     = can(regex("^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.settings.database.master_password_secret_arn))
    error_message = "The master_password_secret_arn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)."
  }

  validation {
    condition     = !var.settings.cache.enabled || can(regex("^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", coalesce(var.settings.cache.auth_token_secret_arn, "-")))
    error_message = "With the cache enabled, its auth_token_secret_arn must be a Secrets Manager secret ARN (deploytool bootstrap creates it)."
  }

  validation {
    condition     = var.settings.github.repository == null || can(regex("^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$", coalesce(var.settings.github.repository, "x/x")))
    error_message = "The github repository must be OWNER/NAME, or null for no deploy role."
  }
}

variable "container_insights" {
  description = "Enable CloudWatch Container Insights on the cluster (an operating choice of the environment, set by its root)."
  type        = bool
}

variable "log_retention_in_days" {
  description = "Days to keep container logs (set by the environment's root)."
  type        = number
}

variable "database_operations" {
  description = "How the environment operates its database (set by its root): days of automated backups, whether changes apply at once or in the maintenance window, and the storage autoscaling limit in GiB (0 turns it off)."
  type = object({
    backup_retention_period = number
    apply_immediately       = bool
    max_allocated_storage   = number
  })

  validation {
    condition     = var.database_operations.backup_retention_period >= 0 && var.database_operations.backup_retention_period <= 35
    error_message = "The backup_retention_period must be between 0 and 35 days."
  }
}
