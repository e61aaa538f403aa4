"""The local stand-in's desired count and its scale to zero (moto in-process).

The count is the ECS service's, moved into its Application Auto Scaling target's bounds when it has
one, as AAS moves it whenever the bounds change (an autoscaled service ignores Terraform's
desired_count after its creation). After any apply, a service whose count is 0 has its tasks
deregistered from its target group and stopped; a service with a count keeps its tasks.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploytool.localrun import Deployment, LocalRuntime, LocalTask, ServiceState, _alive
from deploytool.state import ServiceOutputs
from tests.unit import test_stand_in_image_env as moto_env

CLUSTER = "theobroma-production"
clients = moto_env.clients  # the moto fixture, in-process


def service(clients: Any, name: str, count: int, bounds: tuple[int, int] | None) -> None:
    clients("ecs").create_service(cluster=CLUSTER, serviceName=name, desiredCount=count)
    if bounds is not None:
        clients("application-autoscaling").register_scalable_target(
            ServiceNamespace="ecs",
            ResourceId=f"service/{CLUSTER}/{name}",
            ScalableDimension="ecs:service:DesiredCount",
            MinCapacity=bounds[0],
            MaxCapacity=bounds[1],
        )


@pytest.fixture
def runtime(clients: Any, tmp_path: Path) -> LocalRuntime:
    clients("ecs").create_cluster(clusterName=CLUSTER)
    return LocalRuntime(moto_env.target(clients, tmp_path))


@pytest.mark.parametrize(
    ("count", "bounds", "expected"),
    [
        (2, None, 2),  # no autoscaling: Terraform's count
        (0, None, 0),
        (0, (2, 10), 2),  # the active colour created at 0: the autoscaler holds it at min
        (2, (0, 1), 1),  # an idle colour with a max of 1 keeps one task
        (2, (0, 0), 0),  # held at 0: scaled down
    ],
)
def test_the_desired_count_is_the_services_within_its_autoscaling_bounds(
    runtime: LocalRuntime, clients: Any, count: int, bounds: tuple[int, int] | None, expected: int
) -> None:
    service(clients, "api", count, bounds)
    assert runtime.desired_count(CLUSTER, "api") == expected


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    yield proc
    proc.kill()
    proc.wait()


def test_settle_stops_and_deregisters_a_service_scaled_to_zero_only(
    runtime: LocalRuntime, clients: Any, sleeper: subprocess.Popen[bytes]
) -> None:
    ec2, elbv2 = clients("ec2"), clients("elbv2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    groups = {
        name: elbv2.create_target_group(Name=name, Protocol="HTTP", Port=8000, VpcId=vpc, TargetType="ip")[
            "TargetGroups"
        ][0]["TargetGroupArn"]
        for name in ("blue", "green")
    }
    keeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        outputs = []
        for name, count, proc, port in (("blue", 2, keeper, 40001), ("green", 0, sleeper, 40002)):
            service(clients, name, 2, (count, count))
            task = LocalTask(name, proc.pid, port, "td", "image", "ecs-svc/1", groups[name])
            state = ServiceState([task], [Deployment("ecs-svc/1", "PRIMARY", "td", "COMPLETED", runningCount=1)], [])
            state.save(runtime._state(name))
            elbv2.register_targets(TargetGroupArn=groups[name], Targets=[{"Id": "127.0.0.1", "Port": port}])
            outputs.append(ServiceOutputs(CLUSTER, name, "td", groups[name], "image"))

        runtime.settle(outputs)

        sleeper.wait(timeout=10)
        assert not _alive(sleeper.pid)
        assert elbv2.describe_target_health(TargetGroupArn=groups["green"])["TargetHealthDescriptions"] == []
        green = runtime.state("green")
        assert green is not None and green.tasks == []
        assert (green.deployments[0].desiredCount, green.deployments[0].runningCount) == (0, 0)
        assert "desired count 0" in green.events[1]
        # The colour that keeps a count keeps its task and its target.
        assert keeper.poll() is None
        assert len(elbv2.describe_target_health(TargetGroupArn=groups["blue"])["TargetHealthDescriptions"]) == 1
        assert [t.pid for t in runtime.tasks("blue")] == [keeper.pid]
    finally:
        keeper.kill()
        keeper.wait()


def test_two_projects_on_one_data_root_get_a_load_balancer_each(clients: Any, tmp_path: Path) -> None:
    """Two projects' environments of one name (their own platforms, listeners and rules) on one
    data root: each gets its own local load balancer, never the other's, whose listener routes
    nothing of theirs (their targets would never be health-checked, their rollouts never end)."""
    ours = moto_env.target(clients, tmp_path)
    theirs = moto_env.target(clients, tmp_path)
    project = ours.config.project.model_copy(update={"name": "actci"})
    theirs.config = ours.config.model_copy(update={"project": project})
    assert LocalRuntime(ours).dir == LocalRuntime(theirs).dir  # the tasks' records sit side by side
    assert LocalRuntime(ours).lb_dir != LocalRuntime(theirs).lb_dir
