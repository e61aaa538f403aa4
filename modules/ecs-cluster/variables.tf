variable "name" {
  description = "Name of the ECS cluster, e.g. `theobroma-staging`. Also names the task execution role and the log group `/ecs/<name>`."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$", var.name))
    error_message = "The name must be 1-40 characters of lowercase letters, digits and hyphens, not starting or ending with a hyphen (derived IAM role names must stay within 64 characters)."
  }
}

variable "container_insights" {
  description = "Enable CloudWatch Container Insights on the cluster."
  type        = bool
  default     = true
}

variable "secret_arns" {
  description = "ARNs of the Secrets Manager secrets the task execution role may read (`secretsmanager:GetSecretValue`) to inject into containers."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.secret_arns : can(regex("^arn:[a-z-]+:secretsmanager:", a))])
    error_message = "Every secret_arns entry must be a Secrets Manager secret ARN (arn:<partition>:secretsmanager:...)."
  }
}

variable "ssm_parameter_arns" {
  description = "ARNs of the SSM parameters the task execution role may read (`ssm:GetParameters`) to inject into containers."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.ssm_parameter_arns : can(regex("^arn:[a-z-]+:ssm:", a))])
    error_message = "Every ssm_parameter_arns entry must be an SSM parameter ARN (arn:<partition>:ssm:...)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer managed KMS key that encrypts the secrets or SecureString parameters; the task execution role gets `kms:Decrypt` on it. Null when they use AWS managed keys."
  type        = string
  default     = null

  validation {
    condition     = var.kms_key_arn == null || can(regex("^arn:[a-z-]+:kms:", var.kms_key_arn))
    error_message = "The kms_key_arn must be a KMS key ARN (arn:<partition>:kms:...)."
  }
}

variable "log_retention_in_days" {
  description = "Days to keep the container logs in the `/ecs/<name>` log group (0 keeps them forever)."
  type        = number
  default     = 30

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_in_days)
    error_message = "The log_retention_in_days must be one of the values CloudWatch Logs accepts: 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "log_kms_key_arn" {
  description = "ARN of a KMS key that encrypts the log group. Null uses CloudWatch Logs' default encryption."
  type        = string
  default     = null

  validation {
    condition     = var.log_kms_key_arn == null || can(regex("^arn:[a-z-]+:kms:", var.log_kms_key_arn))
    error_message = "The log_kms_key_arn must be a KMS key ARN (arn:<partition>:kms:...)."
  }
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
