terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 3.39, < 7.0"
    }
  }

  # Configured by deploytool with -backend-config: bucket, key, region, use_lockfile = true, encrypt = true.
  backend "s3" {}
}
