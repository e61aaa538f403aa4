output "environment" {
  description = "Plain environment variables of the connection: DATABASE_URL (no password) and PGHOST, PGPORT, PGUSER, PGDATABASE, PGSSLMODE for libpq."
  value       = local.environment
}

output "secrets" {
  description = "ECS container secrets of the connection: PGPASSWORD from the database secret."
  value       = [{ name = "PGPASSWORD", value_from = local.password_value_from }]
}
