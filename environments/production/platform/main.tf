provider "aws" {
  region = var.platform.region

  default_tags {
    tags = { Project = "theobroma", Environment = var.platform.environment, ManagedBy = "deploytool" }
  }
}

# Production keeps evidence and recovers: Container Insights, 90 days of logs, a week of backups,
# database changes in the maintenance window. What deploy.toml sets arrives in var.platform.
module "platform" {
  source   = "../../../modules/platform"
  settings = var.platform

  container_insights    = true
  log_retention_in_days = 90
  database_operations   = { backup_retention_period = 7, apply_immediately = false, max_allocated_storage = 100 }
}
