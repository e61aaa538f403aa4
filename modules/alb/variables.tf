variable "name" {
  description = "Name of the load balancer, also used for its security group, e.g. `theobroma-staging`."
  type        = string

  validation {
    condition     = length(var.name) <= 32 && can(regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$", var.name)) && !startswith(var.name, "internal-")
    error_message = "The name must be 1-32 characters of lowercase letters, digits and hyphens, must not start or end with a hyphen and must not start with \"internal-\"."
  }
}

variable "vpc_id" {
  description = "ID of the VPC the load balancer and its security group live in."
  type        = string
}

variable "vpc_cidr_block" {
  description = "IPv4 CIDR block of the VPC; the load balancer may send traffic to targets in it and nowhere else."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr_block, 0))
    error_message = "The vpc_cidr_block must be a valid IPv4 CIDR block, e.g. 10.0.0.0/16."
  }
}

variable "subnet_ids" {
  description = "IDs of the public subnets (in at least two availability zones) the load balancer is placed in."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "An application load balancer needs subnets in at least two availability zones."
  }
}

variable "internal" {
  description = "Create an internal load balancer instead of an internet-facing one."
  type        = bool
  default     = false
}

variable "ingress_cidr_blocks" {
  description = "IPv4 CIDR blocks allowed to reach the load balancer on ports 80 and 443."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.ingress_cidr_blocks) > 0 && alltrue([for c in var.ingress_cidr_blocks : can(cidrhost(c, 0))])
    error_message = "The ingress_cidr_blocks must hold at least one valid IPv4 CIDR block."
  }
}

variable "security_group_ids" {
  description = "Additional security groups attached to the load balancer."
  type        = list(string)
  default     = []
}

variable "certificate_arn" {
  description = "ARN of the ACM certificate for the HTTPS listener. When set, HTTP redirects to HTTPS; when null, only a plain HTTP listener is created (staging, emulator)."
  type        = string
  default     = null

  validation {
    condition     = var.certificate_arn == null || can(regex("^arn:[a-z-]+:(acm|iam):", var.certificate_arn))
    error_message = "The certificate_arn must be an ACM (or IAM server) certificate ARN."
  }
}

variable "enable_https" {
  description = "Create the HTTPS listener. Null derives it from `certificate_arn != null`; set it explicitly when the certificate ARN is only known after apply."
  type        = bool
  default     = null
}

variable "ssl_policy" {
  description = "Security policy of the HTTPS listener (TLS 1.3 with TLS 1.2 fallback by default)."
  type        = string
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  validation {
    condition     = startswith(var.ssl_policy, "ELBSecurityPolicy-")
    error_message = "The ssl_policy must be an ELB security policy name, e.g. ELBSecurityPolicy-TLS13-1-2-2021-06."
  }
}

variable "enable_deletion_protection" {
  description = "Protect the load balancer from deletion through the API (turn off to let Terraform destroy it)."
  type        = bool
  default     = true
}

variable "idle_timeout" {
  description = "Seconds a connection may stay idle before the load balancer closes it."
  type        = number
  default     = 60

  validation {
    condition     = var.idle_timeout >= 1 && var.idle_timeout <= 4000
    error_message = "The idle_timeout must be between 1 and 4000 seconds."
  }
}

variable "access_logs" {
  description = "Write access logs to this S3 bucket (with an optional key prefix). Null turns access logs off."
  type = object({
    bucket = string
    prefix = optional(string)
  })
  default = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
