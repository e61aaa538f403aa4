"""modules/network: plan-level contract checks and one apply against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import tftest

from tests.conftest import Emulator, TfRoot
from tests.modules.conftest import Applied, ApplyRoot
from tests.modules.plans import changes, output, plan_error

FIXTURE = "tests/modules/fixtures/network"
MODULE = "module.network"


@pytest.fixture(scope="module")
def default_plan(root: TfRoot) -> tftest.TerraformPlanOutput:
    return root.plan()


def module_changes(plan: tftest.TerraformPlanOutput, resource_type: str) -> list[dict[str, Any]]:
    """Planned ``after`` values of the module's resources of one type, in address order."""
    found = [
        change
        for address, change in sorted(plan.resource_changes.items())
        if address.startswith(MODULE + ".") and change["type"] == resource_type and change["mode"] == "managed"
    ]
    for change in found:
        assert change["change"]["actions"] == ["create"], change["address"]
    return [change["change"]["after"] for change in found]


def count(plan: tftest.TerraformPlanOutput, resource_type: str) -> int:
    return len(module_changes(plan, resource_type))


# --------------------------------------------------------------------------- layout


def test_vpc_with_dns_and_the_given_cidr(default_plan: tftest.TerraformPlanOutput) -> None:
    (vpc,) = module_changes(default_plan, "aws_vpc")
    assert vpc["cidr_block"] == "10.20.0.0/16"
    assert vpc["enable_dns_support"] is True
    assert vpc["enable_dns_hostnames"] is True
    assert vpc["tags"] == {"Name": "theobroma-test", "Project": "theobroma"}
    assert count(default_plan, "aws_internet_gateway") == 1


def test_public_and_private_subnets_in_each_zone(default_plan: tftest.TerraformPlanOutput) -> None:
    subnets = module_changes(default_plan, "aws_subnet")
    public = [s for s in subnets if s["tags"]["Tier"] == "public"]
    private = [s for s in subnets if s["tags"]["Tier"] == "private"]
    assert [s["availability_zone"] for s in public] == ["us-east-1a", "us-east-1b"]
    assert [s["availability_zone"] for s in private] == ["us-east-1a", "us-east-1b"]
    # Derived from the VPC CIDR: /20s, public from index 0, private from index 8.
    assert [s["cidr_block"] for s in public] == ["10.20.0.0/20", "10.20.16.0/20"]
    assert [s["cidr_block"] for s in private] == ["10.20.128.0/20", "10.20.144.0/20"]
    assert all(s["map_public_ip_on_launch"] is False for s in subnets)
    assert output(default_plan, "azs") == ["us-east-1a", "us-east-1b"]


def test_explicit_subnet_cidrs_are_used(root: TfRoot) -> None:
    plan = root.plan(
        {
            "public_subnet_cidrs": ["10.20.0.0/24", "10.20.1.0/24"],
            "private_subnet_cidrs": ["10.20.10.0/24", "10.20.11.0/24"],
            "nat_gateway_mode": "none",
        }
    )
    cidrs = sorted(s["cidr_block"] for s in module_changes(plan, "aws_subnet"))
    assert cidrs == ["10.20.0.0/24", "10.20.1.0/24", "10.20.10.0/24", "10.20.11.0/24"]


def test_public_route_goes_to_the_internet_gateway(default_plan: tftest.TerraformPlanOutput) -> None:
    routes = {
        address: change["change"]["after"]
        for address, change in default_plan.resource_changes.items()
        if change["type"] == "aws_route"
    }
    public = routes[f"{MODULE}.aws_route.public_internet_gateway[0]"]
    assert public["destination_cidr_block"] == "0.0.0.0/0"
    assert not public.get("nat_gateway_id")
    assert count(default_plan, "aws_route_table_association") == 4


