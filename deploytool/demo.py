"""The embedded default: the whole lifecycle on the local AWS emulator, narrated.

emulator up -> bootstrap -> platform -> PR plan comment -> deploy v1 (its migration first: PostGIS, the
branch's schema, the service's role; then verified) -> deploy a broken v2
(its configuration makes the database mandatory but drops DATABASE_URL, so it refuses to start) ->
automatic rollback to v1 (verified) -> history -> destroy the branch as a merge would -> emulator down.
Nothing is left running. The service runs as a local process standing in for Fargate (local mode only).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from deploytool import bootstrap, localrun, naming, plansummary, release, stackops
from deploytool import emulator as emu
from deploytool.config import load_config
from deploytool.errors import DeployError, ExitCode
from deploytool.localrun import DEFAULT_LOCAL_DB, LOCAL_DB_ENV
from deploytool.runtime import public_url
from deploytool.stack import Target

BRANCH = "feature/demo"
BROKEN_RELEASE = {"GEOAPI_REQUIRE_DATABASE": "true", "DATABASE_URL": ""}


@dataclass
class Step:
    name: str
    exit_code: int
    seconds: float
    note: str = ""


@dataclass
class DemoResult:
    steps: list[Step] = field(default_factory=list)
    url: str | None = None

    @property
    def ok(self) -> bool:
        expected = {"deploy v2 (broken)": ExitCode.ROLLED_BACK}
        return all(s.exit_code == expected.get(s.name, 0) for s in self.steps)

    def table(self) -> str:
        width = max(len(s.name) for s in self.steps)
        lines = [f"{'step':<{width}}  exit  seconds  note", f"{'-' * width}  ----  -------  ----"]
        lines += [f"{s.name:<{width}}  {s.exit_code:>4}  {s.seconds:>7.1f}  {s.note}" for s in self.steps]
        lines.append(f"{'total':<{width}}        {sum(s.seconds for s in self.steps):>7.1f}")
        return "\n".join(lines)


def local_database_ready() -> str | None:
    """None when the local PostgreSQL the stand-in uses answers, else why not."""
    import os

    import psycopg  # the demo's own need: deploy jobs do not install it

    url = os.environ.get(LOCAL_DB_ENV, DEFAULT_LOCAL_DB)
    try:
        with psycopg.connect(url, connect_timeout=3) as conn:
            # A bare database, as RDS gives one: PostGIS installable; the migration creates it.
            row = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'").fetchone()
            # What the RDS master user may do: the migration creates the service's role.
            master = conn.execute("SELECT rolcreaterole FROM pg_roles WHERE rolname = current_user").fetchone()
    except psycopg.Error as exc:
        return f"{url.split('@')[-1]}: {str(exc).strip().splitlines()[0]}"
    if not row:
        return f"{url.split('@')[-1]}: the postgis extension is not installed on the server"
    if not (master and master[0]):
        return f"{url.split('@')[-1]}: its role may not create roles, as the RDS master user may"
    return None


def run_demo(say: Callable[[str], None], *, config_path: Path | None = None) -> DemoResult:
    result = DemoResult()
    problem = local_database_ready()
    if problem:
        raise DeployError(
            f"the local PostgreSQL with PostGIS is not reachable ({problem}); run `sudo bash .ci/install-postgis.sh` "
            f"or point {LOCAL_DB_ENV} at one"
        )
    started_emulator = emu.status() is None
    info = emu.start()
    config = load_config(config_path)
    target = Target(config=config, settings=config.environment("local"), endpoint=info.endpoint)

    def step(name: str, action: Callable[[], str], expect: int = 0) -> None:
        say(f"\n== {len(result.steps) + 1}. {name}")
        begin = time.monotonic()
        code, note = 0, ""
        try:
            note = action()
        except DeployError as exc:
            code, note = exc.exit_code, exc.message
        seconds = time.monotonic() - begin
        result.steps.append(Step(name, code, seconds, note[:110]))
        mark = "ok" if code == expect else "UNEXPECTED"
        say(f"   -> exit {code} ({mark}) in {seconds:.1f}s: {note}")
        if code != expect:
            raise DeployError(f"demo step {name!r} exited {code}, expected {expect}: {note}")

    try:
        step("emulator + bootstrap", lambda: f"emulator at {info.endpoint}; " + _bootstrap(target))
        step("platform", lambda: _platform(target, say))
        step("plan comment", lambda: _plan_comment(target, say))
        step("deploy v1", lambda: _deploy(target, "v1", say, result))
        step("migration (in v1)", lambda: _migration(target, say))
        step("metrics + cache", lambda: _observe(target, say))
        step("deploy v2 (broken)", lambda: _deploy(target, "v2", say, result, BROKEN_RELEASE), ExitCode.ROLLED_BACK)
        step("history", lambda: _history(target, say))
        step("destroy on merge", lambda: stackops.destroy(target, BRANCH, progress=say))
    finally:
        target.runtime.stop_all()
        if started_emulator:
            emu.stop()
    return result


def _bootstrap(target: Target) -> str:
    out = bootstrap.bootstrap(target)
    return f"state bucket {out.state_bucket}, repository {out.ecr_repository_uri.split('/')[-1]}"


def _platform(target: Target, say: Callable[[str], None]) -> str:
    say("   applying the local platform (VPC, cluster, ALB, PostGIS DB, alarms); ALB and RDS waits dominate")
    outputs = stackops.apply_stack(target, "platform")
    return f"cluster {outputs.get('cluster_name')}, listener ready"


def _plan_comment(target: Target, say: Callable[[str], None]) -> str:
    result = stackops.plan_stack(target, "app", branch=BRANCH, image_tag="v1")
    names = target.names(BRANCH)
    body = plansummary.render_markdown(
        result.summary,
        env=target.env,
        workspace=names.workspace,
        plan_text=result.text(),
        url=public_url(target, names),
        ttl=target.settings.ttl,
        marker=target.env,
    )
    result.planfile.unlink(missing_ok=True)
    say("   the pull-request comment the workflow would post:\n")
    say("\n".join("   | " + line for line in body.splitlines()[:40]) + "\n   | ...")
    return result.summary.headline()


def _deploy(
    target: Target, tag: str, say: Callable[[str], None], result: DemoResult, env: dict[str, str] | None = None
) -> str:
    if env:
        say(f"   release {tag} makes the database mandatory but its configuration drops DATABASE_URL")
    localrun.push_stand_in_image(target, tag)  # what CI's build job does; deploy refuses a tag not in ECR
    out = release.deploy_release(target, BRANCH, tag, environment=env, progress=lambda m: say("   " + m))
    result.url = out.url
    host = target.names(BRANCH).host
    return f"{tag} verified through the local LB {out.url} (Host {host})"


def _migration(target: Target, say: Callable[[str], None]) -> str:
    """What v1's migration did, before its service started: a one-off task of its task definition."""
    names = target.names(BRANCH)
    records = [r for r in target.ledger().records(target.env, names.workspace) if r.action == "deploy"]
    migration = records[-1].extra.get("migration") if records else None
    if not migration:
        raise DeployError(f"the deploy of v1 recorded no migration (release.migrate_command of {target.env})")
    for line in migration.get("log_tail", [])[-3:]:
        say(f"   | {line}")
    if migration.get("exit_code") != 0:
        raise DeployError(f"v1's migration failed: {migration.get('reason')}")
    return (
        f"schema {naming.db_schema(names)} migrated in {migration.get('duration_s', 0):.1f}s "
        f"before the service started; it runs as {_database_user(target)}"
    )


