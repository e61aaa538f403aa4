"""Measured benchmarks on the local AWS emulator, in one session (the platform is applied once).

Sections (``--only`` picks some; all by default):

* ``overhead``  ``deploytool apply`` (CLI) of an image-tag change vs raw ``terraform apply`` with the
  same tfvars, root, workspace and warm data dir; plus where the tool spends the difference.
* ``lifecycle`` branch environment create, image-tag deploy (verified against the local stand-in)
  and destroy, with a phase breakdown; and rollback: a broken release rolled back automatically,
  timed from the failing verdict to the prior release verified again.
* ``janitor``   ``cleanup`` of N branch environments with 1 worker vs 4 (CPU measured), plus a plot.
* ``plans``     plan time of a branch environment with 1, 10 and 50 workspaces in the backend.

Run: ``.venv/bin/python bench/bench_all.py`` (``make bench`` runs it). ``--runs`` sets the repetitions
(default 5, medians reported with min/max); ``BENCH_JANITOR_N`` the janitor sizes (default 5,10, which keeps
``make bench`` under 15 minutes on 2 cores; ``BENCH_JANITOR_N=5,10,20`` adds the 20-environment run, ~8 more minutes).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helpers next to this script

from _common import (
    CONFIG_ENV,
    REPO,
    SESSION_ENV,
    Clock,
    Phases,
    Session,
    Stats,
    TerraformCalls,
    background_load,
    config_path,
    cpu_meter,
    fail,
    phase_rows,
    ratio,
    say,
    session,
    table,
    tool_points,
)

SECTIONS = ("overhead", "lifecycle", "janitor", "plans")
BASELINE = "07ad741"
"""The commit measured as 'before' (``--baseline``, ``BENCH_BASELINE``; empty: none): the tool before
one Terraform process per apply and per destroy."""
BROKEN = {"GEOAPI_REQUIRE_DATABASE": "true", "DATABASE_URL": ""}  # makes the database mandatory, drops its URL
TARGETS = {
    "overhead": 1.5,  # tool / raw Terraform, at most
    "rollback": 1.5,  # verdict -> rollback verified, over one verified image-tag deploy, at most
    "janitor": 3.0,  # serial / 4 workers at the largest N, at least
    "janitor_cpu": 3.5,  # CPU-seconds per destroy (tool + Terraform + provider), at most
    "plans": 1.15,  # plan time with 50 workspaces / with 1, at most
}


@dataclass
class Headline:
    name: str
    value: float
    target: str
    met: bool
    note: str = ""
    unit: str = "x"


@dataclass
class Report:
    headlines: list[Headline] = field(default_factory=list)

    def add(self, name: str, value: float, target: str, met: bool, note: str = "", unit: str = "x") -> None:
        self.headlines.append(Headline(name, value, target, met, note, unit))


def section(title: str) -> None:
    say()
    say(f"## {title}")
    say()


# -- 1. overhead -----------------------------------------------------------------------------------------
BENCH_DIR = Path(__file__).resolve().parent


def cli(
    s: Session, *args: str, profile: Path | None = None, pythonpath: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``deploytool ARGS`` in a subprocess (profiled into ``profile`` when given; the version in
    ``pythonpath`` when given, e.g. the baseline's); fail on error."""
    config = pythonpath / "deploy.toml" if pythonpath is not None else config_path()
    tail = [*args, "--config", str(config)]
    if profile is None:
        argv = [sys.executable, "-m", "deploytool.cli", *tail]
    else:
        code = f"import sys; sys.path.insert(0, {str(BENCH_DIR)!r}); import _common; _common.profiled_cli()"
        argv = [sys.executable, "-c", code, str(profile), *tail]
    env = s.env()
    if pythonpath is not None:
        env.update(baseline_env(s, pythonpath))
    # `python -m`/`-c` put the working directory first on sys.path: the checkout's deploytool/ would win
    cwd = pythonpath if pythonpath is not None else REPO
    proc = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        fail(f"`deploytool {' '.join(args)}` exited {proc.returncode}: {proc.stderr[-1500:]}")
    return proc


BASELINE_PARTS = ("deploytool", "deploy.toml", "environments", "modules")
"""What a baseline brings of its own: the tool, and the configuration and Terraform roots it was made for."""


