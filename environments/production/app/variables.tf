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
  default     = "production"

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
# Names
################################################################################

variable "service_name" {
  description = "Base name of the two ECS services: `<service_name>-blue` and `<service_name>-green`."
  type        = string
  default     = "theobroma-production"

  validation {
    condition     = length(var.service_name) <= 249 && can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.service_name))
    error_message = "The service_name must be 1-249 characters of [a-z0-9-] (room for -green), starting and ending with a letter or digit."
  }
}

variable "target_group_name_prefix" {
  description = "Base name of the two target groups: `<prefix>-blue` and `<prefix>-green` (at most 26 characters, so both fit in 32)."
  type        = string
  default     = "theobroma-production"

  validation {
    condition     = length(var.target_group_name_prefix) <= 26 && can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.target_group_name_prefix))
    error_message = "The target_group_name_prefix must be 1-26 characters of [a-z0-9-], starting and ending with a letter or digit."
  }
}

variable "host" {
  description = "Production host name, e.g. `api.example.com`."
  type        = string

  validation {
    condition     = length(var.host) <= 253 && alltrue([for l in split(".", var.host) : can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", l))])
    error_message = "The host must be a lowercase DNS name: labels of 1-63 characters [a-z0-9-] joined by dots, at most 253 characters."
  }
}

variable "log_prefix" {
  description = "Base of the awslogs stream prefixes (`<log_prefix>-blue`, `<log_prefix>-green`). Null uses `service_name`."
  type        = string
  default     = null

  validation {
    condition     = var.log_prefix == null || can(regex("^[A-Za-z0-9._/-]{1,500}$", coalesce(var.log_prefix, "x")))
    error_message = "The log_prefix must be 1-500 characters of [A-Za-z0-9._/-]."
  }
}

################################################################################
# Routing: the production rule and the test route to the idle colour
################################################################################

variable "listener_priority" {
  description = "Priority of the production rule (host header -> active colour) on the platform listener (1-50000)."
  type        = number
  default     = 100

  validation {
    condition     = var.listener_priority >= 1 && var.listener_priority <= 50000 && floor(var.listener_priority) == var.listener_priority
    error_message = "The listener_priority must be an integer between 1 and 50000."
  }
}

variable "test_listener_priority" {
  description = "Priority of the test route (host header + test header -> idle colour); lower than `listener_priority` so it is evaluated first."
  type        = number
  default     = 90

  validation {
    condition     = var.test_listener_priority >= 1 && var.test_listener_priority <= 50000 && floor(var.test_listener_priority) == var.test_listener_priority
    error_message = "The test_listener_priority must be an integer between 1 and 50000."
  }

  validation {
    condition     = var.test_listener_priority < var.listener_priority
    error_message = "The test_listener_priority must be lower than listener_priority, or the production rule would answer test requests."
  }
}

variable "test_route_header_name" {
  description = "HTTP header that sends a request for the production host to the idle colour."
  type        = string
  default     = "X-Deploy-Target"

  validation {
    condition     = can(regex("^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,40}$", var.test_route_header_name)) && !contains(["host"], lower(var.test_route_header_name))
    error_message = "The test_route_header_name must be an HTTP header name of at most 40 characters (not Host)."
  }
}

variable "test_route_token" {
  description = "Value of the test header that selects the idle colour. A routing token, not a credential: the idle colour serves the same API."
  type        = string
  default     = "idle"

  validation {
    condition     = can(regex("^[A-Za-z0-9._~-]{1,128}$", var.test_route_token))
    error_message = "The test_route_token must be 1-128 characters of [A-Za-z0-9._~-] (no wildcards)."
  }
}

################################################################################
# Blue-green
################################################################################

variable "active_color" {
  description = "Colour that serves production traffic: `blue` or `green`. The other one is reachable through the test route."
  type        = string
  default     = "blue"

  validation {
    condition     = contains(["blue", "green"], var.active_color)
    error_message = "The active_color must be blue or green."
  }
}

variable "blue_image_tag" {
  description = "Image tag or digest of the blue service."
  type        = string

  validation {
    condition     = can(regex("^(sha256:[a-f0-9]{64}|[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$", var.blue_image_tag))
    error_message = "The blue_image_tag must be a Docker tag ([A-Za-z0-9_.-], at most 128 characters, not starting with . or -) or a digest sha256:<64 hex>."
  }
}

variable "green_image_tag" {
  description = "Image tag or digest of the green service."
  type        = string

  validation {
    condition     = can(regex("^(sha256:[a-f0-9]{64}|[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$", var.green_image_tag))
    error_message = "The green_image_tag must be a Docker tag ([A-Za-z0-9_.-], at most 128 characters, not starting with . or -) or a digest sha256:<64 hex>."
  }
}

variable "blue_desired_count" {
  description = "Tasks of the blue service. Active colour with autoscaling: only the initial count. Idle colour: the count it is held at (0 to park it)."
  type        = number
  default     = 2

  validation {
    condition     = var.blue_desired_count >= 0 && floor(var.blue_desired_count) == var.blue_desired_count
    error_message = "The blue_desired_count must be a whole number, zero or more."
  }
}

variable "green_desired_count" {
  description = "Tasks of the green service. Active colour with autoscaling: only the initial count. Idle colour: the count it is held at (0 to park it)."
  type        = number
  default     = 0

  validation {
    condition     = var.green_desired_count >= 0 && floor(var.green_desired_count) == var.green_desired_count
    error_message = "The green_desired_count must be a whole number, zero or more."
  }
}

variable "enable_autoscaling" {
  description = "Scale the active colour on average CPU between autoscaling_min and autoscaling_max; the idle colour is held at its desired count."
  type        = bool
  default     = true
}

variable "autoscaling_min" {
  description = "Lowest number of tasks of the active colour."
  type        = number
  default     = 2

  validation {
    condition     = var.autoscaling_min >= 1
    error_message = "The autoscaling_min must be at least 1: the active colour serves production."
  }
}

variable "autoscaling_max" {
  description = "Highest number of tasks of the active colour."
  type        = number
  default     = 10

  validation {
    condition     = var.autoscaling_max >= var.autoscaling_min
    error_message = "The autoscaling_max must be at least autoscaling_min."
  }
}

variable "health_check_grace_period_seconds" {
  description = "Seconds a new task may fail load balancer health checks before ECS replaces it."
  type        = number
  default     = 60
}

variable "health_check_path" {
  description = "Path of the target group health checks."
  type        = string
  default     = "/health"
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

variable "cpu" {
  description = "Fargate task CPU units."
  type        = number
  default     = 512
}

variable "memory" {
  description = "Fargate task memory in MiB (a valid combination with cpu)."
  type        = number
  default     = 1024
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
# DNS
################################################################################

variable "create_dns_record" {
  description = "Create a Route 53 alias record for `host` pointing at the load balancer."
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

variable "blue_environment" {
  description = "Plain environment variables of the blue colour's release only (a release is its image and its settings). Never secrets."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(setintersection(keys(var.blue_environment), ["PGPASSWORD", "DB_PASSWORD", "DATABASE_PASSWORD"])) == 0
    error_message = "Passwords never go into plain environment variables: the database password comes from its secret."
  }
}

variable "green_environment" {
  description = "Plain environment variables of the green colour's release only (a release is its image and its settings). Never secrets."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(setintersection(keys(var.green_environment), ["PGPASSWORD", "DB_PASSWORD", "DATABASE_PASSWORD"])) == 0
    error_message = "Passwords never go into plain environment variables: the database password comes from its secret."
  }
}
