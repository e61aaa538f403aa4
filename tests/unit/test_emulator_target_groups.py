"""The emulator keys a target group's targets by (ID, port), as AWS does."""

from __future__ import annotations

import boto3
from moto import mock_aws

from deploytool.emulator_server import patch_target_groups


def test_two_targets_on_one_address_are_two_targets() -> None:
    patch_target_groups()
    with mock_aws():
        ec2 = boto3.client("ec2", region_name="us-east-1")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        elbv2 = boto3.client("elbv2", region_name="us-east-1")
        arn = elbv2.create_target_group(Name="tg", Protocol="HTTP", Port=8000, VpcId=vpc, TargetType="ip")[
            "TargetGroups"
        ][0]["TargetGroupArn"]

        def registered() -> list[tuple[str, int]]:
            described = elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
            return sorted((d["Target"]["Id"], d["Target"]["Port"]) for d in described)

        elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.0.1", "Port": 41001}])
        elbv2.register_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.0.1", "Port": 41002}])
        assert registered() == [("127.0.0.1", 41001), ("127.0.0.1", 41002)]
        elbv2.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": "127.0.0.1", "Port": 41001}])
        assert registered() == [("127.0.0.1", 41002)]
        one = elbv2.describe_target_health(TargetGroupArn=arn, Targets=[{"Id": "127.0.0.1", "Port": 41001}])
        assert one["TargetHealthDescriptions"][0]["TargetHealth"]["State"] == "unused"
