"""A build that finishes late never deploys its older commit over the newer one that runs.

A temporary git repository with two commits stands for the checkout; image tags are commit SHAs,
as CI builds them.
"""

from __future__ import annotations

import subprocess
from contextlib import nullcontext
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from deploytool import naming, release
from deploytool.cli import main
from deploytool.errors import DeployError


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=ci", "-c", "user.email=ci@example.test", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture()
def commits(tmp_path: Path) -> tuple[Path, str, str]:
    """A checkout with two commits: (repo, older, newer), newer a child of older."""
    repo = tmp_path / "checkout"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "app.txt").write_text("one\n")
    git(repo, "add", "app.txt")
    git(repo, "commit", "-q", "-m", "one")
    older = git(repo, "rev-parse", "HEAD")
    (repo / "app.txt").write_text("two\n")
    git(repo, "commit", "-q", "-am", "two")
    newer = git(repo, "rev-parse", "HEAD")
    return repo, older, newer


class FakeStrategy:
    def __init__(self, running: str | None) -> None:
        self.running = running
        self.deployed: list[str] = []

    def running_image(self) -> str | None:
        return self.running

    def deploy(self, image_tag: str, **_: Any) -> str:
        self.deployed.append(image_tag)
        return image_tag


def production(repo: Path, monkeypatch: pytest.MonkeyPatch, running: str | None) -> tuple[Any, FakeStrategy]:
    strategy = FakeStrategy(running)
    monkeypatch.setattr(release, "strategy_for", lambda *a, **k: strategy)
    target = SimpleNamespace(
        env="production",
        config=SimpleNamespace(root=repo),
        deploy_lock=lambda *a, **k: nullcontext(),
        names=lambda branch: naming.names_for("production", branch, "api.theobroma.example"),
    )
    return target, strategy


@pytest.mark.parametrize("short", [False, True], ids=["full-sha", "short-sha"])
def test_an_older_commit_is_refused_over_the_newer_one_production_runs(
    commits: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch, short: bool
) -> None:
    repo, older, newer = commits
    old_tag, new_tag = (older[:7], newer[:7]) if short else (older, newer)
    target, strategy = production(repo, monkeypatch, running=new_tag)

    with pytest.raises(DeployError) as caught:
        release.deploy_release(target, None, old_tag)

    assert strategy.deployed == []
    message = caught.value.message
    assert caught.value.exit_code == 1
    assert f"refusing to deploy {old_tag} to production" in message
    assert f"ancestor of {new_tag}" in message
    assert f"deploytool deploy --env production --image-tag {old_tag} --allow-older" in message
    assert "\n" not in message


def test_allow_older_deploys_the_older_commit(commits: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    repo, older, newer = commits
    target, strategy = production(repo, monkeypatch, running=newer)
    release.deploy_release(target, None, older, allow_older=True)
    assert strategy.deployed == [older]


@pytest.mark.parametrize(
    ("running", "deploying"),
    [("older", "newer"), ("newer", "newer"), (None, "older"), ("v1.2.3", "older"), ("newer", "v1.2.4")],
)
def test_newer_same_first_and_unordered_releases_go_ahead(
    commits: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch, running: str | None, deploying: str
) -> None:
    repo, older, newer = commits
    sha = {"older": older, "newer": newer}
    target, strategy = production(repo, monkeypatch, running=sha.get(running or "", running))
    release.deploy_release(target, None, sha.get(deploying, deploying))
    assert strategy.deployed == [sha.get(deploying, deploying)]


def test_diverged_commits_go_ahead(commits: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    repo, older, newer = commits
    git(repo, "checkout", "-q", "-b", "hotfix", older)
    (repo / "fix.txt").write_text("fix\n")
    git(repo, "add", "fix.txt")
    git(repo, "commit", "-q", "-m", "fix")
    hotfix = git(repo, "rev-parse", "HEAD")
    target, strategy = production(repo, monkeypatch, running=newer)
    release.deploy_release(target, None, hotfix)
    assert strategy.deployed == [hotfix]


def test_a_commit_missing_from_the_checkout_is_a_warning(
    commits: tuple[Path, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo, older, _ = commits
    elsewhere = "f" * 40  # built from a commit this (shallow?) checkout does not have
    target, strategy = production(repo, monkeypatch, running=elsewhere)
    said: list[str] = []
    release.deploy_release(target, None, older, progress=said.append)
    assert strategy.deployed == [older]
    assert any("cannot check" in line and elsewhere in line for line in said)


def test_is_ancestor_answers_from_git(commits: tuple[Path, str, str]) -> None:
    from deploytool import ordering

    repo, older, newer = commits
    assert ordering.is_ancestor(repo, older, newer) is True
    assert ordering.is_ancestor(repo, newer, older) is False
    assert ordering.commit_of(repo, older[:10]) == older
    assert ordering.commit_of(repo, "v1.2.3") is None


def test_the_cli_passes_allow_older(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def deploy(*_: Any, **kwargs: Any) -> Any:
        seen.update(kwargs)
        raise DeployError("stop here")

    monkeypatch.setattr("deploytool.cli.stacks.make_target", lambda *a: object())
    monkeypatch.setattr("deploytool.release.deploy_release", deploy)
    args = ["deploy", "--env", "production", "--image-tag", "abc1234", "--yes"]
    assert CliRunner().invoke(main, [*args, "--allow-older"]).exit_code == 1
    assert seen["allow_older"] is True
    assert CliRunner().invoke(main, args).exit_code == 1
    assert seen["allow_older"] is False
