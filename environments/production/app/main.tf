provider "aws" {
  region = var.release.region

  default_tags {
    tags = { Project = "theobroma", Environment = var.release.environment, ManagedBy = "deploytool" }
  }
}

# Blue and green services, the weighted production rule and the test route to the idle colour.
module "app" {
  source   = "../../../modules/app-blue-green"
  platform = var.release.platform # the platform's published outputs, rendered by deploytool
  release  = var.release
}
