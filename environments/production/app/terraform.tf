terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 3.39, < 7.0" }
  }

  # Configured by deploytool with -backend-config: bucket, key, region, use_lockfile = true, encrypt = true.
  backend "s3" {}
}

variable "release" {
  description = "The production release (both colours), rendered by deploytool from deploy.toml and the colour state through environments/app.tfvars.j2; platform holds the platform's outputs the composition declares (from the outputs document deploytool publishes after every platform apply)."
  type        = any # the composition module types and validates it
}
