variable "name" {
  description = "ID of the replication group, also naming its subnet group, security group and stack, e.g. `theobroma-staging`."
  type        = string

  validation {
    condition     = length(var.name) <= 40 && can(regex("^[a-z]([a-z0-9-]*[a-z0-9])?$", var.name)) && !strcontains(var.name, "--")
    error_message = "The name must be 1-40 characters of lowercase letters, digits and hyphens, start with a letter, not end with a hyphen and not contain two consecutive hyphens."
  }
}

variable "vpc_id" {
  description = "ID of the VPC of the cache's security group."
  type        = string
}

variable "subnet_ids" {
  description = "IDs of the private subnets of the cache subnet group."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "The cache needs at least one subnet."
  }
}

variable "allowed_security_group_ids" {
  description = "Security groups (e.g. of the ECS tasks) allowed to connect to the cache port. Nothing else is admitted."
  type        = list(string)
  default     = []
}

variable "auth_token_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the auth token (16-128 printable characters without spaces, /, \" or @), as the plain string or JSON (then set `auth_token_json_key`). CloudFormation resolves it; Terraform never reads it."
  type        = string

  validation {
    condition     = can(regex("^arn:[a-z-]+:secretsmanager:", var.auth_token_secret_arn))
    error_message = "The auth_token_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "auth_token_json_key" {
  description = "JSON key of the token when the secret is a JSON document; null when it is the plain token, as `deploytool bootstrap` stores it."
  type        = string
  default     = null
}

variable "node_type" {
  description = "Cache node type."
  type        = string
  default     = "cache.t3.micro"

  validation {
    condition     = startswith(var.node_type, "cache.")
    error_message = "The node_type must be a cache node type such as cache.t3.micro."
  }
}

variable "engine_version" {
  description = "Redis engine version."
  type        = string
  default     = "7.1"
}

variable "num_cache_clusters" {
  description = "Nodes in the group: 1 (a primary), or 2-6 (replicas, with automatic failover and Multi-AZ)."
  type        = number
  default     = 1

  validation {
    condition     = var.num_cache_clusters >= 1 && var.num_cache_clusters <= 6
    error_message = "The num_cache_clusters must be between 1 and 6."
  }
}

variable "port" {
  description = "Port the cache listens on."
  type        = number
  default     = 6379
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the data at rest. Null uses the AWS managed key; data at rest is always encrypted."
  type        = string
  default     = null
}

variable "snapshot_retention_limit" {
  description = "Days to keep daily snapshots (0 turns them off: the cache holds only data the database can rebuild)."
  type        = number
  default     = 0

  validation {
    condition     = var.snapshot_retention_limit >= 0 && var.snapshot_retention_limit <= 35
    error_message = "The snapshot_retention_limit must be between 0 and 35 days."
  }
}

variable "timeout_in_minutes" {
  description = "How long the stack may take to create or update the group."
  type        = number
  default     = 60
}

variable "tags" {
  description = "Tags of every resource."
  type        = map(string)
  default     = {}
}