def _database_user(target: Target) -> str:
    task = target.runtime.task(target.names(BRANCH).service)
    if task is None:
        return "?"
    try:
        body = httpx.get(f"{task.url}/health/detailed", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return "?"
    return str(body.get("components", {}).get("database", {}).get("user") or "?")


def _observe(target: Target, say: Callable[[str], None]) -> str:
    """The cache state, and one CloudWatch metric line (EMF) the running release wrote to its log, as
    awslogs would ship it to CloudWatch Logs, where CloudWatch extracts the metrics."""
    cache = "on" if target.settings.platform.cache else "off (the nearby query goes to PostGIS)"
    say(f"   cache: {cache}")
    log = target.runtime.log_path(target.names(BRANCH).service)
    lines = log.read_text(errors="replace").splitlines() if log is not None and log.is_file() else []
    metrics = [line for line in lines if line.startswith("{") and '"_aws"' in line]
    if not metrics:
        raise DeployError(f"the release wrote no CloudWatch metric (EMF) line to its log {log}")
    chosen = next((line for line in reversed(metrics) if "NearbyQueryLatency" in line), metrics[-1])
    say("   one CloudWatch metric line (EMF) from the release's log:")
    say(f"   {chosen}")
    return f"cache {cache.split(maxsplit=1)[0]}; {len(metrics)} EMF metric lines in the release's log"


def _history(target: Target, say: Callable[[str], None]) -> str:
    records = target.ledger().records(target.env, target.names(BRANCH).workspace)
    for r in records:
        verdict = "verified" if r.verified else ("checks failed" if r.checks else "no checks")
        say(
            f"   {r.time[:19]}  {r.action:<8} {r.outcome:<12} {r.image_before or '-'} -> {r.image_after or '-'}"
            f"  ({verdict})"
        )
    return f"{len(records)} records"