def baseline_tree(ref: str, into: Path) -> Path:
    """``ref``'s tool, deploy.toml and Terraform roots, extracted into ``into``: its runs put it first
    on PYTHONPATH and use its own config (so its own roots), data directory and workspaces
    (``baseline_env``), so each version runs exactly what it was written for."""
    if not (into / "deploytool").is_dir():
        into.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "-C", str(REPO), "archive", ref, *BASELINE_PARTS], capture_output=True, check=False
        )
        if archive.returncode != 0:
            fail(f"cannot read the baseline {ref!r}: {archive.stderr.decode(errors='replace').strip()}")
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def baseline_env(s: Session, baseline: Path) -> dict[str, str]:
    """The environment of a baseline's runs: its code first, its config, a data directory of its own."""
    return {
        "PYTHONPATH": str(baseline),
        CONFIG_ENV: str(baseline / "deploy.toml"),
        "DEPLOYTOOL_DATA_DIR": str(s.root / f"data-{baseline.name}"),
    }


def raw_terraform_env(s: Session, data_dir: Path) -> dict[str, str]:
    """What a user running Terraform by hand in the tool's root would set: the CLI config of the
    toolchain, the emulator's AWS environment and the tool's data dir for the workspace."""
    from deploytool import emulator as emu
    from deploytool import toolchain

    env = {
        **s.env(),
        **toolchain.default_toolchain().terraform_env(),
        **emu.aws_env(s.target.endpoint, s.target.settings.region),
        "TF_DATA_DIR": str(data_dir),
        "TF_IN_AUTOMATION": "1",
        "TF_INPUT": "0",
        "CHECKPOINT_DISABLE": "1",
    }
    env.pop("TF_WORKSPACE", None)
    return {k: v for k, v in env.items() if v != ""}


