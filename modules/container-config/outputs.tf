output "environment" {
  description = "Plain environment variables: DATABASE_URL (no password), PGHOST, PGPORT, PGUSER, PGDATABASE and PGSSLMODE for libpq, then the app's own (which win)."
  value       = merge(local.connection, var.environment)
}

output "secrets" {
  description = "ECS container secrets: PGPASSWORD from the database secret, then the app's own, sorted by name."
  value = concat(
    [{ name = "PGPASSWORD", value_from = local.password_value_from }],
    [for name in sort(keys(var.secrets)) : { name = name, value_from = var.secrets[name] }],
  )
}
