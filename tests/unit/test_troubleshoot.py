"""Troubleshooting core and commands: logs on the in-process emulator, events on recorded ECS shapes,
the checklist's rules, and the command surface with its exit codes."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from moto import mock_aws

from deploytool.cli import main
from deploytool.config import load_config
from deploytool.errors import DeployError
from deploytool.health import CheckResult
from deploytool.stack import Target
from deploytool.troubleshoot.diagnose import check_running, check_service
from deploytool.troubleshoot.events import EventsReport, summarize_events
from deploytool.troubleshoot.explain import explain
from deploytool.troubleshoot.facts import Facts
from deploytool.troubleshoot.findings import Diagnosis, Finding
from deploytool.troubleshoot.iam import allowed, required_permissions
from deploytool.troubleshoot.image import check_image_tag, split_image
from deploytool.troubleshoot.locate import Where
from deploytool.troubleshoot.logs import (
    LogEvent,
    LogGroupMissingError,
    LogSource,
    check_log_source,
    follow_logs,
    parse_since,
    read_logs,
)
from deploytool.troubleshoot.reachability import permits

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
GROUP = "/ecs/theobroma-staging"
PREFIX = "staging-feature-x"
# Recent: CloudWatch Logs (and the emulator) reject events older than 14 days.
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
NOW_MS = int(NOW.timestamp() * 1000)
STAMP = NOW.strftime("%Y-%m-%dT%H:%M:%S")
REPO_URI = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/theobroma-geo-api"


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The in-process emulator (moto); no endpoint override, fake credentials."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


@pytest.fixture
def logs(aws: None) -> Any:
    client = boto3.client("logs", region_name=REGION)
    client.create_log_group(logGroupName=GROUP)
    return client


def put(client: Any, stream: str, *events: tuple[int, str]) -> None:
    with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
        client.create_log_stream(logGroupName=GROUP, logStreamName=stream)
    client.put_log_events(
        logGroupName=GROUP,
        logStreamName=stream,
        logEvents=[{"timestamp": ts_ms, "message": message} for ts_ms, message in events],
    )


def staging_target() -> Target:
    config = load_config(REPO / "deploy.toml")
    return Target(config=config, settings=config.environment("staging"))


def where(platform: dict[str, Any] | None = None) -> Where:
    target = staging_target()
    return Where(target, target.names("feature/x"), platform or {"cluster_name": "theobroma-staging"})


# --- --since ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30m", 1800), ("2h", 7200), ("1d", 86400), ("1h30m", 5400), ("45s", 45), ("1w", 604800), (" 10M ", 600)],
)
def test_since_durations_count_back_from_now(text: str, seconds: int) -> None:
    assert parse_since(text, now=NOW) == NOW_MS - seconds * 1000


def test_since_iso_times_naive_is_utc() -> None:
    now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    hour_ago = int(now.timestamp() * 1000) - 3_600_000
    assert parse_since("2024-05-01T11:00:00Z", now=now) == hour_ago
    assert parse_since("2024-05-01T11:00:00", now=now) == hour_ago
    assert parse_since("2024-05-01T13:00:00+02:00", now=now) == hour_ago


@pytest.mark.parametrize("text", ["", "soon", "30x", "m30", "yesterday"])
def test_since_rejects_what_it_cannot_read(text: str) -> None:
    with pytest.raises(DeployError, match="--since"):
        parse_since(text, now=NOW)


# --- logs on the emulator ---------------------------------------------------------------------------


def test_read_logs_newest_last_across_streams_and_only_this_service(logs: Any) -> None:
    put(logs, f"{PREFIX}/app/task-b", (NOW_MS - 1000, "b second"), (NOW_MS - 100, "b fourth"))
    put(logs, f"{PREFIX}/app/task-a", (NOW_MS - 2000, "a first"), (NOW_MS - 500, "a third"))
    put(logs, f"{PREFIX}-two/app/task-c", (NOW_MS - 700, "another branch with a longer name"))
    put(logs, "staging-feature/app/task-d", (NOW_MS - 700, "a branch whose name is a prefix of ours"))
    events = read_logs(logs, LogSource(GROUP, PREFIX), start_ms=NOW_MS - 60_000)
    assert [e.message for e in events] == ["a first", "b second", "a third", "b fourth"]
    before = (NOW - timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S")
    assert events[0].line(f"{PREFIX}/") == f"{before}.000Z  app/task-a  a first"


def test_read_logs_since_and_filter_pattern(logs: Any) -> None:
    put(
        logs,
        f"{PREFIX}/app/t1",
        (NOW_MS - 3_600_000, "ERROR an hour ago"),
        (NOW_MS - 2000, "INFO GET /health 200"),
        (NOW_MS - 1000, "ERROR database connection refused"),
    )
    source = LogSource(GROUP, PREFIX)
    recent = read_logs(logs, source, start_ms=NOW_MS - 600_000)
    assert [e.message for e in recent] == ["INFO GET /health 200", "ERROR database connection refused"]
    errors = read_logs(logs, source, start_ms=NOW_MS - 600_000, pattern="ERROR")
    assert [e.message for e in errors] == ["ERROR database connection refused"]
    phrase = read_logs(logs, source, start_ms=0, pattern='"connection refused"')
    assert [e.message for e in phrase] == ["ERROR database connection refused"]


def test_missing_log_group_is_one_line_error(aws: None) -> None:
    client = boto3.client("logs", region_name=REGION)
    with pytest.raises(LogGroupMissingError, match=r"log group /ecs/nope does not exist yet"):
        check_log_source(client, LogSource("/ecs/nope", PREFIX))
    with pytest.raises(LogGroupMissingError):
        read_logs(client, LogSource("/ecs/nope", PREFIX), start_ms=0)


def test_no_stream_yet_is_a_notice_not_an_error(logs: Any) -> None:
    put(logs, "staging-other/app/t", (NOW_MS, "not ours"))
    notice = check_log_source(logs, LogSource(GROUP, PREFIX))
    assert notice is not None
    assert f"no log streams under {PREFIX}/ in {GROUP} yet" in notice
    put(logs, f"{PREFIX}/app/t", (NOW_MS, "ours"))
    assert check_log_source(logs, LogSource(GROUP, PREFIX)) is None


def test_follow_passes_each_event_once_and_stops_when_bounded(logs: Any) -> None:
    stream = f"{PREFIX}/app/t1"
    put(logs, stream, (NOW_MS - 10, "before"), (NOW_MS, "at start"))
    seen: list[str] = []
    writes = iter([(NOW_MS, "same millisecond as the cursor"), (NOW_MS + 5, "later"), None])

    def between_polls(_: float) -> None:
        item = next(writes)
        if item is not None:
            put(logs, stream, item)

    count = follow_logs(
        logs,
        LogSource(GROUP, PREFIX),
        lambda e: seen.append(e.message),
        start_ms=NOW_MS,
        max_polls=4,
        sleep=between_polls,
    )
    assert seen == ["at start", "same millisecond as the cursor", "later"]
    assert count == 3


def test_follow_stops_at_its_timeout(logs: Any) -> None:
    polls: list[float] = []
    count = follow_logs(
        logs, LogSource(GROUP, PREFIX), lambda e: None, start_ms=0, poll_s=5.0, timeout_s=1.0, sleep=polls.append
    )
    assert count == 0
    assert polls == []  # the next poll would pass the timeout: no sleep at all


# --- events, explained ----------------------------------------------------------------------------

PULL_NOT_FOUND = (
    "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref "
    f"{REPO_URI}:v404: {REPO_URI}:v404: not found"
)
SECRET_DENIED = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
    "unable to retrieve secret from asm: service call has been retried 1 time(s): AccessDeniedException: User: "
    f"arn:aws:sts::{ACCOUNT}:assumed-role/theobroma-staging-task-execution/abc is not authorized to perform: "
    f"secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-AbCdEf"
)
SECRET_TIMEOUT = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
    "unable to retrieve secret from asm: service call has been retried 5 time(s): failed to fetch secret "
    f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:db-AbCdEf from secrets manager: RequestCanceled: "
    "request context canceled caused by: context deadline exceeded"
)
ECR_AUTH_TIMEOUT = (
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
    "unable to retrieve ecr registry auth: service call has been retried 3 time(s): RequestError: send request "
    'failed caused by: Post "https://api.ecr.us-east-1.amazonaws.com/": dial tcp 10.0.0.1:443: i/o timeout'
)
LOGGER = (
    "ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: "
    "failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist."
)
ELB = (
    "Task failed ELB health checks in (target-group "
    f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/staging-feature-x/0123456789abcdef)"
)


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (PULL_NOT_FOUND, "image-not-found"),
        (f"CannotPullContainerError: pull access denied for {REPO_URI}, 403 Forbidden", "image-pull-denied"),
        (
            "CannotPullContainerError: ref pull has been retried 1 time(s): failed to copy: httpReadSeeker: "
            'failed open: failed to do request: Get "https://prod-us-east-1-starport-layer-bucket.s3.amazonaws.com/x":'
            " dial tcp 52.216.0.1:443: i/o timeout",
            "image-pull-network",
        ),
        (SECRET_DENIED, "secrets-denied"),
        (SECRET_TIMEOUT, "secrets-unreachable"),
        (
            "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval "
            "failed: unable to retrieve secret from asm: ResourceNotFoundException: Secrets Manager can't find "
            "the specified secret.",
            "secret-missing",
        ),
        (ECR_AUTH_TIMEOUT, "registry-unreachable"),
        (LOGGER, "log-setup"),
        ("OutOfMemoryError: Container killed due to memory usage", "out-of-memory"),
        (ELB, "health-check"),
        (
            f"(service {PREFIX}) (port 8000) is unhealthy in (target-group arn:aws:elasticloadbalancing:x) "
            "due to (reason Health checks failed with these codes: [502]).",
            "health-check",
        ),
        (f"(service {PREFIX}) (deployment ecs-svc/1) deployment failed: tasks failed to start.", "deployment-failed"),
        (
            f"(service {PREFIX}) failed to launch a task with (error ECS was unable to assume the role "
            f"'arn:aws:iam::{ACCOUNT}:role/x' that was provided for this task.)",
            "permissions",
        ),
        (f"(service {PREFIX}) was unable to place a task because no container instance met all of its", "placement"),
        ("Timeout waiting for network interface provisioning to complete.", "networking"),
        (f"(service {PREFIX}) has reached a steady state.", "steady"),
        (f"(service {PREFIX}) has started 1 tasks: (task 0123).", "routine"),
    ],
)
def test_explain_names_the_cause(message: str, kind: str) -> None:
    explanation = explain(message)
    assert explanation is not None
    assert explanation.kind == kind
    assert explanation.problem is (kind not in ("steady", "routine"))
    assert explanation.meaning and explanation.fix


def test_explain_essential_exit_uses_the_exit_code_and_unknown_is_none() -> None:
    crashed = explain("Essential container in task exited", exit_code=1)
    assert crashed is not None and crashed.kind == "container-exited"
    assert "code 1: the application failed at start" in crashed.meaning
    assert "deploytool logs" in crashed.fix
    killed = explain("Essential container in task exited", exit_code=137)
    assert killed is not None and "out of memory" in killed.meaning
    assert explain("something nobody has seen before") is None


def ecs_service(events: list[dict[str, Any]], *, running: int = 0, desired: int = 1) -> dict[str, Any]:
    return {
        "serviceName": PREFIX,
        "status": "ACTIVE",
        "runningCount": running,
        "desiredCount": desired,
        "taskDefinition": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{PREFIX}:7",
        "events": events,
    }


def stopped_task(task_id: str, minute: int, reason: str, containers: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "taskArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/theobroma-staging/{task_id}",
        "taskDefinitionArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{PREFIX}:7",
        "lastStatus": "STOPPED",
        "stopCode": "TaskFailedToStart" if "Error" in reason else "EssentialContainerExited",
        "stoppedReason": reason,
        "stoppedAt": NOW.replace(minute=minute),
        "containers": containers,
    }


def test_summarize_events_recorded_shapes() -> None:
    service = ecs_service(
        [
            {"id": "1", "createdAt": NOW.replace(minute=1), "message": f"(service {PREFIX}) has started 1 tasks."},
            {"id": "2", "createdAt": NOW.replace(minute=9), "message": ELB.replace("Task failed", "(task 9) failed")},
        ]
    )
    tasks = [
        stopped_task("aaa", 2, PULL_NOT_FOUND, [{"name": "app", "lastStatus": "STOPPED", "reason": PULL_NOT_FOUND}]),
        stopped_task(
            "bbb",
            5,
            "Essential container in task exited",
            [{"name": "app", "lastStatus": "STOPPED", "exitCode": 1}],
        ),
        stopped_task(
            "ccc",
            7,
            "Essential container in task exited",
            [{"name": "app", "exitCode": 137, "reason": "OutOfMemoryError: Container killed due to memory usage"}],
        ),
        stopped_task("ddd", 3, SECRET_DENIED, [{"name": "app", "lastStatus": "PENDING"}]),
    ]
    report = summarize_events(service, tasks, service_name=PREFIX, cluster="theobroma-staging", limit=10)
    assert [t.task for t in report.stopped_tasks] == ["ccc", "bbb", "ddd", "aaa"]  # newest first
    kinds = [t.explanation.kind if t.explanation else None for t in report.stopped_tasks]
    assert kinds == ["out-of-memory", "container-exited", "secrets-denied", "image-not-found"]
    assert report.stopped_tasks[1].message == "Essential container in task exited; container app: exit code 1"
    assert [e.explanation.kind if e.explanation else None for e in report.events] == ["health-check", "routine"]
    assert len(report.problems) == 5

    text = report.text()
    assert text.startswith(f"service {PREFIX} in theobroma-staging: ACTIVE, 0/1 tasks running, task definition")
    assert "task aaa (staging-feature-x:7): CannotPullContainerError" in text
    assert "what it means: ECS could not pull the image: the tag is not in the repository." in text
    assert "fix: push the image" in text
    assert text.count("what it means:") == 5  # routine events are shown without an explanation
    document = report.to_dict()
    assert json.loads(json.dumps(document, default=str))["stopped_tasks"][0]["explanation"]["kind"] == "out-of-memory"


def test_fixes_name_the_commands_for_the_environment() -> None:
    tasks = [stopped_task("bbb", 5, "Essential container in task exited", [{"name": "app", "exitCode": 1}])]
    generic = summarize_events(None, tasks, service_name=PREFIX, cluster="c")
    assert generic.stopped_tasks[0].explanation is not None
    assert generic.stopped_tasks[0].explanation.fix.endswith("`deploytool logs --since 1h`")
    logs = "`deploytool logs --env staging --branch feature/x --since 1h`"
    specific = summarize_events(None, tasks, service_name=PREFIX, cluster="c", commands={"logs": logs})
    assert specific.stopped_tasks[0].explanation is not None
    assert specific.stopped_tasks[0].explanation.fix.endswith(logs)
    pulled = explain(PULL_NOT_FOUND, commands={"diagnose": "`deploytool diagnose --env staging`"})
    assert pulled is not None and "`deploytool diagnose --env staging` checks image.ecr" in pulled.fix


def test_summarize_events_limit_and_missing_service() -> None:
    events = [{"createdAt": NOW.replace(minute=m), "message": f"event {m}"} for m in range(20)]
    report = summarize_events(ecs_service(events), [], service_name=PREFIX, cluster="c", limit=3)
    assert [e.message for e in report.events] == ["event 19", "event 18", "event 17"]
    missing = summarize_events(None, [], service_name=PREFIX, cluster="c")
    assert missing.status is None
    assert missing.text().startswith(f"service {PREFIX} in c: not found")


# --- checklist rules ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (f"{REPO_URI}:v1", (REPO_URI, ":", "v1")),
        (f"{REPO_URI}@sha256:{'a' * 64}", (REPO_URI, "@", f"sha256:{'a' * 64}")),
        ("registry.local:5000/geo-api", ("registry.local:5000/geo-api", ":", "latest")),
        ("registry.local:5000/geo-api:2.0", ("registry.local:5000/geo-api", ":", "2.0")),
    ],
)
def test_split_image(image: str, expected: tuple[str, str, str]) -> None:
    assert split_image(image) == expected


def test_permits_by_group_or_a_cidr_covering_the_vpc() -> None:
    by_group = [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": "sg-svc"}]}]
    assert permits(by_group, 5432, groups=["sg-svc"], vpc_cidr="10.0.0.0/16") == "sg-svc"
    assert permits(by_group, 5432, groups=["sg-other"], vpc_cidr="10.0.0.0/16") is None
    assert permits(by_group, 5433, groups=["sg-svc"], vpc_cidr="10.0.0.0/16") is None
    udp = [{"IpProtocol": "udp", "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    assert permits(udp, 5432, groups=[], vpc_cidr="10.0.0.0/16") is None
    everything = [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    assert permits(everything, 8000, groups=[], vpc_cidr="10.0.0.0/16") == "0.0.0.0/0"
    vpc = [{"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]
    assert permits(vpc, 8000, groups=[], vpc_cidr="10.0.0.0/16") == "10.0.0.0/8"
    subnet_only = [{"IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": "10.0.1.0/24"}]}]
    assert permits(subnet_only, 8000, groups=[], vpc_cidr="10.0.0.0/16") is None


MANAGED = {
    "Effect": "Allow",
    "Action": [
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchGetImage",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ],
    "Resource": "*",
}
SECRET_ARN = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:theobroma-staging-db-AbCdEf"
CONTAINER = {
    "name": "app",
    "image": f"{REPO_URI}:v1",
    "logConfiguration": {
        "logDriver": "awslogs",
        "options": {"awslogs-group": GROUP, "awslogs-region": REGION, "awslogs-stream-prefix": PREFIX},
    },
    "secrets": [{"name": "PGPASSWORD", "valueFrom": SECRET_ARN}, {"name": "TOKEN", "valueFrom": "/geo/token"}],
}


def needs() -> list[tuple[str, str, str]]:
    return required_permissions(CONTAINER, partition="aws", region=REGION, account=ACCOUNT)


def test_required_permissions_of_a_container() -> None:
    actions = {(action, resource) for _, action, resource in needs()}
    assert ("ecr:BatchGetImage", f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/theobroma-geo-api") in actions
    assert ("logs:PutLogEvents", f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{GROUP}:log-stream:*") in actions
    assert ("secretsmanager:GetSecretValue", SECRET_ARN) in actions
    assert ("ssm:GetParameters", f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/geo/token") in actions


def test_allowed_with_the_managed_policy_wildcards_and_deny() -> None:
    secrets = {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": [SECRET_ARN]}
    ssm = {"Effect": "Allow", "Action": "ssm:Get*", "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/geo/*"}
    statements = [MANAGED, secrets, ssm]
    assert all(allowed(statements, action, resource) for _, action, resource in needs())
    assert not allowed([MANAGED, ssm], "secretsmanager:GetSecretValue", SECRET_ARN)
    assert not allowed([secrets], "secretsmanager:GetSecretValue", SECRET_ARN.replace("db-", "other-"))
    deny = {"Effect": "Deny", "Action": "ecr:*", "Resource": "*"}
    assert not allowed([MANAGED, deny], "ecr:BatchGetImage", "arn:aws:ecr:x")
    not_action = {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}
    assert allowed([not_action], "logs:PutLogEvents", "arn:aws:logs:x")


def test_running_count_on_aws_fails_with_the_latest_event_and_is_unavailable_on_the_emulator() -> None:
    facts = Facts(
        service=ecs_service([{"message": f"(service {PREFIX}) has started 1 tasks."}], running=1, desired=2),
        task_definition={"containerDefinitions": [CONTAINER]},
    )
    finding = check_running(where(), facts)
    assert finding.check.status == "fail"
    assert finding.check.detail.startswith("1/2 tasks running; last event:")
    assert "deploytool events --env staging --branch feature/x" in finding.fix
    facts.service = ecs_service([], running=2, desired=2)
    assert check_running(where(), facts).check.status == "pass"
    emulator = where()
    object.__setattr__(emulator.target, "endpoint", "http://127.0.0.1:1")
    unavailable = check_running(emulator, facts)
    assert unavailable.check.status == "unavailable"
    assert unavailable.check.detail.startswith("unavailable on the emulator")


def test_missing_service_makes_dependent_checks_fail_as_not_checked() -> None:
    facts = Facts(service_error="service staging-feature-x not found in cluster theobroma-staging")
    service = check_service(where(), facts)
    assert service.check.status == "fail"
    assert "deploytool deploy --env staging --branch feature/x --image-tag TAG" in service.fix
    dependent = check_image_tag(where(), facts)
    assert dependent.check.status == "fail"
    assert dependent.check.detail.startswith("not checked:")
    assert dependent.fix == "fix ecs.service first"


def diagnosis(*statuses: str) -> Diagnosis:
    findings = tuple(
        Finding(CheckResult(f"check.{i}", status, f"detail {i}"), f"fix {i}")  # type: ignore[arg-type]
        for i, status in enumerate(statuses)
    )
    return Diagnosis("local", "local-feature-x", True, findings)


def test_diagnosis_unavailable_is_neither_pass_nor_fail() -> None:
    only_unavailable = diagnosis("pass", "unavailable", "pass")
    assert only_unavailable.ok
    assert only_unavailable.summary() == (
        "3 checks: 2 passed, 0 failed, 1 unavailable on the emulator (not counted as passed)"
    )
    table = only_unavailable.table()
    assert "UNAVAILABLE  check.1" in table
    assert "fix" not in table
    failing = diagnosis("pass", "fail", "unavailable")
    assert not failing.ok
    assert "FAIL         check.1  detail 1\n" in failing.table()
    assert "fix: fix 1" in failing.table()
    checks = failing.to_dict()["checks"]
    assert [c["fix"] for c in checks] == ["", "fix 1", ""]


# --- the commands -------------------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Invoke a troubleshooting command with the target and the platform lookup stubbed."""
    target = staging_target()
    monkeypatch.setattr("deploytool.cli.troubleshoot.make_target", lambda *a, **k: target)
    monkeypatch.setattr("deploytool.troubleshoot.locate.locate", lambda t, b: where())

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(main, [*args, "--env", "staging", "--branch", "feature/x"])

    return invoke


