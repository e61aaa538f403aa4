"""Rendered inputs: per-branch tfvars from Jinja2 templates next to each root, and backend config.

Templates are ``terraform.tfvars.j2`` files in each root. Values reach them through the ``hcl``
filter, which writes any string, number, list or map as a valid HCL literal, so a branch name can
never break out of its string. An undefined variable in a template is an error that names it.
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


def render_tfvars(root: Path, context: dict[str, Any]) -> str:
    """Render ``<root>/terraform.tfvars.j2`` with ``context``."""
    if not (root / TEMPLATE_NAME).is_file():
        raise DeployError(f"{root / TEMPLATE_NAME} is missing; every root needs a tfvars template")
    try:
        return _environment(root).get_template(TEMPLATE_NAME).render(**context)
    except jinja2.UndefinedError as exc:
        raise DeployError(f"{root / TEMPLATE_NAME}: {exc.message}; add it to deploy.toml or the template") from exc
    except jinja2.TemplateSyntaxError as exc:
        raise DeployError(f"{root / TEMPLATE_NAME}:{exc.lineno}: {exc.message}") from exc


def backend_config_text(settings: Mapping[str, str | bool]) -> str:
    """A ``-backend-config`` file (HCL) for the S3 backend."""
    return "".join(f"{key} = {hcl(value)}\n" for key, value in settings.items())
