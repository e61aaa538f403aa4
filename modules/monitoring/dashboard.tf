################################################################################
# Dashboard: service, load balancer, targets, database
################################################################################

data "aws_region" "current" {}

locals {
  region = data.aws_region.current.id

  ecs_metric = { for m in ["CPUUtilization", "MemoryUtilization"] : m => [
    for s in var.service_names : ["AWS/ECS", m, "ClusterName", var.cluster_name, "ServiceName", s]
  ] }

  # One line per (metric, target group); setproduct keeps each line a list of its own.
  target_health_metrics = [
    for pair in setproduct(["HealthyHostCount", "UnHealthyHostCount"], var.target_group_arn_suffixes) :
    ["AWS/ApplicationELB", pair[0], "TargetGroup", pair[1], "LoadBalancer", var.alb_arn_suffix]
  ]

  widget_defaults = {
    region = local.region
    period = 60
    view   = "timeSeries"
  }

  service_widgets = length(var.service_names) == 0 ? [] : [
    {
      type = "metric", x = 0, y = 0, width = 12, height = 6
      properties = merge(local.widget_defaults, {
        title   = "ECS CPU utilisation (%)"
        stat    = "Average"
        metrics = local.ecs_metric["CPUUtilization"]
      })
    },
    {
      type = "metric", x = 12, y = 0, width = 12, height = 6
      properties = merge(local.widget_defaults, {
        title   = "ECS memory utilisation (%)"
        stat    = "Average"
        metrics = local.ecs_metric["MemoryUtilization"]
      })
    },
  ]

  alb_widgets = [
    {
      type = "metric", x = 0, y = 6, width = 12, height = 6
      properties = merge(local.widget_defaults, {
        title = "Target response time (s)"
        metrics = [
          ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.alb_arn_suffix, { stat = "p95", label = "p95" }],
          ["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.alb_arn_suffix, { stat = "Average", label = "average" }],
        ]
      })
    },
    {
      type = "metric", x = 12, y = 6, width = 12, height = 6
      properties = merge(local.widget_defaults, {
        title = "Target 5xx and requests"
        stat  = "Sum"
        metrics = [
          ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", var.alb_arn_suffix],
          ["AWS/ApplicationELB", "RequestCount", "LoadBalancer", var.alb_arn_suffix, { yAxis = "right" }],
        ]
      })
    },
  ]

  target_widgets = length(var.target_group_arn_suffixes) == 0 ? [] : [
    {
      type = "metric", x = 0, y = 12, width = 24, height = 6
      properties = merge(local.widget_defaults, {
        title   = "Healthy / unhealthy targets"
        stat    = "Maximum"
        metrics = local.target_health_metrics
      })
    },
  ]

  db_widgets = var.db_instance_identifier == null ? [] : [
    {
      type = "metric", x = 0, y = 18, width = 12, height = 6
      properties = merge(local.widget_defaults, {
        title   = "Database CPU utilisation (%)"
        stat    = "Average"
        metrics = [["AWS/RDS", "CPUUtilization", "DBInstanceIdentifier", var.db_instance_identifier]]
      })
    },
    {
      type = "metric", x = 12, y = 18, width = 12, height = 6
      properties = merge(local.widget_defaults, {
        title   = "Database connections"
        stat    = "Average"
        metrics = [["AWS/RDS", "DatabaseConnections", "DBInstanceIdentifier", var.db_instance_identifier]]
      })
    },
  ]

  dashboard_body = jsonencode({
    widgets = concat(local.service_widgets, local.alb_widgets, local.target_widgets, local.db_widgets)
  })
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = var.name
  dashboard_body = local.dashboard_body
}
