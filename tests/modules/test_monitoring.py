"""modules/monitoring: alarms, dashboard and the alarm topic; one apply against the emulator."""

from __future__ import annotations

import json
import re
from pathlib import Path
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
APP_ENVIRONMENT = "modtest"
# The one declaration of the service's EMF metrics (namespace, names, units, dimensions).
EMF_SPEC = json.loads(
    (Path(__file__).resolve().parents[2] / "examples" / "geo-api" / "geoapi" / "emf_metrics.json").read_text()
)
# A dashboard search line: SEARCH('{namespace,dimension,...} MetricName="name" Environment="env"', 'stat', 60).
SEARCH_LINE = re.compile(r"""SEARCH\('\{([^}]*)\} MetricName="([^"]+)" Environment="([^"]+)"', '[^']+', 60\)""")
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
    f"{NAME}-geo-query-p95-latency",
    f"{NAME}-connection-pool-exhausted",
}


def test_alarm_set(plan: tftest.TerraformPlanOutput) -> None:
    assert set(alarms(plan)) == EXPECTED_ALARMS
    assert set(output(plan, "alarm_names")) == EXPECTED_ALARMS


def test_alarms_notify_the_topic_on_alarm_and_recovery(plan: tftest.TerraformPlanOutput) -> None:
    for name, alarm in alarms(plan).items():
        # The topic ARN is unknown before apply; every alarm must still have one action each way.
        after_unknown = next(
            rc["change"]["after_unknown"]
            for rc in plan.resource_changes.values()
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
        "AWS/ApplicationELB",
        "HTTPCode_Target_5XX_Count",
        "Sum",
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
    assert all(isinstance(m, list) for m in metrics), "one list per metric line"
    pairs = {(m[0], m[1]) for m in metrics if isinstance(m[0], str)}
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


# --------------------------------------------------------------------------- the service's own metrics (EMF)


def emf_metric(directive: str, index: int = 0) -> str:
    """The name of a metric the service declares, by directive and position."""
    return list(EMF_SPEC["directives"][directive]["metrics"])[index]


def app_dashboard_metrics(body: dict[str, Any]) -> dict[str, set[tuple[str, ...]]]:
    """The service's metric names on the dashboard, each with the dimension keys it is shown by.

    Plain lines are ``[namespace, name, dim, value, ..., {options}]``; search lines are
    ``[{expression: "SEARCH('{namespace,dim,...} MetricName=\"name\" ...', ...)"}]``.
    """
    namespace = EMF_SPEC["namespace"]
    found: dict[str, set[tuple[str, ...]]] = {}
    for widget in body["widgets"]:
        for line in widget["properties"]["metrics"]:
            if isinstance(line[0], dict):
                expression = line[0]["expression"]
                match = SEARCH_LINE.fullmatch(expression)
                assert match, expression
                space, *keys = match.group(1).split(",")
                assert space == namespace and match.group(3) == APP_ENVIRONMENT, expression
                found.setdefault(match.group(2), set()).add(tuple(keys))
            elif line[0] == namespace:
                plain = [part for part in line[2:] if isinstance(part, str)]
                dimensions = dict(zip(plain[::2], plain[1::2], strict=True))
                assert dimensions["Environment"] == APP_ENVIRONMENT, line
                found.setdefault(line[1], set()).add(tuple(dimensions))
            else:
                assert line[0].startswith("AWS/"), line
    return found


def test_dashboard_shows_exactly_the_metrics_the_service_emits(plan: tftest.TerraformPlanOutput) -> None:
    body = json.loads(output(plan, "dashboard_body"))
    shown = app_dashboard_metrics(body)
    declared = {
        metric: tuple(directive["dimensions"])
        for directive in EMF_SPEC["directives"].values()
        for metric in directive["metrics"]
    }
    assert set(shown) == set(declared)
    for metric, dimension_sets in shown.items():
        # CloudWatch keeps one series per dimension set the service writes: anything else is empty.
        assert dimension_sets == {declared[metric]}, metric


def test_geo_query_latency_and_pool_exhaustion_alarms(plan: tftest.TerraformPlanOutput) -> None:
    by_name = alarms(plan)
    latency = by_name[f"{NAME}-geo-query-p95-latency"]
    assert (latency["namespace"], latency["metric_name"]) == (EMF_SPEC["namespace"], emf_metric("nearby_query", 0))
    assert latency["metric_name"] == "NearbyQueryLatency"
    assert (latency["extended_statistic"], latency["statistic"]) == ("p95", None)
    assert latency["threshold"] == 400
    assert latency["dimensions"] == {"Environment": APP_ENVIRONMENT}
    pool = by_name[f"{NAME}-connection-pool-exhausted"]
    waiting = [m for m in EMF_SPEC["directives"]["db_pool"]["metrics"] if "Waiting" in m]
    assert (pool["namespace"], [pool["metric_name"]]) == (EMF_SPEC["namespace"], waiting)
    assert (pool["statistic"], pool["threshold"], pool["evaluation_periods"]) == ("Maximum", 0, 2)
    assert pool["dimensions"] == {"Environment": APP_ENVIRONMENT}


def test_no_app_metrics_no_app_widgets_or_alarms(root: TfRoot) -> None:
    plan = root.plan({"app_metrics": None})
    assert not [n for n in alarms(plan) if "geo-query" in n or "pool" in n]
    assert EMF_SPEC["namespace"] not in output(plan, "dashboard_body")


# --------------------------------------------------------------------------- apply against the emulator


@pytest.mark.apply
def test_apply_creates_alarms_dashboard_topic_then_destroy_removes_them(applied: Applied, emulator: Emulator) -> None:
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
