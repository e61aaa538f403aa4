"""Every resource, data source and argument the Terraform code uses exists in hashicorp/aws 3.39.0 and 6.x.

The modules promise ``hashicorp/aws >= 3.39, < 7.0``; offline ``init`` gets 3.39.0, a networked one gets
the newest 6.x. The schemas of both (names only) live in tests/data/aws_provider_schemas.json, made by
tests/tools/extract_provider_schemas.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2.utils import SerializationOptions

REPO = Path(__file__).resolve().parents[2]
SCHEMAS_FILE = REPO / "tests" / "data" / "aws_provider_schemas.json"
TERRAFORM_DIRS = ("modules", "environments")

# Meta-arguments Terraform itself handles, per top-level block kind.
META_ARGUMENTS = {
    "resource": {"count", "for_each", "provider", "depends_on", "lifecycle", "connection", "provisioner"},
    "data": {"count", "for_each", "provider", "depends_on", "lifecycle"},
    "provider": {"alias", "version"},
}
KIND_SECTION = {"resource": "resources", "data": "data_sources", "provider": "provider"}
HCL_OPTIONS = SerializationOptions(strip_string_quotes=True)

Schema = dict[str, Any]


@dataclass(frozen=True)
class Usage:
    """One argument or nested block set in a resource, data or provider block."""

    file: str
    kind: str  # resource | data | provider
    type: str  # aws_eip, aws, ...
    name: str  # the block's label (or the provider alias)
    path: tuple[str, ...]  # ("load_balancer", "target_group_arn")
    is_block: bool

    def where(self) -> str:
        label = f"{self.kind} {self.type}" + (f".{self.name}" if self.name else "")
        return f"{self.file}: {label}"


@dataclass(frozen=True)
class Block:
    """A resource, data or provider block (so even one with no arguments is checked)."""

    file: str
    kind: str
    type: str
    name: str


def _is_block_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) and v.get("__is_block__") for v in value)


def _walk_body(body: dict[str, Any], prefix: tuple[str, ...], skip: set[str]) -> Iterator[tuple[tuple[str, ...], bool]]:
    """(argument path, is_block) for everything set in a block body, nested blocks included."""
    for key, value in body.items():
        if key.startswith("__") or key in skip:
            continue
        if key == "dynamic" and isinstance(value, list) and all(isinstance(v, dict) for v in value):
            for item in value:
                for label, spec in item.items():
                    if label.startswith("__") or not isinstance(spec, dict):
                        continue
                    yield (*prefix, label), True
                    for content in spec.get("content", []):
                        if isinstance(content, dict):
                            yield from _walk_body(content, (*prefix, label), set())
        elif _is_block_list(value):
            yield (*prefix, key), True
            for item in value:
                yield from _walk_body(item, (*prefix, key), set())
        else:
            yield (*prefix, key), False


def parse_text(text: str, file: str) -> tuple[list[Block], list[Usage]]:
    """Blocks and usages of AWS resources, data sources and providers in one HCL text."""
    doc = hcl2.loads(text, serialization_options=HCL_OPTIONS)
    blocks: list[Block] = []
    usages: list[Usage] = []
    for kind in ("resource", "data"):
        for entry in doc.get(kind, []):
            for rtype, instances in entry.items():
                if rtype.startswith("__") or not rtype.startswith("aws_"):
                    continue
                for name, body in instances.items():
                    if name.startswith("__"):
                        continue
                    blocks.append(Block(file, kind, rtype, name))
                    for path, is_block in _walk_body(body, (), META_ARGUMENTS[kind]):
                        usages.append(Usage(file, kind, rtype, name, path, is_block))
    for entry in doc.get("provider", []):
        for ptype, body in entry.items():
            if ptype != "aws" or not isinstance(body, dict):
                continue
            alias = str(body.get("alias", ""))
            blocks.append(Block(file, "provider", ptype, alias))
            for path, is_block in _walk_body(body, (), META_ARGUMENTS["provider"]):
                usages.append(Usage(file, "provider", ptype, alias, path, is_block))
    return blocks, usages


def terraform_files() -> list[Path]:
    files: list[Path] = []
    for top in TERRAFORM_DIRS:
        files.extend(p for p in sorted((REPO / top).rglob("*.tf")) if ".terraform" not in p.parts)
    return [p for p in files if not p.name.endswith("_override.tf")]


@cache
def load_schemas() -> dict[str, dict[str, dict[str, Schema]]]:
    data: dict[str, dict[str, dict[str, Schema]]] = json.loads(SCHEMAS_FILE.read_text())
    return data


def check(blocks: list[Block], usages: list[Usage], schemas: dict[str, dict[str, dict[str, Schema]]]) -> list[str]:
    """One message per type or argument missing from any of the provider versions."""
    problems: list[str] = []
    known_types = {(kind, t) for v in schemas.values() for kind, types in v.items() for t in types}
    for block in dict.fromkeys(Block(b.file, b.kind, b.type, "") for b in blocks):
        section = KIND_SECTION[block.kind]
        if (section, block.type) not in known_types:
            problems.append(
                f"{block.file}: {block.kind} {block.type}: unknown type (a typo, or a service missing from "
                "SERVICE_PREFIXES in tests/tools/extract_provider_schemas.py: add it and regenerate)"
            )
            continue
        for version, kinds in schemas.items():
            if block.type not in kinds[section]:
                problems.append(f"{block.file}: {block.kind} {block.type}: does not exist in hashicorp/aws {version}")
    for usage in dict.fromkeys(usages):
        section = KIND_SECTION[usage.kind]
        for version, kinds in schemas.items():
            schema = kinds[section].get(usage.type)
            if schema is None:
                continue  # reported above
            for depth, part in enumerate(usage.path):
                if part in schema["attributes"] and depth == len(usage.path) - 1:
                    break
                if part in schema["blocks"]:
                    schema = schema["blocks"][part]
                    continue
                # A parent that is itself missing is reported once, on its own usage.
                if depth == len(usage.path) - 1:
                    what = "block" if usage.is_block else "argument"
                    problems.append(
                        f"{usage.where()}: {what} '{'.'.join(usage.path)}' does not exist in hashicorp/aws {version}"
                    )
                break
    return problems


@cache
def _parsed(path: Path) -> tuple[list[Block], list[Usage]]:
    return parse_text(path.read_text(), str(path.relative_to(REPO)))


FILES = terraform_files()


def test_schema_data_covers_both_major_versions() -> None:
    versions = list(load_schemas())
    assert "3.39.0" in versions
    assert any(v.startswith("6.") for v in versions), versions
    for kinds in load_schemas().values():
        assert kinds["resources"]["aws_ecs_service"]["blocks"]["load_balancer"]["attributes"]


def test_terraform_code_exists() -> None:
    assert FILES, f"no .tf files under {', '.join(TERRAFORM_DIRS)}"
    assert any(_parsed(p)[0] for p in FILES), "no AWS resource or data block found"


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(REPO)) for p in FILES])
def test_arguments_exist_in_both_provider_versions(path: Path) -> None:
    blocks, usages = _parsed(path)
    problems = check(blocks, usages, load_schemas())
    assert not problems, "\n".join(problems)


# --- the checker itself ------------------------------------------------------------------------------------------


def _check_text(text: str) -> list[str]:
    blocks, usages = parse_text(text, "synthetic.tf")
    return check(blocks, usages, load_schemas())


def test_checker_flags_argument_missing_in_6x() -> None:
    problems = _check_text('resource "aws_eip" "nat" {\n  vpc = true\n}\n')
    assert len(problems) == 1
    assert "synthetic.tf: resource aws_eip.nat: argument 'vpc' does not exist in hashicorp/aws 6." in problems[0]


def test_checker_flags_argument_missing_in_339() -> None:
    problems = _check_text('resource "aws_db_instance" "db" {\n  db_name = "geo"\n  engine = "postgres"\n}\n')
    assert problems == [
        "synthetic.tf: resource aws_db_instance.db: argument 'db_name' does not exist in hashicorp/aws 3.39.0"
    ]


def test_checker_flags_resource_type_missing_in_339() -> None:
    problems = _check_text('resource "aws_ecs_cluster_capacity_providers" "x" {\n  cluster_name = "c"\n}\n')
    assert any("aws_ecs_cluster_capacity_providers: does not exist in hashicorp/aws 3.39.0" in p for p in problems)


def test_checker_follows_nested_and_dynamic_blocks() -> None:
    text = """
