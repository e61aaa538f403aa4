output "id" {
  description = "ID of the load balancer."
  value       = aws_lb.this.id
}

output "arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.this.arn
}

output "arn_suffix" {
  description = "ARN suffix of the load balancer, for CloudWatch metrics and alarms."
  value       = aws_lb.this.arn_suffix
}

output "name" {
  description = "Name of the load balancer."
  value       = aws_lb.this.name
}

output "dns_name" {
  description = "DNS name of the load balancer."
  value       = aws_lb.this.dns_name
}

output "zone_id" {
  description = "Route 53 hosted zone ID of the load balancer, for alias records."
  value       = aws_lb.this.zone_id
}

output "security_group_id" {
  description = "ID of the load balancer's security group; allow it into the service's security group."
  value       = aws_security_group.this.id
}

output "http_listener_arn" {
  description = "ARN of the HTTP (port 80) listener."
  value       = aws_lb_listener.http.arn
}

output "https_listener_arn" {
  description = "ARN of the HTTPS (port 443) listener, null without a certificate."
  value       = try(aws_lb_listener.https[0].arn, null)
}

output "listener_arn" {
  description = "ARN of the listener services attach their rules to: HTTPS when present, HTTP otherwise."
  value       = local.https ? try(aws_lb_listener.https[0].arn, null) : aws_lb_listener.http.arn
}
