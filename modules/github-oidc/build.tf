################################################################################
# Build policy: push images to the project's one repository, nothing else.
#
# GetAuthorizationToken cannot be scoped to a repository; the token it returns
# is only as good as the repository actions below. DescribeImages and
# BatchGetImage let a build see whether the tag exists already and let the
# Docker client check the manifest it pushes.
################################################################################

data "aws_iam_policy_document" "build" {
  statement {
    sid       = "RegistryLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PushImages"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:InitiateLayerUpload",
      "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload",
      "ecr:PutImage",
      "ecr:BatchGetImage",
      "ecr:DescribeImages",
    ]
    resources = [local.ecr_repository_arn]
  }
}