def bench_overhead(s: Session, runs: int, report: Report, baseline: Path | None = None) -> None:
    from deploytool import inputs
    from deploytool.render import render_tfvars
    from deploytool.stack import Stack

    section("1. Overhead: `deploytool apply` vs raw `terraform apply` (image-tag change)")
    target, branch = s.target, "bench/overhead"
    names = target.names(branch)
    cli(s, "apply", "--env", "local", "--branch", branch, "--image-tag", "ovh-0", "--yes")  # create + warm
    stack = Stack(target, "app", names.workspace)
    env = raw_terraform_env(s, stack.data_dir)
    tfvars = s.root / "raw.tfvars"
    profile = s.root / "profile.json"
    raw_argv = [sys.executable, "-m", "deploytool.tfmain", "apply", "-input=false", "-no-color", "-auto-approve"]
    tools = {"tool": None} if baseline is None else {"tool": None, "before": baseline}
    # Each version applies a workspace of its own (its roots may differ): only the image tag changes.
    branches = {"tool": branch, "before": f"{branch}-before"}
    if baseline is not None:
        warm = ("apply", "--env", "local", "--branch", branches["before"], "--image-tag", "ovh-0", "--yes")
        cli(s, *warm, pythonpath=baseline)
    samples: dict[str, list[float]] = {"raw": [], **{name: [] for name in tools}}
    profiles: dict[str, list[dict[str, Any]]] = {name: [] for name in tools}
    order = ["raw", *tools]
    for i in range(1, runs + 1):
        # Rotate which goes first, so drift in the machine's load favours none.
        for which in order[i % len(order) :] + order[: i % len(order)]:
            if which in tools:
                tag = f"ovh-{which}-{i}"
                args = ("apply", "--env", "local", "--branch", branches[which], "--image-tag", tag, "--yes")
                with Clock() as clock:
                    cli(s, *args, profile=profile, pythonpath=tools[which])
                samples[which].append(clock.seconds)
                profiles[which].append({**json.loads(profile.read_text()), "wall_s": clock.seconds})
                continue
            # The tfvars the tool renders, with a new tag (rendered before the clock starts).
            tfvars.write_text(render_tfvars(stack.root, inputs.app_context(target, names, f"ovh-raw-{i}")))
            with Clock() as clock:
                proc = subprocess.run(
                    [*raw_argv, f"-var-file={tfvars}"],
                    cwd=stack.root,
                    env=env,
                    capture_output=True,
                    text=True,
                    check=False,
                )
            if proc.returncode != 0 or "Apply complete" not in proc.stdout or " 0 changed, 0 destroyed" in proc.stdout:
                fail(f"raw terraform apply did not apply a change: {(proc.stdout + proc.stderr)[-1500:]}")
            samples["raw"].append(clock.seconds)
        say(f"  run {i}: " + ", ".join(f"{name} {samples[name][-1]:.1f} s" for name in order))
    stats = {name: Stats.of(values) for name, values in samples.items()}
    raw = stats["raw"]
    labels = {
        "tool": "deploytool apply (CLI, this version)",
        "before": "deploytool apply (CLI, before: the baseline)",
        "raw": "terraform apply (raw: same tfvars, root, workspace, warm data dir)",
    }
    say(
        table(
            ["image-tag change", "median s", "min s", "max s", "runs"], [[labels[n], *stats[n].cells()] for n in order]
        )
    )
    starts = {n: statistics.median(p["wall_s"] - p["run_s"] - p["imports_s"] for p in profiles[n]) for n in tools}
    floor = starts["tool"] + raw.median
    value = stats["tool"].median / raw.median
    say(f"\nratio tool / raw (medians): {value:.2f}x (target <= {TARGETS['overhead']:.2f}x)")
    note = f"floor (Python start + one Terraform process) {floor / raw.median:.2f}x"
    if "before" in tools:
        before = stats["before"].median / raw.median
        say(f"ratio before / raw (medians): {before:.2f}x")
        note = f"before {before:.2f}x; {note}"
    say(f"floor: Python start {starts['tool']:.2f} s + raw apply {raw.median:.2f} s = {floor / raw.median:.2f}x of raw")
    report.add(
        "apply overhead (tool / raw Terraform)",
        value,
        f"<= {TARGETS['overhead']:.2f}x",
        value <= TARGETS["overhead"],
        note,
    )

    say("\nwhere the tool's time goes (the same CLI runs, each phase timed; median seconds):")
    columns = [n for n in ("before", "tool") if n in tools]
    per: dict[str, dict[str, str]] = {}
    for name in columns:
        rows = phase_rows([p["phases"] for p in profiles[name]], [p["run_s"] for p in profiles[name]])
        rows = [[r[0], r[1]] for r in rows[:-1]]
        rows.insert(0, ["Python start (interpreter)", f"{starts[name]:.2f}"])
        imports = statistics.median(p["imports_s"] for p in profiles[name])
        rows.insert(1, ["imports (deploytool.cli and what the command needs)", f"{imports:.2f}"])
        rows.append(["total (CLI wall time)", f"{stats[name].median:.2f}"])
        per[name] = dict((r[0], r[1]) for r in rows)
    labels_seen: list[str] = []
    for name in columns:
        labels_seen += [k for k in per[name] if k not in labels_seen]
    labels_seen.sort(key=lambda k: (k.startswith("total"), k.startswith("other")))
    headers = ["phase", *[{"before": "before s", "tool": "after s"}[n] for n in columns]]
    say(table(headers, [[k, *[per[n].get(k, "-") for n in columns]] for k in labels_seen]))
    say("\nTerraform processes per `deploytool apply` (raw Terraform: one `apply` process):")
    proc_rows = []
    for name in columns:
        procs = profiles[name]
        seen = sorted({k for p in procs for k in p["terraform"]})
        for key in seen:
            count = statistics.median(p["terraform"].get(key, [0, 0.0])[0] for p in procs)
            secs = statistics.median(p["terraform"].get(key, [0, 0.0])[1] for p in procs)
            proc_rows.append([name.replace("tool", "after"), f"terraform {key}", f"{count:.0f}", f"{secs:.2f}"])
        all_count = statistics.median(sum(v[0] for v in p["terraform"].values()) for p in procs)
        all_secs = statistics.median(sum(v[1] for v in p["terraform"].values()) for p in procs)
        proc_rows.append(
            [name.replace("tool", "after"), "all Terraform processes", f"{all_count:.0f}", f"{all_secs:.2f}"]
        )
    proc_rows.append(["", "raw `terraform apply`", "1", f"{raw.median:.2f}"])
    say(table(["version", "process", "count", "median s"], proc_rows))
    from deploytool import stackops

    stackops.destroy(target, branch)
    if baseline is not None:
        cli(s, "destroy", "--env", "local", "--branch", branches["before"], "--yes", pythonpath=baseline)


