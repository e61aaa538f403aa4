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
  description = "The production release, rendered by deploytool from deploy.toml and the deploy's colour state. The rendered attributes are required (the tool's settings are their one source); the routing attributes, which the tool does not render, default here."
  type = object({
    region                   = string
    environment              = string
    service_name             = string
    target_group_name_prefix = string
    host                     = string
    log_prefix               = string
    image_repository         = string
    active_color             = string
    blue_image_tag           = string
    green_image_tag          = string
    blue_desired_count       = number
    green_desired_count      = number
    blue_environment         = map(string)
    green_environment        = map(string)
    cpu                      = number
    memory                   = number
    container_environment    = map(string)
    container_secrets        = map(string)
    db_password_json_key     = string
    autoscaling = object({
      enabled    = bool
      min        = number
      max        = number
      cpu_target = number
    })
    health_check_path = string
    create_dns_record = bool
    hosted_zone_id    = string

    # Routing: the production rule (host -> active colour) and the test route (host + header -> idle colour).
    listener_priority      = optional(number, 100)
    test_listener_priority = optional(number, 90)
    test_route_header_name = optional(string, "X-Deploy-Target")
    test_route_token       = optional(string, "idle")
  })

  validation {
    condition     = length(var.release.service_name) <= 249 && can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.release.service_name))
    error_message = "The service_name must be 1-249 characters of [a-z0-9-] (room for -green), starting and ending with a letter or digit."
  }

  validation {
    condition     = length(var.release.target_group_name_prefix) <= 26 && can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.release.target_group_name_prefix))
    error_message = "The target_group_name_prefix must be 1-26 characters of [a-z0-9-], starting and ending with a letter or digit."
  }

  validation {
    condition     = length(var.release.host) <= 253 && alltrue([for l in split(".", var.release.host) : can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", l))])
    error_message = "The host must be a lowercase DNS name: labels of 1-63 characters [a-z0-9-] joined by dots, at most 253 characters."
  }

  validation {
    condition     = can(regex("^[A-Za-z0-9._/-]{1,500}$", var.release.log_prefix))
    error_message = "The log_prefix must be 1-500 characters of [A-Za-z0-9._/-]."
  }

  validation {
    condition     = length(var.release.image_repository) > 0 && !can(regex("[@\\s]", var.release.image_repository))
    error_message = "The image_repository must be a repository without tag or digest."
  }

  validation {
    condition     = contains(["blue", "green"], var.release.active_color)
    error_message = "The active_color must be blue or green."
  }

  validation {
    condition     = alltrue([for tag in [var.release.blue_image_tag, var.release.green_image_tag] : can(regex("^(sha256:[a-f0-9]{64}|[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$", tag))])
    error_message = "The blue_image_tag and green_image_tag must be Docker tags ([A-Za-z0-9_.-], at most 128 characters, not starting with . or -) or digests sha256:<64 hex>."
  }

  validation {
    condition     = alltrue([for n in [var.release.blue_desired_count, var.release.green_desired_count] : n >= 0 && floor(n) == n])
    error_message = "The blue_desired_count and green_desired_count must be whole numbers, zero or more."
  }

  validation {
    condition     = var.release.autoscaling.min >= 1 && var.release.autoscaling.max >= var.release.autoscaling.min
    error_message = "The autoscaling min must be at least 1 (the active colour serves production) and max at least min."
  }

  validation {
    condition     = !var.release.autoscaling.enabled || (try(var.release.autoscaling.cpu_target > 0 && var.release.autoscaling.cpu_target <= 100, false))
    error_message = "With autoscaling enabled, the autoscaling cpu_target must be a percentage above 0 and at most 100."
  }

  validation {
    condition     = alltrue([for env in [var.release.container_environment, var.release.blue_environment, var.release.green_environment] : length(setintersection(keys(env), ["PGPASSWORD", "DB_PASSWORD", "DATABASE_PASSWORD"])) == 0])
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

  validation {
    condition     = var.release.listener_priority >= 1 && var.release.listener_priority <= 50000 && floor(var.release.listener_priority) == var.release.listener_priority
    error_message = "The listener_priority must be an integer between 1 and 50000."
  }

  validation {
    condition     = var.release.test_listener_priority >= 1 && var.release.test_listener_priority <= 50000 && floor(var.release.test_listener_priority) == var.release.test_listener_priority
    error_message = "The test_listener_priority must be an integer between 1 and 50000."
  }

  validation {
    condition     = var.release.test_listener_priority < var.release.listener_priority
    error_message = "The test_listener_priority must be lower than listener_priority, or the production rule would answer test requests."
  }

  validation {
    condition     = can(regex("^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,40}$", var.release.test_route_header_name)) && lower(var.release.test_route_header_name) != "host"
    error_message = "The test_route_header_name must be an HTTP header name of at most 40 characters (not Host)."
  }

  validation {
    condition     = can(regex("^[A-Za-z0-9._~-]{1,128}$", var.release.test_route_token))
    error_message = "The test_route_token must be 1-128 characters of [A-Za-z0-9._~-] (no wildcards)."
  }
}
