"""Regenerate each module README's inputs/outputs block (terraform-docs format) from its HCL.

Usage: python tools/module_docs.py [--check] [MODULE_DIR ...]   (default: every directory in modules/)
The text between ``<!-- BEGIN_TF_DOCS -->`` and ``<!-- END_TF_DOCS -->`` is replaced; with
``--check`` nothing is written and the exit code says whether every README is current.
terraform-docs itself is not installable from the package registries this project uses, so this
script renders the same layout from python-hcl2's parse of the module.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from hcl2.api import loads

REPO = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"<!-- BEGIN_TF_DOCS -->.*<!-- END_TF_DOCS -->\n?", re.S)
REGISTRY = "https://registry.terraform.io/providers/hashicorp/aws/latest/docs"


def unquote(value: Any) -> Any:
    """python-hcl2 v8 keeps quotes on strings and wraps expressions in ``${}``."""
    if isinstance(value, str):
        if len(value) >= 2 and value[0] == value[-1] == '"':
            return json.loads(value)
        match = re.fullmatch(r"\$\{(.*)\}", value, re.S)
        return match.group(1) if match else value
    if isinstance(value, list):
        return [unquote(v) for v in value]
    if isinstance(value, dict):
        return {unquote(k): unquote(v) for k, v in value.items() if not str(k).startswith("__")}
    return value


def default_text(value: Any) -> str:
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, int | float):
        return f"`{value}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    if not value:
        return "`[]`" if isinstance(value, list) else "`{}`"
    return "<pre>" + json.dumps(value).replace('"', "&quot;") + "</pre>"


def esc(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _blocks(doc: dict[str, Any], kind: str) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for block in doc.get(kind, []):
        for name, body in block.items():
            out.append((unquote(name), body))
    return out


def render(module: Path) -> str:
    docs = [loads(path.read_text()) for path in sorted(module.glob("*.tf"))]
    out = [
        "<!-- BEGIN_TF_DOCS -->",
        "## Requirements",
        "",
        "| Name | Version |",
        "|------|---------|",
        '| <a name="requirement_terraform"></a> [terraform](#requirement\\_terraform) | >= 1.5 |',
        '| <a name="requirement_aws"></a> [aws](#requirement\\_aws) | >= 3.39, < 7.0 |',
        "",
        "## Providers",
        "",
        "| Name | Version |",
        "|------|---------|",
        '| <a name="provider_aws"></a> [aws](#provider\\_aws) | >= 3.39, < 7.0 |',
        "",
        "## Resources",
        "",
        "| Name | Type |",
        "|------|------|",
    ]
    resources = []
    for doc in docs:
        for kind, label, section in (("resource", "resource", "resources"), ("data", "data source", "data-sources")):
            for type_, body in _blocks(doc, kind):
                for name in body:
                    resources.append((f"{type_}.{unquote(name)}", label, section, type_))
    for address, label, section, type_ in sorted(resources):
        out.append(f"| [{address}]({REGISTRY}/{section}/{type_.removeprefix('aws_')}) | {label} |")
    out += [
        "",
        "## Inputs",
        "",
        "| Name | Description | Type | Default | Required |",
        "|------|-------------|------|---------|:--------:|",
    ]
    variables = [(n, b) for doc in docs for n, b in _blocks(doc, "variable")]
    variables.sort(key=lambda item: ("default" in item[1], item[0]))
    for name, body in variables:
        type_ = str(unquote(body.get("type", "any")))
        type_text = "<pre>" + type_.replace("\n", "<br/>") + "</pre>" if "\n" in type_ else f"`{type_}`"
        has_default = "default" in body
        default = default_text(unquote(body["default"])) if has_default else "n/a"
        description = esc(str(unquote(body.get("description", ""))))
        out.append(
            f'| <a name="input_{name}"></a> [{name}](#input\\_{name}) | {description} | {type_text} | {default} | '
            f"{'no' if has_default else 'yes'} |"
        )
    out += ["", "## Outputs", "", "| Name | Description |", "|------|-------------|"]
    outputs = sorted((n, b) for doc in docs for n, b in _blocks(doc, "output"))
    for name, body in outputs:
        description = esc(str(unquote(body.get("description", ""))))
        out.append(f'| <a name="output_{name}"></a> [{name}](#output\\_{name}) | {description} |')
    out.append("<!-- END_TF_DOCS -->")
    return "\n".join(out) + "\n"


def main() -> int:
    args = [a for a in sys.argv[1:] if a != "--check"]
    modules = [Path(a) for a in args] or sorted(p for p in (REPO / "modules").iterdir() if p.is_dir())
    stale = []
    for module in modules:
        readme = module / "README.md"
        text = readme.read_text()
        block = render(module)
        updated = BLOCK.sub(lambda _, block=block: block, text, count=1)
        if updated != text:
            stale.append(str(readme.relative_to(REPO)))
            if "--check" not in sys.argv:
                readme.write_text(updated)
    if stale and "--check" in sys.argv:
        print("out of date (run python tools/module_docs.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
