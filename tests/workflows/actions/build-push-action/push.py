"""Stand-in for docker/build-push-action: no image is built (no Docker engine here); with ``push`` each
tag ``REGISTRY/REPOSITORY:TAG`` is put into the AWS emulator's ECR as a manifest of its own through
``deploytool emulator push-image``, under the environment whose ``image_tag_prefix`` the tag carries.

Refused, as a push would fail: a build context that does not exist or holds no Dockerfile, a registry
host that is not the account's ECR registry in the job's region, a repository other than
``deploy.toml``'s ``image_repository``.

TEST-ONLY: when the build context holds a file ``.stand-in-image-env`` (``KEY=VALUE`` lines; blank
lines and ``#`` comments skipped), the image is pushed with that environment (``push-image
--image-env``), which the local stand-in of ECS applies under the task definition's, as Docker
applies an image's ``ENV``. A test writes it in the working tree (act uses the working tree) to make a
broken build, e.g. ``GEOAPI_FAULT=unhealthy``. A real build never sees it (the context's
``.dockerignore`` keeps it out of the image) and nothing but the tests writes it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

REGISTRY = re.compile(r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com$")


def fail(message: str) -> None:
    print(f"::error title=build-push-action stand-in::{message}")
    sys.exit(1)


ENV_FILE = ".stand-in-image-env"


def image_env(context: Path) -> list[str]:
    """The ``KEY=VALUE`` items of the context's test-only ``.stand-in-image-env`` (none without it)."""
    path = context / ENV_FILE
    if not path.is_file():
        return []
    items = []
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", line):
            fail(f"{path}:{number}: {line!r} is not KEY=VALUE")
        items.append(line)
    return items


def main() -> None:
    context = Path(os.environ.get("INPUT_CONTEXT") or ".")
    if not (context / "Dockerfile").is_file():
        fail(f"no Dockerfile in the build context {context}")
    env_items = image_env(context)
    tags = [t.strip() for t in re.split(r"[,\n]", os.environ.get("INPUT_TAGS", "")) if t.strip()]
    if os.environ.get("INPUT_PUSH", "false") != "true":
        print(f"build-push-action stand-in: push is off; nothing built for {tags}")
        return
    if not tags:
        fail("push: true without tags")
    config = tomllib.loads(Path("deploy.toml").read_text())
    repository = config["project"]["image_repository"]
    prefixes = {
        name: settings["image_tag_prefix"]
        for name, settings in config["environments"].items()
        if settings.get("image_tag_prefix") and not settings.get("emulator")
    }
    for ref in tags:
        host, _, rest = ref.partition("/")
        name, _, tag = rest.rpartition(":")
        match = REGISTRY.match(host)
        if not match or match["region"] != os.environ.get("AWS_REGION"):
            fail(f"{ref}: {host!r} is not the ECR registry of the job's region (amazon-ecr-login's output)")
        if name != repository:
            fail(f"{ref}: repository {name!r} is not deploy.toml's image_repository {repository!r}")
        env = next((env for env, prefix in prefixes.items() if tag.startswith(prefix)), None)
        if env is None:
            fail(f"{ref}: the tag carries no environment's image_tag_prefix ({prefixes})")
        command = ["deploytool", "emulator", "push-image", "--env", str(env), "--image-tag", tag]
        for item in env_items:
            command += ["--image-env", item]
        subprocess.run(command, check=True)
        carried = f" with image env {', '.join(env_items)} (from {ENV_FILE})" if env_items else ""
        print(f"build-push-action stand-in: nothing built; {ref} put into the AWS emulator's ECR{carried}")


if __name__ == "__main__":
    main()
