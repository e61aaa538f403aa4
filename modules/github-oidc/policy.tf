################################################################################
# Deploy policy: least privilege, scoped to this project's resources.
#
# Only the last statement uses Resource "*", and it holds only actions AWS
# cannot scope to a resource (describe/list calls, the ECR login token, task
# definition registration).
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
    sid       = "EcsCluster"
    actions   = ["ecs:DescribeClusters"]
    resources = [var.cluster_arn]
  }

  statement {
    sid       = "EcsListServicesInCluster"
    actions   = ["ecs:ListServices"]
    resources = ["*"]

    condition {
      test     = "ArnEquals"
      variable = "ecs:cluster"
      values   = [var.cluster_arn]
    }
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

  statement {
    sid       = "StateBucketList"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = [local.state_bucket_arn]
  }

  statement {
    sid     = "StateObjects"
    actions = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [
      for p in var.state_key_prefixes : "${local.state_bucket_arn}/${p}*"
    ]
  }

  dynamic "statement" {
    for_each = length(var.ecr_repository_arns) > 0 ? [var.ecr_repository_arns] : []

    content {
      sid = "EcrPushPull"
      actions = [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:DescribeImages",
        "ecr:ListImages",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
      ]
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
    sid = "ReadServiceLogs"
    actions = [
      "logs:DescribeLogStreams",
      "logs:GetLogEvents",
      "logs:FilterLogEvents",
    ]
    resources = [
      "${local.arn_prefix.logs}:log-group:${var.log_group_prefix}*",
      "${local.arn_prefix.logs}:log-group:${var.log_group_prefix}*:log-stream:*",
    ]
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

  dynamic "statement" {
    for_each = var.vpc_id != null ? [var.vpc_id] : []

    content {
      sid     = "CreateServiceSecurityGroups"
      actions = ["ec2:CreateSecurityGroup"]
      resources = [
        "${local.arn_prefix.ec2}:vpc/${statement.value}",
        "${local.arn_prefix.ec2}:security-group/*",
      ]
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
      "ecr:GetAuthorizationToken",
      "ecs:DescribeTaskDefinition",
      "ecs:RegisterTaskDefinition",
      "ecs:DeregisterTaskDefinition",
      "ecs:ListTaskDefinitions",
      "elasticloadbalancing:DescribeLoadBalancers",
      "elasticloadbalancing:DescribeLoadBalancerAttributes",
      "elasticloadbalancing:DescribeListeners",
      "elasticloadbalancing:DescribeRules",
      "elasticloadbalancing:DescribeTargetGroups",
      "elasticloadbalancing:DescribeTargetGroupAttributes",
      "elasticloadbalancing:DescribeTargetHealth",
      "elasticloadbalancing:DescribeTags",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSecurityGroupRules",
      "ec2:DescribeSubnets",
      "ec2:DescribeVpcs",
      "ec2:DescribeNetworkInterfaces",
      "application-autoscaling:DescribeScalableTargets",
      "application-autoscaling:DescribeScalingPolicies",
      "application-autoscaling:DescribeScalingActivities",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }
}
