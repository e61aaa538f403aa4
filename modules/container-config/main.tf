# No resources: the one place that says what a release's container is given. Connection details in
# plain sight; passwords only as secret references, resolved by ECS at task start.
#
# With the platform's application role (db_app_username), the service connects as that role
# (DATABASE_URL, PGUSER, PGPASSWORD from its secret) and the master user is the migration's alone
# (MIGRATION_DATABASE_URL, MIGRATION_DB_PASSWORD); the migration also gets the role's name and password
# (APP_DB_USER, APP_DB_PASSWORD) to create it. Without it, the service connects as the master user.
locals {
  db       = var.platform
  app_role = try(local.db.db_app_username, null) != null && try(local.db.db_app_secret_arn, null) != null
  user     = local.app_role ? local.db.db_app_username : local.db.db_username
  server   = "${local.db.db_address}:${local.db.db_port}/${local.db.db_name}?sslmode=require"

  connection = merge(
    {
      DATABASE_URL = "postgresql://${local.user}@${local.server}"
      PGHOST       = local.db.db_address
      PGPORT       = tostring(local.db.db_port)
      PGUSER       = local.user
      PGDATABASE   = local.db.db_name
      PGSSLMODE    = "require"
    },
    local.app_role ? {
      MIGRATION_DATABASE_URL = "postgresql://${local.db.db_username}@${local.server}"
      APP_DB_USER            = local.db.db_app_username
    } : {},
  )
  # The cache: its URL in plain sight (TLS, no credentials), its auth token only as a secret reference.
  cache = var.platform.cache_url != null ? {
    environment = { REDIS_URL = var.platform.cache_url }
    secrets     = [{ name = "REDIS_AUTH_TOKEN", value_from = var.platform.cache_auth_token_secret_arn }]
    } : {
    environment = {}
    secrets     = []
  }

  master_value_from = var.password_json_key == null ? local.db.db_secret_arn : "${local.db.db_secret_arn}:${var.password_json_key}::"
  # bootstrap stores the application role's password as the plain string.
  password_secrets = local.app_role ? [
    { name = "APP_DB_PASSWORD", value_from = local.db.db_app_secret_arn },
    { name = "MIGRATION_DB_PASSWORD", value_from = local.master_value_from },
    { name = "PGPASSWORD", value_from = local.db.db_app_secret_arn },
    ] : [
    { name = "PGPASSWORD", value_from = local.master_value_from },
  ]
}
