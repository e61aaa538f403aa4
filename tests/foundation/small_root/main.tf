# A small real root for the foundation test: VPC, subnet, security group, ECS cluster.
terraform {
  required_version = ">= 1.5"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 3.39, < 7.0"
    }
  }
}

provider "aws" {
  region = "us-east-1"
}

variable "name" {
  description = "Name prefix of every resource."
  type        = string
  default     = "foundation"
}

resource "aws_vpc" "this" {
  cidr_block = "10.42.0.0/16"
  tags       = { Name = var.name }
}

resource "aws_subnet" "this" {
  vpc_id     = aws_vpc.this.id
  cidr_block = "10.42.1.0/24"
  tags       = { Name = var.name }
}

resource "aws_security_group" "this" {
  name        = var.name
  description = "Foundation test group"
  vpc_id      = aws_vpc.this.id
}

resource "aws_ecs_cluster" "this" {
  name = var.name
}

output "vpc_id" {
  description = "VPC ID."
  value       = aws_vpc.this.id
}

output "subnet_id" {
  description = "Subnet ID."
  value       = aws_subnet.this.id
}

output "security_group_id" {
  description = "Security group ID."
  value       = aws_security_group.this.id
}

output "cluster_arn" {
  description = "ECS cluster ARN."
  value       = aws_ecs_cluster.this.arn
}
