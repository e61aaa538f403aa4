################################################################################
# Environment and platform
################################################################################

variable "region" {
  description = "AWS region of the environment."
  type        = string
  default     = "us-east-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "The region must be an AWS region name such as us-east-1."
  }
}

variable "environment" {
  description = "Environment name, used in the Environment tag and the container's APP_ENV."
  type        = string
  default     = "staging"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$", var.environment)) && length(var.environment) <= 16
    error_message = "The environment must be 1-16 lowercase letters, digits and single hyphens, starting with a letter."
  }
}

variable "platform_state" {
  description = "Where the platform stack keeps its state (S3 backend): its outputs are this stack's inputs."
  type = object({
    bucket = string
    key    = string
    region = string
  })
}

################################################################################
# Names (built by deploytool from the branch slug)
################################################################################

variable "service_name" {
  description = "ECS service name and task definition family, e.g. `staging-feature-new-api-endpoint`."
  type        = string

  validation {
    condition     = length(var.service_name) <= 255 && can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.service_name))
    error_message = "The service_name must be 1-255 characters of [a-z0-9-], starting and ending with a letter or digit."
  }
}

variable "target_group_name" {
  description = "Name of the branch's target group (at most 32 characters)."
  type        = string

  validation {
    condition     = length(var.target_group_name) <= 32 && can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.target_group_name))
    error_message = "The target_group_name must be 1-32 characters of [a-z0-9-], starting and ending with a letter or digit."
  }
}

variable "host" {
  description = "Host name the branch is served on, e.g. `staging-feature-new-api-endpoint.staging.example.com`."
  type        = string

  validation {
    condition     = length(var.host) <= 253 && alltrue([for l in split(".", var.host) : can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", l))])
    error_message = "The host must be a lowercase DNS name: labels of 1-63 characters [a-z0-9-] joined by dots, at most 253 characters."
  }
}

variable "listener_priority" {
  description = "Priority of the branch's host-header rule on the platform listener (1-50000, unique per listener)."
  type        = number

  validation {
    condition     = var.listener_priority >= 1 && var.listener_priority <= 50000 && floor(var.listener_priority) == var.listener_priority
    error_message = "The listener_priority must be an integer between 1 and 50000."
  }
}

variable "log_prefix" {
  description = "awslogs stream prefix in the platform log group. Null uses `service_name`."
  type        = string
  default     = null

  validation {
    condition     = var.log_prefix == null || can(regex("^[A-Za-z0-9._/-]{1,512}$", coalesce(var.log_prefix, "x")))
    error_message = "The log_prefix must be 1-512 characters of [A-Za-z0-9._/-]."
  }
}

################################################################################
# Container
################################################################################

variable "image_repository" {
  description = "Container image repository without tag, e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com/theobroma-geo-api`."
  type        = string

  validation {
    condition     = length(var.image_repository) > 0 && !can(regex("[@\\s]", var.image_repository))
    error_message = "The image_repository must be a repository without tag or digest."
  }
}

variable "image_tag" {
  description = "Image tag (a commit SHA, `v1.2.3`) or digest (`sha256:<64 hex>`) to run."
  type        = string

  validation {
    condition     = can(regex("^(sha256:[a-f0-9]{64}|[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$", var.image_tag))
    error_message = "The image_tag must be a Docker tag ([A-Za-z0-9_.-], at most 128 characters, not starting with . or -) or a digest sha256:<64 hex>."
  }
}

variable "cpu" {
  description = "Fargate task CPU units."
  type        = number
  default     = 256
}

variable "memory" {
  description = "Fargate task memory in MiB (a valid combination with cpu)."
  type        = number
  default     = 512
}

variable "container_environment" {
  description = "Extra plain environment variables of the container (they win over the generated ones). Never secrets: use `container_secrets`."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(setintersection(keys(var.container_environment), ["PGPASSWORD", "DB_PASSWORD", "DATABASE_PASSWORD"])) == 0
    error_message = "Passwords never go into plain environment variables: the database password comes from its secret."
  }
}

variable "container_secrets" {
  description = "Extra environment variables read from Secrets Manager or SSM at task start: variable name -> secret or parameter ARN. The platform's execution role must be allowed to read them (`task_secret_arns`)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for arn in values(var.container_secrets) : can(regex("^arn:[^:]+:(secretsmanager|ssm):", arn))])
    error_message = "Each container_secrets value must be a Secrets Manager secret or SSM parameter ARN."
  }

  validation {
    condition     = !contains(keys(var.container_secrets), "PGPASSWORD")
    error_message = "PGPASSWORD is set from the platform's database secret; do not set it in container_secrets."
  }
}

variable "db_password_json_key" {
  description = "JSON key of the password when the database secret is a JSON document (e.g. `password`); null when the secret is the plain password, as `deploytool bootstrap` stores it."
  type        = string
  default     = null

  validation {
    condition     = var.db_password_json_key == null || can(regex("^[A-Za-z0-9_.-]{1,64}$", coalesce(var.db_password_json_key, "x")))
    error_message = "The db_password_json_key must be a plain JSON key of [A-Za-z0-9_.-]."
  }
}

################################################################################
# Service
################################################################################

variable "desired_count" {
  description = "Number of tasks at creation (the autoscaler owns it afterwards when autoscaling is on)."
  type        = number
  default     = 1

  validation {
    condition     = var.desired_count >= 0 && floor(var.desired_count) == var.desired_count
    error_message = "The desired_count must be a whole number, zero or more."
  }
}

variable "enable_autoscaling" {
  description = "Scale the number of tasks on average CPU between autoscaling_min and autoscaling_max."
  type        = bool
  default     = true
}

variable "autoscaling_min" {
  description = "Lowest number of tasks the autoscaler keeps."
  type        = number
  default     = 1

  validation {
    condition     = var.autoscaling_min >= 0
    error_message = "The autoscaling_min must be zero or more."
  }
}

variable "autoscaling_max" {
  description = "Highest number of tasks the autoscaler starts."
  type        = number
  default     = 2

  validation {
    condition     = var.autoscaling_max >= 1 && var.autoscaling_max >= var.autoscaling_min
    error_message = "The autoscaling_max must be at least 1 and at least autoscaling_min."
  }
}

variable "health_check_grace_period_seconds" {
  description = "Seconds a new task may fail load balancer health checks before ECS replaces it."
  type        = number
  default     = 60
}

variable "health_check_path" {
  description = "Path of the target group health check."
  type        = string
  default     = "/health"
}

################################################################################
# DNS
################################################################################

variable "create_dns_record" {
  description = "Create a Route 53 alias record for `host` pointing at the load balancer (off when a wildcard record covers branch hosts)."
  type        = bool
  default     = false
}

variable "hosted_zone_id" {
  description = "Route 53 hosted zone of the record. Required with `create_dns_record`."
  type        = string
  default     = null

  validation {
    condition     = !var.create_dns_record || var.hosted_zone_id != null
    error_message = "With create_dns_record = true, set hosted_zone_id."
  }
}
