output "oidc_provider_arn" {
  description = "ARN of the GitHub Actions OIDC provider (created or given)."
  value       = local.oidc_provider_arn
}

output "deploy_role_arn" {
  description = "ARN of the deploy role (the `role-to-assume` of aws-actions/configure-aws-credentials in plan, deploy and destroy jobs), or null."
  value       = try(aws_iam_role.this["deploy"].arn, null)
}

output "deploy_role_name" {
  description = "Name of the deploy role, or null."
  value       = try(aws_iam_role.this["deploy"].name, null)
}

output "build_role_arn" {
  description = "ARN of the image build role (the `role-to-assume` of build jobs), or null."
  value       = try(aws_iam_role.this["build"].arn, null)
}

output "build_role_name" {
  description = "Name of the image build role, or null."
  value       = try(aws_iam_role.this["build"].name, null)
}

output "trusted_subjects" {
  description = "`sub` claim patterns each created role trusts, by role (`deploy`, `build`)."
  value       = local.subjects
}

output "trust_policy_json" {
  description = "Trust policy of each created role, by role."
  value       = { for key, doc in data.aws_iam_policy_document.trust : key => doc.json }
}

output "policy_json" {
  description = "Permission policy of each created role, by role."
  value       = { for key in keys(local.roles) : key => key == "build" ? data.aws_iam_policy_document.build.json : data.aws_iam_policy_document.deploy.json }
}
