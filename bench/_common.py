"""Shared pieces of the benchmarks: a private emulator session, timers, phase profiles, CPU meters, tables.

A session runs in a private ``DEPLOYTOOL_HOME`` and ``DEPLOYTOOL_DATA_DIR`` (temporary directories),
starts its own emulator, bootstraps and applies the ``local`` platform once, and stops everything it
started when it closes. With ``BENCH_SESSION_DIR`` set, the session lives in that directory instead
and is kept (emulator running, platform applied) for the next run, which then skips the ~90 s
platform apply; ``DEPLOYTOOL_HOME=$BENCH_SESSION_DIR/home deploytool emulator stop`` ends it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[1]
CONFIG_ENV = "BENCH_CONFIG"
"""The deploy.toml a session's runs use (default: the checkout's); a baseline's run sets its own."""


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or REPO / "deploy.toml")
SESSION_ENV = "BENCH_SESSION_DIR"

# Never reach real AWS: fake credentials before anything creates a client.
for _var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE"):
    os.environ.pop(_var, None)
os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"


def say(line: str = "") -> None:
    print(line, flush=True)


# -- statistics and tables -------------------------------------------------------------------------
@dataclass(frozen=True)
class Stats:
    """Median, min and max of a sample (seconds unless stated)."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        if not samples:
            raise ValueError("no samples")
        return cls(statistics.median(samples), min(samples), max(samples), len(samples))

    def cells(self, digits: int = 1) -> list[str]:
        return [f"{self.median:.{digits}f}", f"{self.low:.{digits}f}", f"{self.high:.{digits}f}", str(self.n)]


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown pipe table (right-aligned numbers), readable as plain text too."""
    cells = [[str(c) for c in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def numeric(col: int) -> bool:
        values = [row[col] for row in cells[1:]]
        return all(_is_number(v) for v in values) and any(v not in ("-", "") for v in values)

    right = [numeric(i) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [c.rjust(w) if r else c.ljust(w) for c, w, r in zip(row, widths, right, strict=True)]
        return "| " + " | ".join(parts) + " |"

    rule = "|" + "|".join(("-" * (w + 1) + ":") if r else ("-" * (w + 2)) for w, r in zip(widths, right, strict=True))
    return "\n".join([line(cells[0]), rule + "|", *[line(row) for row in cells[1:]]])


def _is_number(text: str) -> bool:
    cleaned = text.rstrip("x%s").replace(",", "")
    try:
        float(cleaned)
    except ValueError:
        return text in ("-", "")
    return True


def ratio(numerator: float, denominator: float) -> str:
    return f"{numerator / denominator:.2f}x" if denominator else "-"


class Clock:
    """``with clock:`` measures one wall-clock interval; ``clock.seconds`` keeps the last one."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._start = 0.0

    def __enter__(self) -> Clock:
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self._start


# -- phase profiles ----------------------------------------------------------------------------------
class Phases:
    """Exclusive wall time per phase, measured by wrapping the tool's own functions.

    ``instrument`` replaces each (owner, attribute) with a wrapper for the duration of a ``with``
    block; nested wrapped calls are charged to the inner phase only (per thread), so the phases of a
    single-threaded run add up to the time spent inside wrapped functions; phases that run in
    threads side by side (the app stack's prepare beside its inputs' look-ups) overlap in wall time.
    An attribute the profiled version of the tool lacks is skipped (the benchmarks also profile the
    version before a change).
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._local = threading.local()  # per thread: the active calls, [start, time charged to children]

    @property
    def _stack(self) -> list[list[float]]:
        stack: list[list[float]] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    def snapshot(self) -> dict[str, float]:
        return dict(self.seconds)

    def since(self, snapshot: dict[str, float]) -> dict[str, float]:
        return {k: v - snapshot.get(k, 0.0) for k, v in self.seconds.items() if v - snapshot.get(k, 0.0) > 1e-9}

    def _wrap(self, label: str, func: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            frame = [time.perf_counter(), 0.0]
            self._stack.append(frame)
            try:
                return func(*args, **kwargs)
            finally:
                self._stack.pop()
                elapsed = time.perf_counter() - frame[0]
                self.seconds[label] += elapsed - frame[1]
                self.calls[label] += 1
                if self._stack:
                    self._stack[-1][1] += elapsed

        wrapper.__wrapped__ = func  # type: ignore[attr-defined]
        return wrapper

    @contextlib.contextmanager
    def instrument(self, points: Sequence[tuple[object, str, str]]) -> Iterator[Phases]:
        """Wrap ``owner.attribute`` as phase ``label`` for each (owner, attribute, label)."""
        saved = []
        try:
            for owner, attribute, label in points:
                original = getattr(owner, attribute, None)
                if original is None:
                    continue
                saved.append((owner, attribute, original))
                setattr(owner, attribute, self._wrap(label, original))
            yield self
        finally:
            for owner, attribute, original in reversed(saved):
                setattr(owner, attribute, original)


def tool_points() -> list[tuple[object, str, str]]:
    """The functions a deploy/apply/destroy runs through, each as a phase."""
    from deploytool import ledger, localrun, stack, stackops, terraform
    from deploytool.release import rolling

    return [
        (stack.Stack, "prepare", "prepare (sources, override file, init check)"),
        (terraform.Runner, "init", "terraform init"),
        (terraform.Runner, "select_workspace", "terraform workspace show/select/new"),
        (terraform.Runner, "workspaces", "terraform workspace list"),
        (terraform.Runner, "delete_workspace", "terraform workspace delete"),
        (terraform.Runner, "state_resources", "terraform state list"),
        (stackops, "app_context", "inputs (platform outputs, ECR, listener priority; while Terraform starts)"),
        (stackops, "render_tfvars", "render tfvars"),
        (terraform.Runner, "plan", "terraform plan"),
        (terraform.Runner, "show_json", "terraform show -json"),
        (terraform.Runner, "apply", "terraform apply"),
        (terraform.Runner, "apply_now", "terraform apply -json (plan + apply, one process)"),
        (terraform.Runner, "destroy", "terraform destroy"),
        (stackops, "stack_outputs", "read outputs from state"),
        (localrun.LocalRuntime, "roll_out", "start local task (stand-in)"),
        (rolling, "verify", "verify (HTTP, ECS, targets)"),
        (ledger.Ledger, "write", "ledger writes"),
        (ledger.Ledger, "last_known_good", "ledger read (last known good)"),
    ]


def phase_rows(samples: Sequence[dict[str, float]], totals: Sequence[float]) -> list[list[str]]:
    """Rows (phase, median s, share of the median total) over runs; the rest is 'other (Python, AWS calls)'."""
    labels: list[str] = []
    for sample in samples:
        labels += [k for k in sample if k not in labels]
    total = statistics.median(totals)
    rows = []
    accounted = [sum(s.values()) for s in samples]
    order = [label for _, _, label in tool_points()]
    for label in sorted(labels, key=lambda k: order.index(k) if k in order else len(order)):
        med = statistics.median(s.get(label, 0.0) for s in samples)
        rows.append([label, f"{med:.2f}", f"{100 * med / total:.0f}%"])
    other = statistics.median(t - a for t, a in zip(totals, accounted, strict=True))
    rows.append(["other (Python between the phases)", f"{other:.2f}", f"{100 * other / total:.0f}%"])
    rows.append(["total", f"{total:.2f}", "100%"])
    return rows


class TerraformCalls:
    """Counts and times every Terraform process the runner starts, by subcommand."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def instrument(self) -> Iterator[TerraformCalls]:
        from deploytool import terraform

        original = terraform.Runner.run

        def run(runner: Any, args: Sequence[str], **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(runner, args, **kwargs)
            finally:
                name = " ".join(a for a in args[:2] if not a.startswith("-")) if args[0] == "workspace" else args[0]
                name += " -json" if args[0] == "apply" and "-json" in args else ""
                with self._lock:
                    self.seconds[name] += time.perf_counter() - started
                    self.calls[name] += 1

        terraform.Runner.run = run
        try:
            yield self
        finally:
            terraform.Runner.run = original


def profiled_cli() -> None:
    """Run the deploytool CLI with ``sys.argv[2:]`` under the phase and Terraform-process profiles and
    write them as JSON to ``sys.argv[1]``; exits with the CLI's exit code.

    The benchmarks start it as ``python -c "import _common; _common.profiled_cli()" OUT ARGS...``, so
    a measured CLI run is also a profiled one; the wrappers cost microseconds per call.
    """
    import json

    started = time.perf_counter()
    from deploytool.cli import main

    imported = time.perf_counter()
    phases, calls = Phases(), TerraformCalls()
    code: int | str | None = 0
    with phases.instrument(tool_points()), calls.instrument():
        try:
            main(args=sys.argv[2:], prog_name="deploytool")
        except SystemExit as exc:
            code = exc.code
    profile = {
        "imports_s": imported - started,
        "run_s": time.perf_counter() - imported,
        "phases": dict(phases.seconds),
        "terraform": {name: [calls.calls[name], calls.seconds[name]] for name in calls.calls},
    }
    Path(sys.argv[1]).write_text(json.dumps(profile))
    raise SystemExit(code)


# -- CPU ----------------------------------------------------------------------------------------------
def _proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (itself, not its children) from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def background_load(seconds: float = 3.0) -> float:
    """Fraction of all cores busy over ``seconds`` (other processes on a shared machine skew timings)."""
    busy, total = _machine_busy()
    time.sleep(seconds)
    busy2, total2 = _machine_busy()
    return (busy2 - busy) / max(1, total2 - total)


@dataclass
class CpuReading:
    wall_s: float
    tool_cpu_s: float  # this process and every child it waited for (Terraform, providers)
    emulator_cpu_s: float
    machine_busy: float  # fraction of all cores busy, whoever used them
    cores: int

    @property
    def utilisation(self) -> float:
        """CPU used by the tool + the emulator, as a fraction of all cores over the interval."""
        return (self.tool_cpu_s + self.emulator_cpu_s) / (self.wall_s * self.cores) if self.wall_s else 0.0


@contextlib.contextmanager
def cpu_meter(emulator_pid: int | None) -> Iterator[Callable[[], CpuReading]]:
    """Measure CPU over the ``with`` block; call the yielded function afterwards for the reading."""

    def own() -> float:
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    start_wall, start_own = time.perf_counter(), own()
    start_emu = _proc_cpu_seconds(emulator_pid) if emulator_pid else 0.0
    start_busy, start_total = _machine_busy()
    reading: list[CpuReading] = []
    try:
        yield lambda: reading[0]
    finally:
        busy, total = _machine_busy()
        reading.append(
            CpuReading(
                wall_s=time.perf_counter() - start_wall,
                tool_cpu_s=own() - start_own,
                emulator_cpu_s=(_proc_cpu_seconds(emulator_pid) - start_emu) if emulator_pid else 0.0,
                machine_busy=(busy - start_busy) / max(1, total - start_total),
                cores=os.cpu_count() or 1,
            )
        )


def serialise_hcl_parsing() -> None:
    """Make the emulator override's HCL parsing safe for the janitor's worker threads in this process.

    python-hcl2 (8.1) is not thread-safe: parsed concurrently, an expression such as a remote
    state's ``config = var.x`` sometimes comes back as a plain string, so ``deploytool.emulator``
    renders ``merge("var.x", ...)`` into the shared override file and concurrent plans and
    destroys fail with "Error in function call". Until the tool serialises the parsing itself,
    the benchmarks take one lock around it (a no-op cost: the roots parse in milliseconds).
    """
    from deploytool import emulator

    original = emulator.hcl_load
    if getattr(original, "_bench_serialised", False):
        return
    lock = threading.Lock()

    def load(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return original(*args, **kwargs)

    load._bench_serialised = True  # type: ignore[attr-defined]
    emulator.hcl_load = load


# -- the session ----------------------------------------------------------------------------------------
@dataclass
class Session:
    """A private emulator with the ``local`` platform applied, and the ``local`` target on it."""

    root: Path
    keep: bool
    target: Any = None
    emulator_pid: int | None = None
    platform_s: float | None = None
    log: IO[str] = field(default_factory=lambda: open(os.devnull, "w"))  # noqa: SIM115

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def env(self) -> dict[str, str]:
        """Environment for deploytool subprocesses (the same private home, data dir and emulator)."""
        return {**os.environ, "DEPLOYTOOL_HOME": str(self.home), "DEPLOYTOOL_DATA_DIR": str(self.data)}

    def open(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(parents=True, exist_ok=True)
        os.environ["DEPLOYTOOL_HOME"] = str(self.home)
        os.environ["DEPLOYTOOL_DATA_DIR"] = str(self.data)
        os.environ.pop("DEPLOYTOOL_TERRAFORM_BIN", None)
        from deploytool import bootstrap, stackops, state, toolchain
        from deploytool import emulator as emu
        from deploytool.config import load_config
        from deploytool.errors import DeployError
        from deploytool.stack import Target

        serialise_hcl_parsing()
        tc = toolchain.Toolchain(self.home)
        if not tc.mirror_installed():
            toolchain.install(tc)
        os.environ.update(tc.terraform_env())
        self.log = (self.root / "terraform.log").open("a")
        info = emu.start()
        self.emulator_pid = info.pid
        os.environ["AWS_ENDPOINT_URL"] = info.endpoint
        config = load_config(config_path())
        self.target = Target(
            config=config, settings=config.environment("local"), endpoint=info.endpoint, progress=self.log
        )
        bootstrap.bootstrap(self.target)
        try:
            state.platform_outputs(self.target)
            say(f"session: reusing the emulator at {info.endpoint} and its platform ({self.root})")
        except DeployError:
            say(f"session: emulator at {info.endpoint}; applying the local platform (ALB and RDS waits: ~1.5 min)")
            with Clock() as clock:
                stackops.apply_stack(self.target, "platform")
            self.platform_s = clock.seconds
            say(f"session: platform applied in {clock.seconds:.0f} s")

    def close(self) -> None:
        from deploytool import emulator as emu

        if self.target is not None:
            with contextlib.suppress(Exception):
                self.target.runtime.stop_all()
        if not self.keep:
            emu.stop()
        self.log.close()
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def session() -> Iterator[Session]:
    """A private session (temp dirs, own emulator), or the kept one in ``$BENCH_SESSION_DIR``."""
    kept = os.environ.get(SESSION_ENV)
    root = Path(kept) if kept else Path(tempfile.mkdtemp(prefix="deploytool-bench-"))
    s = Session(root=root, keep=bool(kept))
    try:
        s.open()
        yield s
    finally:
        s.close()


def fail(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)
