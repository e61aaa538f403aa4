locals {
  # Partition, region and account come from the cluster ARN: arn:PARTITION:ecs:REGION:ACCOUNT:cluster/NAME.
  cluster_arn_parts = split(":", var.cluster_arn)
  partition         = local.cluster_arn_parts[1]
  region            = local.cluster_arn_parts[3]
  account_id        = local.cluster_arn_parts[4]
  cluster_name      = element(split("/", var.cluster_arn), 1)

  oidc_host         = "token.actions.githubusercontent.com"
  oidc_provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : var.oidc_provider_arn

  # Subjects GitHub puts in the token's `sub` claim for this repository only.
  subjects = concat(
    [for b in var.allowed_branches : "repo:${var.github_repository}:ref:refs/heads/${b}"],
    [for e in var.allowed_environments : "repo:${var.github_repository}:environment:${e}"],
    var.allow_pull_requests ? ["repo:${var.github_repository}:pull_request"] : [],
  )

  task_definition_family_prefix = coalesce(var.task_definition_family_prefix, var.service_name_prefix)
  target_group_name_prefix      = coalesce(var.target_group_name_prefix, var.service_name_prefix)

  arn_prefix = {
    ecs     = "arn:${local.partition}:ecs:${local.region}:${local.account_id}"
    elb     = "arn:${local.partition}:elasticloadbalancing:${local.region}:${local.account_id}"
    ec2     = "arn:${local.partition}:ec2:${local.region}:${local.account_id}"
    logs    = "arn:${local.partition}:logs:${local.region}:${local.account_id}"
    aas     = "arn:${local.partition}:application-autoscaling:${local.region}:${local.account_id}"
    alarm   = "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm"
    route53 = "arn:${local.partition}:route53:::"
  }

  # loadbalancer/app/NAME/ID -> listener/app/NAME/ID/* and listener-rule/app/NAME/ID/*
  alb_path           = element(split(":loadbalancer/", var.alb_arn), 1)
  listener_arns      = "${local.arn_prefix.elb}:listener/${local.alb_path}/*"
  listener_rule_arns = "${local.arn_prefix.elb}:listener-rule/${local.alb_path}/*"
  state_bucket_arn   = "arn:${local.partition}:s3:::${var.state_bucket_name}"
}

################################################################################
# GitHub Actions OIDC provider
################################################################################

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_oidc_provider ? 1 : 0

  url             = "https://${local.oidc_host}"
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = var.oidc_thumbprints

  tags = var.tags
}

################################################################################
# Deploy role: trusted by this repository's workflow runs only
################################################################################

data "aws_iam_policy_document" "trust" {
  statement {
    sid     = "GitHubActions"
    effect  = "Allow"
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "${local.oidc_host}:sub"
      values   = local.subjects
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.role_name
  path                 = var.role_path
  description          = "GitHub Actions deploys from ${var.github_repository}"
  assume_role_policy   = data.aws_iam_policy_document.trust.json
  max_session_duration = var.max_session_duration
  permissions_boundary = var.role_permissions_boundary_arn

  tags = var.tags

  lifecycle {
    precondition {
      condition     = length(local.subjects) > 0
      error_message = "Allow at least one branch, environment or pull requests, or nobody can assume the role."
    }

    precondition {
      condition     = var.create_oidc_provider || var.oidc_provider_arn != null
      error_message = "Set oidc_provider_arn when create_oidc_provider is false."
    }
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "deploy"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.deploy.json
}
