provider "aws" {
  region = var.platform.region

  default_tags {
    tags = { Project = "theobroma", Environment = var.platform.environment, ManagedBy = "deploytool" }
  }
}

# Staging is disposable: no Container Insights, two weeks of logs, a day of backups, database
# changes at once. What deploy.toml sets arrives in var.platform.
module "platform" {
  source   = "../../../modules/platform"
  settings = var.platform

  container_insights    = false
  log_retention_in_days = 14
  database_operations   = { backup_retention_period = 1, apply_immediately = true, max_allocated_storage = 50 }
}