@pytest.mark.parametrize(
    ("mode", "azs", "nat_gateways", "private_route_tables"),
    [
        ("none", ["us-east-1a", "us-east-1b"], 0, 1),
        ("single", ["us-east-1a", "us-east-1b", "us-east-1c"], 1, 1),
        ("one_per_az", ["us-east-1a", "us-east-1b", "us-east-1c"], 3, 3),
    ],
)
def test_nat_gateway_modes(
    root: TfRoot, mode: str, azs: list[str], nat_gateways: int, private_route_tables: int
) -> None:
    plan = root.plan({"nat_gateway_mode": mode, "azs": azs})
    assert count(plan, "aws_nat_gateway") == nat_gateways
    assert count(plan, "aws_eip") == nat_gateways
    private_tables = [
        t for t in module_changes(plan, "aws_route_table") if t["tags"]["Name"] != "theobroma-test-public"
    ]
    assert len(private_tables) == private_route_tables
    nat_routes = [
        change["change"]["after"]
        for address, change in plan.resource_changes.items()
        if address.startswith(f"{MODULE}.aws_route.private_nat_gateway")
    ]
    # Every private route table gets a default route through a NAT gateway, unless there is none.
    assert len(nat_routes) == (private_route_tables if nat_gateways else 0)
    assert all(r["destination_cidr_block"] == "0.0.0.0/0" for r in nat_routes)
    assert count(plan, "aws_subnet") == 2 * len(azs)


def test_azs_default_to_two_zones_of_the_region(root: TfRoot) -> None:
    plan = root.plan({"azs": []})
    zones = output(plan, "azs")
    assert len(zones) == 2 and len(set(zones)) == 2
    assert all(z.startswith("us-east-1") for z in zones)
    assert count(plan, "aws_subnet") == 4


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("bad", ["10.0.0.1/16", "10.0.0.0/8", "not-a-cidr"])
def test_invalid_vpc_cidrs_are_rejected(root: TfRoot, bad: str) -> None:
    assert "The cidr must be an IPv4 network address" in plan_error(root, {"cidr": bad})


def test_invalid_subnet_cidr_is_rejected(root: TfRoot) -> None:
    message = plan_error(root, {"public_subnet_cidrs": ["10.20.0.0/24", "10.20.1.5/24"]})
    assert "Every public subnet CIDR must be an IPv4 network address" in message


def test_subnet_cidrs_must_match_the_zones(root: TfRoot) -> None:
    message = plan_error(root, {"private_subnet_cidrs": ["10.20.10.0/24"]})
    assert "one CIDR block per availability zone" in message


def test_unknown_nat_mode_is_rejected(root: TfRoot) -> None:
    assert "nat_gateway_mode must be one of" in plan_error(root, {"nat_gateway_mode": "two"})


def test_a_single_zone_is_rejected(root: TfRoot) -> None:
    assert "2 to 8 distinct availability zones" in plan_error(root, {"azs": ["us-east-1a"]})


def test_existing_vpc_needs_its_ids(root: TfRoot) -> None:
    message = plan_error(root, {"create_vpc": False, "existing_vpc_id": "vpc-0123456789abcdef0"})
    assert "set existing_vpc_id and at least two existing_public_subnet_ids" in message


# --------------------------------------------------------------------------- existing VPC


@pytest.fixture(scope="module")
def existing_network(emulator: Emulator) -> Iterator[dict[str, Any]]:
    """A VPC with four subnets made outside Terraform, as an account's existing network would be."""
    ec2 = emulator.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.99.{i}.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for i, zone in enumerate(["us-east-1a", "us-east-1b", "us-east-1a", "us-east-1b"])
    ]
    yield {"vpc_id": vpc_id, "public": subnets[:2], "private": subnets[2:]}
    for subnet in subnets:
        ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_vpc(VpcId=vpc_id)


def test_existing_vpc_creates_nothing_and_passes_ids_through(root: TfRoot, existing_network: dict[str, Any]) -> None:
    plan = root.plan(
        {
            "create_vpc": False,
            "existing_vpc_id": existing_network["vpc_id"],
            "existing_public_subnet_ids": existing_network["public"],
            "existing_private_subnet_ids": existing_network["private"],
        }
    )
    created = [
        a for a, c in plan.resource_changes.items() if c["mode"] == "managed" and c["change"]["actions"] != ["no-op"]
    ]
    assert created == []
    assert output(plan, "vpc_id") == existing_network["vpc_id"]
    assert output(plan, "vpc_cidr_block") == "10.99.0.0/16"
    assert output(plan, "public_subnet_ids") == existing_network["public"]
    assert output(plan, "private_subnet_ids") == existing_network["private"]
    assert output(plan, "nat_gateway_ids") == []


