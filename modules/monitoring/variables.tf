variable "name" {
  description = "Prefix of the dashboard, alarm and topic names, e.g. `theobroma-staging`."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,200}$", var.name))
    error_message = "The name must be 1-200 characters of [A-Za-z0-9_-]."
  }
}

variable "cluster_name" {
  description = "Name of the ECS cluster the services run in."
  type        = string
}

variable "service_names" {
  description = "ECS services to watch (CPU/memory widgets, CPU and memory alarms). Names must be known at plan time."
  type        = list(string)
  default     = []
}

variable "alb_arn_suffix" {
  description = "ARN suffix of the load balancer (`app/NAME/ID`), the CloudWatch `LoadBalancer` dimension."
  type        = string

  validation {
    condition     = can(regex("^app/[^/]+/[^/]+$", var.alb_arn_suffix))
    error_message = "The alb_arn_suffix must look like app/NAME/ID."
  }
}

variable "target_group_arn_suffixes" {
  description = "ARN suffixes of the target groups to watch (`targetgroup/NAME/ID`): healthy/unhealthy host widgets and alarms, one per list position."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.target_group_arn_suffixes : can(regex("^targetgroup/[^/]+/[^/]+$", s))])
    error_message = "Each target group ARN suffix must look like targetgroup/NAME/ID."
  }
}

variable "db_instance_identifier" {
  description = "RDS instance to watch (CPU and connections). Null leaves the database out."
  type        = string
  default     = null
}

variable "create_dashboard" {
  description = "Create the CloudWatch dashboard."
  type        = bool
  default     = true
}

variable "alarm_email_addresses" {
  description = "Email addresses subscribed to the alarm topic (each must confirm the subscription)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for e in var.alarm_email_addresses : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", e))])
    error_message = "Each alarm email address must look like name@example.com."
  }
}

variable "kms_master_key_id" {
  description = "KMS key of the alarm topic. Null creates a customer managed key whose policy lets CloudWatch publish; the AWS managed `alias/aws/sns` does not allow CloudWatch alarms to deliver."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

################################################################################
# Thresholds
################################################################################

variable "alarm_period" {
  description = "Seconds over which each alarm datapoint is aggregated."
  type        = number
  default     = 60

  validation {
    condition     = contains([10, 30, 60], var.alarm_period) || (var.alarm_period >= 60 && var.alarm_period % 60 == 0)
    error_message = "The alarm_period must be 10, 30 or a multiple of 60 seconds."
  }
}

variable "alarm_evaluation_periods" {
  description = "Consecutive breaching periods before an alarm fires."
  type        = number
  default     = 3

  validation {
    condition     = var.alarm_evaluation_periods >= 1
    error_message = "The alarm_evaluation_periods must be at least 1."
  }
}

variable "http_5xx_count_threshold" {
  description = "Target 5xx responses per period above which the 5xx count alarm fires."
  type        = number
  default     = 10
}

variable "http_5xx_rate_threshold" {
  description = "Percentage of target responses that are 5xx above which the 5xx rate alarm fires."
  type        = number
  default     = 5

  validation {
    condition     = var.http_5xx_rate_threshold > 0 && var.http_5xx_rate_threshold <= 100
    error_message = "The http_5xx_rate_threshold must be a percentage above 0 and at most 100."
  }
}

variable "unhealthy_hosts_threshold" {
  description = "Unhealthy targets per target group above which the alarm fires."
  type        = number
  default     = 0
}

variable "ecs_cpu_threshold" {
  description = "Average service CPU utilisation (percent) above which the alarm fires."
  type        = number
  default     = 85
}

variable "ecs_memory_threshold" {
  description = "Average service memory utilisation (percent) above which the alarm fires."
  type        = number
  default     = 85
}

variable "db_cpu_threshold" {
  description = "Database CPU utilisation (percent) above which the alarm fires."
  type        = number
  default     = 80
}

variable "db_connections_threshold" {
  description = "Database connections above which the alarm fires."
  type        = number
  default     = 80
}

################################################################################
# The service's own metrics (embedded metric format)
################################################################################

variable "app_metrics" {
  description = "The Geo API's own CloudWatch metrics (embedded metric format lines in its logs): their namespace and the `Environment` dimension value, the tasks' `APP_ENV`. Null leaves the application widgets and alarms out."
  type = object({
    namespace   = optional(string, "Theobroma/GeoApi")
    environment = string
  })
  default = null
}

variable "geo_query_p95_threshold_ms" {
  description = "p95 of the nearby-farms query latency (milliseconds, pool wait included) above which the geo query alarm fires."
  type        = number
  default     = 500

  validation {
    condition     = var.geo_query_p95_threshold_ms > 0
    error_message = "The geo_query_p95_threshold_ms must be above 0."
  }
}

variable "db_pool_waiting_periods" {
  description = "Consecutive periods with requests waiting for a database connection (pool exhausted) before the pool alarm fires."
  type        = number
  default     = 3

  validation {
    condition     = var.db_pool_waiting_periods >= 1
    error_message = "The db_pool_waiting_periods must be at least 1."
  }
}
