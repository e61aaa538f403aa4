locals {
  azs = var.create_vpc ? (length(var.azs) > 0 ? var.azs : slice(data.aws_availability_zones.available[0].names, 0, 2)) : []

  az_count = length(local.azs)

  public_subnet_cidrs  = length(var.public_subnet_cidrs) > 0 ? var.public_subnet_cidrs : [for i in range(local.az_count) : cidrsubnet(var.cidr, var.subnet_newbits, i)]
  private_subnet_cidrs = length(var.private_subnet_cidrs) > 0 ? var.private_subnet_cidrs : [for i in range(local.az_count) : cidrsubnet(var.cidr, var.subnet_newbits, i + 8)]

  nat_gateway_count = var.create_vpc ? lookup({ none = 0, single = 1, one_per_az = local.az_count }, var.nat_gateway_mode) : 0

  # One private route table per NAT gateway when every zone has its own, one shared table otherwise.
  private_route_table_count = var.create_vpc ? (var.nat_gateway_mode == "one_per_az" ? local.az_count : 1) : 0
}

data "aws_availability_zones" "available" {
  count = var.create_vpc && length(var.azs) == 0 ? 1 : 0

  state = "available"
}

################################################################################
# VPC
################################################################################

resource "aws_vpc" "this" {
  count = var.create_vpc ? 1 : 0

  cidr_block           = var.cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = merge(var.tags, { Name = var.name })
}

resource "aws_internet_gateway" "this" {
  count = var.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = merge(var.tags, { Name = var.name })
}

################################################################################
# Subnets
################################################################################

resource "aws_subnet" "public" {
  count = var.create_vpc ? local.az_count : 0

  vpc_id                  = aws_vpc.this[0].id
  cidr_block              = local.public_subnet_cidrs[count.index]
  availability_zone       = local.azs[count.index]
  map_public_ip_on_launch = var.map_public_ip_on_launch

  tags = merge(var.tags, {
    Name = "${var.name}-public-${local.azs[count.index]}"
    Tier = "public"
  })

  lifecycle {
    precondition {
      condition     = length(local.public_subnet_cidrs) == local.az_count && length(local.private_subnet_cidrs) == local.az_count
      error_message = "public_subnet_cidrs and private_subnet_cidrs must each hold one CIDR block per availability zone in azs."
    }
  }
}

resource "aws_subnet" "private" {
  count = var.create_vpc ? local.az_count : 0

  vpc_id            = aws_vpc.this[0].id
  cidr_block        = local.private_subnet_cidrs[count.index]
  availability_zone = local.azs[count.index]

  tags = merge(var.tags, {
    Name = "${var.name}-private-${local.azs[count.index]}"
    Tier = "private"
  })
}

################################################################################
# NAT gateways
################################################################################

resource "aws_eip" "nat" {
  count = local.nat_gateway_count

  tags = merge(var.tags, { Name = "${var.name}-nat-${local.azs[count.index]}" })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_nat_gateway" "this" {
  count = local.nat_gateway_count

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id

  tags = merge(var.tags, { Name = "${var.name}-${local.azs[count.index]}" })

  depends_on = [aws_internet_gateway.this]
}

################################################################################
# Route tables
################################################################################

resource "aws_route_table" "public" {
  count = var.create_vpc ? 1 : 0

  vpc_id = aws_vpc.this[0].id

  tags = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route" "public_internet_gateway" {
  count = var.create_vpc ? 1 : 0

  route_table_id         = aws_route_table.public[0].id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this[0].id
}

resource "aws_route_table_association" "public" {
  count = var.create_vpc ? local.az_count : 0

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_route_table" "private" {
  count = local.private_route_table_count

  vpc_id = aws_vpc.this[0].id

  tags = merge(var.tags, {
    Name = local.private_route_table_count > 1 ? "${var.name}-private-${local.azs[count.index]}" : "${var.name}-private"
  })
}

resource "aws_route" "private_nat_gateway" {
  count = local.nat_gateway_count > 0 ? local.private_route_table_count : 0

  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[local.nat_gateway_count > 1 ? count.index : 0].id
}

resource "aws_route_table_association" "private" {
  count = var.create_vpc ? local.az_count : 0

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[local.private_route_table_count > 1 ? count.index : 0].id
}

################################################################################
# Existing VPC
################################################################################

data "aws_vpc" "existing" {
  count = var.create_vpc ? 0 : 1

  id = var.existing_vpc_id

  lifecycle {
    precondition {
      condition     = var.existing_vpc_id != null && length(var.existing_public_subnet_ids) >= 2 && length(var.existing_private_subnet_ids) >= 2
      error_message = "With create_vpc = false, set existing_vpc_id and at least two existing_public_subnet_ids and two existing_private_subnet_ids."
    }
  }
}
