"""The provider version real deploys use is pinned by each environment root's committed
``.terraform.lock.hcl``: the version every plan and apply of this suite runs (the offline mirror's),
with the hash of the very package the mirror holds, so ``terraform init`` on a runner that
downloads it from the registry verifies it is the package tested here."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

import hcl2
import pytest
from packaging.specifiers import SpecifierSet

from deploytool import toolchain

REPO = Path(__file__).resolve().parents[2]
ROOTS = sorted(p.parent for p in (REPO / "environments").glob("*/*/terraform.tf"))
AWS = "registry.terraform.io/hashicorp/aws"


def h1_of_zip(path: Path) -> str:
    """Terraform's ``h1:`` package hash (Go's dirhash Hash1) of a provider zip's contents."""
    lines = []
    with zipfile.ZipFile(path) as archive:
        for name in sorted(i.filename for i in archive.infolist() if not i.is_dir()):
            lines.append(f"{hashlib.sha256(archive.read(name)).hexdigest()}  {name}\n")
    return "h1:" + base64.b64encode(hashlib.sha256("".join(lines).encode()).digest()).decode()


def _lock(root: Path) -> dict[str, object]:
    data = hcl2.loads((root / ".terraform.lock.hcl").read_text())
    (provider,) = [block for block in data["provider"] if AWS in {k.strip('"') for k in block}]
    return next(iter(provider.values()))  # type: ignore[no-any-return]


def _constraint(root: Path) -> str:
    terraform = hcl2.loads((root / "terraform.tf").read_text())["terraform"][0]
    aws = terraform["required_providers"][0]["aws"]
    return str(aws["version"]).strip('"')


def test_every_environment_root_has_a_lock() -> None:
    assert len(ROOTS) == 4, ROOTS
    missing = [str(r.relative_to(REPO)) for r in ROOTS if not (r / ".terraform.lock.hcl").is_file()]
    assert missing == []


@pytest.mark.parametrize("root", ROOTS, ids=lambda r: str(r.relative_to(REPO / "environments")))
def test_lock_pins_the_tested_provider_within_the_roots_constraint(root: Path) -> None:
    lock = _lock(root)
    assert str(lock["version"]).strip('"') == toolchain.PROVIDER_VERSION
    # Terraform writes the constraints normalised (">= 3.39.0, < 7.0.0"); compare them as version sets.
    wanted = SpecifierSet(_constraint(root).replace(" ", ""))
    locked = SpecifierSet(str(lock["constraints"]).strip('"').replace(" ", ""))
    assert wanted == locked, (wanted, locked)


def test_locked_hash_is_the_package_the_suite_runs() -> None:
    zip_path = toolchain.bundled_provider_zip()
    h1 = h1_of_zip(zip_path)
    for root in ROOTS:
        hashes = [str(h).strip('"') for h in _lock(root)["hashes"]]  # type: ignore[attr-defined]
        assert h1 in hashes, (root, h1, hashes)
