"""deploytool: deploys the Theobroma Geo API to AWS ECS Fargate with Terraform."""

__version__ = "0.1.0"
