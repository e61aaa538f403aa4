# No resources: the one place that says what a release's container is given. Connection details in
# plain sight; the password only as a secret reference, resolved by ECS at task start.
locals {
  db = var.platform

  connection = {
    DATABASE_URL = "postgresql://${local.db.db_username}@${local.db.db_address}:${local.db.db_port}/${local.db.db_name}?sslmode=require"
    PGHOST       = local.db.db_address
    PGPORT       = tostring(local.db.db_port)
    PGUSER       = local.db.db_username
    PGDATABASE   = local.db.db_name
    PGSSLMODE    = "require"
  }
  # The cache: its URL in plain sight (TLS, no credentials), its auth token only as a secret reference.
  cache = var.platform.cache_url != null ? {
    environment = { REDIS_URL = var.platform.cache_url }
    secrets     = [{ name = "REDIS_AUTH_TOKEN", value_from = var.platform.cache_auth_token_secret_arn }]
    } : {
    environment = {}
    secrets     = []
  }

  password_value_from = var.password_json_key == null ? local.db.db_secret_arn : "${local.db.db_secret_arn}:${var.password_json_key}::"
}
