"""Rendered inputs: per-branch tfvars from Jinja2 templates next to each root, and backend config.

A root's template is its own ``terraform.tfvars.j2`` when it has one, else the template its stack
shares across environments, ``environments/<stack>.tfvars.j2`` (``environments/platform.tfvars.j2``
for ``environments/staging/platform``), so environments cannot drift apart. Values reach templates
through the ``hcl`` filter, which writes any string, number, list or map as a valid HCL literal, so
a branch name can never break out of its string. An undefined variable in a template is an error that names it.
Secrets never pass through here: templates receive ARNs of secrets, never their values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2

from deploytool.errors import DeployError

TEMPLATE_NAME = "terraform.tfvars.j2"
SHARED_TEMPLATE_SUFFIX = ".tfvars.j2"


def hcl(value: Any) -> str:
    """An HCL literal for ``value`` (JSON syntax is valid HCL expression syntax)."""
    if value is None:
        return "null"
    return json.dumps(value, sort_keys=True, ensure_ascii=True)


def _environment(root: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(root)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # noqa: S701 - renders HCL, not HTML; every value goes through the hcl filter
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["hcl"] = hcl
    return env


def template_for(root: Path) -> Path:
    """The tfvars template of ``root``: its own ``terraform.tfvars.j2``, else its stack's shared one."""
    own = root / TEMPLATE_NAME
    if own.is_file():
        return own
    shared = root.parent.parent / f"{root.name}{SHARED_TEMPLATE_SUFFIX}"
    if shared.is_file():
        return shared
    raise DeployError(f"{own} is missing and there is no shared {shared}; every root needs a tfvars template")


def render_tfvars(root: Path, context: dict[str, Any]) -> str:
    """Render the tfvars template of ``root`` (see ``template_for``) with ``context``."""
    template = template_for(root)
    try:
        return _environment(template.parent).get_template(template.name).render(**context)
    except jinja2.UndefinedError as exc:
        raise DeployError(f"{template}: {exc.message}; add it to deploy.toml or the template") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise DeployError(f"{template}:{exc.lineno}: {exc.message}") from exc


def backend_config_text(settings: Mapping[str, str | bool]) -> str:
    """A ``-backend-config`` file (HCL) for the S3 backend."""
    return "".join(f"{key} = {hcl(value)}\n" for key, value in settings.items())