# -- 2 + 3. lifecycle and rollback ---------------------------------------------------------------------------
def bench_lifecycle(s: Session, runs: int, report: Report) -> None:
    from deploytool import release, stackops
    from deploytool.errors import RolledBackError
    from deploytool.localrun import push_stand_in_image

    section("2. Branch environment: create, image-tag deploy (verified), destroy")
    target = s.target
    phases = Phases()
    kinds = ("create (`apply` of a new branch)", "image-tag deploy (verified)", "destroy")
    totals: dict[str, list[float]] = {k: [] for k in kinds}
    profiles: dict[str, list[dict[str, float]]] = {k: [] for k in kinds}
    rollback_s: list[float] = []
    detect_s: list[float] = []
    rollback_profiles: list[dict[str, float]] = []
    for tag in ("life-b", "life-broken"):
        push_stand_in_image(target, tag)  # deploy refuses a tag not in ECR; CI's build job pushes it
    for i in range(1, runs + 1):
        branch = f"bench/lifecycle-{i}"

        def timed(kind: str, action: Callable[[], object]) -> None:
            phases.reset()
            with Clock() as clock:
                action()
            totals[kind].append(clock.seconds)
            profiles[kind].append(phases.snapshot())

        with phases.instrument(tool_points()):
            timed(kinds[0], partial(stackops.apply_stack, target, "app", branch=branch, image_tag="life-a"))
            timed(kinds[1], partial(release.deploy_release, target, branch, "life-b"))
            # A broken release: verification fails, the tool re-applies life-b and verifies it.
            marks: dict[str, float] = {}
            at_verdict: dict[str, float] = {}

            def progress(message: str, marks: dict[str, float] = marks, at: dict[str, float] = at_verdict) -> None:
                if message.startswith("verification failed"):
                    marks["verdict"] = time.perf_counter()
                    at.update(phases.snapshot())

            phases.reset()
            started = time.perf_counter()
            try:
                release.deploy_release(target, branch, "life-broken", environment=BROKEN, progress=progress)
            except RolledBackError:
                ended = time.perf_counter()
            else:
                fail("the broken release passed verification")
            if "verdict" not in marks:
                fail("no 'verification failed' progress message before the rollback")
            rollback_s.append(ended - marks["verdict"])
            detect_s.append(marks["verdict"] - started)
            rollback_profiles.append(phases.since(at_verdict))
            timed(kinds[2], partial(stackops.destroy, target, branch))
        say(
            f"  run {i}: create {totals[kinds[0]][-1]:.1f} s, deploy {totals[kinds[1]][-1]:.1f} s, "
            f"rollback {rollback_s[-1]:.1f} s after the verdict, destroy {totals[kinds[2]][-1]:.1f} s"
        )
    say(
        table(
            ["operation", "median s", "min s", "max s", "runs"], [[k, *Stats.of(v).cells()] for k, v in totals.items()]
        )
    )
    say("\nwhere the time goes (median seconds per phase):")
    columns = [phase_rows(profiles[k], totals[k]) for k in kinds]
    labels = [row[0] for row in columns[0]]
    for col in columns[1:]:
        labels += [row[0] for row in col if row[0] not in labels]
    labels = [label for label in labels if label not in ("other (Python between the phases)", "total")] + [
        "other (Python between the phases)",
        "total",
    ]
    rows = []
    for label in labels:
        values = [next((r[1] for r in col if r[0] == label), "-") for col in columns]
        if all(v in ("-", "0.00") for v in values):
            continue
        rows.append([label, *values])
    say(table(["phase", "create", "deploy", "destroy"], rows))

    section("3. Rollback: failing verdict -> prior release applied and verified")
    deploy_stats = Stats.of(totals[kinds[1]])
    rb = Stats.of(rollback_s)
    rows = [
        ["deploy of the broken release until the failing verdict", *Stats.of(detect_s).cells()],
        ["verdict -> rollback applied and verified", *rb.cells()],
        ["one verified image-tag deploy (section 2)", *deploy_stats.cells()],
    ]
    say(table(["", "median s", "min s", "max s", "runs"], rows))
    value = rb.median / deploy_stats.median
    say(f"\nratio rollback / verified image-tag deploy (medians): {value:.2f}x (target <= {TARGETS['rollback']}x)")
    say("\nrollback phases (median seconds after the verdict):")
    say(table(["phase", "median s", "share"], phase_rows(rollback_profiles, rollback_s)))
    report.add(
        "rollback (verdict -> verified) / verified deploy",
        value,
        f"<= {TARGETS['rollback']:.2f}x",
        value <= TARGETS["rollback"],
    )


# -- 4. janitor --------------------------------------------------------------------------------------------
def create_envs(s: Session, branches: list[str], workers: int = 3) -> None:
    from deploytool import stackops

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda b: stackops.apply_stack(s.target, "app", branch=b, image_tag="jan-1"), branches))


@dataclass
class JanitorRun:
    n: int
    parallel: int
    wall_s: float
    destroy_s: float = 0.0  # median time of one destroy as its worker saw it
    tool_cpu_s: float = 0.0
    emulator_cpu_s: float = 0.0
    utilisation: float = 0.0
    machine_busy: float = 0.0
    processes: int = 0
    process_s: float = 0.0
    prefix_of: int | None = None  # serial runs of smaller N: the first n destroys of this serial run

    @property
    def cpu_s(self) -> float:
        return self.tool_cpu_s + self.emulator_cpu_s


