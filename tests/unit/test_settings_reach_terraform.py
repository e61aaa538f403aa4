"""Every key of an environment's settings reaches Terraform, or is one of the documented tool-only keys.

Each environment of the real deploy.toml (staging with a branch, production, local) is rendered the way
deploytool renders it (both stacks' templates, through the context builders of ``deploytool.inputs``);
then every leaf key of the settings is changed on its own and rendered again. A key that reaches
Terraform changes a rendered tfvars file; a tool-only key (``config.TOOL_ONLY_KEYS``) changes none.
A key that changes nothing and is not listed is silently ignored: that is the failure.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from deploytool import naming
from deploytool.config import TOOL_ONLY_KEYS, EnvironmentSettings, load_config
from deploytool.inputs import app_template_context, platform_template_context
from deploytool.release.bluegreen import Colors
from deploytool.render import render_tfvars
from deploytool.state import APP_PLATFORM_ATTRIBUTES
from tests.conftest import REPO

CONFIG = load_config(REPO / "deploy.toml")
ENVIRONMENTS = REPO / "environments"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:theobroma-db-AbCdEf"
IMAGE_REPOSITORY = "123456789012.dkr.ecr.us-east-1.amazonaws.com/theobroma-geo-api"
PLATFORM = {name: f"platform-{name}" for name in APP_PLATFORM_ATTRIBUTES}
CASES = [("staging", "feature/new-api-endpoint"), ("production", None), ("local", "feature/demo")]


def _roots(env: str) -> str:
    """The directory of the roots an environment uses (local runs staging's roots on the emulator)."""
    return env if (ENVIRONMENTS / env).is_dir() else "staging"


def render(env: str, settings: EnvironmentSettings, branch: str | None) -> tuple[str, str]:
    """(platform tfvars, app tfvars) of ``env`` with ``settings``, as deploytool renders them."""
    project = CONFIG.project
    roots = ENVIRONMENTS / _roots(env)
    names = naming.names_for(
        env, branch if settings.branch_environments else None, settings.domain, project=project.name
    )
    platform = render_tfvars(roots / "platform", platform_template_context(env, settings, project, SECRET_ARN))
    tag = "3b1f2c9"
    # What the blue-green release gives the template on a first deploy (deploytool/release/bluegreen.py).
    colors = Colors(
        active_color="blue", blue_image_tag=tag, green_image_tag=tag, blue_desired_count=settings.desired_count
    )
    context = app_template_context(
        env,
        settings,
        project,
        names,
        tag,
        image_repository=IMAGE_REPOSITORY,
        platform=PLATFORM,
        listener_priority=1200 if settings.branch_environments else None,
        extra={"colors": colors.to_vars()},
    )
    return platform, render_tfvars(roots / "app", context)


def leaf_keys(model: BaseModel, prefix: str = "") -> list[str]:
    """The dotted paths of every setting of ``model`` that is not itself a settings table."""
    keys: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            keys.extend(leaf_keys(value, f"{prefix}{name}."))
        else:
            keys.append(f"{prefix}{name}")
    return keys


def changed(value: Any) -> Any:
    """Another value of the same kind (validity does not matter: only rendering is compared)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if value is None:
        return "Z0CHANGED"
    if isinstance(value, timedelta):
        return value + timedelta(hours=1)
    if isinstance(value, list):
        return [*value, value[0] if value else "changed"]
    if isinstance(value, dict):
        return {**value, "CHANGED": "arn:aws:secretsmanager:us-east-1:123456789012:secret:changed-AbCdEf"}
    raise AssertionError(f"no changed value for {value!r}")


def with_key(model: BaseModel, path: str) -> Any:
    """A copy of ``model`` with the setting at ``path`` changed."""
    head, _, rest = path.partition(".")
    value = getattr(model, head)
    return model.model_copy(update={head: with_key(value, rest) if rest else changed(value)})


def test_changed_values_differ() -> None:
    for value in (True, 0, 2.5, "a", None, timedelta(days=1), [], ["x"], {}, {"A": "b"}):
        assert changed(value) != value


def test_leaf_keys_walk_nested_tables() -> None:
    keys = leaf_keys(CONFIG.environment("staging"))
    assert {"region", "autoscaling.cpu_target", "platform.nat", "health.paths.basic", "smoke"} <= set(keys)
    assert "autoscaling" not in keys and "health.paths" not in keys


def test_tool_only_keys_are_settings_keys_with_a_reason() -> None:
    keys = set(leaf_keys(CONFIG.environment("staging")))
    assert set(TOOL_ONLY_KEYS) <= keys
    assert all(reason.strip() and "\n" not in reason for reason in TOOL_ONLY_KEYS.values())


@pytest.mark.parametrize(("env", "branch"), CASES, ids=[env for env, _ in CASES])
def test_every_setting_reaches_terraform_or_is_tool_only(env: str, branch: str | None) -> None:
    settings = CONFIG.environment(env)
    before = render(env, settings, branch)
    ignored, rendered_tool_only = [], []
    for key in leaf_keys(settings):
        after = render(env, with_key(settings, key), branch)
        if key in TOOL_ONLY_KEYS:
            if after != before:
                rendered_tool_only.append(key)
        elif after == before:
            ignored.append(key)
    assert ignored == [], f"{env}: settings that never reach Terraform (render them or list them as tool-only)"
    assert rendered_tool_only == [], f"{env}: keys listed as tool-only but rendered"


def test_the_autoscaling_cpu_target_is_rendered_for_both_strategies() -> None:
    for env, branch in CASES:
        settings = CONFIG.environment(env)
        assert settings.autoscaling is not None
        app = render(env, settings, branch)[1]
        assert f"cpu_target = {settings.autoscaling.cpu_target:g}" in " ".join(app.split()), env
