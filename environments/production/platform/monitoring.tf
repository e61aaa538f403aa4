################################################################################
# Dashboard, alarms and the alarm topic
################################################################################

module "monitoring" {
  source = "../../../modules/monitoring"

  name                   = var.name
  cluster_name           = module.ecs_cluster.name
  service_names          = var.monitored_service_names
  alb_arn_suffix         = module.alb.arn_suffix
  db_instance_identifier = module.db.identifier
  create_dashboard       = var.create_dashboard
  alarm_email_addresses  = var.alarm_email_addresses
}
