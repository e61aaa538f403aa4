################################################################################
# Naming and placement
################################################################################

variable "name" {
  description = "Name of the service. Used as the ECS service name, the task definition family and the base of every other name."
  type        = string

  validation {
    condition     = length(var.name) <= 255 && can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.name))
    error_message = "The name must be 1-255 characters of [a-z0-9-], starting and ending with a letter or digit."
  }
}

variable "target_group_name" {
  description = "Name of the target group (at most 32 characters). Null uses `name`, which must then fit in 32 characters."
  type        = string
  default     = null

  validation {
    condition     = var.target_group_name == null || (length(coalesce(var.target_group_name, "x")) <= 32 && can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", coalesce(var.target_group_name, "x"))))
    error_message = "The target group name must be 1-32 characters of [a-z0-9-], with no leading or trailing '-'."
  }
}

variable "cluster_arn" {
  description = "ARN of the ECS cluster the service runs in."
  type        = string

  validation {
    condition     = can(regex("^arn:[^:]+:ecs:[^:]+:[0-9]{12}:cluster/[A-Za-z0-9_-]+$", var.cluster_arn))
    error_message = "The cluster_arn must look like arn:aws:ecs:REGION:ACCOUNT:cluster/NAME."
  }
}

variable "vpc_id" {
  description = "ID of the VPC of the target group and the service security group."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets the tasks run in."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) > 0
    error_message = "At least one subnet is required."
  }
}

