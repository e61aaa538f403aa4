variable "address" {
  description = "Host name of the database."
  type        = string
}

variable "port" {
  description = "Port of the database."
  type        = number
}

variable "username" {
  description = "User the app connects as."
  type        = string
}

variable "database_name" {
  description = "Database the app connects to."
  type        = string
}

variable "secret_arn" {
  description = "ARN of the Secrets Manager secret holding the user's password (never the password itself)."
  type        = string

  validation {
    condition     = can(regex("^arn:[a-z-]+:secretsmanager:", var.secret_arn))
    error_message = "The secret_arn must be a Secrets Manager secret ARN."
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
