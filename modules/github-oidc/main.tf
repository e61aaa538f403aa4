locals {
  # Partition, region and account come from the cluster ARN: arn:PARTITION:ecs:REGION:ACCOUNT:cluster/NAME.
  cluster_arn_parts = split(":", var.cluster_arn)
  partition         = local.cluster_arn_parts[1]
  region            = local.cluster_arn_parts[3]
  account_id        = local.cluster_arn_parts[4]
  cluster_name      = element(split("/", var.cluster_arn), 1)

  oidc_host         = "token.actions.githubusercontent.com"
  oidc_provider_arn = var.create_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : var.oidc_provider_arn

  # The roles asked for, and the subjects GitHub puts in the token's `sub` claim that each trusts,
  # all for this repository only.
  roles = { for key, role in { deploy = var.deploy_role, build = var.build_role } : key => role if role != null }
  subjects = {
    for key, role in local.roles : key => concat(
      [for b in role.branches : "repo:${var.github_repository}:ref:refs/heads/${b}"],
      [for t in role.tags : "repo:${var.github_repository}:ref:refs/tags/${t}"],
      [for e in role.environments : "repo:${var.github_repository}:environment:${e}"],
      role.pull_requests ? ["repo:${var.github_repository}:pull_request"] : [],
    )
  }

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
  state_list_prefixes = distinct(concat(
    ["${var.state_workspace_key_prefix}/"],
    var.state_key_patterns,
    var.platform_outputs_key != null ? [var.platform_outputs_key] : [],
  ))
  ecr_repository_arn = "arn:${local.partition}:ecr:${local.region}:${local.account_id}:repository/${var.ecr_repository_name}"

  # The service security groups the app stacks create (modules/ecs-service names them `<service>-service`).
  security_group_name_pattern = "${var.service_name_prefix}*-service"
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
# Roles: each trusted by this repository's workflow runs with its own subjects
################################################################################

data "aws_iam_policy_document" "trust" {
  for_each = local.roles

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
      values   = local.subjects[each.key]
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = local.roles

  name                 = each.value.name
  path                 = var.role_path
  description          = each.key == "build" ? "GitHub Actions image builds of ${var.github_repository}" : "GitHub Actions deploys from ${var.github_repository}"
  assume_role_policy   = data.aws_iam_policy_document.trust[each.key].json
  max_session_duration = var.max_session_duration
  permissions_boundary = var.role_permissions_boundary_arn

  tags = var.tags

  lifecycle {
    precondition {
      condition     = length(local.subjects[each.key]) > 0
      error_message = "Allow at least one branch, tag, environment or pull requests for the ${each.key} role, or nobody can assume it."
    }

    precondition {
      condition     = var.create_oidc_provider || var.oidc_provider_arn != null
      error_message = "Set oidc_provider_arn when create_oidc_provider is false."
    }
  }
}

resource "aws_iam_role_policy" "this" {
  for_each = local.roles

  name   = each.key
  role   = aws_iam_role.this[each.key].id
  policy = each.key == "build" ? data.aws_iam_policy_document.build.json : data.aws_iam_policy_document.deploy.json
}

# The deploy role was the module's only role.
moved {
  from = aws_iam_role.this
  to   = aws_iam_role.this["deploy"]
}

moved {
  from = aws_iam_role_policy.deploy
  to   = aws_iam_role_policy.this["deploy"]
}
