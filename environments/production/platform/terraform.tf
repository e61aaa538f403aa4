terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = { source = "hashicorp/aws", version = ">= 3.39, < 7.0" }
  }

  # Configured by deploytool with -backend-config: bucket, key, region, use_lockfile = true, encrypt = true.
  backend "s3" {}
}

variable "platform" {
  description = "The production platform's settings, rendered by deploytool from deploy.toml ([environments.production]) through environments/platform.tfvars.j2."
  type        = any # the composition module types and validates it
}
