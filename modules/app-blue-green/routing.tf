################################################################################
# Production rule: the host forwards 100 % to the active colour, 0 % to the idle
# one. Flipping active_color changes the weights in place (one API call).
################################################################################

resource "aws_lb_listener_rule" "production" {
  listener_arn = local.platform.listener_arn
  priority     = local.release.listener_priority

  action {
    type = "forward"

    forward {
      target_group {
        arn    = module.service["blue"].target_group_arn
        weight = local.weights.blue
      }

      target_group {
        arn    = module.service["green"].target_group_arn
        weight = local.weights.green
      }

      stickiness {
        enabled  = false
        duration = 1
      }
    }
  }

  condition {
    host_header {
      values = [local.release.host]
    }
  }
}

################################################################################
# Test route: the same host with the test header reaches the idle colour, so
# a release is health-checked through the same load balancer before the flip.
################################################################################

resource "aws_lb_listener_rule" "test" {
  listener_arn = local.platform.listener_arn
  priority     = local.release.test_listener_priority

  action {
    type             = "forward"
    target_group_arn = module.service[local.idle].target_group_arn
  }

  condition {
    host_header {
      values = [local.release.host]
    }
  }

  condition {
    http_header {
      http_header_name = local.release.test_route_header_name
      values           = [local.release.test_route_token]
    }
  }
}

################################################################################
# Optional DNS record for the production host
################################################################################

resource "aws_route53_record" "this" {
  count = local.release.create_dns_record ? 1 : 0

  zone_id = local.release.hosted_zone_id
  name    = local.release.host
  type    = "A"

  alias {
    name                   = local.platform.alb_dns_name
    zone_id                = local.platform.alb_zone_id
    evaluate_target_health = true
  }
}
