"""The image tag grammar is stated in Python (deploytool/naming.py) and in the HCL validations of the
modules that take a tag; the two must accept and reject the same tags."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from deploytool import naming
from deploytool.errors import DeployError

REPO = Path(__file__).resolve().parents[2]
# A validation condition on an image tag: can(regex("<pattern>", <expression naming image_tag>)).
_TAG_REGEX = re.compile(r'can\(regex\(("(?:[^"\\]|\\.)*"),\s*[^)]*image_tag[^)]*\)\)')
_TAG_LOOP = re.compile(r"for tag in \[[^\]]*image_tag[^\]]*\]\s*:\s*can\(regex\((\"(?:[^\"\\]|\\.)*\"),\s*tag\)\)")

VALID = [
    "v1.2.3",
    "3b1f2c9",
    "latest",
    "_private",
    "release_2024.01-rc1",
    "A" * 128,
    "sha256:" + "0123456789abcdef" * 4,
]
INVALID = [
    "",
    "-latest",
    ".hidden",
    "v1:2",
    "latest tag",
    "A" * 129,
    "sha256:" + "0123456789ABCDEF" * 4,
    "sha256:" + "0" * 63,
    "feature/x",
    "tag@sha256",
]


def hcl_tag_patterns() -> dict[str, str]:
    """Every image-tag pattern in modules/ and environments/: ``file:line`` -> the regex (HCL string decoded)."""
    found: dict[str, str] = {}
    for top in ("modules", "environments"):
        for path in sorted((REPO / top).rglob("*.tf")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                for match in (*_TAG_REGEX.finditer(line), *_TAG_LOOP.finditer(line)):
                    found[f"{path.relative_to(REPO)}:{number}"] = json.loads(match.group(1))
    return found


def python_accepts(tag: str) -> bool:
    try:
        naming.validate_image_tag(tag)
    except DeployError:
        return False
    return True


def test_tag_patterns_found_where_tags_are_taken() -> None:
    files = {where.split(":")[0] for where in hcl_tag_patterns()}
    assert files == {
        "modules/ecs-service/variables.tf",
        "modules/app-rolling/variables.tf",
        "modules/app-blue-green/variables.tf",
    }, files
    assert not any(f.startswith("environments/") for f in files), "roots leave tag validation to the modules"


@pytest.mark.parametrize("tag", VALID + INVALID, ids=[t[:20] or "empty" for t in VALID + INVALID])
def test_hcl_and_python_agree(tag: str) -> None:
    assert python_accepts(tag) is (tag in VALID)
    for where, pattern in hcl_tag_patterns().items():
        # Terraform's regex() is RE2 and searches; the patterns anchor themselves with ^...$.
        assert pattern.startswith("^") and pattern.endswith("$"), where
        assert (re.search(pattern, tag) is not None) is (tag in VALID), f"{where}: {pattern} on {tag!r}"