def run_janitor(s: Session, n: int, parallel: int) -> tuple[JanitorRun, list[float], TerraformCalls]:
    """Create ``n`` branch environments (not timed), then time ``cleanup`` destroying them with
    ``parallel`` workers. Returns the run, the seconds at which each destroy finished, the processes."""
    from deploytool import cleanup

    target = s.target
    branches = [f"bench/janitor-{n}-{parallel}-{k}" for k in range(n)]
    with Clock() as setup:
        create_envs(s, branches)
    wanted = {target.names(b).workspace for b in branches}
    calls = TerraformCalls()
    finished: list[float] = []
    started = time.perf_counter()

    def progress(line: str) -> None:
        if ": destroyed in " in line:
            finished.append(time.perf_counter() - started)

    with calls.instrument(), cpu_meter(s.emulator_pid) as reading, Clock() as clock:
        plan = cleanup.plan_cleanup(target, open_branches=["main"], older_than=timedelta(0))
        selected = [d for d in plan.to_destroy if d.workspace in wanted]
        outcomes = cleanup.run_cleanup(target, selected, parallel=parallel, progress=progress)
    failed = [o for o in outcomes if o.result != "destroyed"]
    for outcome in failed:
        tail = Path(outcome.log).read_text(errors="replace").splitlines()[-40:] if outcome.log else []
        say(f"  {outcome.workspace}: {outcome.result}: {outcome.message}\n    " + "\n    ".join(tail))
    if len(selected) != n or failed:
        fail(f"janitor run N={n} --parallel {parallel}: {len(selected)} of {n} selected, {len(failed)} failed")
    r = reading()
    run = JanitorRun(
        n,
        parallel,
        clock.seconds,
        statistics.median(o.duration_s for o in outcomes),
        r.tool_cpu_s,
        r.emulator_cpu_s,
        r.utilisation,
        r.machine_busy,
        sum(calls.calls.values()),
        sum(calls.seconds.values()),
    )
    say(
        f"  N={n:>2} --parallel {parallel}: {clock.seconds:.1f} s (created in {setup.seconds:.0f} s, not measured); "
        f"tool + emulator used {r.utilisation:.0%} of {r.cores} cores, the machine was {r.machine_busy:.0%} busy"
    )
    return run, finished, calls


def janitor_before(s: Session, sizes: list[int], baseline: Path) -> dict[str, Any]:
    """The janitor section run by the baseline version (a child process on the same session)."""
    out = s.root / "janitor-before.json"
    env = {
        **s.env(),
        **baseline_env(s, baseline),
        SESSION_ENV: str(s.root),
        "BENCH_JANITOR_N": ",".join(map(str, sizes)),
        "BENCH_BASELINE": "",
    }
    argv = [sys.executable, str(Path(__file__).resolve()), "--only", "janitor", "--no-plot", "--json-out", str(out)]
    argv += ["--baseline", ""]  # the child measures its own version only
    say("  (before: the baseline's janitor runs first, in a child process on this session)")
    proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        fail(f"the baseline's janitor run exited {proc.returncode}: {(proc.stdout + proc.stderr)[-2500:]}")
    data: dict[str, Any] = json.loads(out.read_text())["janitor"]
    return data