resource "aws_lb_listener" "https" {
  load_balancer_arn = "arn"
  count             = 1
  default_action {
    type = "fixed-response"
    jwt_validation {
      issuer = "x"
    }
  }
  dynamic "bogus_block" {
    for_each = []
    content {
      nope = 1
    }
  }
  lifecycle {
    create_before_destroy = true
  }
}
"""
    problems = _check_text(text)
    assert any("block 'default_action.jwt_validation' does not exist in hashicorp/aws 3.39.0" in p for p in problems)
    assert any("block 'bogus_block' does not exist in hashicorp/aws 3.39.0" in p for p in problems)
    assert not any("nope" in p or "lifecycle" in p or "count" in p for p in problems), problems


def test_checker_accepts_valid_code() -> None:
    text = """
resource "aws_ecs_service" "this" {
  name = "svc"
  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }
  dynamic "load_balancer" {
    for_each = var.target_group_arn != null ? [var.target_group_arn] : []
    content {
      target_group_arn = load_balancer.value
      container_name   = "app"
      container_port   = 8080
    }
  }
  tags = { Name = "svc" }
}
data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}
provider "aws" {
  alias  = "east"
  region = "us-east-1"
  default_tags {
    tags = { Project = "geo" }
  }
}
"""
    blocks, usages = parse_text(text, "synthetic.tf")
    assert {u.path for u in usages} >= {("load_balancer", "container_port"), ("statement", "principals", "type")}
    assert check(blocks, usages, load_schemas()) == []


def test_checker_flags_provider_arguments() -> None:
    problems = _check_text('provider "aws" {\n  s3_force_path_style = true\n}\n')
    assert any("provider aws: argument 's3_force_path_style' does not exist in hashicorp/aws 6." in p for p in problems)
