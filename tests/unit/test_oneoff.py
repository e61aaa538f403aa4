"""One-off tasks on ECS (the migration): run_task in the service's network, wait, read the outcome.

botocore's Stubber answers with the shapes ECS and CloudWatch Logs return (recorded from the API
reference and real stopped tasks); a fake clock stands in for the wait.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from deploytool.errors import DeployError
from deploytool.oneoff import STARTED_BY, OneOffResult, run_on_ecs

REGION = "eu-west-1"
ACCOUNT = "123456789012"
CLUSTER = "theobroma-staging"
SERVICE = "staging-feature-x"
TASK_DEF = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{SERVICE}:7"
TASK_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{CLUSTER}/0f1e2d3c4b5a69788796a5b4c3d2e1f0"
TASK_ID = TASK_ARN.rsplit("/", 1)[-1]
COMMAND = ["python", "-m", "geoapi.migrate"]
SUBNETS = ["subnet-0a1b2c3d4e5f60718", "subnet-0f1e2d3c4b5a69788"]
GROUPS = ["sg-0123456789abcdef0"]
LOG_GROUP = "/ecs/theobroma-staging"
PREFIX = "staging-feature-x"
STREAM = f"{PREFIX}/{SERVICE}/{TASK_ID}"
WHEN = datetime(2026, 12, 2, 7, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture()
def stubs() -> Iterator[dict[str, Stubber]]:
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name=REGION)
    clients = {name: session.client(name) for name in ("ecs", "logs")}  # type: ignore[call-overload]
    stubbers = {name: Stubber(client) for name, client in clients.items()}
    for stubber in stubbers.values():
        stubber.activate()
    stubbers["_clients"] = clients  # type: ignore[assignment]
    yield stubbers
    for name, stubber in stubbers.items():
        if name != "_clients":
            stubber.assert_no_pending_responses()


def _service_and_definition(ecs: Stubber) -> None:
    ecs.add_response(
        "describe_services",
        {
            "services": [
                {
                    "serviceName": SERVICE,
                    "clusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{CLUSTER}",
                    "status": "ACTIVE",
                    "taskDefinition": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{SERVICE}:6",
                    "launchType": "FARGATE",
                    "networkConfiguration": {
                        "awsvpcConfiguration": {
                            "subnets": SUBNETS,
                            "securityGroups": GROUPS,
                            "assignPublicIp": "DISABLED",
                        }
                    },
                }
            ],
            "failures": [],
        },
        {"cluster": CLUSTER, "services": [SERVICE]},
    )
    ecs.add_response(
        "describe_task_definition",
        {
            "taskDefinition": {
                "taskDefinitionArn": TASK_DEF,
                "family": SERVICE,
                "revision": 7,
                "status": "ACTIVE",
                "networkMode": "awsvpc",
                "requiresCompatibilities": ["FARGATE"],
                "containerDefinitions": [
                    {
                        "name": SERVICE,
                        "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/theobroma-geo-api:sha-abc1234",
                        "essential": True,
                        "logConfiguration": {
                            "logDriver": "awslogs",
                            "options": {
                                "awslogs-group": LOG_GROUP,
                                "awslogs-region": REGION,
                                "awslogs-stream-prefix": PREFIX,
                            },
                        },
                    }
                ],
            }
        },
        {"taskDefinition": TASK_DEF},
    )


def _run_task(ecs: Stubber, status: str = "PROVISIONING") -> None:
    ecs.add_response(
        "run_task",
        {"tasks": [_task(status)], "failures": []},
        {
            "cluster": CLUSTER,
            "taskDefinition": TASK_DEF,
            "launchType": "FARGATE",
            "count": 1,
            "startedBy": STARTED_BY,
            "networkConfiguration": {
                "awsvpcConfiguration": {"subnets": SUBNETS, "securityGroups": GROUPS, "assignPublicIp": "DISABLED"}
            },
            "overrides": {"containerOverrides": [{"name": SERVICE, "command": COMMAND}]},
        },
    )


def _task(status: str, *, started: bool = False, **stopped: Any) -> dict[str, Any]:
    container: dict[str, Any] = {"name": SERVICE, "lastStatus": status, "taskArn": TASK_ARN}
    task: dict[str, Any] = {
        "taskArn": TASK_ARN,
        "taskDefinitionArn": TASK_DEF,
        "lastStatus": status,
        "desiredStatus": "STOPPED" if status == "STOPPED" else "RUNNING",
        "launchType": "FARGATE",
        "containers": [container],
    }
    if started:
        task["startedAt"] = WHEN
    if "exit_code" in stopped:
        container["exitCode"] = stopped["exit_code"]
    if "container_reason" in stopped:
        container["reason"] = stopped["container_reason"]
    for key in ("stoppedReason", "stopCode"):
        if key in stopped:
            task[key] = stopped[key]
    return task


def _describe(ecs: Stubber, task: dict[str, Any]) -> None:
    ecs.add_response("describe_tasks", {"tasks": [task], "failures": []}, {"cluster": CLUSTER, "tasks": [TASK_ARN]})


def _logs(logs: Stubber, lines: list[str]) -> None:
    logs.add_response(
        "get_log_events",
        {"events": [{"timestamp": 1, "message": m, "ingestionTime": 2} for m in lines], "nextForwardToken": "f/1"},
        {"logGroupName": LOG_GROUP, "logStreamName": STREAM, "limit": ANY, "startFromHead": False},
    )


def _run(stubs: dict[str, Any], budget_s: float = 600) -> OneOffResult:
    clock = Clock()
    clients = stubs["_clients"]
    return run_on_ecs(
        lambda name: clients[name],
        cluster=CLUSTER,
        service=SERVICE,
        task_definition=TASK_DEF,
        command=COMMAND,
        budget_s=budget_s,
        poll_s=5,
        sleep=clock.sleep,
        clock=clock,
    )


def test_exit_0_with_the_log_tail(stubs: dict[str, Any]) -> None:
    _service_and_definition(stubs["ecs"])
    _run_task(stubs["ecs"])
    _describe(stubs["ecs"], _task("RUNNING", started=True))
    _describe(
        stubs["ecs"],
        _task(
            "STOPPED",
            started=True,
            exit_code=0,
            stoppedReason="Essential container in task exited",
            stopCode="EssentialContainerExited",
        ),
    )
    _logs(stubs["logs"], ["migrating schema staging_feature_x", "migration done: applied: 0001"])

    result = _run(stubs)

    assert result.ok and result.exit_code == 0
    assert result.log_tail == ["migrating schema staging_feature_x", "migration done: applied: 0001"]
    assert result.task == TASK_ARN


def test_exit_1_keeps_the_migrations_last_lines(stubs: dict[str, Any]) -> None:
    _service_and_definition(stubs["ecs"])
    _run_task(stubs["ecs"])
    _describe(
        stubs["ecs"],
        _task(
            "STOPPED",
            started=True,
            exit_code=1,
            stoppedReason="Essential container in task exited",
            stopCode="EssentialContainerExited",
        ),
    )
    _logs(stubs["logs"], ["migration failed: 0002_x.sql failed and was rolled back"])

    result = _run(stubs)

    assert not result.ok and result.exit_code == 1
    assert result.reason == "Essential container in task exited"
    assert result.log_tail[-1] == "migration failed: 0002_x.sql failed and was rolled back"
    assert "exit code 1" in result.describe()


def test_cannot_pull_container(stubs: dict[str, Any]) -> None:
    pull = (
        "CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref "
        f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/theobroma-geo-api:sha-abc1234: not found"
    )
    _service_and_definition(stubs["ecs"])
    _run_task(stubs["ecs"])
    _describe(stubs["ecs"], _task("PENDING"))
    _describe(stubs["ecs"], _task("STOPPED", stoppedReason=pull, stopCode="TaskFailedToStart", container_reason=pull))
    stubs["logs"].add_client_error(
        "get_log_events", "ResourceNotFoundException", "The specified log stream does not exist.", 400
    )

    result = _run(stubs)

    assert result.exit_code is None and not result.ok
    assert result.reason == pull  # said once, though the task and the container both say it
    assert result.log_tail == []


def test_resource_initialization_error(stubs: dict[str, Any]) -> None:
    init = (
        "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: "
        "unable to retrieve secret from asm: service call has been retried 1 time(s): AccessDeniedException"
    )
    _service_and_definition(stubs["ecs"])
    _run_task(stubs["ecs"])
    _describe(stubs["ecs"], _task("STOPPED", stoppedReason=init, stopCode="TaskFailedToStart"))
    stubs["logs"].add_client_error("get_log_events", "ResourceNotFoundException", "no stream", 400)

    result = _run(stubs)

    assert result.exit_code is None
    assert result.reason.startswith("ResourceInitializationError: unable to pull secrets")


def test_never_started_within_the_budget_is_stopped(stubs: dict[str, Any]) -> None:
    _service_and_definition(stubs["ecs"])
    _run_task(stubs["ecs"])
    for _ in range(3):  # 5 s polls; at 15 s the 12 s budget is spent
        _describe(stubs["ecs"], _task("PROVISIONING"))
    stubs["ecs"].add_response(
        "stop_task",
        {"task": _task("PROVISIONING")},
        {"cluster": CLUSTER, "task": TASK_ARN, "reason": ANY},
    )
    stubs["logs"].add_client_error("get_log_events", "ResourceNotFoundException", "no stream", 400)

    result = _run(stubs, budget_s=12)

    assert result.exit_code is None
    assert result.reason == "never started within the 12 s budget (last status PROVISIONING)"


def test_ecs_refusing_to_place_the_task(stubs: dict[str, Any]) -> None:
    _service_and_definition(stubs["ecs"])
    stubs["ecs"].add_response(
        "run_task", {"tasks": [], "failures": [{"arn": TASK_DEF, "reason": "MISSING", "detail": "no capacity"}]}, None
    )

    result = _run(stubs)

    assert result.exit_code is None
    assert result.reason == "ECS did not start the task: MISSING (no capacity)"


def test_a_missing_service_is_an_error(stubs: dict[str, Any]) -> None:
    stubs["ecs"].add_response(
        "describe_services",
        {"services": [], "failures": [{"arn": SERVICE, "reason": "MISSING"}]},
        {"cluster": CLUSTER, "services": [SERVICE]},
    )
    with pytest.raises(DeployError, match="deploy it first"):
        _run(stubs)


def test_locally_the_exit_code_and_tail_come_from_the_process(tmp_path: Any) -> None:
    from deploytool.oneoff import run_locally

    result = run_locally(
        ["python", "-c", "import os, sys; print('schema', os.environ['DB_SCHEMA']); sys.exit(3)"],
        env={"DB_SCHEMA": "branch_a"},
        cwd=tmp_path,
        budget_s=30,
    )
    assert (result.exit_code, result.log_tail, result.reason) == (3, ["schema branch_a"], "schema branch_a")


def test_locally_a_command_over_budget_is_killed(tmp_path: Any) -> None:
    from deploytool.oneoff import run_locally

    result = run_locally(["python", "-c", "import time; time.sleep(30)"], env={}, cwd=tmp_path, budget_s=0.5)
    assert result.exit_code is None
    assert result.reason.startswith("did not finish within the") and result.reason.endswith("budget (killed)")


def test_events_find_the_services_stopped_one_off_tasks(stubs: dict[str, Any]) -> None:
    from deploytool.oneoff import stopped_one_offs

    other = _task("STOPPED", exit_code=0) | {
        "taskArn": TASK_ARN + "9",
        "taskDefinitionArn": TASK_DEF.replace(SERVICE, "x"),
    }
    stubs["ecs"].add_response(
        "list_tasks",
        {"taskArns": [TASK_ARN, TASK_ARN + "9"]},
        {"cluster": CLUSTER, "startedBy": STARTED_BY, "desiredStatus": "STOPPED"},
    )
    pull = "CannotPullContainerError: not found"
    mine = _task("STOPPED", stoppedReason=pull, stopCode="TaskFailedToStart")
    stubs["ecs"].add_response(
        "describe_tasks",
        {"tasks": [mine, other], "failures": []},
        {"cluster": CLUSTER, "tasks": [TASK_ARN, TASK_ARN + "9"]},
    )
    found = stopped_one_offs(stubs["_clients"]["ecs"], CLUSTER, SERVICE)
    assert [t["stoppedReason"] for t in found] == [pull]
