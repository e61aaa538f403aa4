################################################################################
# Load balancer: target 5xx (count and rate)
################################################################################

resource "aws_cloudwatch_metric_alarm" "http_5xx_count" {
  alarm_name          = "${var.name}-alb-5xx-count"
  alarm_description   = "More than ${var.http_5xx_count_threshold} target 5xx responses per ${var.alarm_period}s"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "HTTPCode_Target_5XX_Count"
  statistic           = "Sum"
  period              = var.alarm_period
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.http_5xx_count_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  dimensions = {
    LoadBalancer = var.alb_arn_suffix
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "http_5xx_rate" {
  alarm_name          = "${var.name}-alb-5xx-rate"
  alarm_description   = "More than ${var.http_5xx_rate_threshold}% of target responses are 5xx"
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.http_5xx_rate_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  metric_query {
    id          = "rate"
    expression  = "IF(requests > 0, 100 * errors / requests, 0)"
    label       = "Target 5xx rate (%)"
    return_data = true
  }

  metric_query {
    id = "errors"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      stat        = "Sum"
      period      = var.alarm_period
      dimensions = {
        LoadBalancer = var.alb_arn_suffix
      }
    }
  }

  metric_query {
    id = "requests"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      stat        = "Sum"
      period      = var.alarm_period
      dimensions = {
        LoadBalancer = var.alb_arn_suffix
      }
    }
  }

  tags = var.tags
}

################################################################################
# Target groups: unhealthy hosts
################################################################################

resource "aws_cloudwatch_metric_alarm" "unhealthy_hosts" {
  count = length(var.target_group_arn_suffixes)

  alarm_name          = "${var.name}-unhealthy-hosts-${count.index}"
  alarm_description   = "Unhealthy targets in ${var.target_group_arn_suffixes[count.index]}"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  statistic           = "Maximum"
  period              = var.alarm_period
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.unhealthy_hosts_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  dimensions = {
    LoadBalancer = var.alb_arn_suffix
    TargetGroup  = var.target_group_arn_suffixes[count.index]
  }

  tags = var.tags
}

################################################################################
# ECS services: CPU and memory
################################################################################

resource "aws_cloudwatch_metric_alarm" "ecs_cpu_high" {
  for_each = toset(var.service_names)

  alarm_name          = "${var.name}-${each.value}-cpu-high"
  alarm_description   = "Average CPU of ${each.value} above ${var.ecs_cpu_threshold}%"
  namespace           = "AWS/ECS"
  metric_name         = "CPUUtilization"
  statistic           = "Average"
  period              = var.alarm_period
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.ecs_cpu_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  dimensions = {
    ClusterName = var.cluster_name
    ServiceName = each.value
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "ecs_memory_high" {
  for_each = toset(var.service_names)

  alarm_name          = "${var.name}-${each.value}-memory-high"
  alarm_description   = "Average memory of ${each.value} above ${var.ecs_memory_threshold}%"
  namespace           = "AWS/ECS"
  metric_name         = "MemoryUtilization"
  statistic           = "Average"
  period              = var.alarm_period
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.ecs_memory_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  dimensions = {
    ClusterName = var.cluster_name
    ServiceName = each.value
  }

  tags = var.tags
}

################################################################################
# Database: CPU and connections
################################################################################

resource "aws_cloudwatch_metric_alarm" "db_cpu_high" {
  count = var.db_instance_identifier != null ? 1 : 0

  alarm_name          = "${var.name}-db-cpu-high"
  alarm_description   = "CPU of database ${var.db_instance_identifier} above ${var.db_cpu_threshold}%"
  namespace           = "AWS/RDS"
  metric_name         = "CPUUtilization"
  statistic           = "Average"
  period              = var.alarm_period
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.db_cpu_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  dimensions = {
    DBInstanceIdentifier = var.db_instance_identifier
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "db_connections_high" {
  count = var.db_instance_identifier != null ? 1 : 0

  alarm_name          = "${var.name}-db-connections-high"
  alarm_description   = "More than ${var.db_connections_threshold} connections to database ${var.db_instance_identifier}"
  namespace           = "AWS/RDS"
  metric_name         = "DatabaseConnections"
  statistic           = "Average"
  period              = var.alarm_period
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.db_connections_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  dimensions = {
    DBInstanceIdentifier = var.db_instance_identifier
  }

  tags = var.tags
}

################################################################################
# The service's own metrics: geo query latency and connection pool exhaustion
################################################################################

resource "aws_cloudwatch_metric_alarm" "geo_query_latency" {
  count = var.app_metrics != null ? 1 : 0

  alarm_name          = "${var.name}-geo-query-p95-latency"
  alarm_description   = "p95 of the nearby-farms query above ${var.geo_query_p95_threshold_ms} ms in ${var.app_metrics.environment}"
  namespace           = var.app_metrics.namespace
  metric_name         = local.app_metric_names.nearby_latency
  extended_statistic  = "p95"
  period              = var.alarm_period
  evaluation_periods  = var.alarm_evaluation_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.geo_query_p95_threshold_ms
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  dimensions = {
    Environment = var.app_metrics.environment
  }

  tags = var.tags
}

resource "aws_cloudwatch_metric_alarm" "db_pool_exhausted" {
  count = var.app_metrics != null ? 1 : 0

  alarm_name          = "${var.name}-connection-pool-exhausted"
  alarm_description   = "Requests waiting for a database connection in ${var.app_metrics.environment} for ${var.db_pool_waiting_periods} periods of ${var.alarm_period}s: the pool is exhausted"
  namespace           = var.app_metrics.namespace
  metric_name         = local.app_metric_names.pool_waiting
  statistic           = "Maximum"
  period              = var.alarm_period
  evaluation_periods  = var.db_pool_waiting_periods
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  dimensions = {
    Environment = var.app_metrics.environment
  }

  tags = var.tags
}
