"""Deploy jobs install deploytool's runtime alone (requirements/deploy.txt): no emulator, no
offline provider, no test, dev or service packages. Every command must still load and explain
itself there; what needs an extra imports it when it runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Installed by `make setup` (extras), not by the deploy jobs' hash-locked install.
NOT_IN_DEPLOY_JOBS = ("moto", "cloudrail", "psycopg", "fastapi", "uvicorn", "pytest", "yaml", "redis", "locust")


def test_every_command_loads_and_helps_without_the_extras() -> None:
    script = textwrap.dedent(
        f"""
        import importlib.abc, sys
        BLOCKED = {NOT_IN_DEPLOY_JOBS!r}

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ModuleNotFoundError(f"No module named {{name!r}} (not in requirements/deploy.txt)")
                return None

        sys.meta_path.insert(0, Block())
        from click.testing import CliRunner
        from deploytool.cli import main
        from deploytool.cli.base import load_commands

        runner = CliRunner()
        failed = []
        for name, command in sorted(load_commands().items()):
            args = [name, "--help"]
            result = runner.invoke(main, args)
            if result.exit_code != 0:
                failed.append((name, repr(result.exception), result.output[-300:]))
            for sub in getattr(command, "commands", {{}}):
                result = runner.invoke(main, [name, sub, "--help"])
                if result.exit_code != 0:
                    failed.append((f"{{name}} {{sub}}", repr(result.exception), result.output[-300:]))
        print(len(load_commands()))
        assert not failed, failed
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert int(result.stdout.split()[-1]) >= 20, result.stdout
