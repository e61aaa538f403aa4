################################################################################
# Identity provider and trust
################################################################################

variable "create_oidc_provider" {
  description = "Create the GitHub Actions OIDC provider. An account holds one per URL: set false and pass oidc_provider_arn when it already exists."
  type        = bool
  default     = true
}

variable "oidc_provider_arn" {
  description = "ARN of an existing GitHub Actions OIDC provider (when create_oidc_provider is false)."
  type        = string
  default     = null
}

variable "oidc_thumbprints" {
  description = "Certificate thumbprints of token.actions.githubusercontent.com (AWS no longer checks them for GitHub, but provider 3.x requires the list)."
  type        = list(string)
  default     = ["6938fd4d98bab03faadb97b34396831e3780aea1", "1c58a3a8518e8759bf075b76b750d4f2df264fcd"]
}

variable "role_name" {
  description = "Name of the deploy role."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", var.role_name))
    error_message = "The role_name must be 1-64 characters of [A-Za-z0-9+=,.@_-]."
  }
}

variable "role_path" {
  description = "IAM path of the deploy role."
  type        = string
  default     = "/"
}

variable "role_permissions_boundary_arn" {
  description = "Permissions boundary of the deploy role, or null."
  type        = string
  default     = null
}

variable "max_session_duration" {
  description = "Longest session of the deploy role, in seconds."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "The max_session_duration must be between 3600 and 43200 seconds."
  }
}

variable "github_repository" {
  description = "The one repository allowed to assume the role, as `OWNER/NAME` (no wildcards)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "The github_repository must be OWNER/NAME without wildcards."
  }
}

variable "allowed_branches" {
  description = "Branches whose workflow runs may assume the role (`ref:refs/heads/<branch>`); `*` patterns are allowed, e.g. `feature/*`."
  type        = list(string)
  default     = ["main"]
}

variable "allowed_environments" {
  description = "GitHub deployment environments whose jobs may assume the role (`environment:<name>`)."
  type        = list(string)
  default     = []
}

variable "allow_pull_requests" {
  description = "Let pull_request workflow runs assume the role (for plan comments)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}

################################################################################
# What the role may touch
################################################################################

variable "cluster_arn" {
  description = "ARN of the ECS cluster the role deploys to. Its region and account scope every other ARN of the policy."
  type        = string

  validation {
    condition     = can(regex("^arn:[^:]+:ecs:[^:]+:[0-9]{12}:cluster/[A-Za-z0-9_-]+$", var.cluster_arn))
    error_message = "The cluster_arn must look like arn:aws:ecs:REGION:ACCOUNT:cluster/NAME."
  }
}

variable "service_name_prefix" {
  description = "Prefix of the ECS service names the role manages, e.g. `staging-`."
  type        = string

  validation {
    condition     = length(var.service_name_prefix) > 0 && !can(regex("[*?]", var.service_name_prefix))
    error_message = "The service_name_prefix must be non-empty and without wildcards."
  }
}

variable "task_definition_family_prefix" {
  description = "Prefix of the task definition families the role tags and reads. Null uses service_name_prefix."
  type        = string
  default     = null
}

variable "target_group_name_prefix" {
  description = "Prefix of the target group names the role manages. Null uses service_name_prefix."
  type        = string
  default     = null
}

variable "alb_arn" {
  description = "ARN of the load balancer whose listeners and listener rules the role manages."
  type        = string

  validation {
    condition     = can(regex("^arn:[^:]+:elasticloadbalancing:[^:]+:[0-9]{12}:loadbalancer/app/[^/]+/[^/]+$", var.alb_arn))
    error_message = "The alb_arn must be the ARN of an application load balancer."
  }
}

variable "vpc_id" {
  description = "VPC in which the role may create and change the service security groups. Null leaves security groups out of the policy."
  type        = string
  default     = null
}

variable "state_bucket_name" {
  description = "S3 bucket holding the Terraform state and the deploy history."
  type        = string
}

variable "state_key_prefixes" {
  description = "Object key prefixes in the state bucket the role may read and write (state, lock files, workspaces under `env:/`, deploy history)."
  type        = list(string)

  validation {
    condition     = length(var.state_key_prefixes) > 0 && alltrue([for p in var.state_key_prefixes : length(p) > 0 && !startswith(p, "*")])
    error_message = "Give at least one non-empty key prefix that does not start with a wildcard."
  }
}

variable "ecr_repository_arns" {
  description = "ECR repositories the role may push to and pull from."
  type        = list(string)
  default     = []
}

variable "pass_role_arns" {
  description = "Task execution and task role ARNs the role may pass to ECS tasks."
  type        = list(string)
  default     = []
}

variable "log_group_prefix" {
  description = "Log groups the role may read, by name prefix."
  type        = string
  default     = "/ecs/"
}

variable "route53_zone_ids" {
  description = "Hosted zones in which the role may change records (branch DNS names)."
  type        = list(string)
  default     = []
}
