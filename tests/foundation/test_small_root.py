"""A small real root: init, plan, apply and destroy against the emulator, checked through boto3."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import Emulator, TfRoot

ENGINES = [
    "embedded",
    pytest.param(
        "terraform",
        marks=pytest.mark.skipif(
            shutil.which("terraform") is None, reason="no terraform binary on PATH to compare with"
        ),
    ),
]


@pytest.mark.apply
@pytest.mark.parametrize("engine", ENGINES)
def test_small_root_apply_and_destroy(tf_root: object, emulator: Emulator, engine: str) -> None:
    """The same root through the embedded engine and through a user's own terraform binary."""
    root: TfRoot = tf_root("tests/foundation/small_root", engine)  # type: ignore[operator]
    plan = root.plan({"name": f"foundation-{engine}"})
    assert set(plan.resource_changes) == {
        "aws_vpc.this",
        "aws_subnet.this",
        "aws_security_group.this",
        "aws_ecs_cluster.this",
    }
    assert all(rc["change"]["actions"] == ["create"] for rc in plan.resource_changes.values())

    out = root.apply({"name": f"foundation-{engine}"})
    ec2, ecs = emulator.client("ec2"), emulator.client("ecs")
    assert ec2.describe_vpcs(VpcIds=[out["vpc_id"]])["Vpcs"][0]["CidrBlock"] == "10.42.0.0/16"
    assert ec2.describe_subnets(SubnetIds=[out["subnet_id"]])["Subnets"][0]["VpcId"] == out["vpc_id"]
    groups = ec2.describe_security_groups(GroupIds=[out["security_group_id"]])["SecurityGroups"]
    assert groups[0]["GroupName"] == f"foundation-{engine}"
    clusters = ecs.describe_clusters(clusters=[out["cluster_arn"]])["clusters"]
    assert clusters[0]["status"] == "ACTIVE"

    # A second plan of the applied root has nothing to do.
    assert root.plan({"name": f"foundation-{engine}"}).resource_changes["aws_vpc.this"]["change"]["actions"] == [
        "no-op"
    ]

    root.destroy({"name": f"foundation-{engine}"})
    vpc_ids = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"]]
    assert out["vpc_id"] not in vpc_ids
    remaining = ecs.describe_clusters(clusters=[out["cluster_arn"]])
    assert [c for c in remaining["clusters"] if c["status"] == "ACTIVE"] == []