def bench_janitor(
    s: Session, sizes: list[int], report: Report, plot: Path | None, baseline: Path | None = None
) -> dict[str, Any]:
    section(f"4. Janitor: `cleanup` of N branch environments, 1 worker vs 4 (N = {', '.join(map(str, sizes))})")
    before = janitor_before(s, sizes, baseline) if baseline is not None else None
    largest = sizes[-1]
    # One serial run at the largest N: a serial janitor destroys one environment after the other, so the
    # time at which its k-th destroy finishes is the time of a serial run with N = k.
    serial, finished, calls = run_janitor(s, largest, 1)
    results = [serial]
    for n in sizes[:-1]:
        results.append(JanitorRun(n, 1, finished[n - 1], prefix_of=largest))
    for n in sizes:
        results.append(run_janitor(s, n, 4)[0])
    results.sort(key=lambda r: (r.n, r.parallel))

    def cells(run: JanitorRun) -> list[str]:
        if run.prefix_of is not None:
            note = f"first {run.n} destroys of the N = {run.prefix_of} serial run"
            return [str(run.n), str(run.parallel), f"{run.wall_s:.1f}", note, "", "", "", "", "", ""]
        return [
            str(run.n),
            str(run.parallel),
            f"{run.wall_s:.1f}",
            f"{run.destroy_s:.1f}",
            f"{run.processes / run.n:.0f}",
            f"{run.process_s / run.processes:.2f}",
            f"{run.tool_cpu_s / run.n:.1f}",
            f"{run.emulator_cpu_s / run.n:.1f}",
            f"{run.utilisation:.0%}",
            f"{run.machine_busy:.0%}",
        ]

    headers = [
        "N",
        "workers",
        "wall s",
        "one destroy s",
        "terraform runs per env",
        "s per terraform run",
        "tool CPU s per env",
        "emulator CPU s per env",
        "cores used by tool+emulator",
        "machine busy (all processes)",
    ]
    say(table(headers, [cells(r) for r in results]))
    say()
    cores = os.cpu_count() or 1
    cpu_env = serial.cpu_s / largest  # CPU seconds (tool + emulator) one destroy needs
    wall_env = serial.wall_s / largest

    def floor(n: int) -> float:
        """No number of workers can destroy n environments faster than their CPU seconds over the cores."""
        return n * cpu_env / cores

    speedups = []
    for n in sizes:
        one = next(r for r in results if r.n == n and r.parallel == 1)
        four = next(r for r in results if r.n == n and r.parallel == 4)
        speedups.append(
            [
                n,
                f"{one.wall_s:.1f}",
                f"{four.wall_s:.1f}",
                ratio(one.wall_s, four.wall_s),
                f"{floor(n):.1f}",
                ratio(one.wall_s, floor(n)),
            ]
        )
    say(table(["N", "1 worker s", "4 workers s", "speed-up", "CPU floor s", "speed-up at the floor"], speedups))
    say(
        f"\nOne destroy needs {cpu_env:.1f} CPU-seconds (tool + emulator) and took {wall_env:.1f} s serially: it keeps "
        f"{cpu_env / wall_env:.2f} cores busy (Terraform, its provider and the emulator overlap). CPU floor = "
        f"N x {cpu_env:.1f} s / {cores} cores, the least wall time any number of workers can reach. "
        f"3x on {cores} cores would need <= {cores * wall_env / 3:.1f} CPU-seconds per destroy, or "
        f"{3 * cpu_env / wall_env:.1f} cores at today's {cpu_env:.1f}."
    )
    say(f"\nTerraform processes of one destroy (serial run, N = {largest}, per environment):")
    rows = [
        [f"terraform {name}", f"{calls.calls[name] / largest:.1f}", f"{calls.seconds[name] / largest:.2f}"]
        for name in sorted(calls.calls, key=lambda k: -calls.seconds[k])
    ]
    say(table(["process", "count", "s"], rows))
    one = next(r for r in results if r.n == largest and r.parallel == 1)
    four = next(r for r in results if r.n == largest and r.parallel == 4)
    value = one.wall_s / four.wall_s
    report.add(
        f"janitor speed-up, 4 workers vs 1, N = {largest}",
        value,
        f">= {TARGETS['janitor']:.1f}x",
        value >= TARGETS["janitor"],
        f"at the CPU floor of {cores} cores: {one.wall_s / floor(largest):.2f}x",
    )
    per_destroy = serial.tool_cpu_s / largest
    after = {
        "runs": [dataclasses.asdict(r) for r in results],
        "calls": {k: [calls.calls[k] / largest, calls.seconds[k] / largest] for k in calls.calls},
        "cpu_per_destroy": per_destroy,
    }
    note = ""
    if before is not None:
        janitor_comparison(before, after, sizes)
        note = f"before {before['cpu_per_destroy']:.1f}"
    report.add(
        "janitor CPU-s per destroy (tool + Terraform + provider, serial run)",
        per_destroy,
        f"<= {TARGETS['janitor_cpu']:.1f}",
        per_destroy <= TARGETS["janitor_cpu"],
        note,
        unit="",
    )
    if plot is not None:
        plot_janitor(results, plot, cores, cpu_env)
        say(f"\nplot: {plot.relative_to(REPO) if plot.is_relative_to(REPO) else plot}")
    return after


def janitor_comparison(before: dict[str, Any], after: dict[str, Any], sizes: list[int]) -> None:
    """Before/after tables of the janitor: CPU per destroy, Terraform processes, 1-vs-4 speed-up."""

    def run(data: dict[str, Any], n: int, parallel: int) -> dict[str, Any]:
        return next(r for r in data["runs"] if r["n"] == n and r["parallel"] == parallel)

    say("\nbefore / after (the baseline's run first, then this version's, same session):")
    rows = []
    for n in sizes:
        for parallel in (1, 4):
            b, a = run(before, n, parallel), run(after, n, parallel)
            measured = b["prefix_of"] is None and a["prefix_of"] is None
            rows.append(
                [
                    n,
                    parallel,
                    f"{b['wall_s']:.1f}",
                    f"{a['wall_s']:.1f}",
                    f"{b['tool_cpu_s'] / n:.1f}" if measured else "-",
                    f"{a['tool_cpu_s'] / n:.1f}" if measured else "-",
                    f"{b['processes'] / n:.0f}" if measured else "-",
                    f"{a['processes'] / n:.0f}" if measured else "-",
                ]
            )
    headers = [
        "N",
        "workers",
        "wall s before",
        "wall s after",
        "CPU-s per destroy before",
        "after",
        "terraform runs per destroy before",
        "after",
    ]
    say(table(headers, rows))
    say()
    rows = []
    for n in sizes:
        speed = [run(d, n, 1)["wall_s"] / run(d, n, 4)["wall_s"] for d in (before, after)]
        rows.append([n, f"{speed[0]:.2f}x", f"{speed[1]:.2f}x"])
    say(table(["N", "1 worker / 4 workers before", "after"], rows))
    say()
    names = sorted(set(before["calls"]) | set(after["calls"]))
    rows = [
        [
            f"terraform {k}",
            f"{before['calls'].get(k, [0, 0])[0]:.1f}",
            f"{after['calls'].get(k, [0, 0])[0]:.1f}",
            f"{before['calls'].get(k, [0, 0])[1]:.2f}",
            f"{after['calls'].get(k, [0, 0])[1]:.2f}",
        ]
        for k in names
    ]
    say(table(["process per destroy (serial run)", "count before", "after", "s before", "after"], rows))
    say(
        f"\nCPU-seconds per destroy (tool + Terraform + provider, os.times() with children; serial run): "
        f"{before['cpu_per_destroy']:.1f} -> {after['cpu_per_destroy']:.1f}"
    )


