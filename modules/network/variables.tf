variable "name" {
  description = "Name used for the VPC and as a prefix for the names of its resources, e.g. `theobroma-staging`."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,46}[a-z0-9])?$", var.name))
    error_message = "The name must be 1-48 characters of lowercase letters, digits and hyphens, and must not start or end with a hyphen."
  }
}

variable "create_vpc" {
  description = "Create a VPC with subnets, gateways and route tables. Set to false to use an existing VPC and its subnets (`existing_*` inputs)."
  type        = bool
  default     = true
}

variable "cidr" {
  description = "IPv4 CIDR block of the VPC to create."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(regex("^[0-9.]+/(1[6-9]|2[0-8])$", var.cidr)) && try(cidrsubnet(var.cidr, 0, 0) == var.cidr, false)
    error_message = "The cidr must be an IPv4 network address with a prefix length between /16 and /28 (no host bits set), e.g. 10.0.0.0/16."
  }
}

variable "azs" {
  description = "Availability zones to spread the subnets over (at least two). Empty means the first two available zones of the region; an explicit list keeps plans deterministic."
  type        = list(string)
  default     = []

  validation {
    condition     = length(var.azs) == 0 || (length(var.azs) >= 2 && length(var.azs) <= 8 && length(distinct(var.azs)) == length(var.azs))
    error_message = "The azs list must be empty or hold 2 to 8 distinct availability zones."
  }
}

variable "public_subnet_cidrs" {
  description = "CIDR blocks of the public subnets, one per availability zone. Empty means derived from `cidr` (`cidrsubnet(cidr, subnet_newbits, index)`)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.public_subnet_cidrs : can(regex("^[0-9.]+/[0-9]+$", c)) && try(cidrsubnet(c, 0, 0) == c, false)])
    error_message = "Every public subnet CIDR must be an IPv4 network address in CIDR notation (no host bits set), e.g. 10.0.0.0/20."
  }
}

variable "private_subnet_cidrs" {
  description = "CIDR blocks of the private subnets, one per availability zone. Empty means derived from `cidr` (`cidrsubnet(cidr, subnet_newbits, index + 8)`)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.private_subnet_cidrs : can(regex("^[0-9.]+/[0-9]+$", c)) && try(cidrsubnet(c, 0, 0) == c, false)])
    error_message = "Every private subnet CIDR must be an IPv4 network address in CIDR notation (no host bits set), e.g. 10.0.128.0/20."
  }
}

variable "subnet_newbits" {
  description = "Bits added to the VPC prefix length for derived subnet CIDRs (4 turns a /16 into /20 subnets)."
  type        = number
  default     = 4

  validation {
    condition     = var.subnet_newbits >= 4 && var.subnet_newbits <= 12
    error_message = "The subnet_newbits must be between 4 and 12 (room for 8 public and 8 private subnets)."
  }
}

variable "nat_gateway_mode" {
  description = "Outbound internet access for the private subnets: `none` (no NAT gateway), `single` (one shared NAT gateway) or `one_per_az` (one NAT gateway per availability zone)."
  type        = string
  default     = "single"

  validation {
    condition     = contains(["none", "single", "one_per_az"], var.nat_gateway_mode)
    error_message = "The nat_gateway_mode must be one of: none, single, one_per_az."
  }
}

variable "map_public_ip_on_launch" {
  description = "Give instances launched in the public subnets a public IPv4 address."
  type        = bool
  default     = false
}

variable "existing_vpc_id" {
  description = "ID of an existing VPC to use when `create_vpc` is false."
  type        = string
  default     = null

  validation {
    condition     = var.existing_vpc_id == null || can(regex("^vpc-[0-9a-f]+$", var.existing_vpc_id))
    error_message = "The existing_vpc_id must look like vpc-0123456789abcdef0."
  }
}

variable "existing_public_subnet_ids" {
  description = "IDs of existing public subnets (in at least two availability zones) to use when `create_vpc` is false."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.existing_public_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "Every existing public subnet ID must look like subnet-0123456789abcdef0."
  }
}

variable "existing_private_subnet_ids" {
  description = "IDs of existing private subnets (in at least two availability zones) to use when `create_vpc` is false."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for s in var.existing_private_subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "Every existing private subnet ID must look like subnet-0123456789abcdef0."
  }
}

variable "enable_flow_logs" {
  description = "Record the VPC's rejected and accepted traffic in CloudWatch Logs (a created VPC only)."
  type        = bool
  default     = true
}

variable "flow_log_retention_in_days" {
  description = "Days the VPC flow logs are kept."
  type        = number
  default     = 30
}

variable "flow_log_kms_key_arn" {
  description = "KMS key ARN that encrypts the flow log group; null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}
}
