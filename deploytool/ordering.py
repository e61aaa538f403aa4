"""Release ordering: never deploy a commit older than the one that already runs.

Two builds of one branch can finish in either order; without a check, the one that finishes late
deploys its older commit over the newer one. In CI an image tag is the commit SHA it was built
from, so when both the tag being deployed and the tag running name commits in the checkout,
``git merge-base --is-ancestor`` says whether the new one is older. A tag that names no commit
here (``v1.2.3``, a digest, a commit the checkout lacks) cannot be ordered: the deploy goes on
and says why it could not check.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from deploytool.errors import DeployError

_HEX = re.compile(r"[0-9a-f]{7,64}")


def _git(checkout: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(
            ["git", "-C", str(checkout), *args], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None


def commit_of(checkout: Path, tag: str) -> str | None:
    """The full SHA of the commit ``tag`` names in ``checkout`` (None: not a commit SHA known there)."""
    if not _HEX.fullmatch(tag):
        return None
    proc = _git(checkout, "rev-parse", "--verify", "--quiet", f"{tag}^{{commit}}")
    if proc is None or proc.returncode != 0:
        return None
    sha = proc.stdout.strip()
    return sha if sha.startswith(tag) else None


def is_ancestor(checkout: Path, older: str, newer: str) -> bool | None:
    """``git merge-base --is-ancestor older newer``: True, False, or None when git cannot tell."""
    proc = _git(checkout, "merge-base", "--is-ancestor", older, newer)
    if proc is None or proc.returncode not in (0, 1):
        return None
    return proc.returncode == 0


def refuse_older(
    checkout: Path,
    image_tag: str,
    running: str | None,
    *,
    where: str,
    command: str,
    progress: Callable[[str], None],
) -> None:
    """Raise when ``image_tag``'s commit is an ancestor of ``running``'s (the release ``where`` runs).

    ``command`` is the deploy command as the user would re-run it (for the ``--allow-older`` hint).
    """
    if running is None or running == image_tag:
        return
    new, current = commit_of(checkout, image_tag), commit_of(checkout, running)
    if new is None or current is None:
        if _HEX.fullmatch(image_tag) and _HEX.fullmatch(running):
            missing = image_tag if new is None else running
            progress(
                f"warning: cannot check that {image_tag} is not older than {running}, which {where} runs: "
                f"commit {missing} is not in the checkout at {checkout} (a shallow clone? fetch the history)"
            )
        return
    if new == current or not is_ancestor(checkout, new, current):
        return
    raise DeployError(
        f"refusing to deploy {image_tag} to {where}: it is an older commit than {running}, which {where} runs "
        f"({image_tag} is an ancestor of {running}), so a newer release is already deployed (a build that "
        f"finished late?). Nothing was changed. To deploy the older commit on purpose, e.g. a manual rollback, "
        f"run `{command} --allow-older`"
    )
