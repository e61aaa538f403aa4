"""docs/ci-cd.md maps every name the deployment guide uses to what replaces it here, and the
names it gives for this project are the ones the tool and the modules produce."""

from __future__ import annotations

import re
from pathlib import Path

from deploytool import naming
from deploytool.cli import load_commands

DOC = Path(__file__).resolve().parents[2] / "docs" / "ci-cd.md"
GUIDE_NAMES = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "AWS_ACCOUNT_ID",
    "STAGING_DB_PASSWORD",
    "PRODUCTION_DB_PASSWORD",
    "SUBNET_IDS",
    "SECURITY_GROUP_ID",
    "STAGING_TARGET_GROUP_ARN",
    "PRODUCTION_TARGET_GROUP_ARN",
    "theobroma-geo-api-task",
    "theobroma-geo-api-service",
    "theobroma-staging",
    "theobroma-production",
    "/ecs/theobroma-geo-api",
    "aws ecs update-service",
]


def _section() -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    body = text.split("### Coming from the deployment guide", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in body.splitlines() if line.startswith("| ") and not line.startswith("|--")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[1:]]


def test_every_name_of_the_guide_has_a_row() -> None:
    first_column = " ".join(row[0] for row in _section())
    missing = [name for name in GUIDE_NAMES if name not in first_column]
    assert not missing


def test_the_names_given_for_this_project_are_the_tools() -> None:
    text = " ".join(" ".join(row[1:]) for row in _section())
    production = naming.names_for("production", None, "api.theobroma.example")
    assert f"`{production.service}-blue`" in text
    assert "`/ecs/theobroma-staging`" in text and "`/ecs/theobroma-production`" in text
    assert "theobroma/<env>/db-master-password" in text
    commands = set(re.findall(r"`deploytool ([a-z-]+)", text))
    assert commands and commands <= set(load_commands()), commands - set(load_commands())
