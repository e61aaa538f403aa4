"""modules/alb: plan-level contract checks and one apply (with its network) against the emulator."""

from __future__ import annotations

from typing import Any

import pytest
import tftest
from botocore.exceptions import ClientError

from tests.conftest import Emulator, TfRoot
from tests.modules.conftest import Applied, ApplyRoot
from tests.modules.plans import changes, created, module_addresses, module_call, plan_error

FIXTURE = "tests/modules/fixtures/alb"
MODULE = "module.alb"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
NOT_FOUND = [{"content_type": "text/plain", "message_body": "Not Found", "status_code": "404"}]


@pytest.fixture(scope="module")
def http_plan(root: TfRoot) -> tftest.TerraformPlanOutput:
    return root.plan()


@pytest.fixture(scope="module")
def https_plan(root: TfRoot) -> tftest.TerraformPlanOutput:
    return root.plan({"certificate_arn": CERTIFICATE, "ingress_cidr_blocks": ["203.0.113.0/24"]})


def after(plan: tftest.TerraformPlanOutput, address: str) -> dict[str, Any]:
    return created(plan, f"{MODULE}.{address}")


def addresses(plan: tftest.TerraformPlanOutput, resource_type: str) -> list[str]:
    return module_addresses(plan, MODULE, resource_type)


def rules(plan: tftest.TerraformPlanOutput) -> dict[str, dict[str, Any]]:
    return {
        a.removeprefix(MODULE + "."): after(plan, a.removeprefix(MODULE + "."))
        for a in addresses(plan, "aws_security_group_rule")
    }


# --------------------------------------------------------------------------- load balancer


def test_load_balancer_is_public_and_hardened(http_plan: tftest.TerraformPlanOutput) -> None:
    lb = after(http_plan, "aws_lb.this")
    assert lb["name"] == "theobroma-test"
    assert lb["load_balancer_type"] == "application"
    assert lb["internal"] is False
    assert lb["drop_invalid_header_fields"] is True
    assert lb["enable_deletion_protection"] is False
    assert lb["access_logs"] == []


def test_deletion_protection_when_asked(root: TfRoot) -> None:
    plan = root.plan({"enable_deletion_protection": True})
    assert after(plan, "aws_lb.this")["enable_deletion_protection"] is True


def test_deletion_protection_is_on_by_default(http_plan: tftest.TerraformPlanOutput) -> None:
    variables = module_call(http_plan, "alb")["variables"]
    assert variables["enable_deletion_protection"]["default"] is True


# --------------------------------------------------------------------------- listeners


def test_without_certificate_plain_http_answers_404(http_plan: tftest.TerraformPlanOutput) -> None:
    assert addresses(http_plan, "aws_lb_listener") == [f"{MODULE}.aws_lb_listener.http"]
    listener = after(http_plan, "aws_lb_listener.http")
    assert (listener["port"], listener["protocol"]) == (80, "HTTP")
    (action,) = listener["default_action"]
    assert action["type"] == "fixed-response"
    assert action["fixed_response"] == NOT_FOUND
    assert action["redirect"] == []


def test_with_certificate_http_redirects_to_https(https_plan: tftest.TerraformPlanOutput) -> None:
    (action,) = after(https_plan, "aws_lb_listener.http")["default_action"]
    assert action["type"] == "redirect"
    (redirect,) = action["redirect"]
    assert (redirect["port"], redirect["protocol"], redirect["status_code"]) == ("443", "HTTPS", "HTTP_301")
    assert action["fixed_response"] == []


