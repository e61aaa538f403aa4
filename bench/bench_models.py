"""Computed models (nothing is run): the rollout critical path and the monthly cost of a branch environment.

* Critical path: the minimum time, with no failures, for a rolling deploy (staging) and for a
  blue-green cutover (production), from the health-check interval and healthy threshold, the
  deregistration delay and the deployment percentages our Terraform actually applies (module
  defaults, root variables and the tfvars templates are read, not copied), against the AWS defaults.
* Cost: one branch environment on the shared platform vs a naive per-branch full stack (own ALB,
  RDS, NAT gateway), from us-east-1 on-demand list prices written down below with their date.

Run: ``.venv/bin/python bench/bench_models.py`` (``make bench`` runs it). Takes a second.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helpers next to this script

from _common import REPO, say, table

# -- 6. rollout critical path ------------------------------------------------------------------------------
SETTINGS = (
    "health_check_interval",
    "health_check_healthy_threshold",
    "health_check_unhealthy_threshold",
    "deregistration_delay",
    "health_check_grace_period_seconds",
    "deployment_minimum_healthy_percent",
    "deployment_maximum_percent",
)
# AWS's own defaults for an ALB target group and an ECS service (what a service gets when nothing is set).
AWS_DEFAULTS = {
    "health_check_interval": 30,
    "health_check_healthy_threshold": 5,
    "health_check_unhealthy_threshold": 2,
    "deregistration_delay": 300,
    "health_check_grace_period_seconds": 0,
    "deployment_minimum_healthy_percent": 100,
    "deployment_maximum_percent": 200,
}
# Assumptions (seconds), stated in the output.
FARGATE_START = (30, 45, 60)  # task placement + image pull + container start: low, assumed, high
TASK_STOP_S = 5  # the service exits on SIGTERM within seconds (ECS's stopTimeout, 30 s, is the cap)
LISTENER_SWITCH_S = 5  # an in-place weight change of the listener rule takes effect


def _plain(value: Any) -> Any:
    return value.strip('"') if isinstance(value, str) else value


def variable_defaults(path: Path) -> dict[str, Any]:
    with path.open() as fh:
        doc = hcl2.load(fh)
    return {
        _plain(name): _plain(body.get("default")) for block in doc.get("variable", []) for name, body in block.items()
    }


def module_blocks(root: Path, source_suffix: str) -> dict[str, dict[str, Any]]:
    """The root's module blocks whose source ends with ``source_suffix``."""
    found: dict[str, dict[str, Any]] = {}
    for tf in sorted(root.glob("*.tf")):
        with tf.open() as fh:
            doc = hcl2.load(fh)
        for block in doc.get("module", []):
            for name, body in block.items():
                if _plain(body.get("source", "")).endswith(source_suffix):
                    found[_plain(name)] = body
    return found


