"""`deploytool github`: helpers for the workflows."""

from __future__ import annotations

import os
from typing import Any

import click

from deploytool import github as github_mod
from deploytool.cli.base import (
    err,
    main,
)
from deploytool.errors import DeployError


# -- GitHub ----------------------------------------------------------------------------------------
@main.group("github")
def github_cmd() -> None:
    """GitHub helpers for the workflows."""


@github_cmd.command("comment")
@click.option("--repo", required=True, envvar="GITHUB_REPOSITORY", help="OWNER/NAME.")
@click.option("--pr", required=True, type=click.IntRange(min=1), help="Pull request number.")
@click.option("--marker", required=True, help="Key of the comment to update (one per environment).")
@click.option("--body-file", required=True, type=click.File("r"), help="Markdown body ('-' for stdin).")
@click.option("--api-url", envvar="GITHUB_API_URL", default="https://api.github.com", show_default=True)
@click.option(
    "--author",
    metavar="LOGIN",
    help="Only update a comment LOGIN wrote (default: the token's user; github-actions[bot] for Actions' token).",
)
def github_comment_cmd(repo: str, pr: int, marker: str, body_file: Any, api_url: str, author: str | None) -> None:
    """Create or update the PR comment carrying MARKER that the token's user wrote (token from GITHUB_TOKEN)."""
    token = os.environ.get("GITHUB_TOKEN", "")
    if not token:
        raise DeployError("GITHUB_TOKEN is not set")
    result = github_mod.upsert_comment(repo, pr, marker, body_file.read(), token=token, api_url=api_url, author=author)
    err(f"{result.action} comment {result.comment_id}: {result.url}")


def _token() -> str:
    token = os.environ.get("GITHUB_TOKEN", "")
    if not token:
        raise DeployError("GITHUB_TOKEN is not set")
    return token


@github_cmd.command("pr-for-branch")
@click.option("--repo", required=True, envvar="GITHUB_REPOSITORY", help="OWNER/NAME.")
@click.option("--branch", required=True, help="Head branch (in the repository itself, not a fork).")
@click.option("--api-url", envvar="GITHUB_API_URL", default="https://api.github.com", show_default=True)
def github_pr_for_branch_cmd(repo: str, branch: str, api_url: str) -> None:
    """Print the number of the open pull request from BRANCH, or nothing (token from GITHUB_TOKEN)."""
    number = github_mod.pr_for_branch(repo, branch, token=_token(), api_url=api_url)
    if number is not None:
        click.echo(number)


@github_cmd.command("open-pr-branches")
@click.option("--repo", required=True, envvar="GITHUB_REPOSITORY", help="OWNER/NAME.")
@click.option("--api-url", envvar="GITHUB_API_URL", default="https://api.github.com", show_default=True)
def github_open_pr_branches_cmd(repo: str, api_url: str) -> None:
    """Print the head branches of the open pull requests, one per line (forks' excluded; token from GITHUB_TOKEN)."""
    for branch in github_mod.open_pr_branches(repo, token=_token(), api_url=api_url):
        click.echo(branch)
