output "environment" {
  description = "Plain environment variables: DATABASE_URL (no password), PGHOST, PGPORT, PGUSER, PGDATABASE and PGSSLMODE for libpq (the application role's with one, else the master user's), MIGRATION_DATABASE_URL and APP_DB_USER with an application role, REDIS_URL (`rediss://host:port`) with a cache, then the app's own (which win)."
  value       = merge(local.connection, local.cache.environment, var.environment)
}

output "secrets" {
  description = "ECS container secrets: PGPASSWORD (the application role's password with one, else the master password), APP_DB_PASSWORD and MIGRATION_DB_PASSWORD (the master password) with an application role, REDIS_AUTH_TOKEN from the cache's token secret with a cache, then the app's own, sorted by name."
  value = concat(
    local.password_secrets,
    local.cache.secrets,
    [for name in sort(keys(var.secrets)) : { name = name, value_from = var.secrets[name] }],
  )
}
