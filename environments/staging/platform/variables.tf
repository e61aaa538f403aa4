################################################################################
# Environment
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
  description = "Environment name, used in the Environment tag."
  type        = string
  default     = "staging"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$", var.environment)) && length(var.environment) <= 16
    error_message = "The environment must be 1-16 lowercase letters, digits and single hyphens, starting with a letter."
  }
}

variable "name" {
  description = "Name of the platform: names the VPC, load balancer (<= 32 characters), database, tasks security group and alarms."
  type        = string
  default     = "theobroma-staging"

  validation {
    condition     = can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$", var.name)) && length(var.name) <= 26
    error_message = "The name must be 1-26 lowercase letters, digits and single hyphens, starting with a letter (it names the load balancer and the deploy role)."
  }
}

variable "cluster_name" {
  description = "Name of the ECS cluster. Null uses `name`."
  type        = string
  default     = "theobroma-staging"

  validation {
    condition     = var.cluster_name == null || can(regex("^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$", coalesce(var.cluster_name, "x")))
    error_message = "The cluster_name must be 1-40 lowercase letters, digits and hyphens, not starting or ending with a hyphen."
  }
}

################################################################################
# Network
################################################################################

variable "create_vpc" {
  description = "Create the VPC and its subnets. False uses `existing_vpc_id` and the `existing_*_subnet_ids`."
  type        = bool
  default     = true
}

variable "vpc_cidr" {
  description = "IPv4 CIDR block of the VPC to create."
  type        = string
  default     = "10.20.0.0/16"
}

variable "azs" {
  description = "Availability zones of the subnets (at least two). Empty uses the first two of the region."
  type        = list(string)
  default     = []
}

variable "public_subnet_cidrs" {
  description = "CIDR blocks of the public subnets, one per zone. Empty derives them from `vpc_cidr`."
  type        = list(string)
  default     = []
}

variable "private_subnet_cidrs" {
  description = "CIDR blocks of the private subnets, one per zone. Empty derives them from `vpc_cidr`."
  type        = list(string)
  default     = []
}

variable "nat_gateway_mode" {
  description = "Outbound access of the private subnets: `none`, `single` (one shared NAT gateway) or `one_per_az`."
  type        = string
  default     = "single"
}

variable "existing_vpc_id" {
  description = "ID of an existing VPC (with `create_vpc = false`)."
  type        = string
  default     = null

  validation {
    condition     = var.create_vpc || var.existing_vpc_id != null
    error_message = "With create_vpc = false, set existing_vpc_id."
  }
}

variable "existing_public_subnet_ids" {
  description = "IDs of existing public subnets in two or more zones, for the load balancer (with `create_vpc = false`)."
  type        = list(string)
  default     = []

  validation {
    condition     = var.create_vpc || length(var.existing_public_subnet_ids) >= 2
    error_message = "With create_vpc = false, set at least two existing_public_subnet_ids."
  }
}

variable "existing_private_subnet_ids" {
  description = "IDs of existing private subnets in two or more zones, for the tasks and the database (with `create_vpc = false`)."
  type        = list(string)
  default     = []

  validation {
    condition     = var.create_vpc || length(var.existing_private_subnet_ids) >= 2
    error_message = "With create_vpc = false, set at least two existing_private_subnet_ids."
  }
}

################################################################################
# Cluster
################################################################################

variable "container_insights" {
  description = "Enable CloudWatch Container Insights on the cluster."
  type        = bool
  default     = false
}

variable "log_retention_in_days" {
  description = "Days to keep container logs."
  type        = number
  default     = 14
}

variable "task_secret_arns" {
  description = "Secrets Manager ARNs, besides the database password, that the app stacks inject into containers (`container_secrets`); the task execution role may read them."
  type        = list(string)
  default     = []
}

variable "secrets_kms_key_arn" {
  description = "Customer managed KMS key of those secrets (the execution role may decrypt with it). Null when they use the AWS managed key."
  type        = string
  default     = null
}

################################################################################
# Load balancer
################################################################################

variable "certificate_arn" {
  description = "ACM certificate of the HTTPS listener. Null serves plain HTTP only (emulator, throwaway staging); with a certificate HTTP redirects to HTTPS."
  type        = string
  default     = null
}

