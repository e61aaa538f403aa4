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

# Blue and green services, the weighted production rule and the test route to the idle colour.
module "app" {
  source   = "../../../modules/app-blue-green"
  platform = data.terraform_remote_state.platform.outputs.platform
  release  = var.release
}
