# A tiny root for the IAM enforcement test: one SSM parameter, applied with an assumed role.
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 3.39, < 7.0"
    }
  }
}

provider "aws" {
  region = "us-east-1"
}

variable "name" {
  description = "Name of the SSM parameter."
  type        = string
  default     = "/theobroma/iam-test/release"
}

resource "aws_ssm_parameter" "this" {
  name  = var.name
  type  = "String"
  value = "v1"
}

output "parameter_arn" {
  description = "ARN of the SSM parameter."
  value       = aws_ssm_parameter.this.arn
}
