################################################################################
# Optional: the role GitHub Actions assumes through OIDC to deploy
################################################################################

module "github_oidc" {
  source = "../../../modules/github-oidc"
  count  = var.create_github_oidc ? 1 : 0

  create_oidc_provider = var.github_oidc_provider_arn == null
  oidc_provider_arn    = var.github_oidc_provider_arn
  role_name            = "${var.name}-github-deploy"

  github_repository    = var.github_repository
  allowed_branches     = var.github_allowed_branches
  allowed_environments = var.github_allowed_environments
  allow_pull_requests  = var.github_allow_pull_requests

  cluster_arn         = module.ecs_cluster.arn
  service_name_prefix = var.github_service_name_prefix
  alb_arn             = module.alb.arn
  vpc_id              = module.network.vpc_id
  state_bucket_name   = var.state_bucket_name
  state_key_prefixes  = var.state_key_prefixes
  ecr_repository_arns = var.ecr_repository_arns
  pass_role_arns      = [module.ecs_cluster.task_execution_role_arn]
  route53_zone_ids    = var.route53_zone_ids
}
