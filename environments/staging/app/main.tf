provider "aws" {
  region = var.release.region

  default_tags {
    tags = { Project = "theobroma", Environment = var.release.environment, ManagedBy = "deploytool" }
  }
}

# One branch: a service behind a host-header rule, rolled by ECS with the circuit breaker.
module "app" {
  source   = "../../../modules/app-rolling"
  platform = var.release.platform # the platform's published outputs, rendered by deploytool
  release  = var.release
}