def plot_janitor(results: list[JanitorRun], path: Path, cores: int, cpu_per_env: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for parallel, style in ((1, "o-"), (4, "s-")):
        runs = sorted((r for r in results if r.parallel == parallel), key=lambda r: r.n)
        label = "--parallel 1" if parallel == 1 else f"--parallel {parallel}"
        ax.plot([r.n for r in runs], [r.wall_s for r in runs], style, label=label)
    sizes = sorted({r.n for r in results})
    ax.plot(
        sizes,
        [n * cpu_per_env / cores for n in sizes],
        "k--",
        linewidth=1,
        label=f"CPU floor: N x {cpu_per_env:.1f} CPU-s / {cores} cores",
    )
    ax.set_xlabel("branch environments destroyed (N)")
    ax.set_ylabel("wall time (s)")
    measured = [r.machine_busy for r in results if r.prefix_of is None]
    busy = f"\nthe machine was {min(measured):.0%}-{max(measured):.0%} busy (all processes)" if measured else ""
    ax.set_title(f"deploytool cleanup on the emulator, {cores} cores{busy}", fontsize=10)
    ax.set_xticks(sorted({r.n for r in results}))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# -- 5. plan time vs workspaces ---------------------------------------------------------------------------------
class GhostWorkspaces:
    """Empty workspaces in the backend (a minimal state object each, as ``workspace new`` leaves) with a
    host rule each on the shared listener, as real branch environments have; added and removed cheaply."""

    def __init__(self, s: Session, listener_arn: str) -> None:
        self.target = s.target
        self.s3, self.elbv2 = self.target.clients()("s3"), self.target.clients()("elbv2")
        self.listener_arn = listener_arn
        self.made: list[tuple[str, str]] = []  # (state key, rule ARN)

    def resize(self, count: int) -> None:
        env, bucket = self.target.env, self.target.state_bucket
        while len(self.made) > count:
            key, rule = self.made.pop()
            self.s3.delete_object(Bucket=bucket, Key=key)
            self.elbv2.delete_rule(RuleArn=rule)
        while len(self.made) < count:
            k = len(self.made)
            workspace = f"{env}-bench-ghost-{k}"
            key = f"workspaces/{workspace}/{env}/app/terraform.tfstate"
            state = {"version": 4, "terraform_version": "1.15.5", "serial": 1, "lineage": str(uuid.uuid4())}
            self.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps({**state, "outputs": {}, "resources": []}))
            rule = self.elbv2.create_rule(
                ListenerArn=self.listener_arn,
                Priority=100 + k,  # below the range the tool picks from (1000+)
                Conditions=[{"Field": "host-header", "HostHeaderConfig": {"Values": [f"{workspace}.bench.invalid"]}}],
                Actions=[{"Type": "fixed-response", "FixedResponseConfig": {"StatusCode": "404"}}],
            )["Rules"][0]["RuleArn"]
            self.made.append((key, rule))