variable "alb_security_group_id" {
  description = "Security group of the load balancer: the only source allowed to reach the container port."
  type        = string
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

################################################################################
# Task definition
################################################################################

variable "image_repository" {
  description = "Container image repository, e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com/theobroma-geo-api`."
  type        = string

  validation {
    condition     = length(var.image_repository) > 0 && !can(regex("[@\\s]", var.image_repository))
    error_message = "The image_repository must be a repository without tag or digest."
  }
}

variable "image_tag" {
  description = "Image tag (e.g. `v1.4.2`, a commit SHA) or digest (`sha256:<64 hex>`). A digest renders as `repository@sha256:...`."
  type        = string

  validation {
    condition     = can(regex("^(sha256:[a-f0-9]{64}|[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$", var.image_tag))
    error_message = "The image_tag must be a Docker tag ([A-Za-z0-9_.-], at most 128 characters) or a digest sha256:<64 hex>."
  }
}

variable "container_name" {
  description = "Name of the container in the task definition."
  type        = string
  default     = "app"
}

variable "container_port" {
  description = "Port the container listens on."
  type        = number
  default     = 8000

  validation {
    condition     = var.container_port >= 1 && var.container_port <= 65535 && floor(var.container_port) == var.container_port
    error_message = "The container_port must be an integer between 1 and 65535."
  }
}

variable "cpu" {
  description = "Fargate task CPU units."
  type        = number
  default     = 256

  validation {
    condition     = contains([256, 512, 1024, 2048, 4096, 8192, 16384], var.cpu)
    error_message = "The cpu must be one of the Fargate sizes 256, 512, 1024, 2048, 4096, 8192, 16384."
  }
}

variable "memory" {
  description = "Fargate task memory in MiB (must be a valid combination with cpu)."
  type        = number
  default     = 512

  validation {
    condition     = var.memory >= 512 && var.memory <= 122880
    error_message = "The memory must be between 512 and 122880 MiB."
  }
}

variable "environment" {
  description = "Plain environment variables of the container. Never put secrets here: use `secrets`."
  type        = map(string)
  default     = {}
}

variable "secrets" {
  description = "Environment variables read from Secrets Manager or SSM Parameter Store at task start: `name` of the variable, `value_from` the ARN of the secret or parameter."
  type = list(object({
    name       = string
    value_from = string
  }))
  default = []

  validation {
    condition = alltrue([
      for s in var.secrets : can(regex("^arn:[^:]+:(secretsmanager|ssm):", s.value_from))
    ])
    error_message = "Each secret value_from must be the ARN of a Secrets Manager secret or an SSM parameter."
  }
}

variable "command" {
  description = "Command of the container. Null keeps the image's default."
  type        = list(string)
  default     = null
}

variable "readonly_root_filesystem" {
  description = "Mount the container's root filesystem read-only. A writable scratch volume is mounted on `/tmp`."
  type        = bool
  default     = true
}

variable "log_group_name" {
  description = "CloudWatch Logs group of the awslogs driver (created by the caller)."
  type        = string
}

variable "log_region" {
  description = "Region of the log group."
  type        = string
}

variable "log_stream_prefix" {
  description = "awslogs stream prefix. Null uses `name`."
  type        = string
  default     = null
}

variable "execution_role_arn" {
  description = "ARN of the task execution role (image pull, logs, secrets)."
  type        = string
}

variable "task_role_arn" {
  description = "ARN of the role the application assumes. Null for none."
  type        = string
  default     = null
}

################################################################################
# Service
################################################################################

variable "desired_count" {
  description = "Number of tasks. With autoscaling on, only the initial count: later changes are left to the autoscaler."
  type        = number
  default     = 2

  validation {
    condition     = var.desired_count >= 0
    error_message = "The desired_count must be zero or more."
  }
}

variable "deployment_minimum_healthy_percent" {
  description = "Lower bound of running tasks during a deployment, in percent of desired_count."
  type        = number
  default     = 100
}

variable "deployment_maximum_percent" {
  description = "Upper bound of running tasks during a deployment, in percent of desired_count."
  type        = number
  default     = 200

  validation {
    condition     = var.deployment_maximum_percent >= 100
    error_message = "The deployment_maximum_percent must be at least 100."
  }
}

variable "health_check_grace_period_seconds" {
  description = "Seconds during which the service ignores failing load balancer health checks of a new task."
  type        = number
  default     = 60

  validation {
    condition     = var.health_check_grace_period_seconds >= 0 && var.health_check_grace_period_seconds <= 2147483647
    error_message = "The health_check_grace_period_seconds must be between 0 and 2147483647."
  }
}

variable "wait_for_steady_state" {
  description = "Make Terraform wait until the service reaches a steady state after each change."
  type        = bool
  default     = false
}

variable "listener_rule_arns" {
  description = "With `create_listener_rule = false`: listener rules, made by the caller, that forward to this target group. The service is created after them, because ECS rejects a target group that no load balancer uses."
  type        = list(string)
  default     = []
}

################################################################################
# Target group and routing
################################################################################

variable "health_check_path" {
  description = "Path of the target group health check."
  type        = string
  default     = "/health"
}

variable "health_check_interval" {
  description = "Seconds between health checks."
  type        = number
  default     = 10

  validation {
    condition     = var.health_check_interval >= 5 && var.health_check_interval <= 300
    error_message = "The health_check_interval must be between 5 and 300 seconds."
  }
}

variable "health_check_timeout" {
  description = "Seconds after which a health check counts as failed (less than the interval)."
  type        = number
  default     = 5

  validation {
    condition     = var.health_check_timeout >= 2 && var.health_check_timeout <= 120
    error_message = "The health_check_timeout must be between 2 and 120 seconds."
  }
}

variable "health_check_healthy_threshold" {
  description = "Consecutive successes before a target is healthy."
  type        = number
  default     = 2

  validation {
    condition     = var.health_check_healthy_threshold >= 2 && var.health_check_healthy_threshold <= 10
    error_message = "The health_check_healthy_threshold must be between 2 and 10."
  }
}

variable "health_check_unhealthy_threshold" {
  description = "Consecutive failures before a target is unhealthy."
  type        = number
  default     = 3

  validation {
    condition     = var.health_check_unhealthy_threshold >= 2 && var.health_check_unhealthy_threshold <= 10
    error_message = "The health_check_unhealthy_threshold must be between 2 and 10."
  }
}

variable "health_check_matcher" {
  description = "HTTP codes a healthy target answers."
  type        = string
  default     = "200"
}

variable "deregistration_delay" {
  description = "Seconds the load balancer drains a deregistering target."
  type        = number
  default     = 30

  validation {
    condition     = var.deregistration_delay >= 0 && var.deregistration_delay <= 3600
    error_message = "The deregistration_delay must be between 0 and 3600 seconds."
  }
}

variable "create_listener_rule" {
  description = "Create a host-header listener rule forwarding to the target group."
  type        = bool
  default     = true
}

variable "listener_arn" {
  description = "ARN of the listener the rule is added to. Required when create_listener_rule is true."
  type        = string
  default     = null
}

variable "listener_rule_priority" {
  description = "Priority of the listener rule (1-50000, unique per listener). Null lets AWS pick the next free one."
  type        = number
  default     = null

  validation {
    condition     = var.listener_rule_priority == null || (coalesce(var.listener_rule_priority, 1) >= 1 && coalesce(var.listener_rule_priority, 1) <= 50000)
    error_message = "The listener_rule_priority must be between 1 and 50000."
  }
}

variable "host_headers" {
  description = "Host names the listener rule matches, e.g. `[\"staging-feature-x.example.com\"]`."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for h in var.host_headers : length(h) <= 128 && alltrue([for l in split(".", h) : length(l) <= 63])])
    error_message = "Each host header must be at most 128 characters with DNS labels of at most 63."
  }
}

