"""``requirements/deploy.txt`` is the hash-locked install of deploy jobs: deploytool's runtime
dependencies (``[project] dependencies`` in pyproject.toml) and theirs, nothing of the test, dev
or service extras. Offline: the lock and pyproject.toml are read as text.

Regenerate it after changing the dependencies (pip-tools; the versions the test venv runs)::

    .venv/bin/pip freeze --exclude-editable > /tmp/tested.txt
    pip-compile --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \\
        --constraint=/tmp/tested.txt --output-file=requirements/deploy.txt pyproject.toml

``requirements/build.txt`` locks the build backend deploytool itself is built with in a deploy job
(``pip install --no-build-isolation .``), from ``[build-system] requires``::

    pip-compile --generate-hashes --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \\
        --only-build-deps --build-deps-for=wheel --output-file=requirements/build.txt pyproject.toml
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements" / "deploy.txt"
BUILD_LOCK = REPO / "requirements" / "build.txt"
PYPROJECT = "deploytool (pyproject.toml)"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


@dataclass
class Pin:
    name: str
    version: Version
    hashes: list[str] = field(default_factory=list)
    via: list[str] = field(default_factory=list)


def read_lock(text: str) -> dict[str, Pin]:
    """The pinned packages of a pip-compile lock, by canonical name, with their hashes and ``# via``."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for raw in text.splitlines():
        line = raw.strip()
        match = _PIN.match(raw)
        if match:
            current = Pin(canonicalize_name(match.group(1)), Version(match.group(2)))
            pins[current.name] = current
        elif current is not None and line.startswith("--hash="):
            current.hashes.append(line.removeprefix("--hash=").rstrip(" \\"))
        elif current is not None and line.startswith("#") and line != "# via":
            current.via.append(line.lstrip("# ").removeprefix("via ").strip())
        elif line and not line.startswith("#"):
            raise AssertionError(f"unexpected line in {LOCK.name}: {raw!r}")
    return pins


def runtime_requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [Requirement(spec) for spec in project["dependencies"]]


def divergence(requirements: list[Requirement], pins: dict[str, Pin]) -> list[str]:
    """Every way the lock and the runtime dependencies disagree (empty: they agree)."""
    problems = []
    wanted = {canonicalize_name(r.name): r for r in requirements}
    for name, requirement in wanted.items():
        pin = pins.get(name)
        if pin is None:
            problems.append(f"{requirement} is not in the lock")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{name}=={pin.version} does not satisfy {requirement}")
        elif PYPROJECT not in pin.via:
            problems.append(f"{name} is in the lock, but not as a dependency of pyproject.toml")
    for name, pin in pins.items():
        if PYPROJECT in pin.via and name not in wanted:
            problems.append(f"{name}=={pin.version} is locked as a runtime dependency pyproject.toml no longer has")
        if not pin.hashes:
            problems.append(f"{name}=={pin.version} has no --hash (pip --require-hashes refuses it)")
    return problems


def test_the_lock_pins_exactly_the_runtime_dependencies_with_hashes() -> None:
    pins = read_lock(LOCK.read_text())
    assert divergence(runtime_requirements(), pins) == []
    assert all(h.startswith("sha256:") for pin in pins.values() for h in pin.hashes)


def test_the_lock_holds_nothing_of_the_extras_that_nothing_at_runtime_needs() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = read_lock(LOCK.read_text())
    extras_only = {
        canonicalize_name(Requirement(spec).name)
        for specs in project["optional-dependencies"].values()
        for spec in specs
    } - {canonicalize_name(r.name) for r in runtime_requirements()}
    locked_extras = sorted(name for name in extras_only if name in pins and pins[name].via == [PYPROJECT])
    assert locked_extras == []
    for tool in ("pytest", "ruff", "mypy", "fastapi", "uvicorn", "psycopg", "locust", "matplotlib"):
        assert tool not in pins, f"{tool} is a test/dev/service package, not a deploy job's"


def test_a_divergence_is_found() -> None:
    """The check itself: a new dependency, a raised floor and a dropped one are each reported."""
    pins = read_lock(LOCK.read_text())
    requirements = runtime_requirements()
    assert any("is not in the lock" in p for p in divergence([*requirements, Requirement("leftpad>=1")], pins))
    boto3 = pins["boto3"].version
    raised = [Requirement(f"boto3>{boto3}") if r.name == "boto3" else r for r in requirements]
    assert any(p.startswith(f"boto3=={boto3} does not satisfy") for p in divergence(raised, pins))
    dropped = [r for r in requirements if r.name != "rich"]
    assert any(p.startswith("rich==") and "no longer has" in p for p in divergence(dropped, pins))


def test_the_build_lock_pins_the_build_backend_with_hashes() -> None:
    """A deploy job builds deploytool without build isolation, from this lock: every requirement of
    ``[build-system] requires`` pinned within its specifier, with hashes, and nothing else."""
    build = tomllib.loads((REPO / "pyproject.toml").read_text())["build-system"]["requires"]
    wanted = {canonicalize_name(Requirement(spec).name): Requirement(spec) for spec in build}
    pins = read_lock(BUILD_LOCK.read_text())
    assert set(pins) == set(wanted)
    for name, pin in pins.items():
        assert wanted[name].specifier.contains(pin.version), f"{name}=={pin.version} does not satisfy {wanted[name]}"
        assert pin.hashes and all(h.startswith("sha256:") for h in pin.hashes)
    make = (REPO / "Makefile").read_text()
    assert "-r requirements/build.txt" in make and "--no-build-isolation ." in make
