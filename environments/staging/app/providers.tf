provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "theobroma"
      Environment = var.environment
      ManagedBy   = "deploytool"
    }
  }
}
