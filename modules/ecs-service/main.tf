locals {
  cluster_name      = element(split("/", var.cluster_arn), 1)
  target_group_name = coalesce(var.target_group_name, var.name)
  log_stream_prefix = coalesce(var.log_stream_prefix, var.name)

  image_is_digest = startswith(var.image_tag, "sha256:")
  image           = local.image_is_digest ? "${var.image_repository}@${var.image_tag}" : "${var.image_repository}:${var.image_tag}"

  scratch_volume_name = "tmp"

  container_definition = merge(
    {
      name                   = var.container_name
      image                  = local.image
      essential              = true
      readonlyRootFilesystem = var.readonly_root_filesystem
      portMappings = [{
        containerPort = var.container_port
        hostPort      = var.container_port
        protocol      = "tcp"
      }]
      environment = [for k in sort(keys(var.environment)) : { name = k, value = var.environment[k] }]
      secrets     = [for s in var.secrets : { name = s.name, valueFrom = s.value_from }]
      mountPoints = var.readonly_root_filesystem ? [{
        sourceVolume  = local.scratch_volume_name
        containerPath = "/tmp"
        readOnly      = false
      }] : []
      volumesFrom = []
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = var.log_group_name
          awslogs-region        = var.log_region
          awslogs-stream-prefix = local.log_stream_prefix
        }
      }
    },
    var.command != null ? { command = var.command } : {},
  )

  # Exactly one of the two service resources exists; see README "Autoscaling and desired_count".
  service = one(concat(aws_ecs_service.this, aws_ecs_service.autoscaled))
}

################################################################################
# Task definition
################################################################################

resource "aws_ecs_task_definition" "this" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arn
  container_definitions    = jsonencode([local.container_definition])

  dynamic "volume" {
    for_each = var.readonly_root_filesystem ? [local.scratch_volume_name] : []

    content {
      name = volume.value
    }
  }

  tags = var.tags

  # Register the new revision and move the service to it before the old one is deregistered.
  lifecycle {
    create_before_destroy = true
  }
}

################################################################################
# Security group: the load balancer is the only way in
################################################################################

resource "aws_security_group" "this" {
  name        = "${var.name}-service"
  description = "ECS service ${var.name}: container port from the load balancer only"
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-service" })
}

resource "aws_security_group_rule" "ingress_from_alb" {
  description              = "Container port from the load balancer"
  type                     = "ingress"
  security_group_id        = aws_security_group.this.id
  protocol                 = "tcp"
  from_port                = var.container_port
  to_port                  = var.container_port
  source_security_group_id = var.alb_security_group_id
}

resource "aws_security_group_rule" "egress_all" {
  description       = "Image pulls, AWS APIs and the database"
  type              = "egress"
  security_group_id = aws_security_group.this.id
  protocol          = "-1"
  from_port         = 0
  to_port           = 0
  cidr_blocks       = ["0.0.0.0/0"]
}

################################################################################
# Service
#
# lifecycle.ignore_changes cannot depend on a variable, so the service exists
# in one of two forms: `this` (Terraform owns desired_count) and `autoscaled`
# (the autoscaler owns it). Keep both bodies identical apart from lifecycle.
################################################################################

resource "aws_ecs_service" "this" {
  count = var.enable_autoscaling ? 0 : 1

  name                               = var.name
  cluster                            = var.cluster_arn
  task_definition                    = aws_ecs_task_definition.this.arn
  desired_count                      = var.desired_count
  launch_type                        = "FARGATE"
  deployment_minimum_healthy_percent = var.deployment_minimum_healthy_percent
  deployment_maximum_percent         = var.deployment_maximum_percent
  health_check_grace_period_seconds  = var.health_check_grace_period_seconds
  wait_for_steady_state              = var.wait_for_steady_state
  enable_execute_command             = false
  propagate_tags                     = "SERVICE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.this.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this.arn
    container_name   = var.container_name
    container_port   = var.container_port
  }

  tags = var.tags

  depends_on = [aws_lb_listener_rule.this, var.listener_rule_arns]
}

resource "aws_ecs_service" "autoscaled" {
  count = var.enable_autoscaling ? 1 : 0

  name                               = var.name
  cluster                            = var.cluster_arn
  task_definition                    = aws_ecs_task_definition.this.arn
  desired_count                      = var.desired_count
  launch_type                        = "FARGATE"
  deployment_minimum_healthy_percent = var.deployment_minimum_healthy_percent
  deployment_maximum_percent         = var.deployment_maximum_percent
  health_check_grace_period_seconds  = var.health_check_grace_period_seconds
  wait_for_steady_state              = var.wait_for_steady_state
  enable_execute_command             = false
  propagate_tags                     = "SERVICE"

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [aws_security_group.this.id]
    assign_public_ip = false
  }

  load_balancer {
    target_group_arn = aws_lb_target_group.this.arn
    container_name   = var.container_name
    container_port   = var.container_port
  }

  tags = var.tags

  lifecycle {
    ignore_changes = [desired_count]
  }

  depends_on = [aws_lb_listener_rule.this, var.listener_rule_arns]
}
