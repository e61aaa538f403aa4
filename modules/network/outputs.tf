output "vpc_id" {
  description = "ID of the VPC (created or existing)."
  value       = var.create_vpc ? try(aws_vpc.this[0].id, null) : var.existing_vpc_id
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR block of the VPC (created or existing)."
  value       = var.create_vpc ? try(aws_vpc.this[0].cidr_block, null) : try(data.aws_vpc.existing[0].cidr_block, null)
}

output "public_subnet_ids" {
  description = "IDs of the public subnets (created or existing), one per availability zone."
  value       = var.create_vpc ? aws_subnet.public[*].id : var.existing_public_subnet_ids
}

output "private_subnet_ids" {
  description = "IDs of the private subnets (created or existing), one per availability zone."
  value       = var.create_vpc ? aws_subnet.private[*].id : var.existing_private_subnet_ids
}

output "azs" {
  description = "Availability zones of the created subnets (empty for an existing VPC)."
  value       = local.azs
}

output "public_subnet_cidrs" {
  description = "CIDR blocks of the created public subnets."
  value       = aws_subnet.public[*].cidr_block
}

output "private_subnet_cidrs" {
  description = "CIDR blocks of the created private subnets."
  value       = aws_subnet.private[*].cidr_block
}

output "internet_gateway_id" {
  description = "ID of the created internet gateway."
  value       = try(aws_internet_gateway.this[0].id, null)
}

output "nat_gateway_ids" {
  description = "IDs of the created NAT gateways."
  value       = aws_nat_gateway.this[*].id
}

output "nat_public_ips" {
  description = "Public IPv4 addresses of the NAT gateways."
  value       = aws_eip.nat[*].public_ip
}

output "public_route_table_ids" {
  description = "IDs of the created public route tables."
  value       = aws_route_table.public[*].id
}

output "private_route_table_ids" {
  description = "IDs of the created private route tables."
  value       = aws_route_table.private[*].id
}
