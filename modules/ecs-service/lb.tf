################################################################################
# Target group
################################################################################

resource "aws_lb_target_group" "this" {
  name                 = local.target_group_name
  vpc_id               = var.vpc_id
  target_type          = "ip"
  protocol             = "HTTP"
  port                 = var.container_port
  deregistration_delay = var.deregistration_delay

  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = "traffic-port"
    path                = var.health_check_path
    matcher             = var.health_check_matcher
    interval            = var.health_check_interval
    timeout             = var.health_check_timeout
    healthy_threshold   = var.health_check_healthy_threshold
    unhealthy_threshold = var.health_check_unhealthy_threshold
  }

  tags = merge(var.tags, { Name = local.target_group_name })

  lifecycle {
    precondition {
      condition     = length(local.target_group_name) <= 32
      error_message = "The target group name \"${local.target_group_name}\" is longer than 32 characters: set target_group_name."
    }

    precondition {
      condition     = var.health_check_timeout < var.health_check_interval
      error_message = "The health_check_timeout must be less than health_check_interval."
    }
  }
}

################################################################################
# Listener rule: host header -> target group
################################################################################

resource "aws_lb_listener_rule" "this" {
  count = var.create_listener_rule ? 1 : 0

  listener_arn = var.listener_arn
  priority     = var.listener_rule_priority

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this.arn
  }

  condition {
    host_header {
      values = var.host_headers
    }
  }

  lifecycle {
    precondition {
      condition     = var.listener_arn != null && length(var.host_headers) > 0
      error_message = "A listener rule needs listener_arn and at least one host header."
    }
  }
}

################################################################################
# DNS
################################################################################

resource "aws_route53_record" "this" {
  count = var.create_dns_record ? 1 : 0

  zone_id = var.route53_zone_id
  name    = coalesce(var.dns_name, try(var.host_headers[0], null))
  type    = "A"

  alias {
    name                   = var.alb_dns_name
    zone_id                = var.alb_zone_id
    evaluate_target_health = true
  }

  lifecycle {
    precondition {
      condition     = var.route53_zone_id != null && var.alb_dns_name != null && var.alb_zone_id != null && (var.dns_name != null || length(var.host_headers) > 0)
      error_message = "A DNS record needs route53_zone_id, alb_dns_name, alb_zone_id and dns_name (or a host header)."
    }
  }
}

################################################################################
# Unhealthy targets alarm: the target group exists only here, so its alarm does too
################################################################################

resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  count = var.unhealthy_hosts_alarm != null ? 1 : 0

  alarm_name          = "${var.name}-unhealthy-hosts"
  alarm_description   = "Unhealthy targets in the target group of ${var.name}"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  statistic           = "Maximum"
  period              = var.unhealthy_hosts_alarm.period
  evaluation_periods  = var.unhealthy_hosts_alarm.evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.unhealthy_hosts_alarm.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.unhealthy_hosts_alarm.alarm_actions
  ok_actions          = var.unhealthy_hosts_alarm.alarm_actions

  dimensions = {
    LoadBalancer = var.unhealthy_hosts_alarm.load_balancer_arn_suffix
    TargetGroup  = aws_lb_target_group.this.arn_suffix
  }

  tags = var.tags
}
