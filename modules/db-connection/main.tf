# No resources: the one place that says how a container finds the database. Connection details in
# plain sight; the password only as a secret reference, resolved by ECS at task start.
locals {
  environment = {
    DATABASE_URL = "postgresql://${var.username}@${var.address}:${var.port}/${var.database_name}?sslmode=require"
    PGHOST       = var.address
    PGPORT       = tostring(var.port)
    PGUSER       = var.username
    PGDATABASE   = var.database_name
    PGSSLMODE    = "require"
  }
  password_value_from = var.password_json_key == null ? var.secret_arn : "${var.secret_arn}:${var.password_json_key}::"
}
