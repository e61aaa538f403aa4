################################################################################
# PostgreSQL with PostGIS, in the private subnets, reachable from the app tasks
################################################################################

module "db" {
  source = "../../../modules/rds-postgis"

  identifier                 = var.name
  engine_version             = var.db_engine_version
  instance_class             = var.db_instance_class
  allocated_storage          = var.db_allocated_storage
  max_allocated_storage      = var.db_max_allocated_storage
  port                       = var.db_port
  username                   = var.db_username
  master_password_secret_arn = var.master_password_secret_arn

  vpc_id                     = module.network.vpc_id
  subnet_ids                 = module.network.private_subnet_ids
  allowed_security_group_ids = [aws_security_group.tasks.id]

  multi_az                = var.db_multi_az
  deletion_protection     = var.db_deletion_protection
  skip_final_snapshot     = var.db_skip_final_snapshot
  backup_retention_period = var.db_backup_retention_period
  apply_immediately       = var.db_apply_immediately
}
