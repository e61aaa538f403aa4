"""The janitor: destroy branch environments that no open branch needs and that outlived their TTL.

A branch environment is selected when every criterion given holds:

* its branch is gone: an open-branches list was given and no open branch maps (through
  ``deploytool.naming``) to its workspace; and
* it is idle longer than the TTL (``--older-than``, else the environment's ``ttl``): idle is the
  time since its last deploy/apply/rollback in the ledger, else since its state object's last write;

and it is not kept (``--keep``) and no run holds its deploy lock (a release run between its plan
and its verdict: the environment is kept, and taken up again by a later run). The ``default``
workspace and workspaces that are not ``<env>-<slug>`` are never touched. Selection is a pure
function (``decide``) of what ``deploytool.status`` lists, so it is tested on synthetic data.

Destroys run in parallel worker threads, each through ``stackops.destroy_workspace`` in the
workspace's own Terraform data dir, with Terraform's output going to a log file in that data dir.
Each destroy is recorded in the ledger; one failure does not stop the others. A destroy takes the
workspace's deploy lock (``stackops.destroy_workspace``), so a release run that started after the
selection keeps the environment too: reported kept, not failed, and nothing is recorded.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from deploytool import naming, stackops
from deploytool.durations import format_age
from deploytool.errors import DeployError, DeployLockedError
from deploytool.ledger import now as ledger_now
from deploytool.stack import Stack, Target
from deploytool.status import BranchEnvironment, branch_environments

Progress = Callable[[str], None]
LOG_NAME = "cleanup.log"
LOCKED = "a release run holds its deploy lock"


def _quiet(_: str) -> None:
    return None


# -- inputs ------------------------------------------------------------------------------------------
def parse_branch_lines(text: str) -> list[str]:
    """Branch names from a file: one per line; blank lines and ``#`` comments are skipped.

    ``git ls-remote --heads origin`` output works as is: for a line ``<sha>\\trefs/heads/<branch>``
    the last field is taken and ``refs/heads/`` dropped (Git branch names hold no whitespace).
    """
    branches = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        branches.append(line.split()[-1].removeprefix("refs/heads/"))
    return branches


def open_branches_from_text(text: str, source: str) -> list[str]:
    """The branches listed in ``text`` (read from ``source``); an empty list is refused."""
    branches = parse_branch_lines(text)
    if not branches:
        # An empty list would mark every environment as orphaned: far more likely a failed `git ls-remote`.
        raise DeployError(f"{source} lists no branches; refusing to treat every branch environment as orphaned")
    return branches


def read_open_branches(path: Path) -> list[str]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise DeployError(f"cannot read the open-branches file {path}: {exc.strerror}") from exc
    return open_branches_from_text(text, str(path))


def branch_workspaces(target: Target, branches: Iterable[str]) -> set[str]:
    """The workspaces the given branches deploy to."""
    return {target.names(branch).workspace for branch in branches}


def keep_workspaces(target: Target, keep: Iterable[str]) -> set[str]:
    """``--keep`` values as workspaces: each value is taken both as a branch and as a workspace name,
    so either spelling keeps the environment (keeping too much is the safe side)."""
    out: set[str] = set()
    for value in keep:
        out.add(value)
        if value.strip():
            out.add(target.names(value).workspace)
    return out


# -- selection ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Decision:
    """What the janitor does with one workspace, and why."""

    workspace: str
    destroy: bool
    reason: str
    idle: timedelta | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "workspace": self.workspace,
            "destroy": self.destroy,
            "reason": self.reason,
            "idle": format_age(self.idle),
        }


def decide(
    env: str,
    environments: Sequence[BranchEnvironment],
    *,
    now: datetime,
    ttl: timedelta | None,
    open_workspaces: set[str] | None,
    keep: Collection[str] = (),
) -> list[Decision]:
    """One decision per environment: destroy when its branch is gone (``open_workspaces`` given and
    it is not among them) and it is idle longer than ``ttl`` (each criterion only if given); never the
    default workspace, never a workspace outside ``<env>-*``, never a kept one, never one whose deploy
    lock is held."""
    decisions = []
    for item in sorted(environments, key=lambda e: e.workspace):
        ws = item.workspace
        idle = item.idle(now)
        if ws == naming.DEFAULT_WORKSPACE:
            decisions.append(Decision(ws, False, "default workspace (never touched)", idle))
            continue
        if not ws.startswith(f"{env}-"):
            decisions.append(Decision(ws, False, f"not a branch workspace of {env} (never touched)", idle))
            continue
        if ws in keep:
            decisions.append(Decision(ws, False, "kept (--keep)", idle))
            continue
        # Each criterion given must hold: with an open-branches list and a TTL, an environment goes
        # only when no open branch needs it AND it has been idle past the TTL.
        criteria: list[tuple[bool, str]] = []
        if open_workspaces is not None:
            gone = ws not in open_workspaces
            criteria.append((gone, "branch gone" if gone else "branch open"))
        if ttl is not None:
            expired = idle is not None and idle > ttl
            criteria.append((expired, f"idle {format_age(idle)} {'>' if expired else '<='} ttl {format_age(ttl)}"))
        if criteria and all(met for met, _ in criteria) and item.deploy_locked:
            decisions.append(Decision(ws, False, LOCKED, idle))
        elif criteria and all(met for met, _ in criteria):
            decisions.append(Decision(ws, True, "; ".join(why for _, why in criteria), idle))
        else:
            decisions.append(Decision(ws, False, ", ".join(why for _, why in criteria) or "no criterion applies", idle))
    return decisions


@dataclass
class CleanupPlan:
    env: str
    ttl: timedelta | None
    decisions: list[Decision]

    @property
    def to_destroy(self) -> list[Decision]:
        return [d for d in self.decisions if d.destroy]

    @property
    def kept(self) -> list[Decision]:
        return [d for d in self.decisions if not d.destroy]

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "ttl": format_age(self.ttl) if self.ttl else None,
            "destroy": [d.to_dict() for d in self.to_destroy],
            "keep": [d.to_dict() for d in self.kept],
        }


def plan_cleanup(
    target: Target,
    *,
    older_than: timedelta | None = None,
    open_branches: Sequence[str] | None = None,
    keep: Sequence[str] = (),
    now: datetime | None = None,
) -> CleanupPlan:
    """Which branch environments of ``target`` to destroy and why (reads S3 only, runs no Terraform)."""
    if not target.settings.branch_environments:
        raise DeployError(f"environment {target.env!r} has no branch environments to clean up")
    ttl = older_than if older_than is not None else target.settings.ttl
    if ttl is None and open_branches is None:
        raise DeployError(
            "nothing to select by: pass --open-branches-file or --older-than, "
            f"or set ttl for {target.env} in deploy.toml"
        )
    open_ws = branch_workspaces(target, open_branches) if open_branches is not None else None
    decisions = decide(
        target.env,
        branch_environments(target),
        now=now or datetime.now(UTC),
        ttl=ttl,
        open_workspaces=open_ws,
        keep=keep_workspaces(target, keep),
    )
    return CleanupPlan(target.env, ttl, decisions)


def restrict(plan: CleanupPlan, workspaces: Iterable[str]) -> CleanupPlan:
    """``plan`` narrowed to ``workspaces`` (a slice planned earlier): each keeps the decision taken
    now, so one whose branch got a pull request or a deploy since the planning is kept; one that no
    longer exists is reported kept, and nothing outside the list is ever touched."""
    wanted = set(workspaces)
    decisions = [d for d in plan.decisions if d.workspace in wanted]
    known = {d.workspace for d in decisions}
    decisions += [Decision(ws, False, "no longer exists") for ws in sorted(wanted - known)]
    return CleanupPlan(plan.env, plan.ttl, sorted(decisions, key=lambda d: d.workspace))


def read_workspace_list(path: Path | None, text: str | None = None) -> list[str]:
    """Workspace names, one per line (blank lines and ``#`` comments skipped), from ``path`` or
    ``text``; an empty list is refused (far more likely a failed write than a wish to do nothing)."""
    source = "stdin" if path is None else str(path)
    if text is None:
        assert path is not None
        try:
            text = path.read_text()
        except OSError as exc:
            raise DeployError(f"cannot read the workspace list {path}: {exc.strerror}") from exc
    names = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    if not names:
        raise DeployError(f"{source} lists no workspaces")
    return names


def slice_workspaces(workspaces: Sequence[str], max_slices: int) -> list[list[str]]:
    """``workspaces`` dealt round-robin into at most ``max_slices`` slices, each holding at least one
    (no workspace: no slice). Dealing keeps the slices' sizes within one of each other."""
    if max_slices < 1:
        raise DeployError("--slices must be at least 1")
    count = min(max_slices, len(workspaces))
    return [list(workspaces[i::count]) for i in range(count)]


def plan_slices(plan: CleanupPlan, max_slices: int, planned: str | None = None) -> list[dict[str, Any]]:
    """The workspaces ``plan`` destroys as a job matrix: ``[{"slice": 1, "workspaces": [...],
    "planned": <deploy-history timestamp>}, ...]`` (the report ignores records older than ``planned``)."""
    names = [d.workspace for d in plan.to_destroy]
    when = planned or ledger_now()
    slices = enumerate(slice_workspaces(names, max_slices), start=1)
    return [{"slice": i, "workspaces": ws, "planned": when} for i, ws in slices]


def read_slices(path: Path) -> list[dict[str, Any]]:
    """A plan file written by ``plan_slices`` (``--plan-file``)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise DeployError(f"cannot read the plan file {path}: {exc}") from exc
    ok = isinstance(data, list) and all(
        isinstance(s, dict) and isinstance(s.get("slice"), int) and isinstance(s.get("workspaces"), list) for s in data
    )
    if not ok:
        raise DeployError(f"{path} is not a cleanup plan file (a JSON list of slices)")
    slices: list[dict[str, Any]] = data
    return slices


def settled(target: Target, workspace: str, since: str | None = None) -> str:
    """What became of a planned workspace, from its newest deploy-history record: ``destroyed``,
    ``failed`` (its last destroy failed) or ``kept`` (no destroy since ``since``, the planning: it was
    re-checked and kept, or its slice never ran; an older night's failed destroy does not count)."""
    last = target.ledger().last(target.env, workspace)
    if last is None or last.action != "destroy" or (since is not None and last.time < since):
        return "kept"
    return "destroyed" if last.outcome == "success" else "failed"


def slice_report(
    target: Target, slices: Sequence[dict[str, Any]], settle: Callable[[Target, str, str | None], str] = settled
) -> list[dict[str, Any]]:
    """Per slice: how many of its workspaces were destroyed, kept and failed, and each one's result."""
    report = []
    for item in slices:
        since = item.get("planned")
        results = {ws: settle(target, ws, since if isinstance(since, str) else None) for ws in item["workspaces"]}
        counts = {key: sum(1 for r in results.values() if r == key) for key in ("destroyed", "kept", "failed")}
        report.append({"slice": item["slice"], **counts, "workspaces": results})
    return report


# -- destroys -------------------------------------------------------------------------------------------
@dataclass
class Outcome:
    workspace: str
    reason: str
    result: str  # destroyed | already gone | kept (its deploy lock was held) | failed
    duration_s: float = 0.0
    message: str = ""
    log: str | None = None

    @property
    def failed(self) -> bool:
        return self.result == "failed"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def log_path(target: Target, workspace: str) -> Path:
    """Where a destroy's Terraform output goes: the workspace's own data dir."""
    return Stack(target, "app", workspace).data_dir / LOG_NAME


def destroy_one(target: Target, decision: Decision) -> Outcome:
    """Destroy one workspace with Terraform's output in its log file; never raises for a failed destroy."""
    log = log_path(target, decision.workspace)
    started = time.monotonic()
    with log.open("a") as fh:
        fh.write(f"--- {datetime.now(UTC).isoformat()} cleanup: destroying {decision.workspace} ({decision.reason})\n")
        fh.flush()
        own = dataclasses.replace(target, progress=fh)

        def note(line: str) -> None:
            fh.write(line + "\n")
            fh.flush()

        try:
            message = stackops.destroy_workspace(own, decision.workspace, reason=decision.reason, progress=note)
        except DeployLockedError as exc:
            # A release run took the deploy lock after the selection: keep the environment, changed in
            # nothing (the destroy takes the lock before anything else); a later run takes it up again.
            note(f"kept: {exc}")
            return Outcome(decision.workspace, LOCKED, "kept", round(time.monotonic() - started, 1), str(exc), str(log))
        except Exception as exc:
            note(f"failed: {exc}")
            first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            return Outcome(
                decision.workspace,
                decision.reason,
                "failed",
                round(time.monotonic() - started, 1),
                first_line,
                str(log),
            )
    result = "already gone" if "does not exist" in message else "destroyed"
    return Outcome(decision.workspace, decision.reason, result, round(time.monotonic() - started, 1), message, str(log))


def run_cleanup(
    target: Target,
    decisions: Sequence[Decision],
    *,
    parallel: int = 2,
    progress: Progress = _quiet,
    destroy: Callable[[Target, Decision], Outcome] = destroy_one,
) -> list[Outcome]:
    """Destroy the selected workspaces with ``parallel`` workers; a line per start and end goes to
    ``progress``. Returns one outcome per decision, in input order."""
    if parallel < 1:
        raise DeployError("--parallel must be at least 1")
    selected = [d for d in decisions if d.destroy]
    lock = threading.Lock()

    def say(line: str) -> None:
        with lock:
            progress(line)

    def work(decision: Decision) -> Outcome:
        say(f"{decision.workspace}: destroying ({decision.reason}); log: {log_path(target, decision.workspace)}")
        outcome = destroy(target, decision)
        detail = f": {outcome.message}" if outcome.failed else ""
        say(f"{decision.workspace}: {outcome.result} in {outcome.duration_s:.1f}s{detail}")
        return outcome

    futures: list[Future[Outcome]] = []
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="cleanup")
    try:
        futures = [pool.submit(work, d) for d in selected]
        outcomes = []
        for decision, future in zip(selected, futures, strict=True):
            try:
                outcomes.append(future.result())
            except Exception as exc:  # a bug in the worker itself, not a failed destroy
                outcomes.append(Outcome(decision.workspace, decision.reason, "failed", message=str(exc)))
        return outcomes
    finally:
        # On Ctrl-C: start nothing new; running destroys were interrupted along with Terraform.
        pool.shutdown(wait=True, cancel_futures=True)
