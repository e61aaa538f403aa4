provider "aws" {
  region = var.release.region

  default_tags {
    tags = { Project = "theobroma", Environment = var.release.environment, ManagedBy = "deploytool" }
  }
}

data "terraform_remote_state" "platform" {
  backend = "s3"
  config  = var.release.platform_state
}

# One branch: a service behind a host-header rule, rolled by ECS with the circuit breaker.
module "app" {
  source   = "../../../modules/app-rolling"
  platform = data.terraform_remote_state.platform.outputs.platform
  release  = var.release
}
