variable "platform" {
  description = "The platform's outputs (attributes of the `platform` output of the environment's platform root, as deploytool publishes them after every platform apply and renders them into the app root's input)."
  type = object({
    cluster_name            = string
    cluster_arn             = string
    vpc_id                  = string
    private_subnet_ids      = list(string)
    alb_security_group_id   = string
    alb_dns_name            = string
    alb_zone_id             = string
    listener_arn            = string
    url_scheme              = string
    task_execution_role_arn = string
    log_group_name          = string
    db_address              = string
    db_port                 = number
    db_username             = string
    db_name                 = string
    db_secret_arn           = string
    # The service's own role and its password's secret (null: it connects as the master user).
    db_app_username      = string
    db_app_secret_arn    = string
    db_security_group_id = string
    alb_arn_suffix       = string
    sns_topic_arn        = string
    # The cache (all null without one): `rediss://host:port`, its port and security group, and the
    # secret holding its auth token.
    cache_url                   = string
    cache_port                  = number
    cache_security_group_id     = string
    cache_auth_token_secret_arn = string
  })
}

variable "release" {
  description = "The branch release, rendered by deploytool from deploy.toml and the branch's names (every attribute is required: the tool's settings are the one source of these values)."
  type = object({
    region                = string
    environment           = string
    service_name          = string
    target_group_name     = string
    host                  = string
    listener_priority     = number
    log_prefix            = string
    image_repository      = string
    image_tag             = string
    cpu                   = number
    memory                = number
    desired_count         = number
    container_environment = map(string)
    container_secrets     = map(string)
    db_password_json_key  = string
    autoscaling = object({
      enabled    = bool
      min        = number
      max        = number
      cpu_target = number
    })
    health_check_path = string
    create_dns_record = bool
    hosted_zone_id    = string
  })

  validation {
    condition     = length(var.release.service_name) <= 255 && can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.release.service_name))
    error_message = "The service_name must be 1-255 characters of [a-z0-9-], starting and ending with a letter or digit."
  }

  validation {
    condition     = length(var.release.target_group_name) <= 32 && can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.release.target_group_name))
    error_message = "The target_group_name must be 1-32 characters of [a-z0-9-], starting and ending with a letter or digit."
  }

  validation {
    condition     = length(var.release.host) <= 253 && alltrue([for l in split(".", var.release.host) : can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", l))])
    error_message = "The host must be a lowercase DNS name: labels of 1-63 characters [a-z0-9-] joined by dots, at most 253 characters."
  }

  validation {
    condition     = var.release.listener_priority >= 1 && var.release.listener_priority <= 50000 && floor(var.release.listener_priority) == var.release.listener_priority
    error_message = "The listener_priority must be an integer between 1 and 50000."
  }

  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]{1,512}$", var.release.log_prefix))
    error_message = "The log_prefix must be 1-512 characters of [A-Za-z0-9._/-]."
  }

  validation {
    condition     = length(var.release.image_repository) > 0 && !can(regex("[@\\s]", var.release.image_repository))
    error_message = "The image_repository must be a repository without tag or digest."
  }

  validation {
    condition     = can(regex("^(sha256:[a-f0-9]{64}|[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$", var.release.image_tag))
    error_message = "The image_tag must be a Docker tag ([A-Za-z0-9_.-], at most 128 characters, not starting with . or -) or a digest sha256:<64 hex>."
  }

  validation {
    condition     = var.release.desired_count >= 0 && floor(var.release.desired_count) == var.release.desired_count
    error_message = "The desired_count must be a whole number, zero or more."
  }

  validation {
    condition     = var.release.autoscaling.min >= 0 && var.release.autoscaling.max >= 1 && var.release.autoscaling.max >= var.release.autoscaling.min
    error_message = "The autoscaling min must be zero or more and max at least 1 and at least min."
  }

  validation {
    condition     = !var.release.autoscaling.enabled || (try(var.release.autoscaling.cpu_target > 0 && var.release.autoscaling.cpu_target <= 100, false))
    error_message = "With autoscaling enabled, the autoscaling cpu_target must be a percentage above 0 and at most 100."
  }

  validation {
    condition     = length(setintersection(keys(var.release.container_environment), ["PGPASSWORD", "DB_PASSWORD", "DATABASE_PASSWORD"])) == 0
    error_message = "Passwords never go into plain environment variables: the database password comes from its secret."
  }

  validation {
    condition     = alltrue([for arn in values(var.release.container_secrets) : can(regex("^arn:[^:]+:(secretsmanager|ssm):", arn))]) && !contains(keys(var.release.container_secrets), "PGPASSWORD")
    error_message = "Each container_secrets value must be a Secrets Manager secret or SSM parameter ARN, and PGPASSWORD comes from the platform's database secret."
  }

  validation {
    condition     = !var.release.create_dns_record || var.release.hosted_zone_id != null
    error_message = "With create_dns_record = true, set hosted_zone_id."
  }
}
