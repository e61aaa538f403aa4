################################################################################
# Deploy policy: least privilege, scoped to this project's resources.
#
# Only the last statement uses Resource "*", and it holds only actions AWS
# cannot scope to a resource (describe/list calls, task definition
# registration). The deploy role never pushes images: that is the build role's
# one permission (build.tf).
################################################################################

data "aws_iam_policy_document" "deploy" {
  statement {
    sid = "EcsServices"
    actions = [
      "ecs:CreateService",
      "ecs:UpdateService",
      "ecs:DeleteService",
      "ecs:DescribeServices",
      "ecs:TagResource",
      "ecs:UntagResource",
      "ecs:ListTagsForResource",
    ]
    resources = ["${local.arn_prefix.ecs}:service/${local.cluster_name}/${var.service_name_prefix}*"]
  }

  statement {
    sid = "EcsTaskDefinitionTags"
    actions = [
      "ecs:TagResource",
      "ecs:UntagResource",
      "ecs:ListTagsForResource",
    ]
    resources = ["${local.arn_prefix.ecs}:task-definition/${local.task_definition_family_prefix}*:*"]
  }

  # The release's migration: a one-off task of the service's own task definitions, in this cluster
  # only; then its status and, past its budget, a stop.
  statement {
    sid       = "MigrationTasksRun"
    actions   = ["ecs:RunTask"]
    resources = ["${local.arn_prefix.ecs}:task-definition/${local.task_definition_family_prefix}*:*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.cluster_arn]
    }
  }

  statement {
    sid       = "MigrationTasksWatch"
    actions   = ["ecs:DescribeTasks", "ecs:StopTask"]
    resources = ["${local.arn_prefix.ecs}:task/${local.cluster_name}/*"]
  }

  statement {
    sid = "TargetGroups"
    actions = [
      "elasticloadbalancing:CreateTargetGroup",
      "elasticloadbalancing:ModifyTargetGroup",
      "elasticloadbalancing:ModifyTargetGroupAttributes",
      "elasticloadbalancing:DeleteTargetGroup",
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:RemoveTags",
    ]
    resources = ["${local.arn_prefix.elb}:targetgroup/${local.target_group_name_prefix}*/*"]
  }

  statement {
    sid = "ListenerRules"
    actions = [
      "elasticloadbalancing:CreateRule",
      "elasticloadbalancing:ModifyRule",
      "elasticloadbalancing:DeleteRule",
      "elasticloadbalancing:SetRulePriorities",
      "elasticloadbalancing:AddTags",
      "elasticloadbalancing:RemoveTags",
    ]
    resources = [local.listener_arns, local.listener_rule_arns]
  }

  # Listing only under what the role's runs list: Terraform's S3 backend lists its workspaces with
  # the prefix "<workspace_key_prefix>/" (init, workspace select/new); deploytool lists the deploy
  # history and locks of the environment ("<ledger prefix>/<env>/", within state_key_patterns) and
  # the workspaces' state objects (the same "workspaces/"). The object patterns are values too: S3
  # answers a GET of a missing object with 404 only when the caller may list with the object's key
  # as s3:prefix (else 403), and Terraform and deploytool read missing state, branch records and the
  # platform's outputs document as "none yet". A listing without a prefix matches no value.
  statement {
    sid       = "StateBucketList"
    actions   = ["s3:ListBucket"]
    resources = [local.state_bucket_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = local.state_list_prefixes
    }
  }

  statement {
    sid       = "StateObjects"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [for p in var.state_key_patterns : "${local.state_bucket_arn}/${p}"]
  }

  # An app deploy reads the platform's outputs from the document deploytool publishes after every
  # platform apply (non-sensitive outputs only). Read-only; the platform's state, which holds the
  # database master password, stays out of reach.
  dynamic "statement" {
    for_each = var.platform_outputs_key != null ? [var.platform_outputs_key] : []

    content {
      sid       = "PlatformOutputsRead"
      actions   = ["s3:GetObject"]
      resources = ["${local.state_bucket_arn}/${statement.value}"]
    }
  }

  # deploytool looks the repository up (inputs.image_repository_uri) and refuses a tag that is not
  # in it (DescribeImages) before deploying or rolling back; pushing is the build role's.
  statement {
    sid       = "ImageRepositoryRead"
    actions   = ["ecr:DescribeRepositories", "ecr:DescribeImages"]
    resources = [local.ecr_repository_arn]
  }

  dynamic "statement" {
    for_each = length(var.alert_topic_arns) > 0 ? [var.alert_topic_arns] : []

    content {
      sid       = "PublishDeployAlerts"
      actions   = ["sns:Publish"]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = length(var.pass_role_arns) > 0 ? [var.pass_role_arns] : []

    content {
      sid       = "PassTaskRolesToEcsTasks"
      actions   = ["iam:PassRole"]
      resources = statement.value

      condition {
        test     = "StringEquals"
        variable = "iam:PassedToService"
        values   = ["ecs-tasks.amazonaws.com"]
      }
    }
  }

  statement {
    sid = "ServiceAutoscaling"
    actions = [
      "application-autoscaling:RegisterScalableTarget",
      "application-autoscaling:DeregisterScalableTarget",
      "application-autoscaling:PutScalingPolicy",
      "application-autoscaling:DeleteScalingPolicy",
      "application-autoscaling:TagResource",
      "application-autoscaling:ListTagsForResource",
    ]
    resources = ["${local.arn_prefix.aas}:scalable-target/*"]
  }

  statement {
    sid = "TargetTrackingAlarms"
    actions = [
      "cloudwatch:DescribeAlarms",
      "cloudwatch:PutMetricAlarm",
      "cloudwatch:DeleteAlarms",
    ]
    resources = ["${local.arn_prefix.alarm}:TargetTracking-service/${local.cluster_name}/${var.service_name_prefix}*"]
  }

  # Each service's stack alarms on its own target group's unhealthy hosts (modules/ecs-service); the
  # platform's alarms (named after the platform, never ending so) stay out of reach.
  statement {
    sid = "ServiceUnhealthyHostAlarms"
    actions = [
      "cloudwatch:DescribeAlarms",
      "cloudwatch:PutMetricAlarm",
      "cloudwatch:DeleteAlarms",
      "cloudwatch:ListTagsForResource",
      "cloudwatch:TagResource",
      "cloudwatch:UntagResource",
    ]
    resources = ["${local.arn_prefix.alarm}:${var.service_name_prefix}*-unhealthy-hosts"]
  }

  statement {
    sid       = "AutoscalingServiceLinkedRole"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService"]

    condition {
      test     = "StringLike"
      variable = "iam:AWSServiceName"
      values   = ["ecs.application-autoscaling.amazonaws.com"]
    }
  }

  # Security groups: only the app stacks' own service groups, told apart by their name and the
  # tags the stacks put on everything (sent with CreateSecurityGroup, so checked on create).
  dynamic "statement" {
    for_each = var.vpc_id != null ? [var.vpc_id] : []

    content {
      sid     = "CreateServiceSecurityGroups"
      actions = ["ec2:CreateSecurityGroup"]
      resources = [
        "${local.arn_prefix.ec2}:vpc/${statement.value}",
        "${local.arn_prefix.ec2}:security-group/*",
      ]

      dynamic "condition" {
        for_each = var.resource_tags

        content {
          test     = "StringEquals"
          variable = "aws:RequestTag/${condition.key}"
          values   = [condition.value]
        }
      }

      condition {
        test     = "StringLike"
        variable = "aws:RequestTag/Name"
        values   = [local.security_group_name_pattern]
      }
    }
  }

  dynamic "statement" {
    for_each = var.vpc_id != null ? [var.vpc_id] : []

    content {
      sid       = "TagServiceSecurityGroupsOnCreate"
      actions   = ["ec2:CreateTags"]
      resources = ["${local.arn_prefix.ec2}:security-group/*"]

      condition {
        test     = "StringEquals"
        variable = "ec2:CreateAction"
        values   = ["CreateSecurityGroup"]
      }
    }
  }

  dynamic "statement" {
    for_each = var.vpc_id != null ? [var.vpc_id] : []

    content {
      sid = "ManageServiceSecurityGroups"
      actions = [
        "ec2:AuthorizeSecurityGroupIngress",
        "ec2:AuthorizeSecurityGroupEgress",
        "ec2:RevokeSecurityGroupIngress",
        "ec2:RevokeSecurityGroupEgress",
        "ec2:DeleteSecurityGroup",
        "ec2:CreateTags",
        "ec2:DeleteTags",
      ]
      resources = ["${local.arn_prefix.ec2}:security-group/*"]

      condition {
        test     = "ArnEquals"
        variable = "ec2:Vpc"
        values   = ["${local.arn_prefix.ec2}:vpc/${statement.value}"]
      }

      dynamic "condition" {
        for_each = var.resource_tags

        content {
          test     = "StringEquals"
          variable = "aws:ResourceTag/${condition.key}"
          values   = [condition.value]
        }
      }

      condition {
        test     = "StringLike"
        variable = "aws:ResourceTag/Name"
        values   = [local.security_group_name_pattern]
      }
    }
  }

  dynamic "statement" {
    for_each = length(var.route53_zone_ids) > 0 ? [var.route53_zone_ids] : []

    content {
      sid = "BranchDnsRecords"
      actions = [
        "route53:ChangeResourceRecordSets",
        "route53:GetHostedZone",
        "route53:ListResourceRecordSets",
        "route53:ListTagsForResource",
      ]
      resources = [for z in statement.value : "${local.arn_prefix.route53}hostedzone/${z}"]
    }
  }

  dynamic "statement" {
    for_each = length(var.route53_zone_ids) > 0 ? [true] : []

    content {
      sid       = "DnsChangeStatus"
      actions   = ["route53:GetChange"]
      resources = ["${local.arn_prefix.route53}change/*"]
    }
  }

  statement {
    sid = "UnscopableReadAndRegister"
    actions = [
      "ecs:DescribeTaskDefinition",
      "ecs:RegisterTaskDefinition",
      "ecs:DeregisterTaskDefinition",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetGroupAttributes",
      "elasticloadbalancing:DescribeTargetHealth",
      "elasticloadbalancing:DescribeTags",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSecurityGroupRules",
      "ec2:DescribeNetworkInterfaces",
      "application-autoscaling:DescribeScalableTargets",
      "application-autoscaling:DescribeScalingPolicies",
    ]
    resources = ["*"]
  }
}