def effective_settings(composition: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """What the ecs-service module gets in an app composition (``modules/app-*``) for each setting,
    and where the value comes from."""
    module_defaults = variable_defaults(REPO / "modules" / "ecs-service" / "variables.tf")
    blocks = module_blocks(composition, "../ecs-service")
    if not blocks:
        raise SystemExit(f"bench: no ecs-service module in {composition}")
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for setting in SETTINGS:
        seen = set()
        for body in blocks.values():
            expr = body.get(setting)
            if expr is None:
                seen.add((module_defaults[setting], "module default"))
            elif isinstance(expr, int | float) or re.fullmatch(r"-?\d+", str(expr)):
                seen.add((int(expr), f"set in {composition.name}"))
            else:
                raise SystemExit(f"bench: {setting} = {expr} in {composition}; teach the model to read it")
        if len({v for v, _ in seen}) != 1:
            raise SystemExit(f"bench: {setting} differs between the services of {composition}: {seen}")
        (value, source), *_ = sorted(seen, key=str)
        values[setting], sources[setting] = value, source
    return values, sources


@dataclass(frozen=True)
class CriticalPath:
    """One critical path: named steps in seconds."""

    steps: tuple[tuple[str, float], ...]

    @property
    def total(self) -> float:
        return sum(s for _, s in self.steps)


def batches(desired: int, min_percent: int, max_percent: int) -> int:
    """Replacement waves of a rolling update: ECS may start ``desired * (max - 100)%`` extra tasks at once
    while ``min%`` keep running (with min 100 % the old ones stay until the new ones are healthy)."""
    extra = math.floor(desired * (max_percent - 100) / 100)
    below = desired - math.ceil(desired * min_percent / 100)
    per_wave = max(1, extra + below)
    return math.ceil(desired / per_wave)


def rolling(v: dict[str, Any], start_s: float, desired: int) -> CriticalPath:
    waves = batches(desired, v["deployment_minimum_healthy_percent"], v["deployment_maximum_percent"])
    healthy = v["health_check_healthy_threshold"] * v["health_check_interval"]
    wave = [
        ("task start (placement, image pull, container start)", start_s),
        ("target healthy: healthy threshold x interval", healthy),
        ("old target drains: deregistration delay", v["deregistration_delay"]),
        ("old task stops", TASK_STOP_S),
    ]
    if waves == 1:
        return CriticalPath(tuple(wave))
    return CriticalPath(tuple((f"{name} (x{waves} waves)", s * waves) for name, s in wave))


def blue_green(v: dict[str, Any], start_s: float, verify_s: float) -> CriticalPath:
    healthy = v["health_check_healthy_threshold"] * v["health_check_interval"]
    return CriticalPath(
        (
            ("idle colour's tasks start", start_s),
            ("its targets healthy: healthy threshold x interval", healthy),
            ("verification through the test route", verify_s),
            ("listener weights switched", LISTENER_SWITCH_S),
            ("verification of the production URL", verify_s),
        )
    )


def verification_s(health: Any) -> float:
    """The tool's HTTP verification when every answer passes: (passes - 1) pauses of interval_seconds."""
    return float((health.consecutive_passes - 1) * health.interval_seconds)


def critical_path() -> dict[str, float]:
    from deploytool.config import load_config

    config = load_config(REPO / "deploy.toml")
    staging, production = config.environment("staging"), config.environment("production")
    ours = {
        "staging": effective_settings(REPO / "modules" / "app-rolling"),
        "production": effective_settings(REPO / "modules" / "app-blue-green"),
    }
    say("## 6. Rollout critical path (computed)")
    say()
    rows = []
    for setting in SETTINGS:
        sources = {ours["staging"][1][setting], ours["production"][1][setting]}
        rows.append(
            [
                setting,
                ours["staging"][0][setting],
                ours["production"][0][setting],
                AWS_DEFAULTS[setting],
                " / ".join(sorted(sources)),
            ]
        )
    say(table(["setting", "staging", "production", "AWS default", "ours come from"], rows))
    low, mid, high = FARGATE_START
    say(
        f"\nassumptions: Fargate task start (placement + image pull + start) {mid} s (range {low}-{high} s); "
        f"old task stop {TASK_STOP_S} s; listener weight switch {LISTENER_SWITCH_S} s; the tool's verification "
        f"(deploy.toml: passes x interval) staging {verification_s(staging.health):.0f} s, production "
        f"{verification_s(production.health):.0f} s; desired count staging {staging.desired_count}, production "
        f"{production.desired_count}; no failures, no retries."
    )
    s_vals, p_vals = ours["staging"][0], ours["production"][0]
    paths = {
        "rolling, staging": rolling(s_vals, mid, staging.desired_count),
        "rolling, AWS defaults": rolling(AWS_DEFAULTS, mid, staging.desired_count),
        "blue-green, production": blue_green(p_vals, mid, verification_s(production.health)),
        "blue-green, AWS defaults": blue_green(AWS_DEFAULTS, mid, verification_s(production.health)),
    }
    say()
    for name in ("rolling, staging", "blue-green, production"):
        defaults = paths[name.split(",")[0] + ", AWS defaults"]
        step_rows = [
            [step, f"{s:.0f}", f"{d:.0f}"] for (step, s), (_, d) in zip(paths[name].steps, defaults.steps, strict=True)
        ]
        step_rows.append(["total", f"{paths[name].total:.0f}", f"{defaults.total:.0f}"])
        say(table([f"{name.split(',')[0]} step", f"ours ({name.split(', ')[1]}) s", "AWS defaults s"], step_rows))
        say()
    ranges = []
    results: dict[str, float] = {}
    for kind, ours_name in (("rolling", "rolling, staging"), ("blue-green", "blue-green, production")):
        shares = []
        for start in FARGATE_START:
            if kind == "rolling":
                a = rolling(s_vals, start, staging.desired_count).total
                b = rolling(AWS_DEFAULTS, start, staging.desired_count).total
            else:
                a = blue_green(p_vals, start, verification_s(production.health)).total
                b = blue_green(AWS_DEFAULTS, start, verification_s(production.health)).total
            shares.append(a / b)
        results[kind] = shares[1]
        ranges.append(
            [
                ours_name,
                f"{paths[ours_name].total:.0f}",
                f"{paths[kind + ', AWS defaults'].total:.0f}",
                f"{shares[1]:.0%}",
                f"{min(shares):.0%}-{max(shares):.0%}",
            ]
        )
    say(table(["path", "ours s", "AWS defaults s", "ours / defaults", f"over {low}-{high} s task start"], ranges))
    budget = staging.health.timeout_seconds
    worst = rolling(s_vals, high, staging.desired_count).total
    worst_defaults = rolling(AWS_DEFAULTS, high, staging.desired_count).total
    say(
        f"\nThe tool waits for the ECS rollout inside the staging verification budget (health.timeout_seconds = "
        f"{budget:g} s): our rolling path fits it even with a {high} s task start ({worst:.0f} s); with the AWS "
        f"defaults ({worst_defaults:.0f} s) every staging deploy would time out."
    )
    say(
        "\nThe blue-green cutover has no deregistration delay on its path: the previous colour keeps running "
        "through the bake period and drains only when `deploytool finalize` scales it down. The grace period "
        "is not on the success path either; it delays how soon ECS replaces a task that fails its checks "
        f"(staging: at least {s_vals['health_check_grace_period_seconds']} s)."
    )
    return results


# -- 8. push -> verified (CI critical path) ---------------------------------------------------------------------
# The setup step of a deploy job, measured by bench_setup.py (clean venv, warm pip cache, 2 busy cores;
# see bench/README.md): today's `make setup` and the hash-locked runtime install that replaces it.
SETUP_S = {"make setup": 95.6, "deploy install": 16.8}
SETUP_MEASURED = "2026-12-02: medians of 3 timed runs each after an untimed warm-up, on 2 busy cores"
# Assumptions (seconds), stated in the output: not measured here.
IMAGE_BUILD_S = 60  # docker build of the service with the layer cache warm (30-120 s)
IMAGE_PUSH_S = 20  # push of the changed layers to ECR (10-40 s)
APPLY_AWS_S = 15  # `deploytool deploy`'s apply on AWS: init from cache, plan + apply of an image tag (AWS API latency)


def push_to_verified(shares_in: dict[str, Any]) -> dict[str, float]:
    """Push -> verified for a staging branch deploy: setup + image build/push + apply + rollout + verification."""
    from deploytool.config import load_config

    staging = load_config(REPO / "deploy.toml").environment("staging")
    ours = effective_settings(REPO / "modules" / "app-rolling")[0]
    start = FARGATE_START[1]
    verify = verification_s(staging.health)
    say("## 8. Push -> verified: the deploy job's critical path (computed)")
    say()
    say(
        f"setup measured by bench_setup.py ({SETUP_MEASURED}); assumed: image build {IMAGE_BUILD_S} s with a warm "
        f"layer cache, push {IMAGE_PUSH_S} s, apply on AWS {APPLY_AWS_S} s, Fargate task start {start} s; the rollout "
        "as in section 6; verification from deploy.toml (passes x interval)."
    )
    say()
    columns = {
        "staging defaults, deploy install": (ours, SETUP_S["deploy install"]),
        "AWS defaults, deploy install": (AWS_DEFAULTS, SETUP_S["deploy install"]),
        "staging defaults, make setup": (ours, SETUP_S["make setup"]),
    }
    totals: dict[str, float] = {}
    steps: dict[str, list[float]] = {}
    for name, (values, setup) in columns.items():
        rollout = rolling(values, start, staging.desired_count).total
        steps[name] = [setup, IMAGE_BUILD_S, IMAGE_PUSH_S, APPLY_AWS_S, rollout, verify]
        totals[name] = sum(steps[name])
    labels = [
        "setup (venv + install)",
        "image build (model)",
        "image push (model)",
        "apply (model)",
        "rollout (section 6)",
        "verification",
    ]
    rows = [[label, *[f"{steps[n][i]:.0f}" for n in columns]] for i, label in enumerate(labels)]
    rows.append(["total", *[f"{totals[n]:.0f}" for n in columns]])
    say(table(["step (s)", *columns], rows))
    ours_total, defaults_total = totals["staging defaults, deploy install"], totals["AWS defaults, deploy install"]
    say(
        f"\npush -> verified: {ours_total:.0f} s with our staging settings vs {defaults_total:.0f} s with AWS's "
        "defaults "
        f"({ours_total / defaults_total:.0%}); the locked install saves "
        f"{SETUP_S['make setup'] - SETUP_S['deploy install']:.0f} s of setup per deploy job."
    )
    return {"ours": ours_total, "defaults": defaults_total, "make_setup": totals["staging defaults, make setup"]}


# -- 7. cost ----------------------------------------------------------------------------------------------------
HOURS = 730  # per month
PRICES_AS_OF = "2025, as published on the AWS pricing pages named below; not fetched at run time"
# us-east-1, on-demand list prices, USD. They may have changed: check the pages before quoting.
PRICES = {
    "fargate_vcpu_hour": (0.04048, "AWS Fargate pricing, Linux/x86, per vCPU-hour"),
    "fargate_gb_hour": (0.004445, "AWS Fargate pricing, Linux/x86, per GB-hour"),
    "alb_hour": (0.0225, "Elastic Load Balancing pricing, Application Load Balancer-hour"),
    "alb_lcu_hour": (0.008, "Elastic Load Balancing pricing, LCU-hour"),
    "nat_hour": (0.045, "Amazon VPC pricing, NAT gateway-hour"),
    "nat_gb": (0.045, "Amazon VPC pricing, NAT gateway data processed per GB"),
    "ipv4_hour": (0.005, "Amazon VPC pricing, public IPv4 address-hour (since Feb 2024)"),
    "rds_t3_micro_hour": (0.018, "Amazon RDS for PostgreSQL pricing, db.t3.micro Single-AZ"),
    "rds_gp2_gb_month": (0.115, "Amazon RDS pricing, General Purpose (gp2) storage per GB-month"),
    "logs_ingest_gb": (0.50, "Amazon CloudWatch pricing, Logs ingestion per GB (standard)"),
    "logs_store_gb_month": (0.03, "Amazon CloudWatch pricing, Logs storage per GB-month"),
    "alarm_month": (0.10, "Amazon CloudWatch pricing, standard-resolution alarm per month"),
    "dashboard_month": (3.00, "Amazon CloudWatch pricing, dashboard per month (beyond the free 3)"),
    "kms_key_month": (1.00, "AWS KMS pricing, customer managed key per month"),
    "secret_month": (0.40, "AWS Secrets Manager pricing, secret per month"),
}
# Usage assumptions (per branch environment per month unless stated).
LOG_GB = 1.0  # container logs ingested (30-day retention keeps about as much stored)
IMAGE_PULL_GB = 5.0  # image pulls through the NAT gateway (e.g. 25 deploys x 200 MB)
ALB_LCU = 0.2  # average LCUs of a low-traffic staging load balancer
ALB_IPV4 = 2  # an internet-facing ALB holds a public IPv4 address per AZ (2 AZs)
ALARMS = 7  # the monitoring module's alarms


def price(key: str) -> float:
    return PRICES[key][0]


def branch_items(cpu: int, memory: int, tasks: int) -> list[tuple[str, float]]:
    vcpu, gb = cpu / 1024, memory / 1024
    fargate = tasks * (vcpu * price("fargate_vcpu_hour") + gb * price("fargate_gb_hour")) * HOURS
    return [
        (f"Fargate: {tasks} task x {vcpu:g} vCPU / {gb:g} GB, 24/7", fargate),
        (
            f"CloudWatch Logs: {LOG_GB:g} GB ingested + stored",
            LOG_GB * (price("logs_ingest_gb") + price("logs_store_gb_month")),
        ),
        (f"NAT data: {IMAGE_PULL_GB:g} GB of image pulls", IMAGE_PULL_GB * price("nat_gb")),
        ("target group, listener rule, security group, task definition", 0.0),
    ]


def platform_items(db_class: str, storage_gb: int, nat_gateways: int) -> list[tuple[str, float]]:
    if db_class != "db.t3.micro":
        raise SystemExit(f"bench: the cost model has a price for db.t3.micro only, not {db_class}")
    return [
        ("ALB: hours", price("alb_hour") * HOURS),
        (f"ALB: {ALB_LCU:g} LCU average", ALB_LCU * price("alb_lcu_hour") * HOURS),
        (f"ALB: {ALB_IPV4} public IPv4 addresses", ALB_IPV4 * price("ipv4_hour") * HOURS),
        (f"NAT gateway x {nat_gateways}: hours", nat_gateways * price("nat_hour") * HOURS),
        (f"NAT gateway x {nat_gateways}: Elastic IP", nat_gateways * price("ipv4_hour") * HOURS),
        ("RDS PostgreSQL db.t3.micro Single-AZ", price("rds_t3_micro_hour") * HOURS),
        (
            f"RDS storage: {storage_gb} GB gp2 (backups within the free allowance)",
            storage_gb * price("rds_gp2_gb_month"),
        ),
        ("DB password secret", price("secret_month")),
        (
            f"monitoring: {ALARMS} alarms, KMS key, dashboard",
            ALARMS * price("alarm_month") + price("kms_key_month") + price("dashboard_month"),
        ),
    ]


def money(value: float) -> str:
    return f"{value:,.2f}"


def cost() -> dict[str, float]:
    from deploytool.config import load_config

    config = load_config(REPO / "deploy.toml")
    staging = config.environment("staging")
    database_vars = variable_defaults(REPO / "modules" / "rds-postgis" / "variables.tf")
    storage = int(database_vars["allocated_storage"])  # the platform composition keeps the module's size
    nat = {"none": 0, "single": 1, "one_per_az": 2}[staging.platform.nat]
    tasks = staging.autoscaling.min if staging.autoscaling else staging.desired_count
    if staging.platform.db_multi_az:
        raise SystemExit("bench: the cost model prices a Single-AZ database only")
    branch = branch_items(staging.cpu, staging.memory, tasks)
    platform = platform_items(staging.platform.db_instance_class, storage, nat)
    naive = branch + platform
    branch_total = sum(v for _, v in branch)
    platform_total = sum(v for _, v in platform)
    naive_total = sum(v for _, v in naive)

    say("## 7. Monthly cost of a branch environment (computed, us-east-1 list prices)")
    say()
    say(
        f"settings from deploy.toml (staging): cpu {staging.cpu}, memory {staging.memory}, "
        f"{tasks} task (autoscaling min), database {staging.platform.db_instance_class} "
        f"({storage} GB, multi-AZ {staging.platform.db_multi_az}), NAT {staging.platform.nat!r}; {HOURS} h per month."
    )
    say()
    rows = [[name, money(v), "branch environment + naive stack"] for name, v in branch]
    rows += [[name, money(v), "shared platform (once) / naive stack (per branch)"] for name, v in platform]
    say(table(["item", "USD / month", "paid by"], rows))
    say()
    summary = [
        ["one branch environment on the shared platform", money(branch_total)],
        ["the shared staging platform (once per environment)", money(platform_total)],
        ["naive per-branch full stack (own ALB, RDS, NAT)", money(naive_total)],
        ["naive / branch environment", f"{naive_total / branch_total:.1f}x"],
    ]
    for n in (1, 5, 20):
        shared = platform_total + n * branch_total
        summary.append(
            [
                f"N = {n}: shared platform + N branch environments vs N naive stacks",
                f"{money(shared)} vs {money(n * naive_total)}",
            ]
        )
    say(table(["", "USD / month"], summary))
    say(f"\nunit prices (us-east-1, on-demand, USD; as of {PRICES_AS_OF}; list prices that may have changed):")
    say(table(["price", "USD", "source"], [[k, f"{v:g}", src] for k, (v, src) in PRICES.items()]))
    say(
        f"\nusage assumptions: {LOG_GB:g} GB logs and {IMAGE_PULL_GB:g} GB of image pulls per branch per month; "
        f"ALB {ALB_LCU:g} LCU average; no data transfer out, no free tier, no Savings Plans."
    )
    return {"branch": branch_total, "naive": naive_total, "platform": platform_total}


def main() -> int:
    say("# deploytool models (computed, nothing is run)")
    say()
    shares = critical_path()
    say()
    costs = cost()
    say()
    path = push_to_verified(shares)
    say()
    say("## Headline (models)")
    say()
    rows = [
        [
            "rolling deploy, staging / AWS defaults",
            f"{shares['rolling']:.0%}",
            "<= 25%",
            "met" if shares["rolling"] <= 0.25 else "MISSED",
        ],
        ["blue-green cutover, production / AWS defaults", f"{shares['blue-green']:.0%}", "-", ""],
        [
            "push -> verified, staging defaults / AWS defaults",
            f"{path['ours'] / path['defaults']:.0%}",
            "-",
            "",
        ],
        [
            "setup step: deploy install / make setup",
            f"{SETUP_S['deploy install'] / SETUP_S['make setup']:.0%}" if SETUP_S["make setup"] else "-",
            "<= 20%",
            ("met" if SETUP_S["deploy install"] <= 0.2 * SETUP_S["make setup"] else "MISSED")
            if SETUP_S["make setup"]
            else "",
        ],
        [
            "branch environment / naive per-branch stack (cost)",
            f"{costs['branch'] / costs['naive']:.0%}",
            "-",
            "",
        ],
    ]
    say(table(["measure", "value", "target", ""], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
