"""The stand-ins of tests/workflows/actions/ are valid composite actions covering every action the
workflows use (act maps them by the exact pinned reference)."""

from __future__ import annotations

import re

import yaml

from tests.workflows.actrun import ACTIONS, REPO, STAND_INS


def test_every_used_action_has_a_stand_in() -> None:
    used = set()
    for workflow in (REPO / ".github" / "workflows").glob("*.yml"):
        used |= set(re.findall(r"uses:\s*([\w.-]+/[\w.-]+@[0-9a-f]{40})", workflow.read_text()))
    used = {ref for ref in used if not ref.startswith("actions/checkout@")}  # act skips checkout
    assert used == set(STAND_INS)


def test_stand_ins_are_composite_actions() -> None:
    for directory in STAND_INS.values():
        action = yaml.safe_load((ACTIONS / directory / "action.yml").read_text())
        assert action["runs"]["using"] == "composite", directory
        assert all(step.get("shell") == "bash" for step in action["runs"]["steps"] if "run" in step), directory
