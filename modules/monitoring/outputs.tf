output "sns_topic_arn" {
  description = "ARN of the alarm topic."
  value       = aws_sns_topic.alarms.arn
}

output "kms_key_arn" {
  description = "ARN of the key created for the alarm topic, or null when a key was given."
  value       = try(aws_kms_key.alarms[0].arn, null)
}

output "dashboard_name" {
  description = "Name of the dashboard, or null when not created."
  value       = try(aws_cloudwatch_dashboard.this[0].dashboard_name, null)
}

output "dashboard_body" {
  description = "JSON body of the dashboard."
  value       = local.dashboard_body
}

output "alarm_arns" {
  description = "ARNs of every alarm, keyed by alarm name."
  value = merge(
    {
      (aws_cloudwatch_metric_alarm.http_5xx_count.alarm_name) = aws_cloudwatch_metric_alarm.http_5xx_count.arn
      (aws_cloudwatch_metric_alarm.http_5xx_rate.alarm_name)  = aws_cloudwatch_metric_alarm.http_5xx_rate.arn
    },
    { for a in aws_cloudwatch_metric_alarm.unhealthy_hosts : a.alarm_name => a.arn },
    { for a in aws_cloudwatch_metric_alarm.ecs_cpu_high : a.alarm_name => a.arn },
    { for a in aws_cloudwatch_metric_alarm.ecs_memory_high : a.alarm_name => a.arn },
    { for a in aws_cloudwatch_metric_alarm.db_cpu_high : a.alarm_name => a.arn },
    { for a in aws_cloudwatch_metric_alarm.db_connections_high : a.alarm_name => a.arn },
    { for a in aws_cloudwatch_metric_alarm.geo_query_latency : a.alarm_name => a.arn },
    { for a in aws_cloudwatch_metric_alarm.db_pool_exhausted : a.alarm_name => a.arn },
  )
}

output "alarm_names" {
  description = "Names of every alarm."
  value = concat(
    [aws_cloudwatch_metric_alarm.http_5xx_count.alarm_name, aws_cloudwatch_metric_alarm.http_5xx_rate.alarm_name],
    aws_cloudwatch_metric_alarm.unhealthy_hosts[*].alarm_name,
    [for a in aws_cloudwatch_metric_alarm.ecs_cpu_high : a.alarm_name],
    [for a in aws_cloudwatch_metric_alarm.ecs_memory_high : a.alarm_name],
    aws_cloudwatch_metric_alarm.db_cpu_high[*].alarm_name,
    aws_cloudwatch_metric_alarm.db_connections_high[*].alarm_name,
    aws_cloudwatch_metric_alarm.geo_query_latency[*].alarm_name,
    aws_cloudwatch_metric_alarm.db_pool_exhausted[*].alarm_name,
  )
}
