locals {
  # The token never passes through Terraform: CloudFormation resolves the secret when it creates or
  # updates the group, so neither the plan, the state nor any tfvars holds it.
  auth_token = var.auth_token_json_key == null ? "{{resolve:secretsmanager:${var.auth_token_secret_arn}:SecretString}}" : "{{resolve:secretsmanager:${var.auth_token_secret_arn}:SecretString:${var.auth_token_json_key}}}"

  failover = var.num_cache_clusters >= 2

  replication_group = merge(
    {
      ReplicationGroupId          = var.name
      ReplicationGroupDescription = "Cache of ${var.name}"
      Engine                      = "redis"
      EngineVersion               = var.engine_version
      CacheNodeType               = var.node_type
      NumCacheClusters            = var.num_cache_clusters
      AutomaticFailoverEnabled    = local.failover
      MultiAZEnabled              = local.failover
      Port                        = var.port
      CacheSubnetGroupName        = { Ref = "SubnetGroup" }
      SecurityGroupIds            = [{ Ref = "SecurityGroupId" }]
      AtRestEncryptionEnabled     = true
      TransitEncryptionEnabled    = true
      AuthToken                   = local.auth_token
      SnapshotRetentionLimit      = var.snapshot_retention_limit
      Tags                        = [for k in sort(keys(var.tags)) : { Key = k, Value = var.tags[k] }]
    },
    var.kms_key_arn == null ? {} : { KmsKeyId = var.kms_key_arn },
  )

  # The template holds only the module's inputs (known at plan time when they are, so a plan shows it
  # whole); the ID of the module's own security group arrives as a stack parameter.
  template = {
    AWSTemplateFormatVersion = "2010-09-09"
    Description              = "Redis replication group ${var.name}: private subnets, TLS, encrypted at rest, auth token from Secrets Manager"
    Parameters = {
      SecurityGroupId = { Type = "AWS::EC2::SecurityGroup::Id", Description = "The cache's security group" }
    }
    Resources = {
      SubnetGroup = {
        Type = "AWS::ElastiCache::SubnetGroup"
        Properties = {
          CacheSubnetGroupName = var.name
          Description          = "Private subnets of the ${var.name} cache"
          SubnetIds            = var.subnet_ids
        }
      }
      ReplicationGroup = {
        Type       = "AWS::ElastiCache::ReplicationGroup"
        Properties = local.replication_group
      }
    }
    Outputs = {
      PrimaryEndpointAddress = { Value = { "Fn::GetAtt" = ["ReplicationGroup", "PrimaryEndPoint.Address"] } }
      PrimaryEndpointPort    = { Value = { "Fn::GetAtt" = ["ReplicationGroup", "PrimaryEndPoint.Port"] } }
    }
  }
}

################################################################################
# Security group: the cache port from the allowed security groups only
################################################################################

resource "aws_security_group" "this" {
  # checkov:skip=CKV2_AWS_5: attached to the replication group through the stack's SecurityGroupId parameter, which checkov cannot follow
  name_prefix = "${var.name}-cache-"
  description = "Cache ${var.name}: Redis from the allowed security groups only."
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-cache" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group_rule" "ingress" {
  count = length(var.allowed_security_group_ids)

  type                     = "ingress"
  description              = "Redis from an allowed security group"
  security_group_id        = aws_security_group.this.id
  protocol                 = "tcp"
  from_port                = var.port
  to_port                  = var.port
  source_security_group_id = var.allowed_security_group_ids[count.index]
}

################################################################################
# Subnet group and replication group
################################################################################

# A CloudFormation stack holds them: aws_elasticache_replication_group has no description argument
# common to provider 3.x (`replication_group_description`, required) and 5.x+ (`description`), and
# the stack lets the group resolve its auth token from Secrets Manager itself.
resource "aws_cloudformation_stack" "this" {
  # checkov:skip=CKV_AWS_124: Terraform drives the stack and reports its failures; no one consumes stack events
  name          = "${var.name}-cache"
  template_body = jsonencode(local.template)
  parameters = {
    SecurityGroupId = aws_security_group.this.id
  }
  on_failure = "DELETE"

  timeout_in_minutes = var.timeout_in_minutes

  tags = var.tags
}