# --------------------------------------------------------------------------- apply


APPLY_VARS: dict[str, Any] = {"name": "modtest-network", "cidr": "10.21.0.0/16", "nat_gateway_mode": "single"}


@pytest.fixture(scope="module")
def applied(apply_root: ApplyRoot) -> Applied:
    return apply_root(APPLY_VARS)


@pytest.mark.apply
def test_apply_creates_the_vpc_and_subnets(applied: Applied, emulator: Emulator) -> None:
    ec2 = emulator.client("ec2")
    out = applied.outputs
    (vpc,) = ec2.describe_vpcs(VpcIds=[out["vpc_id"]])["Vpcs"]
    assert vpc["CidrBlock"] == "10.21.0.0/16"
    subnets = ec2.describe_subnets(SubnetIds=out["public_subnet_ids"] + out["private_subnet_ids"])["Subnets"]
    by_id = {s["SubnetId"]: s for s in subnets}
    assert {by_id[s]["AvailabilityZone"] for s in out["public_subnet_ids"]} == {"us-east-1a", "us-east-1b"}
    assert {by_id[s]["AvailabilityZone"] for s in out["private_subnet_ids"]} == {"us-east-1a", "us-east-1b"}
    assert all(s["VpcId"] == out["vpc_id"] for s in subnets)


@pytest.mark.apply
def test_apply_routes_public_to_igw_and_private_to_nat(applied: Applied, emulator: Emulator) -> None:
    ec2 = emulator.client("ec2")
    out = applied.outputs
    (nat,) = ec2.describe_nat_gateways(NatGatewayIds=out["nat_gateway_ids"])["NatGateways"]
    assert nat["SubnetId"] == out["public_subnet_ids"][0]
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [out["vpc_id"]]}])["RouteTables"]

    def table_of(subnet_id: str) -> dict[str, Any]:
        return next(t for t in tables if any(a.get("SubnetId") == subnet_id for a in t["Associations"]))

    def default_route(table: dict[str, Any]) -> dict[str, Any]:
        return next(r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0")

    for subnet in out["public_subnet_ids"]:
        assert default_route(table_of(subnet))["GatewayId"] == out["internet_gateway_id"]
    for subnet in out["private_subnet_ids"]:
        assert default_route(table_of(subnet))["NatGatewayId"] == nat["NatGatewayId"]


@pytest.mark.apply
def test_apply_second_plan_is_empty(applied: Applied) -> None:
    plan = applied.root.plan(APPLY_VARS)
    changed = changes(plan)
    assert changed == {}


@pytest.mark.apply
def test_destroy_removes_the_vpc(applied: Applied, emulator: Emulator) -> None:
    vpc_id = applied.outputs["vpc_id"]
    applied.destroy()
    ec2 = emulator.client("ec2")
    assert ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Vpcs"] == []
    assert ec2.describe_nat_gateways(NatGatewayIds=applied.outputs["nat_gateway_ids"])["NatGateways"][0]["State"] in {
        "deleted",
        "deleting",
    }


def test_default_security_group_denies_everything_and_flow_logs_are_on(
    default_plan: tftest.TerraformPlanOutput,
) -> None:
    default_sg = next(r for r in default_plan.resource_changes.values() if r["type"] == "aws_default_security_group")[
        "change"
    ]["after"]
    assert default_sg.get("ingress") in ([], None) and default_sg.get("egress") in ([], None)
    flow = next(r for r in default_plan.resource_changes.values() if r["type"] == "aws_flow_log")["change"]["after"]
    assert flow["traffic_type"] == "ALL"
    assert flow["log_destination_type"] == "cloud-watch-logs"
    assert count(default_plan, "aws_flow_log") == 1


def test_flow_logs_can_be_turned_off(root: TfRoot) -> None:
    plan = root.plan({"enable_flow_logs": False})
    assert count(plan, "aws_flow_log") == 0
