"""modules/monitoring: alarms, dashboard and the alarm topic; one apply against the emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest
import tftest

from tests.conftest import Emulator, TfRoot
from tests.modules.conftest import Applied
from tests.modules.plans import output

FIXTURE = "tests/modules/fixtures/monitoring"
MODULE = "module.monitoring"
NAME = "modtest-monitoring"
ALB = "app/test-alb/0123456789abcdef"
TARGET_GROUPS = ["targetgroup/test-api-blue/0123456789abcdef", "targetgroup/test-api-green/fedcba9876543210"]


@pytest.fixture(scope="module")
def plan(root: TfRoot) -> tftest.TerraformPlanOutput:
    return root.plan()


def alarms(plan: tftest.TerraformPlanOutput) -> dict[str, dict[str, Any]]:
    """Planned alarms by alarm name."""
    return {
        rc["change"]["after"]["alarm_name"]: rc["change"]["after"]
        for rc in plan.resource_changes.values()
        if rc["type"] == "aws_cloudwatch_metric_alarm"
    }


EXPECTED_ALARMS = {
    f"{NAME}-alb-5xx-count",
    f"{NAME}-alb-5xx-rate",
    f"{NAME}-unhealthy-hosts-0",
    f"{NAME}-unhealthy-hosts-1",
    f"{NAME}-test-api-blue-cpu-high",
    f"{NAME}-test-api-green-cpu-high",
    f"{NAME}-test-api-blue-memory-high",
    f"{NAME}-test-api-green-memory-high",
    f"{NAME}-db-cpu-high",
    f"{NAME}-db-connections-high",
}


def test_alarm_set(plan: tftest.TerraformPlanOutput) -> None:
    assert set(alarms(plan)) == EXPECTED_ALARMS
    assert set(output(plan, "alarm_names")) == EXPECTED_ALARMS


def test_alarms_notify_the_topic_on_alarm_and_recovery(plan: tftest.TerraformPlanOutput) -> None:
    for name, alarm in alarms(plan).items():
        # The topic ARN is unknown before apply; every alarm must still have one action each way.
        after_unknown = next(
            rc["change"]["after_unknown"] for rc in plan.resource_changes.values()
            if rc["type"] == "aws_cloudwatch_metric_alarm" and rc["change"]["after"]["alarm_name"] == name
        )
        assert after_unknown["alarm_actions"] in (True, [True]), name
        assert after_unknown["ok_actions"] in (True, [True]), name
        assert alarm["treat_missing_data"] == "notBreaching"
        assert alarm["comparison_operator"] == "GreaterThanThreshold"


def test_5xx_alarms(plan: tftest.TerraformPlanOutput) -> None:
    by_name = alarms(plan)
    count = by_name[f"{NAME}-alb-5xx-count"]
    assert (count["namespace"], count["metric_name"], count["statistic"]) == (
        "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum",
    )
    assert count["threshold"] == 10
    assert count["dimensions"] == {"LoadBalancer": ALB}
    rate = by_name[f"{NAME}-alb-5xx-rate"]
    assert rate["threshold"] == 5
    queries = {q["id"]: q for q in rate["metric_query"]}
    assert set(queries) == {"rate", "errors", "requests"}
    assert queries["rate"]["return_data"] is True
    assert "errors / requests" in queries["rate"]["expression"]
    assert queries["errors"]["metric"][0]["metric_name"] == "HTTPCode_Target_5XX_Count"
    assert queries["requests"]["metric"][0]["metric_name"] == "RequestCount"


def test_unhealthy_host_alarms_per_target_group(plan: tftest.TerraformPlanOutput) -> None:
    by_name = alarms(plan)
    for index, target_group in enumerate(TARGET_GROUPS):
        alarm = by_name[f"{NAME}-unhealthy-hosts-{index}"]
        assert alarm["metric_name"] == "UnHealthyHostCount"
        assert alarm["dimensions"] == {"LoadBalancer": ALB, "TargetGroup": target_group}
        assert alarm["threshold"] == 0


def test_service_and_database_alarms(plan: tftest.TerraformPlanOutput) -> None:
    by_name = alarms(plan)
    cpu = by_name[f"{NAME}-test-api-blue-cpu-high"]
    assert (cpu["namespace"], cpu["metric_name"], cpu["threshold"]) == ("AWS/ECS", "CPUUtilization", 85)
    assert cpu["dimensions"] == {"ClusterName": "test-cluster", "ServiceName": "test-api-blue"}
    connections = by_name[f"{NAME}-db-connections-high"]
    assert (connections["namespace"], connections["metric_name"]) == ("AWS/RDS", "DatabaseConnections")
    assert connections["threshold"] == 80
    assert connections["dimensions"] == {"DBInstanceIdentifier": "test-postgis"}


def test_no_database_no_database_alarms_or_widgets(root: TfRoot) -> None:
    plan = root.plan({"db_instance_identifier": None})
    assert not [n for n in alarms(plan) if "-db-" in n]
    assert "AWS/RDS" not in output(plan, "dashboard_body")


def test_topic_is_encrypted_with_a_key_cloudwatch_may_use(plan: tftest.TerraformPlanOutput) -> None:
    topic = plan.resource_changes[f"{MODULE}.aws_sns_topic.alarms"]["change"]
    assert topic["after"]["name"] == f"{NAME}-alarms"
    assert topic["after_unknown"]["kms_master_key_id"] is True  # the key created below
    key = plan.resource_changes[f"{MODULE}.aws_kms_key.alarms[0]"]["change"]["after"]
    assert key["enable_key_rotation"] is True
    policy = json.loads(key["policy"])
    cloudwatch = [s for s in policy["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}]
    assert len(cloudwatch) == 1
    assert set(cloudwatch[0]["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}


def test_given_key_is_used_as_is(root: TfRoot) -> None:
    plan = root.plan({"kms_master_key_id": "alias/theobroma-alarms"})
    assert not [a for a in plan.resource_changes if "aws_kms_key" in a]
    topic = plan.resource_changes[f"{MODULE}.aws_sns_topic.alarms"]["change"]["after"]
    assert topic["kms_master_key_id"] == "alias/theobroma-alarms"


def test_email_subscriptions(plan: tftest.TerraformPlanOutput) -> None:
    subscription = plan.resource_changes[f'{MODULE}.aws_sns_topic_subscription.email["ops@example.com"]']
    assert subscription["change"]["after"]["protocol"] == "email"
    assert subscription["change"]["after"]["endpoint"] == "ops@example.com"


def test_bad_email_is_rejected(root: TfRoot) -> None:
    result = root.plan_raw({"alarm_email_addresses": ["not-an-address"]})
    assert result.code != 0
    assert "must look like name@example.com" in " ".join(result.output.split())


def test_dashboard_shows_every_required_metric(plan: tftest.TerraformPlanOutput) -> None:
    dashboard = plan.resource_changes[f"{MODULE}.aws_cloudwatch_dashboard.this[0]"]["change"]["after"]
    assert dashboard["dashboard_name"] == NAME
    body = json.loads(dashboard["dashboard_body"])
    metrics = [m for w in body["widgets"] for m in w["properties"]["metrics"]]
    assert all(isinstance(m, list) and m[0].startswith("AWS/") for m in metrics), "one list per metric line"
    pairs = {(m[0], m[1]) for m in metrics}
    assert {
        ("AWS/ECS", "CPUUtilization"),
        ("AWS/ECS", "MemoryUtilization"),
        ("AWS/ApplicationELB", "TargetResponseTime"),
        ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count"),
        ("AWS/ApplicationELB", "HealthyHostCount"),
        ("AWS/ApplicationELB", "UnHealthyHostCount"),
        ("AWS/RDS", "CPUUtilization"),
        ("AWS/RDS", "DatabaseConnections"),
    } <= pairs
    services = {m[5] for m in metrics if m[0] == "AWS/ECS"}
    assert services == {"test-api-blue", "test-api-green"}
    assert all(w["properties"]["region"] == "us-east-1" for w in body["widgets"])


# --------------------------------------------------------------------------- apply against the emulator


@pytest.mark.apply
def test_apply_creates_alarms_dashboard_topic_then_destroy_removes_them(
    applied: Applied, emulator: Emulator
) -> None:
    root, outputs = applied.root, applied.outputs
    cloudwatch, sns = emulator.client("cloudwatch"), emulator.client("sns")

    found = cloudwatch.describe_alarms(AlarmNamePrefix=NAME)["MetricAlarms"]
    assert {a["AlarmName"] for a in found} == EXPECTED_ALARMS
    assert set(outputs["alarm_arns"]) == EXPECTED_ALARMS
    for alarm in found:
        assert alarm["AlarmActions"] == [outputs["sns_topic_arn"]]
        assert alarm["OKActions"] == [outputs["sns_topic_arn"]]

    dashboard = cloudwatch.get_dashboard(DashboardName=outputs["dashboard_name"])
    assert json.loads(dashboard["DashboardBody"]) == json.loads(outputs["dashboard_body"])

    attributes = sns.get_topic_attributes(TopicArn=outputs["sns_topic_arn"])["Attributes"]
    assert attributes["KmsMasterKeyId"] == outputs["kms_key_arn"]
    subscriptions = sns.list_subscriptions_by_topic(TopicArn=outputs["sns_topic_arn"])["Subscriptions"]
    assert [(s["Protocol"], s["Endpoint"]) for s in subscriptions] == [("email", "ops@example.com")]

    root.destroy()
    assert cloudwatch.describe_alarms(AlarmNamePrefix=NAME)["MetricAlarms"] == []
    dashboards = [d["DashboardName"] for d in cloudwatch.list_dashboards()["DashboardEntries"]]
    assert outputs["dashboard_name"] not in dashboards
    topics = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert outputs["sns_topic_arn"] not in topics
