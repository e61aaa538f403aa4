"""modules/cache: plan-level contract checks (encryption, the one admitted security group, private
subnets, the auth token only as a Secrets Manager reference)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import tftest

from tests.conftest import Emulator, TfRoot
from tests.modules import plans
from tests.modules.plans import created, plan_error

FIXTURE = "tests/modules/fixtures/cache"
MODULE = "module.cache"
# A recognisable token: Terraform must never see it.
TOKEN = "Cacao-Cache-Token-5d1e8a0c77"


@pytest.fixture(scope="module")
def network(emulator: Emulator) -> dict[str, Any]:
    """A VPC with two private subnets, the tasks' security group, another group, the token's secret."""
    ec2 = emulator.client("ec2")
    suffix = uuid.uuid4().hex[:6]
    vpc_id = ec2.create_vpc(CidrBlock="10.61.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.61.{i + 8}.0/24", AvailabilityZone=az)["Subnet"]["SubnetId"]
        for i, az in enumerate(("us-east-1a", "us-east-1b"))
    ]

    def group(name: str) -> str:
        return str(ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc_id)["GroupId"])

    secret = emulator.client("secretsmanager").create_secret(Name=f"cache-token-{suffix}", SecretString=TOKEN)
    return {
        "vpc_id": vpc_id,
        "subnet_ids": subnets,
        "tasks": group(f"tasks-{suffix}"),
        "other": group(f"other-{suffix}"),
        "secret_arn": secret["ARN"],
    }


def tf_vars(network: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "vpc_id": network["vpc_id"],
        "subnet_ids": network["subnet_ids"],
        "allowed_security_group_ids": [network["tasks"]],
        "auth_token_secret_arn": network["secret_arn"],
        **extra,
    }


@pytest.fixture(scope="module")
def default_plan(root: TfRoot, network: dict[str, Any]) -> tftest.TerraformPlanOutput:
    return root.plan(tf_vars(network))


def stack(plan: tftest.TerraformPlanOutput) -> dict[str, Any]:
    return created(plan, f"{MODULE}.aws_cloudformation_stack.this")


def template(plan: tftest.TerraformPlanOutput) -> dict[str, Any]:
    body = stack(plan)["template_body"]
    assert isinstance(body, str), "the template must be known at plan time"
    value: dict[str, Any] = json.loads(body)
    return value


def group(plan: tftest.TerraformPlanOutput) -> dict[str, Any]:
    props: dict[str, Any] = template(plan)["Resources"]["ReplicationGroup"]["Properties"]
    return props


def test_group_is_redis_encrypted_in_transit_and_at_rest(default_plan: tftest.TerraformPlanOutput) -> None:
    rg = group(default_plan)
    assert template(default_plan)["Resources"]["ReplicationGroup"]["Type"] == "AWS::ElastiCache::ReplicationGroup"
    assert rg["Engine"] == "redis"
    assert rg["AtRestEncryptionEnabled"] is True
    assert rg["TransitEncryptionEnabled"] is True
    assert rg["Port"] == 6379
    assert rg["CacheNodeType"] == "cache.t3.micro"
    assert rg["ReplicationGroupId"] == "theobroma-test"
    # One node: no failover, no Multi-AZ (they need a replica).
    assert (rg["NumCacheClusters"], rg["AutomaticFailoverEnabled"], rg["MultiAZEnabled"]) == (1, False, False)


def test_token_is_resolved_by_cloudformation_from_the_secret(
    default_plan: tftest.TerraformPlanOutput, network: dict[str, Any]
) -> None:
    assert group(default_plan)["AuthToken"] == f"{{{{resolve:secretsmanager:{network['secret_arn']}:SecretString}}}}"


def test_group_lives_in_the_given_private_subnets(
    default_plan: tftest.TerraformPlanOutput, network: dict[str, Any]
) -> None:
    body = template(default_plan)
    subnet_group = body["Resources"]["SubnetGroup"]
    assert subnet_group["Type"] == "AWS::ElastiCache::SubnetGroup"
    assert subnet_group["Properties"]["SubnetIds"] == network["subnet_ids"]
    assert group(default_plan)["CacheSubnetGroupName"] == {"Ref": "SubnetGroup"}


def test_only_the_tasks_group_is_admitted(default_plan: tftest.TerraformPlanOutput, network: dict[str, Any]) -> None:
    # The group's one security group is the module's own, passed as the stack parameter.
    assert group(default_plan)["SecurityGroupIds"] == [{"Ref": "SecurityGroupId"}]
    config = default_plan.configuration["root_module"]["module_calls"]["cache"]["module"]["resources"]
    cfn = next(r for r in config if r["address"] == "aws_cloudformation_stack.this")
    references = cfn["expressions"]["parameters"]["references"]
    assert references[-2:] == ["aws_security_group.this.id", "aws_security_group.this"]
    sg = created(default_plan, f"{MODULE}.aws_security_group.this")
    assert sg["vpc_id"] == network["vpc_id"]
    rules = plans.module_addresses(default_plan, MODULE, "aws_security_group_rule")
    assert rules == [f"{MODULE}.aws_security_group_rule.ingress[0]"]
    rule = created(default_plan, rules[0])
    assert rule["type"] == "ingress"
    assert rule["source_security_group_id"] == network["tasks"]
    assert (rule["protocol"], rule["from_port"], rule["to_port"]) == ("tcp", 6379, 6379)
    assert not rule.get("cidr_blocks") and not rule.get("ipv6_cidr_blocks")


def test_no_token_in_the_plan(root: TfRoot, default_plan: tftest.TerraformPlanOutput) -> None:
    planfile = root.workdir / "test.tfplan"
    shown = root.runner.run(["show", "-no-color", str(planfile)], stream=False).stdout
    assert TOKEN not in json.dumps(root.runner.show_json(planfile))
    assert TOKEN not in shown
    assert TOKEN not in (root.workdir / "test.tfvars.json").read_text()


def test_replicas_bring_failover_and_multi_az(root: TfRoot, network: dict[str, Any]) -> None:
    rg = group(root.plan(tf_vars(network, num_cache_clusters=2)))
    assert (rg["NumCacheClusters"], rg["AutomaticFailoverEnabled"], rg["MultiAZEnabled"]) == (2, True, True)


def test_rejects_a_token_that_is_not_a_secret(root: TfRoot, network: dict[str, Any]) -> None:
    message = plan_error(root, tf_vars(network, auth_token_secret_arn="plain-token-value-1234"))
    assert "must be a Secrets Manager secret ARN" in message
