locals {
  https = coalesce(var.enable_https, var.certificate_arn != null)

  not_found = {
    content_type = "text/plain"
    message_body = "Not Found"
    status_code  = "404"
  }
}

################################################################################
# Security group
################################################################################

resource "aws_security_group" "this" {
  name_prefix = "${var.name}-alb-"
  description = "Load balancer ${var.name}: HTTP(S) in from the allowed networks, out to the VPC only."
  vpc_id      = var.vpc_id

  tags = merge(var.tags, { Name = "${var.name}-alb" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_security_group_rule" "ingress_http" {
  type              = "ingress"
  description       = "HTTP from allowed networks"
  security_group_id = aws_security_group.this.id
  protocol          = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_blocks       = var.ingress_cidr_blocks
}

resource "aws_security_group_rule" "ingress_https" {
  count = local.https ? 1 : 0

  type              = "ingress"
  description       = "HTTPS from allowed networks"
  security_group_id = aws_security_group.this.id
  protocol          = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_blocks       = var.ingress_cidr_blocks
}

resource "aws_security_group_rule" "egress_vpc" {
  type              = "egress"
  description       = "To targets inside the VPC"
  security_group_id = aws_security_group.this.id
  protocol          = "tcp"
  from_port         = 0
  to_port           = 65535
  cidr_blocks       = [var.vpc_cidr_block]
}

################################################################################
# Load balancer
################################################################################

resource "aws_lb" "this" {
  name               = var.name
  load_balancer_type = "application"
  internal           = var.internal
  subnets            = var.subnet_ids
  security_groups    = concat([aws_security_group.this.id], var.security_group_ids)

  idle_timeout               = var.idle_timeout
  enable_deletion_protection = var.enable_deletion_protection
  drop_invalid_header_fields = true

  dynamic "access_logs" {
    for_each = var.access_logs != null ? [var.access_logs] : []

    content {
      bucket  = access_logs.value.bucket
      prefix  = access_logs.value.prefix
      enabled = true
    }
  }

  tags = merge(var.tags, { Name = var.name })
}

################################################################################
# Listeners
################################################################################

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  dynamic "default_action" {
    for_each = local.https ? [1] : []

    content {
      type = "redirect"

      redirect {
        port        = "443"
        protocol    = "HTTPS"
        status_code = "HTTP_301"
      }
    }
  }

  dynamic "default_action" {
    for_each = local.https ? [] : [local.not_found]

    content {
      type = "fixed-response"

      fixed_response {
        content_type = default_action.value.content_type
        message_body = default_action.value.message_body
        status_code  = default_action.value.status_code
      }
    }
  }
}

resource "aws_lb_listener" "https" {
  count = local.https ? 1 : 0

  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = var.certificate_arn

  default_action {
    type = "fixed-response"

    fixed_response {
      content_type = local.not_found.content_type
      message_body = local.not_found.message_body
      status_code  = local.not_found.status_code
    }
  }

  lifecycle {
    precondition {
      condition     = var.certificate_arn != null
      error_message = "The HTTPS listener needs certificate_arn."
    }
  }
}
