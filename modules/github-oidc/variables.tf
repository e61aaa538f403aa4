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

variable "deploy_role" {
  description = "The environment's deploy role (plan, apply, verify, roll back, destroy) and the workflow runs that may assume it, or null for none: `branches` (`ref:refs/heads/<pattern>`), `tags` (`ref:refs/tags/<pattern>`), `environments` (`environment:<name>`, the subject of a job bound to a GitHub environment), `pull_requests` (`pull_request`). `*` and `?` patterns as in IAM `StringLike`. A role trusted through an environment should trust nothing else, or the environment's reviewers can be bypassed."
  type = object({
    name          = string
    branches      = optional(list(string), [])
    tags          = optional(list(string), [])
    environments  = optional(list(string), [])
    pull_requests = optional(bool, false)
  })
  default = null

  validation {
    condition     = var.deploy_role == null || can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", try(var.deploy_role.name, "")))
    error_message = "The deploy_role name must be 1-64 characters of [A-Za-z0-9+=,.@_-]."
  }
}

variable "build_role" {
  description = "The image build role, or null for none: it may only push images to the project's ECR repository. Trusted by the same kinds of subjects as deploy_role."
  type = object({
    name          = string
    branches      = optional(list(string), [])
    tags          = optional(list(string), [])
    environments  = optional(list(string), [])
    pull_requests = optional(bool, false)
  })
  default = null

  validation {
    condition     = var.build_role == null || can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", try(var.build_role.name, "")))
    error_message = "The build_role name must be 1-64 characters of [A-Za-z0-9+=,.@_-]."
  }
}

variable "role_path" {
  description = "IAM path of the roles."
  type        = string
  default     = "/"
}

variable "role_permissions_boundary_arn" {
  description = "Permissions boundary of the roles, or null."
  type        = string
  default     = null
}

variable "max_session_duration" {
  description = "Longest session of the roles, in seconds."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "The max_session_duration must be between 3600 and 43200 seconds."
  }
}

variable "github_repository" {
  description = "The one repository allowed to assume the roles, as `OWNER/NAME` (no wildcards)."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "The github_repository must be OWNER/NAME without wildcards."
  }
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
  description = "VPC in which the deploy role may create and change the service security groups (those named `<service_name_prefix>*-service` and tagged with resource_tags). Null leaves security groups out of the policy."
  type        = string
  default     = null
}

variable "state_bucket_name" {
  description = "S3 bucket holding the Terraform state and the deploy history."
  type        = string
}

variable "state_key_patterns" {
  description = "Object keys in the state bucket the deploy role may read, write and delete, as IAM resource patterns (`*` matches across `/`): the app stack's state and lock files of its workspaces and the deploy history of its environment, e.g. `workspaces/*/staging/app/*`, `deploy-history/staging/*`."
  type        = list(string)

  validation {
    condition     = length(var.state_key_patterns) > 0 && alltrue([for p in var.state_key_patterns : length(p) > 0 && !startswith(p, "*")])
    error_message = "Give at least one non-empty key pattern that does not start with a wildcard."
  }
}

variable "state_workspace_key_prefix" {
  description = "The S3 backend's workspace_key_prefix of the app stack (deploytool's is `workspaces`): Terraform lists `<prefix>/` to find workspaces, so the role may list under it. Listing is otherwise limited to state_key_patterns and the platform's outputs document."
  type        = string
  default     = "workspaces"

  validation {
    condition     = can(regex("^[^*?/][^*?]*[^*?/]$|^[^*?/]$", var.state_workspace_key_prefix))
    error_message = "Give the workspace_key_prefix without wildcards or leading/trailing slashes."
  }
}

variable "platform_outputs_key" {
  description = "Key of the platform's outputs document (its non-sensitive outputs, published by deploytool after every platform apply), which app deploys read (read-only, in its own statement), or null."
  type        = string
  default     = null
}

variable "ecr_repository_name" {
  description = "Name of the project's ECR repository (in the cluster's account and region): the build role pushes to it, the deploy role looks it up."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+([._/-][a-z0-9]+)*$", var.ecr_repository_name)) && length(var.ecr_repository_name) <= 256
    error_message = "The ecr_repository_name must be an ECR repository name (lowercase letters, digits, . _ - /)."
  }
}

variable "alert_topic_arns" {
  description = "SNS topics the deploy role may publish to (the workflow's failure alert)."
  type        = list(string)
  default     = []
}

variable "resource_tags" {
  description = "Tags the environment's stacks put on every resource they create (the roots' provider default_tags). The deploy role may create security groups only with these tags and change only groups that carry them."
  type        = map(string)

  validation {
    condition     = length(var.resource_tags) > 0
    error_message = "Give at least one tag: without one, security-group changes cannot be held to the tool's own groups."
  }
}

variable "pass_role_arns" {
  description = "Task execution and task role ARNs the role may pass to ECS tasks."
  type        = list(string)
  default     = []
}

variable "route53_zone_ids" {
  description = "Hosted zones in which the role may change records (branch DNS names)."
  type        = list(string)
  default     = []
}
