"""Fixtures of the module tests: each test file names its fixture root in ``FIXTURE``.

``root`` is that root for plans (its state stays empty); ``applied`` is a second copy of it applied
once for the file's apply tests (through ``apply_root``, with the file's inputs where it overrides
``applied``) and destroyed when the file is done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

import pytest

from tests.conftest import TfRoot

TfRootFactory = Callable[[str], TfRoot]


class Applied:
    """One apply of a fixture root, shared by the apply tests of one file, destroyed once."""

    def __init__(self, root: TfRoot, tf_vars: dict[str, Any] | None = None) -> None:
        self.root = root
        self.tf_vars: dict[str, Any] = tf_vars or {}
        self.outputs = root.apply(self.tf_vars)
        self.destroyed = False

    def destroy(self) -> None:
        if not self.destroyed:
            self.root.destroy(self.tf_vars)
            self.destroyed = True


class ApplyRoot(Protocol):
    """The ``apply_root`` factory: applies the file's fixture root with ``tf_vars``."""

    def __call__(self, tf_vars: dict[str, Any] | None = None) -> Applied: ...


@pytest.fixture(scope="module")
def root(tf_root: TfRootFactory, request: pytest.FixtureRequest) -> TfRoot:
    """The test file's fixture root for plans only (its local state stays empty)."""
    return tf_root(request.module.FIXTURE)


@pytest.fixture(scope="module")
def apply_root(tf_root: TfRootFactory, request: pytest.FixtureRequest) -> Iterator[ApplyRoot]:
    """Factory: ``apply_root(tf_vars)`` applies a fresh copy of the file's fixture root.

    A failed apply is destroyed at once (nothing half-made stays on the emulator); a successful
    one when the file's tests are done, unless a test destroyed it already.
    """
    made: list[Applied] = []

    def apply(tf_vars: dict[str, Any] | None = None) -> Applied:
        root = tf_root(request.module.FIXTURE)
        try:
            made.append(Applied(root, tf_vars))
        except Exception:
            root.destroy(tf_vars)
            raise
        return made[-1]

    yield apply
    for applied in reversed(made):
        applied.destroy()


@pytest.fixture(scope="module")
def applied(apply_root: ApplyRoot) -> Applied:
    """The file's fixture root applied with its defaults (a file whose apply needs inputs overrides this)."""
    return apply_root()
