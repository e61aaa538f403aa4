################################################################################
# Dashboard: service, load balancer, targets, database, the service's own metrics
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

  # The service's own metrics, written as embedded metric format lines (examples/geo-api: the names
  # are declared in geoapi/emf_metrics.json, and a test holds these to that file).
  app_metric_names = {
    request_latency = "RequestLatency"
    requests        = "Requests"
    nearby_latency  = "NearbyQueryLatency"
    nearby_rows     = "NearbyRowsReturned"
    pool_size       = "DbPoolSize"
    pool_in_use     = "DbPoolInUse"
    pool_waiting    = "DbPoolWaiting"
  }
  app_namespace   = try(var.app_metrics.namespace, "")
  app_environment = try(var.app_metrics.environment, "")
  app_dimension   = ["Environment", local.app_environment]
  # Routes and status classes are not known in advance: a search finds every series of the environment.
  app_search = {
    for key, keys in { request_latency = "Environment,Route", requests = "Environment,Route,StatusClass" } :
    key => "{${local.app_namespace},${keys}} MetricName=\"${local.app_metric_names[key]}\" Environment=\"${local.app_environment}\""
  }

  # A for filter, not a conditional: the widgets differ in shape, so they form a tuple, not a list.
  app_widgets = [for widget in [
    {
      type = "metric", x = 0, y = 24, width = 12, height = 6
      properties = merge(local.widget_defaults, {
        title   = "Request latency p95 by route (ms), ${local.app_environment}"
        metrics = [[{ id = "latency", expression = "SEARCH('${local.app_search.request_latency}', 'p95', 60)" }]]
      })
    },
    {
      type = "metric", x = 12, y = 24, width = 12, height = 6
      properties = merge(local.widget_defaults, {
        title   = "Requests by route and status class, ${local.app_environment}"
        metrics = [[{ id = "requests", expression = "SEARCH('${local.app_search.requests}', 'Sum', 60)" }]]
      })
    },
    {
      type = "metric", x = 0, y = 30, width = 8, height = 6
      properties = merge(local.widget_defaults, {
        title = "Nearby-farms query latency (ms), ${local.app_environment}"
        metrics = [
          for stat in ["p50", "p95", "p99"] :
          concat([local.app_namespace, local.app_metric_names.nearby_latency], local.app_dimension, [{ stat = stat, label = stat }])
        ]
      })
    },
    {
      type = "metric", x = 8, y = 30, width = 8, height = 6
      properties = merge(local.widget_defaults, {
        title = "Nearby-farms rows returned, ${local.app_environment}"
        metrics = [
          for stat in ["Average", "Maximum"] :
          concat([local.app_namespace, local.app_metric_names.nearby_rows], local.app_dimension, [{ stat = stat, label = lower(stat) }])
        ]
      })
    },
    {
      type = "metric", x = 16, y = 30, width = 8, height = 6
      properties = merge(local.widget_defaults, {
        title = "Database connection pool, ${local.app_environment}"
        stat  = "Maximum"
        metrics = [
          for key, label in { pool_size = "size", pool_in_use = "in use", pool_waiting = "waiting" } :
          concat([local.app_namespace, local.app_metric_names[key]], local.app_dimension, [{ label = label }])
        ]
      })
    },
  ] : widget if var.app_metrics != null]

  dashboard_body = jsonencode({
    widgets = concat(local.service_widgets, local.alb_widgets, local.target_widgets, local.db_widgets, local.app_widgets)
  })
}

resource "aws_cloudwatch_dashboard" "this" {
  count = var.create_dashboard ? 1 : 0

  dashboard_name = var.name
  dashboard_body = local.dashboard_body
}
