variable "platform" {
  description = "The platform's database outputs and, when it has a cache, the cache's (the platform output object may be passed whole: other attributes are ignored)."
  type = object({
    db_address    = string
    db_port       = number
    db_username   = string
    db_name       = string
    db_secret_arn = string
    # The service's own role and its password's secret; null: the service connects as the master user.
    db_app_username   = optional(string)
    db_app_secret_arn = optional(string)
    # The cache, when the platform has one: its URL (no credentials) and its auth token's secret.
    cache_url                   = optional(string)
    cache_auth_token_secret_arn = optional(string)
  })

  validation {
    condition     = can(regex("^arn:[a-z-]+:secretsmanager:", var.platform.db_secret_arn))
    error_message = "The platform's db_secret_arn must be a Secrets Manager secret ARN."
  }

  validation {
    condition     = var.platform.cache_url == null || (startswith(coalesce(var.platform.cache_url, "-"), "rediss://") && can(regex("^arn:[a-z-]+:secretsmanager:", coalesce(var.platform.cache_auth_token_secret_arn, "-"))))
    error_message = "With a cache, its cache_url must be a TLS rediss:// URL and its cache_auth_token_secret_arn a Secrets Manager secret ARN."
  }
}

variable "password_json_key" {
  description = "JSON key of the password when the secret is a JSON document (e.g. `password`); null when the secret is the plain password, as `deploytool bootstrap` stores it."
  type        = string
  default     = null

  validation {
    condition     = var.password_json_key == null || can(regex("^[A-Za-z0-9_.-]{1,64}$", coalesce(var.password_json_key, "x")))
    error_message = "The db_password_json_key must be a plain JSON key of [A-Za-z0-9_.-]."
  }
}

variable "environment" {
  description = "The app's own plain environment variables; they win over the connection's."
  type        = map(string)
  default     = {}
}

variable "secrets" {
  description = "The app's own secrets: variable name => Secrets Manager or SSM ARN (resolved by ECS at task start)."
  type        = map(string)
  default     = {}
}
