output "environment" {
  description = "Plain environment variables: DATABASE_URL (no password), PGHOST, PGPORT, PGUSER, PGDATABASE and PGSSLMODE for libpq, REDIS_URL (`rediss://host:port`) with a cache, then the app's own (which win)."
  value       = merge(local.connection, local.cache.environment, var.environment)
}

output "secrets" {
  description = "ECS container secrets: PGPASSWORD from the database secret, REDIS_AUTH_TOKEN from the cache's token secret with a cache, then the app's own, sorted by name."
  value = concat(
    [{ name = "PGPASSWORD", value_from = local.password_value_from }],
    local.cache.secrets,
    [for name in sort(keys(var.secrets)) : { name = name, value_from = var.secrets[name] }],
  )
}