def test_diagnose_exit_codes(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("deploytool.troubleshoot.diagnose.diagnose", lambda *a, **k: diagnosis("pass", "unavailable"))
    ok = cli("diagnose")
    assert ok.exit_code == 0, ok.output
    assert "UNAVAILABLE" in ok.stdout
    assert ok.stderr == ""

    monkeypatch.setattr(
        "deploytool.troubleshoot.diagnose.diagnose", lambda *a, **k: diagnosis("pass", "fail", "unavailable")
    )
    failed = cli("diagnose", "--output", "json")
    assert failed.exit_code == 1
    document = json.loads(failed.stdout)
    assert document["ok"] is False
    assert document["checks"][1] == {
        "name": "check.1",
        "status": "fail",
        "detail": "detail 1",
        "duration_s": 0.0,
        "fix": "fix 1",
    }
    assert failed.stderr.strip() == "failing: check.1"


def test_diagnose_passes_the_health_url(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake(target: Any, branch: str | None, **kwargs: Any) -> Diagnosis:
        seen.update(kwargs, branch=branch)
        return diagnosis("pass")

    monkeypatch.setattr("deploytool.troubleshoot.diagnose.diagnose", fake)
    assert cli("diagnose", "--health-url", "http://127.0.0.1:9").exit_code == 0
    assert seen["branch"] == "feature/x"
    assert seen["base_url"] == "http://127.0.0.1:9"


def test_events_command_text_and_json(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    tasks = [stopped_task("aaa", 2, PULL_NOT_FOUND, [])]
    report = summarize_events(ecs_service([]), tasks, service_name=PREFIX, cluster="theobroma-staging")
    limits: list[int] = []

    def fake(where: Any, *, limit: int) -> EventsReport:
        limits.append(limit)
        return report

    monkeypatch.setattr("deploytool.troubleshoot.events.service_events", fake)
    text = cli("events", "--limit", "5")
    assert text.exit_code == 0, text.output
    assert "what it means: ECS could not pull the image" in text.stdout
    as_json = cli("events", "--output", "json")
    assert json.loads(as_json.stdout)["stopped_tasks"][0]["task"] == "aaa"
    assert limits == [5, 10]
    assert cli("events", "--limit", "0").exit_code == 2


def test_logs_command(cli: Any, logs: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    put(logs, f"{PREFIX}/app/t1", (NOW_MS, "hello"), (NOW_MS + 1, "ERROR boom"))
    source = LogSource(GROUP, PREFIX)
    monkeypatch.setattr("deploytool.troubleshoot.logs.open_logs", lambda w: (logs, source, None))
    since = (NOW - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = cli("logs", "--since", since)
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines() == [
        f"{STAMP}.000Z  app/t1  hello",
        f"{STAMP}.001Z  app/t1  ERROR boom",
    ]
    as_json = cli("logs", "--since", since, "--filter", "ERROR", "--output", "json")
    assert [json.loads(line)["message"] for line in as_json.stdout.splitlines()] == ["ERROR boom"]
    bad = cli("logs", "--since", "whenever")
    assert bad.exit_code == 1
    assert bad.stderr.strip().startswith("Error: --since 'whenever' is neither")


def test_logs_command_missing_group_and_no_streams(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(where: Any) -> Any:
        raise LogGroupMissingError("log group /ecs/x does not exist yet: the platform stack creates it")

    monkeypatch.setattr("deploytool.troubleshoot.logs.open_logs", missing)
    result = cli("logs")
    assert result.exit_code == 1
    assert result.stderr.strip() == "Error: log group /ecs/x does not exist yet: the platform stack creates it"
    assert result.stdout == ""

    monkeypatch.setattr(
        "deploytool.troubleshoot.logs.open_logs", lambda w: (None, LogSource(GROUP, PREFIX), "no log streams yet")
    )
    quiet = cli("logs")
    assert quiet.exit_code == 0
    assert quiet.stderr.strip() == "no log streams yet"


def test_follow_command_stops_cleanly_on_interrupt(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("deploytool.troubleshoot.logs.open_logs", lambda w: (None, LogSource(GROUP, PREFIX), None))

    def interrupted(*args: Any, **kwargs: Any) -> int:
        args[2](LogEvent(NOW_MS, f"{PREFIX}/app/t1", "one", "1"))
        raise KeyboardInterrupt

    monkeypatch.setattr("deploytool.troubleshoot.logs.follow_logs", interrupted)
    result = cli("logs", "--follow")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"{STAMP}.000Z  app/t1  one"]
    assert "Ctrl-C" in result.stderr
