"""modules/rds-postgis: plan-level contract checks and one apply against the emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest
import tftest
from botocore.exceptions import ClientError

from tests.conftest import Emulator, TfRoot
from tests.modules import plans
from tests.modules.conftest import Applied, ApplyRoot
from tests.modules.plans import changes, created, module_call, plan_error

FIXTURE = "tests/modules/fixtures/rds-postgis"
MODULE = "module.db"
PASSWORD = "Plan-Test-Password-9"  # a throwaway value for the emulator


@pytest.fixture(scope="module")
def default_plan(root: TfRoot) -> tftest.TerraformPlanOutput:
    return root.plan({"master_password": PASSWORD})


def after(plan: tftest.TerraformPlanOutput, address: str) -> dict[str, Any]:
    return created(plan, f"{MODULE}.{address}")


def module_addresses(plan: tftest.TerraformPlanOutput) -> list[str]:
    return [a.removeprefix(MODULE + ".") for a in plans.module_addresses(plan, MODULE)]


def module_defaults(plan: tftest.TerraformPlanOutput) -> dict[str, Any]:
    return {name: v.get("default") for name, v in module_call(plan, "db")["variables"].items()}


# --------------------------------------------------------------------------- instance


def test_instance_is_postgres_encrypted_and_private(default_plan: tftest.TerraformPlanOutput) -> None:
    db = after(default_plan, "aws_db_instance.this")
    assert db["identifier"] == "theobroma-test"
    assert (db["engine"], db["engine_version"]) == ("postgres", "15")
    assert db["storage_encrypted"] is True
    assert db["publicly_accessible"] is False
    assert db["port"] == 5432
    assert db["copy_tags_to_snapshot"] is True
    assert db["auto_minor_version_upgrade"] is True
    assert db["performance_insights_enabled"] is False
    assert db["iam_database_authentication_enabled"] is True
    assert db["enabled_cloudwatch_logs_exports"] == ["postgresql", "upgrade"]
    # Neither `name` (provider 3.x) nor `db_name` (4.x+) is set.
    assert db.get("name") is None and db.get("db_name") is None
    assert db["db_subnet_group_name"] == "theobroma-test"


def test_safe_defaults(default_plan: tftest.TerraformPlanOutput) -> None:
    defaults = module_defaults(default_plan)
    assert defaults["deletion_protection"] is True
    assert defaults["skip_final_snapshot"] is False
    assert defaults["backup_retention_period"] == 7
    assert defaults["multi_az"] is False
    assert defaults["performance_insights_enabled"] is False
    assert defaults["engine_version"] == "15"


def test_toggles_reach_the_instance(root: TfRoot) -> None:
    plan = root.plan(
        {
            "master_password": PASSWORD,
            "deletion_protection": True,
            "multi_az": True,
            "skip_final_snapshot": False,
            "backup_retention_period": 14,
        }
    )
    db = after(plan, "aws_db_instance.this")
    assert db["deletion_protection"] is True
    assert db["multi_az"] is True
    assert db["skip_final_snapshot"] is False
    assert db["final_snapshot_identifier"] == "theobroma-test-final"
    assert db["backup_retention_period"] == 14


def test_skipped_final_snapshot_has_no_identifier(default_plan: tftest.TerraformPlanOutput) -> None:
    db = after(default_plan, "aws_db_instance.this")
    assert db["skip_final_snapshot"] is True
    assert db["final_snapshot_identifier"] is None


# --------------------------------------------------------------------------- parameters


def test_parameter_group_forces_ssl(default_plan: tftest.TerraformPlanOutput) -> None:
    group = after(default_plan, "aws_db_parameter_group.this")
    assert group["family"] == "postgres15"
    assert {"name": "rds.force_ssl", "value": "1", "apply_method": "immediate"} in group["parameter"]


@pytest.mark.parametrize(("version", "family"), [("16.3", "postgres16"), ("14", "postgres14")])
def test_parameter_family_follows_the_version(root: TfRoot, version: str, family: str) -> None:
    plan = root.plan({"master_password": PASSWORD, "engine_version": version})
    assert after(plan, "aws_db_parameter_group.this")["family"] == family
    assert after(plan, "aws_db_instance.this")["engine_version"] == version


# --------------------------------------------------------------------------- security group


@pytest.mark.parametrize("clients", [0, 2])
def test_ingress_only_from_the_given_security_groups(root: TfRoot, clients: int) -> None:
    plan = root.plan({"master_password": PASSWORD, "allowed_security_group_count": clients})
    rules = [a for a in module_addresses(plan) if a.startswith("aws_security_group_rule.")]
    assert rules == [f"aws_security_group_rule.ingress[{i}]" for i in range(clients)]
    for address in rules:
        rule = after(plan, address)
        assert rule["type"] == "ingress"
        assert (rule["from_port"], rule["to_port"], rule["protocol"]) == (5432, 5432, "tcp")
        assert not rule.get("cidr_blocks") and not rule.get("ipv6_cidr_blocks") and not rule.get("self")
        unknown = plan.resource_changes[f"{MODULE}.{address}"]["change"]["after_unknown"]
        assert unknown["source_security_group_id"] is True  # the client group, created alongside
    group = after(plan, "aws_security_group.this")
    assert not group.get("ingress") and not group.get("egress")


# --------------------------------------------------------------------------- master password


def test_password_is_kept_in_a_new_secret(default_plan: tftest.TerraformPlanOutput) -> None:
    addresses = module_addresses(default_plan)
    assert "aws_secretsmanager_secret.master[0]" in addresses
    assert "aws_secretsmanager_secret_version.master[0]" in addresses
    sensitive = default_plan.resource_changes[f"{MODULE}.aws_db_instance.this"]["change"]["after_sensitive"]
    assert sensitive["password"] is True


def test_no_output_carries_the_password(default_plan: tftest.TerraformPlanOutput) -> None:
    outputs = default_plan.planned_values["outputs"]
    assert not [name for name in outputs if "password" in name]
    assert PASSWORD not in json.dumps(outputs)
    module_outputs = module_call(default_plan, "db")["outputs"]
    assert not [name for name in module_outputs if "password" in name]
    assert not [name for name, o in module_outputs.items() if o.get("sensitive")]


@pytest.mark.parametrize(
    "secret_string", [json.dumps({"username": "postgres", "password": "From-Secret-123"}), "From-Secret-123"]
)
def test_password_from_an_existing_secret(root: TfRoot, emulator: Emulator, secret_string: str) -> None:
    client = emulator.client("secretsmanager")
    arn = client.create_secret(Name=f"modtest-rds-existing-{len(secret_string)}", SecretString=secret_string)["ARN"]
    try:
        plan = root.plan({"master_password_secret_arn": arn})
    finally:
        client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    addresses = module_addresses(plan)
    assert not [a for a in addresses if a.startswith("aws_secretsmanager_secret")]
    assert plan.planned_values["outputs"]["secret_arn"]["value"] == arn
    assert after(plan, "aws_db_instance.this")["password"] == "From-Secret-123"


def test_a_password_source_is_required(root: TfRoot) -> None:
    assert "Set exactly one of master_password and master_password_secret_arn" in plan_error(root, {})


def test_both_password_sources_are_rejected(root: TfRoot) -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nowhere-AbCdEf"
    message = plan_error(root, {"master_password": PASSWORD, "master_password_secret_arn": arn})
    assert "Set exactly one of master_password and master_password_secret_arn" in message


@pytest.mark.parametrize("bad", ["short", "has space inside", "has/slash1", 'has"quote1', "has@at-sign"])
def test_invalid_passwords_are_rejected(root: TfRoot, bad: str) -> None:
    message = plan_error(root, {"master_password": bad})
    assert "The master_password must be 8-128 characters" in message
    assert bad not in message


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("bad", ["Theobroma", "1theobroma", "theobroma--db", "theobroma-", "t" * 51])
def test_invalid_identifiers_are_rejected(root: TfRoot, bad: str) -> None:
    message = plan_error(root, {"master_password": PASSWORD, "identifier": bad})
    assert "The identifier must be 1-50 characters" in message


@pytest.mark.parametrize("bad", ["9.6", "15.x", "postgres15"])
def test_invalid_versions_are_rejected(root: TfRoot, bad: str) -> None:
    message = plan_error(root, {"master_password": PASSWORD, "engine_version": bad})
    assert "engine_version must be a PostgreSQL version 11 or newer" in message


# --------------------------------------------------------------------------- apply


APPLY_PASSWORD = "Apply-Test-Password-7"  # a throwaway value for the emulator


@pytest.fixture(scope="module")
def applied(apply_root: ApplyRoot) -> Applied:
    return apply_root({"identifier": "modtest-rds", "master_password": APPLY_PASSWORD})


@pytest.mark.apply
def test_apply_creates_an_encrypted_private_instance(applied: Applied, emulator: Emulator) -> None:
    rds = emulator.client("rds")
    (db,) = rds.describe_db_instances(DBInstanceIdentifier="modtest-rds")["DBInstances"]
    assert db["Engine"] == "postgres"
    assert db["StorageEncrypted"] is True
    assert db["PubliclyAccessible"] is False
    assert db["DeletionProtection"] is False
    assert db["Endpoint"]["Address"] == applied.outputs["address"]
    assert db["Endpoint"]["Port"] == applied.outputs["port"] == 5432
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [applied.outputs["security_group_id"]]
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == applied.outputs["subnet_group_name"]
    assert {s["SubnetAvailabilityZone"]["Name"] for s in db["DBSubnetGroup"]["Subnets"]} == {"us-east-1a", "us-east-1b"}


@pytest.mark.apply
def test_apply_parameter_group_forces_ssl(applied: Applied, emulator: Emulator) -> None:
    rds = emulator.client("rds")
    name = applied.outputs["parameter_group_name"]
    (group,) = rds.describe_db_parameter_groups(DBParameterGroupName=name)["DBParameterGroups"]
    assert group["DBParameterGroupFamily"] == "postgres15"
    parameters = {
        p["ParameterName"]: p.get("ParameterValue")
        for p in rds.describe_db_parameters(DBParameterGroupName=name)["Parameters"]
    }
    assert parameters["rds.force_ssl"] == "1"


@pytest.mark.apply
def test_apply_security_group_admits_only_the_client(applied: Applied, emulator: Emulator) -> None:
    (group,) = emulator.client("ec2").describe_security_groups(GroupIds=[applied.outputs["security_group_id"]])[
        "SecurityGroups"
    ]
    (permission,) = group["IpPermissions"]
    assert (permission["IpProtocol"], permission["FromPort"], permission["ToPort"]) == ("tcp", 5432, 5432)
    assert [p["GroupId"] for p in permission["UserIdGroupPairs"]] == applied.outputs["client_security_group_ids"]
    assert permission["IpRanges"] == [] and permission["Ipv6Ranges"] == []
    assert group["IpPermissionsEgress"] == []


@pytest.mark.apply
def test_apply_secret_holds_password_and_endpoint(applied: Applied, emulator: Emulator) -> None:
    value = emulator.client("secretsmanager").get_secret_value(SecretId=applied.outputs["secret_arn"])
    secret = json.loads(value["SecretString"])
    assert secret["password"] == APPLY_PASSWORD
    assert secret["host"] == applied.outputs["address"]
    assert secret["port"] == 5432
    assert secret["username"] == "postgres"
    assert secret["engine"] == "postgres"
    assert APPLY_PASSWORD not in json.dumps(applied.outputs)


@pytest.mark.apply
def test_apply_second_plan_changes_only_the_parameter_group(applied: Applied) -> None:
    plan = applied.root.plan(applied.tf_vars)
    changed = changes(plan)
    # The emulator reports every DB parameter group as changed; anything else would be a real drift.
    assert set(changed) <= {f"{MODULE}.aws_db_parameter_group.this"}
    assert all(actions == ["update"] for actions in changed.values())


@pytest.mark.apply
def test_destroy_removes_instance_and_secret(applied: Applied, emulator: Emulator) -> None:
    applied.destroy()
    with pytest.raises(ClientError, match="DBInstanceNotFound"):
        emulator.client("rds").describe_db_instances(DBInstanceIdentifier="modtest-rds")
    with pytest.raises(ClientError, match="ResourceNotFoundException"):
        emulator.client("secretsmanager").describe_secret(SecretId=applied.outputs["secret_arn"])
