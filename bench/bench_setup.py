"""Measured: the setup step of a deploy job, today's `make setup` vs the hash-locked runtime install.

* ``make setup`` (what every job ran before): a venv, pip upgraded, ``pip install -e '.[emulator,test,dev,service]'``,
  ``deploytool toolchain install`` (the offline provider mirror), and checkov's own venv.
* deploy install (``make setup-deploy``): a venv,
  ``pip install --require-hashes --no-deps -r requirements/deploy.txt -r requirements/build.txt``, then
  ``pip install --no-deps --no-build-isolation .`` (deploytool's runtime dependencies and its build
  backend only, every file's hash checked).

Both run in clean temporary venvs against a warm pip cache (each is run once untimed first, as a
CI cache restore would leave it), alternating, ``--runs`` times each (default 1); the median is
reported. The recipe of ``make setup`` is run step by step (the Makefile's own commands), so the
checkout's ``.venv`` is never touched.

Run: ``.venv/bin/python bench/bench_setup.py`` (``make bench`` runs it; ~10 min on 2 busy cores).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the helpers next to this script

from _common import REPO, say, table

TARGET = 0.20  # deploy install / make setup, at most
PYTHON = os.environ.get("BENCH_PYTHON", shutil.which("python3") or sys.executable)


def make_setup(work: Path) -> list[list[str]]:
    """The commands of the Makefile's setup recipe, with the venvs in ``work``."""
    venv, checkov = work / "venv", work / "venv-checkov"
    return [
        [PYTHON, "-m", "venv", str(venv)],
        [str(venv / "bin" / "pip"), "install", "--quiet", "--upgrade", "pip"],
        [str(venv / "bin" / "pip"), "install", "--quiet", "-e", ".[emulator,test,dev,service]"],
        [str(venv / "bin" / "deploytool"), "toolchain", "install"],
        [PYTHON, "-m", "venv", str(checkov)],
        [str(checkov / "bin" / "pip"), "install", "--quiet", "checkov>=3"],
    ]


def deploy_install(work: Path) -> list[list[str]]:
    """The deploy jobs' setup: the locked runtime dependencies, then deploytool without dependencies."""
    venv = work / "venv"
    pip = str(venv / "bin" / "pip")
    locks = ["-r", "requirements/deploy.txt", "-r", "requirements/build.txt"]
    return [
        [PYTHON, "-m", "venv", str(venv)],
        [pip, "install", "--quiet", "--no-compile", "--require-hashes", "--no-deps", *locks],
        [pip, "install", "--quiet", "--no-compile", "--no-deps", "--no-build-isolation", "."],
    ]


RECIPES = {"make setup": make_setup, "deploy install (requirements/deploy.txt)": deploy_install}


def timed(name: str) -> float:
    """Run recipe ``name`` in a fresh temporary directory; its wall seconds."""
    work = Path(tempfile.mkdtemp(prefix="deploytool-setup-"))
    leftovers_before = {p for p in (REPO / "build", *REPO.glob("*.egg-info")) if p.exists()}
    env = {**os.environ, "DEPLOYTOOL_HOME": str(work / "home")}
    env.pop("VIRTUAL_ENV", None)
    try:
        started = time.perf_counter()
        for argv in RECIPES[name](work):
            proc = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                raise SystemExit(f"bench: `{' '.join(argv)}` exited {proc.returncode}: {proc.stderr[-1500:]}")
        return time.perf_counter() - started
    finally:
        shutil.rmtree(work, ignore_errors=True)
        # `pip install .` builds in the checkout: leave nothing behind that was not there
        for path in {REPO / "build", *REPO.glob("*.egg-info")} - leftovers_before:
            shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_SETUP_RUNS", "1")))
    parser.add_argument("--no-warm-up", action="store_true", help="the pip cache is known to be warm")
    args = parser.parse_args(argv)
    say("## Setup step of a deploy job: `make setup` vs the hash-locked runtime install")
    say()
    if not args.no_warm_up:
        for name in RECIPES:
            say(f"  warm-up (untimed, fills the pip cache): {name}: {timed(name):.0f} s")
    samples: dict[str, list[float]] = {name: [] for name in RECIPES}
    for i in range(args.runs):
        order = list(RECIPES) if i % 2 == 0 else list(reversed(RECIPES))
        for name in order:
            samples[name].append(timed(name))
            say(f"  run {i + 1}: {name}: {samples[name][-1]:.1f} s")
    medians = {name: statistics.median(values) for name, values in samples.items()}
    rows = [[name, f"{medians[name]:.1f}", str(len(samples[name]))] for name in RECIPES]
    say()
    say(table(["setup (clean venv, warm pip cache)", "median s", "runs"], rows))
    old, new = medians["make setup"], medians["deploy install (requirements/deploy.txt)"]
    share = new / old
    verdict = "met" if share <= TARGET else "MISSED"
    say(f"\ndeploy install / make setup: {share:.0%} (target <= {TARGET:.0%}): {verdict}")
    return medians


if __name__ == "__main__":
    main()