variable "alb_ingress_cidr_blocks" {
  description = "IPv4 CIDR blocks allowed to reach the load balancer on ports 80 and 443."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "alb_deletion_protection" {
  description = "Protect the load balancer from deletion."
  type        = bool
  default     = false
}

variable "alb_idle_timeout" {
  description = "Seconds a connection may stay idle on the load balancer."
  type        = number
  default     = 60
}

variable "alb_access_logs" {
  description = "S3 bucket (and optional prefix) for the load balancer's access logs. Null turns them off."
  type = object({
    bucket = string
    prefix = optional(string)
  })
  default = null
}

################################################################################
# Database
################################################################################

variable "master_password_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the database master password (JSON with a `password` key, or the plain string). Created by `deploytool bootstrap`; the password never passes through Terraform variables."
  type        = string

  validation {
    condition     = can(regex("^arn:[a-z-]+:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$", var.master_password_secret_arn))
    error_message = "The master_password_secret_arn must be a Secrets Manager secret ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME)."
  }
}

variable "db_engine_version" {
  description = "PostgreSQL version (major, or major.minor)."
  type        = string
  default     = "15"
}

variable "db_instance_class" {
  description = "DB instance class."
  type        = string
  default     = "db.t3.micro"
}

variable "db_allocated_storage" {
  description = "Initial database storage in GiB."
  type        = number
  default     = 20
}

variable "db_max_allocated_storage" {
  description = "Upper limit in GiB of storage autoscaling (0 turns it off)."
  type        = number
  default     = 50
}

variable "db_port" {
  description = "Port the database listens on."
  type        = number
  default     = 5432
}

variable "db_username" {
  description = "Master user name of the database."
  type        = string
  default     = "theobroma"
}

variable "db_multi_az" {
  description = "Run a standby database instance in a second availability zone."
  type        = bool
  default     = false
}

variable "db_deletion_protection" {
  description = "Protect the database from deletion."
  type        = bool
  default     = false
}

variable "db_skip_final_snapshot" {
  description = "Delete the database without a final snapshot."
  type        = bool
  default     = true
}

variable "db_backup_retention_period" {
  description = "Days to keep automated database backups."
  type        = number
  default     = 1
}

variable "db_apply_immediately" {
  description = "Apply database modifications at once instead of in the maintenance window."
  type        = bool
  default     = true
}

################################################################################
# Monitoring
################################################################################

variable "monitored_service_names" {
  description = "ECS services with CPU and memory alarms and dashboard widgets (known names only; branch services come and go)."
  type        = list(string)
  default     = []
}

variable "create_dashboard" {
  description = "Create the CloudWatch dashboard."
  type        = bool
  default     = true
}

variable "alarm_email_addresses" {
  description = "Email addresses subscribed to the alarm topic."
  type        = list(string)
  default     = []
}

################################################################################
# GitHub Actions deploy role (OIDC)
################################################################################

variable "create_github_oidc" {
  description = "Create the IAM role GitHub Actions assumes through OIDC to deploy this environment."
  type        = bool
  default     = false
}

variable "github_repository" {
  description = "The repository allowed to assume the deploy role, `OWNER/NAME`. Required with `create_github_oidc`."
  type        = string
  default     = null

  validation {
    condition     = !var.create_github_oidc || var.github_repository != null
    error_message = "With create_github_oidc = true, set github_repository (OWNER/NAME)."
  }
}

variable "github_oidc_provider_arn" {
  description = "ARN of the account's existing GitHub Actions OIDC provider. Null creates it (an account holds one)."
  type        = string
  default     = null
}

variable "github_allowed_branches" {
  description = "Branches whose workflow runs may assume the deploy role (`*` patterns allowed)."
  type        = list(string)
  default     = ["*"]
}

variable "github_allowed_environments" {
  description = "GitHub deployment environments whose jobs may assume the deploy role."
  type        = list(string)
  default     = ["staging"]
}

variable "github_allow_pull_requests" {
  description = "Let pull_request workflow runs assume the deploy role (plan comments)."
  type        = bool
  default     = true
}

variable "github_service_name_prefix" {
  description = "Prefix of the ECS services, task families and target groups the deploy role manages."
  type        = string
  default     = "staging-"
}

variable "state_bucket_name" {
  description = "S3 bucket of the Terraform state and deploy history. Required with `create_github_oidc`."
  type        = string
  default     = null

  validation {
    condition     = !var.create_github_oidc || var.state_bucket_name != null
    error_message = "With create_github_oidc = true, set state_bucket_name."
  }
}

variable "state_key_prefixes" {
  description = "Key prefixes in the state bucket the deploy role may read and write."
  type        = list(string)
  default     = ["staging/", "env:/staging-", "deploy-history/staging/"]
}

variable "ecr_repository_arns" {
  description = "ECR repositories the deploy role may push to and pull from."
  type        = list(string)
  default     = []
}

variable "route53_zone_ids" {
  description = "Hosted zones in which the deploy role may change branch records."
  type        = list(string)
  default     = []
}