def test_with_certificate_https_listener_uses_tls13_policy(https_plan: tftest.TerraformPlanOutput) -> None:
    listener = after(https_plan, "aws_lb_listener.https[0]")
    assert (listener["port"], listener["protocol"]) == (443, "HTTPS")
    assert listener["certificate_arn"] == CERTIFICATE
    assert listener["ssl_policy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    (action,) = listener["default_action"]
    assert action["type"] == "fixed-response"
    assert action["fixed_response"] == NOT_FOUND


def test_https_without_certificate_is_rejected(root: TfRoot) -> None:
    assert "The HTTPS listener needs certificate_arn" in plan_error(root, {"enable_https": True})


# --------------------------------------------------------------------------- security group


def test_security_group_http_only_without_certificate(http_plan: tftest.TerraformPlanOutput) -> None:
    found = rules(http_plan)
    assert set(found) == {"aws_security_group_rule.ingress_http", "aws_security_group_rule.egress_vpc"}
    http = found["aws_security_group_rule.ingress_http"]
    assert (http["type"], http["from_port"], http["to_port"], http["protocol"]) == ("ingress", 80, 80, "tcp")
    assert http["cidr_blocks"] == ["0.0.0.0/0"]
    # No inline rules on the group itself.
    group = after(http_plan, "aws_security_group.this")
    assert not group.get("ingress") and not group.get("egress")


def test_security_group_with_certificate(https_plan: tftest.TerraformPlanOutput) -> None:
    found = rules(https_plan)
    ingress = {a: r for a, r in found.items() if r["type"] == "ingress"}
    assert sorted((r["from_port"], r["to_port"]) for r in ingress.values()) == [(80, 80), (443, 443)]
    assert all(r["cidr_blocks"] == ["203.0.113.0/24"] for r in ingress.values())
    egress = found["aws_security_group_rule.egress_vpc"]
    assert egress["type"] == "egress"
    assert egress["cidr_blocks"] == ["10.30.0.0/16"]


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("bad", ["a" * 33, "Theobroma-Prod", "theobroma_prod", "-theobroma", "internal-theobroma"])
def test_invalid_names_are_rejected(root: TfRoot, bad: str) -> None:
    assert "The name must be 1-32 characters" in plan_error(root, {"name": bad})


def test_32_character_name_is_accepted(root: TfRoot) -> None:
    name = "staging-feature-a-long-name-3232"
    assert len(name) == 32
    assert after(root.plan({"name": name}), "aws_lb.this")["name"] == name


# --------------------------------------------------------------------------- apply


@pytest.fixture(scope="module")
def applied(apply_root: ApplyRoot, emulator: Emulator) -> Applied:
    certificate = emulator.client("acm").request_certificate(DomainName="modtest-alb.example.test")["CertificateArn"]
    return apply_root({"name": "modtest-alb", "certificate_arn": certificate})


@pytest.mark.apply
def test_apply_creates_the_load_balancer(applied: Applied, emulator: Emulator) -> None:
    elb = emulator.client("elbv2")
    (lb,) = elb.describe_load_balancers(Names=["modtest-alb"])["LoadBalancers"]
    assert lb["LoadBalancerArn"] == applied.outputs["arn"]
    assert lb["DNSName"] == applied.outputs["dns_name"]
    assert lb["Type"] == "application"
    assert lb["SecurityGroups"] == [applied.outputs["security_group_id"]]
    assert sorted(z["SubnetId"] for z in lb["AvailabilityZones"]) == sorted(applied.outputs["public_subnet_ids"])
    attributes = {
        a["Key"]: a["Value"]
        for a in elb.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])["Attributes"]
    }
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["deletion_protection.enabled"] == "false"


@pytest.mark.apply
def test_apply_listeners_redirect_and_answer_404(applied: Applied, emulator: Emulator) -> None:
    listeners = emulator.client("elbv2").describe_listeners(LoadBalancerArn=applied.outputs["arn"])["Listeners"]
    by_port = {listener["Port"]: listener for listener in listeners}
    assert set(by_port) == {80, 443}
    (redirect,) = by_port[80]["DefaultActions"]
    assert redirect["Type"] == "redirect"
    assert redirect["RedirectConfig"]["Protocol"] == "HTTPS"
    assert redirect["RedirectConfig"]["Port"] == "443"
    assert redirect["RedirectConfig"]["StatusCode"] == "HTTP_301"
    https = by_port[443]
    assert https["Protocol"] == "HTTPS"
    assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["Certificates"][0]["CertificateArn"] == applied.tf_vars["certificate_arn"]
    (fixed,) = https["DefaultActions"]
    assert fixed["Type"] == "fixed-response"
    assert fixed["FixedResponseConfig"]["StatusCode"] == "404"
    assert applied.outputs["https_listener_arn"] == https["ListenerArn"]
    assert applied.outputs["http_listener_arn"] == by_port[80]["ListenerArn"]
    assert applied.outputs["listener_arn"] == https["ListenerArn"]


@pytest.mark.apply
def test_apply_security_group_rules(applied: Applied, emulator: Emulator) -> None:
    (group,) = emulator.client("ec2").describe_security_groups(GroupIds=[applied.outputs["security_group_id"]])[
        "SecurityGroups"
    ]
    ingress = sorted((p["FromPort"], p["ToPort"], [r["CidrIp"] for r in p["IpRanges"]]) for p in group["IpPermissions"])
    assert ingress == [(80, 80, ["0.0.0.0/0"]), (443, 443, ["0.0.0.0/0"])]
    assert all(not p["UserIdGroupPairs"] for p in group["IpPermissions"])
    egress = [(p["IpProtocol"], [r["CidrIp"] for r in p["IpRanges"]]) for p in group["IpPermissionsEgress"]]
    assert egress == [("tcp", ["10.30.0.0/16"])]


@pytest.mark.apply
def test_apply_second_plan_is_empty(applied: Applied) -> None:
    plan = applied.root.plan(applied.tf_vars)
    changed = changes(plan)
    assert changed == {}


@pytest.mark.apply
def test_destroy_removes_the_load_balancer(applied: Applied, emulator: Emulator) -> None:
    applied.destroy()
    with pytest.raises(ClientError, match="LoadBalancerNotFound"):
        emulator.client("elbv2").describe_load_balancers(Names=["modtest-alb"])
    vpcs = emulator.client("ec2").describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [applied.outputs["vpc_id"]]}])
    assert vpcs["Vpcs"] == []
