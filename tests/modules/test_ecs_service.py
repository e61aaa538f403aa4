"""modules/ecs-service: plan-level contract checks and one apply against the emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest
import tftest

from tests.conftest import Emulator, TfRoot
from tests.modules import plans
from tests.modules.conftest import Applied
from tests.modules.plans import created as after
from tests.modules.plans import module_call, output, plan_error

FIXTURE = "tests/modules/fixtures/ecs-service"
MODULE = "module.service"
REPOSITORY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/theobroma-geo-api"
DIGEST = "sha256:" + "0123456789abcdef" * 4


@pytest.fixture(scope="module")
def default_plan(root: TfRoot) -> tftest.TerraformPlanOutput:
    return root.plan()


def module_addresses(plan: tftest.TerraformPlanOutput) -> set[str]:
    return set(plans.module_addresses(plan, MODULE))


def container(plan: tftest.TerraformPlanOutput) -> dict[str, Any]:
    definitions = json.loads(after(plan, f"{MODULE}.aws_ecs_task_definition.this")["container_definitions"])
    assert len(definitions) == 1
    definition: dict[str, Any] = definitions[0]
    return definition


def module_resource_config(plan: tftest.TerraformPlanOutput, address: str) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in module_call(plan, "service")["resources"] if r["address"] == address)
    return found


# --------------------------------------------------------------------------- service


def test_service_has_circuit_breaker_with_rollback(default_plan: tftest.TerraformPlanOutput) -> None:
    service = after(default_plan, f"{MODULE}.aws_ecs_service.autoscaled[0]")
    assert service["deployment_circuit_breaker"] == [{"enable": True, "rollback": True}]
    assert service["launch_type"] == "FARGATE"
    assert service["enable_execute_command"] is False
    assert service["propagate_tags"] == "SERVICE"
    assert service["wait_for_steady_state"] is False
    assert service["health_check_grace_period_seconds"] == 30
    assert service["deployment_minimum_healthy_percent"] == 100
    assert service["deployment_maximum_percent"] == 200
    network = service["network_configuration"]
    assert len(network) == 1 and network[0]["assign_public_ip"] is False
    assert service["load_balancer"][0]["container_port"] == 8000


def test_service_is_only_reachable_from_the_alb(default_plan: tftest.TerraformPlanOutput) -> None:
    rules = {
        a: default_plan.resource_changes[a]["change"]["after"]
        for a in module_addresses(default_plan)
        if default_plan.resource_changes[a]["type"] == "aws_security_group_rule"
    }
    ingress = {a: r for a, r in rules.items() if r["type"] == "ingress"}
    assert list(ingress) == [f"{MODULE}.aws_security_group_rule.ingress_from_alb"]
    rule = next(iter(ingress.values()))
    assert (rule["from_port"], rule["to_port"], rule["protocol"]) == (8000, 8000, "tcp")
    assert not rule.get("cidr_blocks") and not rule.get("ipv6_cidr_blocks") and not rule.get("self")
    # The source is the security group the caller passed in, and that is the fixture's ALB group.
    config = module_resource_config(default_plan, "aws_security_group_rule.ingress_from_alb")
    assert config["expressions"]["source_security_group_id"]["references"][0] == "var.alb_security_group_id"
    call = default_plan.configuration["root_module"]["module_calls"]["service"]["expressions"]
    assert "aws_security_group.alb.id" in call["alb_security_group_id"]["references"]
    # No inline ingress on the group itself.
    group = after(default_plan, f"{MODULE}.aws_security_group.this")
    assert not group.get("ingress")


def test_autoscaling_bounds_and_cpu_target(default_plan: tftest.TerraformPlanOutput) -> None:
    target = after(default_plan, f"{MODULE}.aws_appautoscaling_target.this[0]")
    assert (target["min_capacity"], target["max_capacity"]) == (2, 10)
    assert target["scalable_dimension"] == "ecs:service:DesiredCount"
    policy = after(default_plan, f"{MODULE}.aws_appautoscaling_policy.cpu[0]")
    config = policy["target_tracking_scaling_policy_configuration"][0]
    assert config["target_value"] == 70
    assert config["predefined_metric_specification"][0]["predefined_metric_type"] == "ECSServiceAverageCPUUtilization"
    # desired_count is left to the autoscaler on this form of the service.
    assert f"{MODULE}.aws_ecs_service.this[0]" not in default_plan.resource_changes


def test_without_autoscaling_terraform_owns_desired_count(root: TfRoot) -> None:
    plan = root.plan({"enable_autoscaling": False})
    addresses = module_addresses(plan)
    assert f"{MODULE}.aws_ecs_service.this[0]" in addresses
    assert not [a for a in addresses if "autoscal" in a]
    assert after(plan, f"{MODULE}.aws_ecs_service.this[0]")["desired_count"] == 2


# --------------------------------------------------------------------------- target group and routing


def test_target_group_health_check(default_plan: tftest.TerraformPlanOutput) -> None:
    group = after(default_plan, f"{MODULE}.aws_lb_target_group.this")
    assert (group["target_type"], group["protocol"], group["port"]) == ("ip", "HTTP", 8000)
    assert group["deregistration_delay"] == 30
    check = group["health_check"][0]
    assert check["path"] == "/health"
    assert check["port"] == "traffic-port"
    assert check["matcher"] == "200"
    assert (check["interval"], check["timeout"]) == (10, 5)
    assert (check["healthy_threshold"], check["unhealthy_threshold"]) == (2, 3)


def test_listener_rule_matches_the_host(default_plan: tftest.TerraformPlanOutput) -> None:
    rule = after(default_plan, f"{MODULE}.aws_lb_listener_rule.this[0]")
    assert rule["priority"] == 100
    assert rule["condition"][0]["host_header"][0]["values"] == ["modtest-ecs-service.test.example.com"]
    assert rule["action"][0]["type"] == "forward"


def test_listener_rule_is_optional(root: TfRoot) -> None:
    plan = root.plan({"create_listener_rule": False, "enable_autoscaling": False})
    assert not [a for a in module_addresses(plan) if "aws_lb_listener_rule" in a]
    assert output(plan, "listener_rule_arn") is None
    assert output(plan, "fqdn") is None


# --------------------------------------------------------------------------- names


def test_names_within_limits(default_plan: tftest.TerraformPlanOutput) -> None:
    assert output(default_plan, "name") == "modtest-ecs-service"
    assert output(default_plan, "target_group_name") == "modtest-ecs-service"
    assert output(default_plan, "task_definition_family") == "modtest-ecs-service"
    for address in module_addresses(default_plan):
        name = default_plan.resource_changes[address]["change"]["after"].get("name")
        if isinstance(name, str) and default_plan.resource_changes[address]["type"] == "aws_lb_target_group":
            assert len(name) <= 32


def test_separate_target_group_name_is_used(root: TfRoot) -> None:
    long_name = "staging-feature-a-rather-long-branch-name-for-the-api"
    plan = root.plan({"name": long_name, "target_group_name": "stg-feature-a-rather-lon-1a2b3c"})
    assert after(plan, f"{MODULE}.aws_lb_target_group.this")["name"] == "stg-feature-a-rather-lon-1a2b3c"
    assert after(plan, f"{MODULE}.aws_ecs_service.autoscaled[0]")["name"] == long_name


def test_33_character_target_group_name_is_rejected(root: TfRoot) -> None:
    message = plan_error(root, {"target_group_name": "a" * 33})
    assert "target group name must be 1-32 characters" in message


def test_long_name_without_target_group_name_is_rejected(root: TfRoot) -> None:
    message = plan_error(root, {"name": "staging-feature-" + "x" * 17})  # 33 characters
    assert "longer than 32 characters" in message


@pytest.mark.parametrize("bad", ["Staging_Feature", "-leading", "trailing-", "has.dot"])
def test_invalid_service_names_are_rejected(root: TfRoot, bad: str) -> None:
    assert "must be 1-255 characters of [a-z0-9-]" in plan_error(root, {"name": bad})


# --------------------------------------------------------------------------- container


def test_image_tag_renders_repository_colon_tag(default_plan: tftest.TerraformPlanOutput) -> None:
    assert container(default_plan)["image"] == f"{REPOSITORY}:v1.0.0"
    assert output(default_plan, "image") == f"{REPOSITORY}:v1.0.0"
    assert output(default_plan, "image_tag") == "v1.0.0"


def test_image_digest_renders_repository_at_digest(root: TfRoot) -> None:
    plan = root.plan({"image_tag": DIGEST})
    assert container(plan)["image"] == f"{REPOSITORY}@{DIGEST}"
    assert output(plan, "image") == f"{REPOSITORY}@{DIGEST}"


@pytest.mark.parametrize("bad", ["sha256:abc", "v1 beta", ".hidden", "x" * 129])
def test_invalid_image_tags_are_rejected(root: TfRoot, bad: str) -> None:
    assert "The image_tag must be a Docker tag" in plan_error(root, {"image_tag": bad})


def test_container_definition(default_plan: tftest.TerraformPlanOutput) -> None:
    definition = container(default_plan)
    assert definition["portMappings"] == [{"containerPort": 8000, "hostPort": 8000, "protocol": "tcp"}]
    assert definition["essential"] is True
    assert definition["readonlyRootFilesystem"] is True
    assert definition["mountPoints"] == [{"sourceVolume": "tmp", "containerPath": "/tmp", "readOnly": False}]
    assert definition["environment"] == [
        {"name": "APP_ENV", "value": "test"},
        {"name": "LOG_LEVEL", "value": "info"},
    ]
    assert definition["secrets"] == [
        {
            "name": "DATABASE_PASSWORD",
            "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:test-db-password",
        }
    ]
    logs = definition["logConfiguration"]
    assert logs["logDriver"] == "awslogs"
    assert logs["options"] == {
        "awslogs-group": "/ecs/modtest-ecs-service",
        "awslogs-region": "us-east-1",
        "awslogs-stream-prefix": "modtest-ecs-service",
    }
    task = after(default_plan, f"{MODULE}.aws_ecs_task_definition.this")
    assert task["requires_compatibilities"] == ["FARGATE"]
    assert task["network_mode"] == "awsvpc"
    assert (task["cpu"], task["memory"]) == ("256", "512")
    assert [v["name"] for v in task["volume"]] == ["tmp"]


def test_writable_root_filesystem_drops_the_scratch_volume(root: TfRoot) -> None:
    plan = root.plan({"readonly_root_filesystem": False, "enable_autoscaling": False})
    definition = container(plan)
    assert definition["readonlyRootFilesystem"] is False
    assert definition["mountPoints"] == []
    assert not after(plan, f"{MODULE}.aws_ecs_task_definition.this").get("volume")


# --------------------------------------------------------------------------- apply against the emulator


def describe_service(emulator: Emulator, outputs: dict[str, Any]) -> dict[str, Any]:
    services = emulator.client("ecs").describe_services(cluster=outputs["cluster_arn"], services=[outputs["name"]])
    assert len(services["services"]) == 1
    service: dict[str, Any] = services["services"][0]
    return service


def service_image(emulator: Emulator, task_definition_arn: str) -> str:
    task = emulator.client("ecs").describe_task_definition(taskDefinition=task_definition_arn)["taskDefinition"]
    image: str = task["containerDefinitions"][0]["image"]
    return image


@pytest.mark.apply
def test_apply_service_runs_the_tagged_image(applied: Applied, emulator: Emulator) -> None:
    service = describe_service(emulator, applied.outputs)
    assert service["status"] == "ACTIVE"
    assert service["launchType"] == "FARGATE"
    assert service["taskDefinition"] == applied.outputs["task_definition_arn"]
    assert service_image(emulator, service["taskDefinition"]) == f"{REPOSITORY}:v1.0.0"
    vpc = service["networkConfiguration"]["awsvpcConfiguration"]
    assert vpc["assignPublicIp"] == "DISABLED"
    assert vpc["securityGroups"] == [applied.outputs["security_group_id"]]
    assert service["loadBalancers"][0]["targetGroupArn"] == applied.outputs["target_group_arn"]


@pytest.mark.apply
def test_apply_listener_rule_forwards_the_host(applied: Applied, emulator: Emulator) -> None:
    rules = emulator.client("elbv2").describe_rules(RuleArns=[applied.outputs["listener_rule_arn"]])["Rules"]
    assert len(rules) == 1
    hosts = [c["HostHeaderConfig"]["Values"] for c in rules[0]["Conditions"] if c["Field"] == "host-header"]
    assert hosts == [[applied.outputs["host"]]]
    assert rules[0]["Priority"] == "100"
    assert rules[0]["Actions"][0]["TargetGroupArn"] == applied.outputs["target_group_arn"]


@pytest.mark.apply
def test_apply_target_group_health_check(applied: Applied, emulator: Emulator) -> None:
    elbv2 = emulator.client("elbv2")
    group = elbv2.describe_target_groups(TargetGroupArns=[applied.outputs["target_group_arn"]])["TargetGroups"][0]
    assert group["TargetGroupName"] == applied.outputs["target_group_name"]
    assert (group["TargetType"], group["Protocol"], group["Port"]) == ("ip", "HTTP", 8000)
    assert group["HealthCheckPath"] == "/health"
    assert group["HealthCheckIntervalSeconds"] == 10
    assert (group["HealthyThresholdCount"], group["UnhealthyThresholdCount"]) == (2, 3)
    attributes = elbv2.describe_target_group_attributes(TargetGroupArn=group["TargetGroupArn"])["Attributes"]
    assert {"Key": "deregistration_delay.timeout_seconds", "Value": "30"} in attributes


@pytest.mark.apply
def test_apply_security_group_admits_only_the_alb(applied: Applied, emulator: Emulator) -> None:
    group = emulator.client("ec2").describe_security_groups(GroupIds=[applied.outputs["security_group_id"]])
    ingress = group["SecurityGroups"][0]["IpPermissions"]
    assert len(ingress) == 1
    assert (ingress[0]["FromPort"], ingress[0]["ToPort"]) == (8000, 8000)
    assert ingress[0]["IpRanges"] == []
    assert [p["GroupId"] for p in ingress[0]["UserIdGroupPairs"]] == [applied.outputs["alb_security_group_id"]]


@pytest.mark.apply
def test_apply_autoscaling_target_registered(applied: Applied, emulator: Emulator) -> None:
    resource_id = f"service/{applied.outputs['cluster_name']}/{applied.outputs['name']}"
    targets = emulator.client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="ecs", ResourceIds=[resource_id]
    )["ScalableTargets"]
    assert [(t["MinCapacity"], t["MaxCapacity"]) for t in targets] == [(2, 10)]


@pytest.mark.apply
def test_apply_new_image_tag_moves_the_service(applied: Applied, emulator: Emulator) -> None:
    before = describe_service(emulator, applied.outputs)["taskDefinition"]
    outputs = applied.root.apply({"image_tag": "v1.0.1"})
    service = describe_service(emulator, outputs)
    # The emulator keeps deployments[] on the old revision: the service's taskDefinition is the truth.
    assert service["taskDefinition"] != before
    assert service["taskDefinition"] == outputs["task_definition_arn"]
    assert service_image(emulator, service["taskDefinition"]) == f"{REPOSITORY}:v1.0.1"
    assert outputs["image_tag"] == "v1.0.1"
    applied.outputs = outputs


@pytest.mark.apply
def test_apply_destroy_removes_everything(applied: Applied, emulator: Emulator) -> None:
    outputs = applied.outputs
    applied.destroy()
    services = emulator.client("ecs").describe_services(cluster=outputs["cluster_arn"], services=[outputs["name"]])
    assert [s for s in services["services"] if s["status"] == "ACTIVE"] == []
    elbv2 = emulator.client("elbv2")
    names = [g["TargetGroupName"] for g in elbv2.describe_target_groups()["TargetGroups"]]
    assert outputs["target_group_name"] not in names
    groups = emulator.client("ec2").describe_security_groups()["SecurityGroups"]
    assert outputs["security_group_id"] not in [g["GroupId"] for g in groups]
    targets = emulator.client("application-autoscaling").describe_scalable_targets(ServiceNamespace="ecs")
    assert not [t for t in targets["ScalableTargets"] if t["ResourceId"].endswith("/" + outputs["name"])]
