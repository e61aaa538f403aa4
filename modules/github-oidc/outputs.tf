output "role_arn" {
  description = "ARN of the deploy role (the `role-to-assume` of aws-actions/configure-aws-credentials)."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the deploy role."
  value       = aws_iam_role.this.name
}

output "oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider (created or given)."
  value       = local.oidc_provider_arn
}

output "trusted_subjects" {
  description = "`sub` claim patterns the role trusts."
  value       = local.subjects
}

output "trust_policy_json" {
  description = "Trust policy of the deploy role."
  value       = data.aws_iam_policy_document.trust.json
}

output "policy_json" {
  description = "Permission policy of the deploy role."
  value       = data.aws_iam_policy_document.deploy.json
}