def bench_plans(s: Session, runs: int, report: Report) -> None:
    from deploytool import stackops, state, status

    section("5. Plan time vs the number of workspaces in the backend")
    target, branch = s.target, "bench/plan-scaling"
    counts = (1, 10, 50)
    stackops.apply_stack(target, "app", branch=branch, image_tag="plan-1")
    ghosts = GhostWorkspaces(s, str(state.platform_outputs(target)["listener_arn"]))
    totals: dict[int, list[float]] = {c: [] for c in counts}
    profiles: dict[int, list[dict[str, float]]] = {c: [] for c in counts}
    listed: dict[int, int] = {}
    phases = Phases()
    try:
        for i in range(runs):
            # Round-robin over the sizes, so drift in the machine's load favours none of them.
            for count in counts if i % 2 == 0 else tuple(reversed(counts)):
                ghosts.resize(count - 1)
                listed[count] = len(status.list_app_states(target))
                with phases.instrument(tool_points()):
                    phases.reset()
                    with Clock() as clock:
                        stackops.plan_stack(target, "app", branch=branch, image_tag="plan-1")
                totals[count].append(clock.seconds)
                profiles[count].append(phases.snapshot())
            say(f"  round {i + 1}: " + ", ".join(f"{c} workspaces {totals[c][-1]:.1f} s" for c in counts))
    finally:
        ghosts.resize(0)
        stackops.destroy(target, branch)
    rows = [[c, listed[c], *Stats.of(totals[c]).cells()] for c in counts]
    say(table(["workspaces", "in backend", "`deploytool plan` median s", "min s", "max s", "runs"], rows))
    say("\nby phase (median seconds):")
    columns = {c: {r[0]: r[1] for r in phase_rows(profiles[c], totals[c])} for c in counts}
    labels = [label for label in columns[1] if any(columns[c].get(label, "-") not in ("-", "0.00") for c in counts)]
    phase_table = [[label, *(columns[c].get(label, "-") for c in counts)] for label in labels]
    say(table(["phase", *(f"{c} workspaces" for c in counts)], phase_table))
    value = statistics.median(totals[50]) / statistics.median(totals[1])
    say(f"\nratio 50 / 1 workspaces (medians): {value:.2f}x (flat means <= {TARGETS['plans']:.2f}x)")
    report.add("plan time, 50 workspaces / 1", value, f"<= {TARGETS['plans']:.2f}x", value <= TARGETS["plans"])


# -- main ---------------------------------------------------------------------------------------------------
def janitor_sizes() -> list[int]:
    raw = os.environ.get("BENCH_JANITOR_N", "10,20")
    try:
        sizes = sorted({int(v) for v in raw.split(",") if v.strip()})
    except ValueError:
        fail(f"BENCH_JANITOR_N must be comma-separated numbers, not {raw!r}")
    if not sizes or min(sizes) < 1:
        fail("BENCH_JANITOR_N needs at least one size >= 1")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated sections of: {', '.join(SECTIONS)}"
    )
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "5")), help="repetitions (>= 1)")
    parser.add_argument("--plot", type=Path, default=Path(__file__).resolve().parent / "janitor.png")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument(
        "--baseline",
        default=os.environ.get("BENCH_BASELINE", BASELINE),
        help="a commit: its deploytool/ is measured too (overhead, janitor), as 'before', in the same run",
    )
    parser.add_argument("--json-out", type=Path, help="write the janitor results as JSON here")
    args = parser.parse_args(argv)
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(SECTIONS))
    if unknown or args.runs < 1:
        parser.error(f"unknown sections {unknown}" if unknown else "--runs must be at least 1")
    if "lifecycle" in only:
        from deploytool.demo import local_database_ready

        problem = local_database_ready()
        if problem:
            fail(
                f"verified deploys need the local PostgreSQL with PostGIS the stand-in uses ({problem}); "
                "run `sudo bash .ci/install-postgis.sh`, or run the other sections (--only overhead,janitor,plans)"
            )
    report = Report()
    started = time.perf_counter()
    with session() as s:
        say(f"# deploytool benchmarks ({os.cpu_count()} cores, {args.runs} runs per measurement)")
        say(f"\nbackground load before the runs: {background_load():.0%} of all cores busy (other processes)")
        if s.platform_s is not None:
            say(f"\nsession setup: local platform applied in {s.platform_s:.0f} s (once, not measured)")
        # One directory per ref: a kept session (BENCH_SESSION_DIR) must not measure another ref's tree.
        baseline = baseline_tree(args.baseline, s.root / f"baseline-{args.baseline}") if args.baseline else None
        if baseline is not None:
            say(f"\nbefore/after: 'before' is deploytool/ as of {args.baseline} ({baseline})")
        if "overhead" in only:
            bench_overhead(s, args.runs, report, baseline)
        if "lifecycle" in only:
            bench_lifecycle(s, args.runs, report)
        if "janitor" in only:
            janitor = bench_janitor(s, janitor_sizes(), report, None if args.no_plot else args.plot, baseline)
            if args.json_out is not None:
                args.json_out.write_text(json.dumps({"janitor": janitor}))
        if "plans" in only:
            bench_plans(s, args.runs, report)
    section("Headline ratios (one run)")
    rows = [
        [h.name, f"{h.value:.2f}{h.unit}", h.target, "met" if h.met else "MISSED", h.note] for h in report.headlines
    ]
    say(table(["measure", "value", "target", "", "note"], rows))
    say(f"\ntotal {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
