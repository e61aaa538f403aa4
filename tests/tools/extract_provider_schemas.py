"""Regenerate tests/data/aws_provider_schemas.json.

The file lists, for the oldest and the newest hashicorp/aws versions the modules
support, every resource type and data source with the names of its arguments
and nested blocks (recursively), nothing else:

    {
      "<version>": {
        "provider": {"aws": {...}},
        "resources": {"aws_eip": {"attributes": [...], "blocks": {name: {...}}}},
        "data_sources": {...}
      }
    }

Sources:

- 3.39.0: ``terraform providers schema -json`` on a root that requires
  hashicorp/aws, initialised from the offline provider mirror.
- newest 6.x: the generated bindings in the npm package ``@cdktn/provider-aws``;
  each binding maps its config to Terraform names in ``synthesizeAttributes()``
  and in one ``<struct>ToTerraform()`` function per nested block. The provider
  version they were generated from is read from the package's ``package.json``.

Usage (from the repository root):

    # 3.39.0 from an existing schema dump, 6.x from an unpacked npm package
    python tests/tools/extract_provider_schemas.py \\
        --aws3-schema /tmp/schema.json --cdktn-package /tmp/cdktn/package

    # or let the script produce both (needs TF_CLI_CONFIG_FILE pointing at the
    # provider mirror, and npm with access to the npm registry)
    TF_CLI_CONFIG_FILE=... python tests/tools/extract_provider_schemas.py

Only resource types of the services listed in ``SERVICE_PREFIXES`` are kept,
which keeps the file small; widen the list when a module starts using another
service.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = REPO_ROOT / "tests" / "data" / "aws_provider_schemas.json"
CDKTN_PACKAGE = "@cdktn/provider-aws"

# Type-name prefixes (after "aws_") of the services the modules may use.
SERVICE_PREFIXES: tuple[str, ...] = (
    "acm",
    "alb",
    "ami",
    "appautoscaling",
    "availability_zone",
    "caller_identity",
    "canonical_user_id",
    "cloudformation",
    "cloudwatch",
    "db_",
    "default_",
    "dynamodb",
    "ecr",
    "ecs",
    "egress_only_internet_gateway",
    "eip",
    "elb",
    "flow_log",
    "iam",
    "internet_gateway",
    "kms",
    "lb",
    "main_route_table_association",
    "nat_gateway",
    "network_acl",
    "network_interface",
    "partition",
    "prefix_list",
    "rds",
    "region",
    "route",
    "s3_bucket",
    "secretsmanager",
    "security_group",
    "service_discovery",
    "sns",
    "ssm",
    "subnet",
    "vpc",
)

Schema = dict[str, Any]

_CDKTN_HELPER = re.compile(r"(?<!cdktn\.)\b([A-Za-z_]\w*)ToTerraform\b")
_FIELD = re.compile(r'^\s*"?([a-z_][a-z0-9_]*)"?\s*:\s*(.+?),?\s*$')
_STRUCT_FN = re.compile(r"^function (\w+)ToTerraform\(struct\) \{$", re.M)
_RESOURCE_TYPE = re.compile(r'static tfResourceType = "([a-z0-9_]+)";')
_SYNTH = re.compile(r"^    synthesizeAttributes\(\) \{$", re.M)


def keep(type_name: str) -> bool:
    """Whether a resource type belongs to one of the services kept."""
    return type_name.startswith("aws_") and type_name[4:].startswith(SERVICE_PREFIXES)


# --- 3.39.0: terraform providers schema -json --------------------------------


def _compact_block(block: dict[str, Any]) -> Schema:
    attributes = sorted(
        name for name, spec in block.get("attributes", {}).items() if spec.get("optional") or spec.get("required")
    )
    blocks = {
        name: _compact_block(spec.get("block", {})) for name, spec in sorted(block.get("block_types", {}).items())
    }
    return {"attributes": attributes, "blocks": blocks}


def compact_terraform_schema(raw: dict[str, Any]) -> dict[str, dict[str, Schema]]:
    """Compact form of ``providers schema -json`` output for hashicorp/aws."""
    provider = next(value for key, value in raw["provider_schemas"].items() if key.endswith("hashicorp/aws"))
    out: dict[str, dict[str, Schema]] = {"provider": {"aws": _compact_block(provider["provider"]["block"])}}
    for kind, key in (("resources", "resource_schemas"), ("data_sources", "data_source_schemas")):
        out[kind] = {
            name: _compact_block(spec["block"]) for name, spec in sorted(provider.get(key, {}).items()) if keep(name)
        }
    return out


def dump_terraform_schema(terraform: list[str]) -> dict[str, Any]:
    """Run ``terraform providers schema -json`` on a throwaway root."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "main.tf").write_text(
            'terraform {\n  required_providers {\n    aws = { source = "hashicorp/aws", version = "3.39.0" }\n  }\n}\n'
        )
        env = {**os.environ, "TF_DATA_DIR": str(root / ".tfdata"), "TF_IN_AUTOMATION": "1"}
        subprocess.run(
            [*terraform, f"-chdir={root}", "init", "-input=false", "-no-color"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        result = subprocess.run(
            [*terraform, f"-chdir={root}", "providers", "schema", "-json"],
            check=True,
            env=env,
            capture_output=True,
            text=True,
        )
    raw: dict[str, Any] = json.loads(result.stdout)
    return raw


# --- 6.x: @cdktn/provider-aws bindings ---------------------------------------


def _object_fields(text: str, start: int) -> dict[str, str | None]:
    """Fields of the ``return { ... };`` literal that follows ``start``.

    Each field maps to the struct function converting its value (a nested
    block or object), or to None for a plain attribute.
    """
    ret = text.index("return {", start)
    if text.startswith("return {}", ret):
        return {}
    indent = ret - text.rindex("\n", 0, ret) - 1
    begin = ret + len("return {\n")
    end = text.index("\n" + " " * indent + "};", begin)
    fields: dict[str, str | None] = {}
    for line in text[begin:end].splitlines():
        match = _FIELD.match(line)
        if not match:
            continue
        name, expr = match.groups()
        nested = _CDKTN_HELPER.search(expr)
        fields[name] = nested.group(1) if nested else None
    return fields


def _build(fields: dict[str, str | None], functions: dict[str, dict[str, str | None]], depth: int = 0) -> Schema:
    attributes: list[str] = []
    blocks: dict[str, Schema] = {}
    for name, fn in sorted(fields.items()):
        if fn is None or fn not in functions or depth > 12:
            attributes.append(name)
        else:
            blocks[name] = _build(functions[fn], functions, depth + 1)
    return {"attributes": attributes, "blocks": blocks}


def _binding_schema(directory: Path, wanted: str | None = None) -> tuple[str, Schema] | None:
    index = directory / "index.js"
    if not index.is_file():
        return None
    main = index.read_text()
    type_match = _RESOURCE_TYPE.search(main)
    synth = _SYNTH.search(main)
    if not type_match or not synth:
        return None
    if type_match.group(1) != wanted and not keep(type_match.group(1)):
        return None
    functions: dict[str, dict[str, str | None]] = {}
    for path in [index, *sorted(directory.glob("index-structs/*.js"))]:
        text = main if path == index else path.read_text()
        for fn in _STRUCT_FN.finditer(text):
            functions[fn.group(1)] = _object_fields(text, fn.end())
    return type_match.group(1), _build(_object_fields(main, synth.end()), functions)


def compact_cdktn_package(package: Path) -> tuple[str, dict[str, dict[str, Schema]]]:
    """Provider version and compact schema from an unpacked ``@cdktn/provider-aws``."""
    meta = json.loads((package / "package.json").read_text())
    version = str((meta.get("cdktn") or meta["cdktf"])["provider"]["version"])
    out: dict[str, dict[str, Schema]] = {"provider": {}, "resources": {}, "data_sources": {}}
    provider = _binding_schema(package / "lib" / "provider", wanted="aws")
    if provider is None:
        sys.exit(f"no provider binding found in {package}")
    out["provider"]["aws"] = provider[1]
    for directory in sorted((package / "lib").iterdir()):
        if not directory.is_dir() or directory.name in ("provider",) or directory.name.startswith("ephemeral-"):
            continue
        found = _binding_schema(directory)
        if found is None:
            continue
        type_name, schema = found
        kind = "data_sources" if directory.name.startswith("data-aws-") else "resources"
        out[kind][type_name] = schema
    out = {kind: dict(sorted(types.items())) for kind, types in out.items()}
    return version, out


def fetch_cdktn_package(workdir: Path) -> Path:
    """``npm pack`` the newest ``@cdktn/provider-aws`` into workdir and unpack it."""
    npm = shutil.which("npm")
    if npm is None:
        sys.exit("npm is needed to fetch the 6.x bindings (or pass --cdktn-package)")
    result = subprocess.run(
        [npm, "pack", CDKTN_PACKAGE, "--silent"],
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
    )
    tarball = workdir / result.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as tar:
        tar.extractall(workdir, filter="data")
    return workdir / "package"


# --- main --------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--aws3-schema", type=Path, help="`providers schema -json` output for 3.39.0")
    parser.add_argument("--cdktn-package", type=Path, help="unpacked @cdktn/provider-aws (the `package` dir)")
    parser.add_argument(
        "--terraform",
        default=shutil.which("deploytool-terraform") or f"{sys.executable} -m deploytool.tfmain",
        help="terraform command (space-separated argv) used when --aws3-schema is not given",
    )
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    if args.aws3_schema:
        raw = json.loads(args.aws3_schema.read_text())
    else:
        raw = dump_terraform_schema(args.terraform.split())
    aws3_version = "3.39.0"

    with tempfile.TemporaryDirectory() as tmp:
        package = args.cdktn_package or fetch_cdktn_package(Path(tmp))
        aws6_version, aws6 = compact_cdktn_package(package)

    data = {aws3_version: compact_terraform_schema(raw), aws6_version: aws6}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")) + "\n")
    for version, kinds in data.items():
        counts = ", ".join(f"{len(v)} {k}" for k, v in kinds.items())
        print(f"{version}: {counts}", file=sys.stderr)
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
