"""Open pull requests of a repository (``deploytool github pr-for-branch`` / ``open-pr-branches``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from deploytool.cli import main
from deploytool.errors import DeployError
from deploytool.github import open_pr_branches, pr_for_branch
from tests.githubstub import GitHubStub

REPO = "acme/theobroma-geo-api"


@pytest.fixture
def stub() -> Iterator[GitHubStub]:
    with GitHubStub() as stub:
        yield stub


def test_pr_for_branch_finds_the_open_pull_request_of_the_branch(stub: GitHubStub) -> None:
    stub.add_pull_request(REPO, 7, head="feature/other")
    stub.add_pull_request(REPO, 8, head="feature/new-api-endpoint", state="closed")
    stub.add_pull_request(REPO, 9, head="feature/new-api-endpoint")
    assert pr_for_branch(REPO, "feature/new-api-endpoint", token=stub.token, api_url=stub.url) == 9
    (listing,) = [r for r in stub.calls("GET") if r.path.endswith("/pulls")]
    assert listing.query["head"] == ["acme:feature/new-api-endpoint"]
    assert listing.query["state"] == ["open"]


def test_pr_for_branch_is_none_without_an_open_pull_request(stub: GitHubStub) -> None:
    stub.add_pull_request(REPO, 8, head="develop", state="closed")
    assert pr_for_branch(REPO, "develop", token=stub.token, api_url=stub.url) is None


def test_a_fork_with_the_same_branch_name_is_not_the_branch(stub: GitHubStub) -> None:
    stub.add_pull_request(REPO, 5, head="feature/x", head_repo="mallory/theobroma-geo-api")
    assert pr_for_branch(REPO, "feature/x", token=stub.token, api_url=stub.url) is None
    assert open_pr_branches(REPO, token=stub.token, api_url=stub.url) == []


def test_open_pr_branches_reads_every_page(stub: GitHubStub) -> None:
    for number in range(1, 251):
        stub.add_pull_request(
            REPO, number, head=f"feature/b{number:03d}", state="closed" if number % 50 == 0 else "open"
        )
    branches = open_pr_branches(REPO, token=stub.token, api_url=stub.url, per_page=100)
    assert len(branches) == 245
    assert "feature/b001" in branches and "feature/b249" in branches and "feature/b050" not in branches
    pages = [r.query.get("page", ["1"])[0] for r in stub.calls("GET") if r.path.endswith("/pulls")]
    assert pages == ["1", "2", "3"]


def test_rate_limit_is_waited_out(stub: GitHubStub) -> None:
    stub.add_pull_request(REPO, 3, head="develop")
    stub.fail_next(1, "secondary_rate_limit", wait_s=1)
    assert open_pr_branches(REPO, token=stub.token, api_url=stub.url) == ["develop"]


def test_rate_limit_beyond_the_max_wait_is_a_clear_error(stub: GitHubStub) -> None:
    stub.fail_next(1, "rate_limit", wait_s=600)
    with pytest.raises(DeployError, match="rate limit"):
        open_pr_branches(REPO, token=stub.token, api_url=stub.url, max_wait_s=5)


def test_missing_permission_is_a_clear_error_without_the_token(stub: GitHubStub) -> None:
    stub.add_pull_request(REPO, 3, head="develop")
    stub.fail_next(1, "forbidden")
    with pytest.raises(DeployError, match="pull-requests: read") as caught:
        pr_for_branch(REPO, "develop", token=stub.token, api_url=stub.url)
    assert stub.token not in str(caught.value)


def test_cli_prints_the_number_or_nothing(stub: GitHubStub, monkeypatch: pytest.MonkeyPatch) -> None:
    stub.add_pull_request(REPO, 12, head="feature/a")
    stub.add_pull_request(REPO, 13, head="hotfix/b")
    monkeypatch.setenv("GITHUB_TOKEN", stub.token)
    monkeypatch.setenv("GITHUB_API_URL", stub.url)
    monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
    runner = CliRunner()
    found = runner.invoke(main, ["github", "pr-for-branch", "--branch", "feature/a"])
    assert found.exit_code == 0, found.output
    assert found.stdout == "12\n"
    none = runner.invoke(main, ["github", "pr-for-branch", "--branch", "develop"])
    assert none.exit_code == 0, none.output
    assert none.stdout == ""
    listed = runner.invoke(main, ["github", "open-pr-branches"])
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines() == ["feature/a", "hotfix/b"]


def test_cli_needs_a_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    result = CliRunner().invoke(main, ["github", "open-pr-branches", "--repo", REPO])
    assert result.exit_code != 0
    assert "GITHUB_TOKEN" in result.output