variable "create_dns_record" {
  description = "Create a Route 53 alias record pointing `dns_name` at the load balancer."
  type        = bool
  default     = false
}

variable "route53_zone_id" {
  description = "Hosted zone of the DNS record."
  type        = string
  default     = null
}

variable "dns_name" {
  description = "Name of the DNS record. Null uses the first host header."
  type        = string
  default     = null
}

variable "alb_dns_name" {
  description = "DNS name of the load balancer (alias target)."
  type        = string
  default     = null
}

variable "alb_zone_id" {
  description = "Hosted zone ID of the load balancer (alias target)."
  type        = string
  default     = null
}

################################################################################
# Autoscaling
################################################################################

variable "enable_autoscaling" {
  description = "Scale the number of tasks on average CPU. Switching it moves the service between two resource addresses (see README)."
  type        = bool
  default     = false
}

variable "autoscaling_min_capacity" {
  description = "Lowest number of tasks the autoscaler keeps."
  type        = number
  default     = 2

  validation {
    condition     = var.autoscaling_min_capacity >= 0
    error_message = "The autoscaling_min_capacity must be zero or more."
  }
}

variable "autoscaling_max_capacity" {
  description = "Highest number of tasks the autoscaler starts (0, with a min of 0, holds the service at zero)."
  type        = number
  default     = 10

  validation {
    condition     = var.autoscaling_max_capacity >= 0
    error_message = "The autoscaling_max_capacity must be zero or more (0 with a min of 0: scaled to zero)."
  }
}

variable "autoscaling_cpu_target" {
  description = "Average CPU utilisation (percent) the autoscaler aims at (null: the default)."
  type        = number
  default     = 70
  nullable    = false

  validation {
    condition     = var.autoscaling_cpu_target > 0 && var.autoscaling_cpu_target <= 100
    error_message = "The autoscaling_cpu_target must be between 0 (exclusive) and 100."
  }
}

variable "autoscaling_scale_in_cooldown" {
  description = "Seconds after a scale-in before another scale-in."
  type        = number
  default     = 300
}

variable "autoscaling_scale_out_cooldown" {
  description = "Seconds after a scale-out before another scale-out."
  type        = number
  default     = 60
}

################################################################################
# Alarm
################################################################################

variable "unhealthy_hosts_alarm" {
  description = "An alarm on the target group's unhealthy targets (CloudWatch `UnHealthyHostCount` above `threshold` for `evaluation_periods` of `period` seconds), notifying `alarm_actions`; `load_balancer_arn_suffix` (`app/NAME/ID`) is the load balancer the metric is reported for. Null: no alarm."
  type = object({
    load_balancer_arn_suffix = string
    alarm_actions            = list(string)
    threshold                = optional(number, 0)
    period                   = optional(number, 60)
    evaluation_periods       = optional(number, 3)
  })
  default = null

  validation {
    condition     = var.unhealthy_hosts_alarm == null || can(regex("^app/[^/]+/[^/]+$", var.unhealthy_hosts_alarm.load_balancer_arn_suffix))
    error_message = "The unhealthy_hosts_alarm load_balancer_arn_suffix must look like app/NAME/ID."
  }
}
