"""Pull request comment upserts against a GitHub REST stub on loopback."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator

import pytest

from deploytool.errors import DeployError
from deploytool.github import MAX_COMMENT_CHARS, CommentResult, marker_tag, render_body, upsert_comment
from tests.githubstub import ACTIONS_BOT_LOGIN, GitHubStub

REPO = "acme/theobroma-geo-api"
PR = 42
MARKER = "plan:staging"
TAG = "<!-- deploytool:plan:staging -->"


@pytest.fixture
def stub() -> Iterator[GitHubStub]:
    with GitHubStub() as stub:
        stub.add_pull_request(REPO, PR)
        yield stub


def add_own_comment(stub: GitHubStub, body: str) -> dict[str, object]:
    """A comment an earlier run wrote with the stub's token (GitHub Actions' bot)."""
    return stub.add_comment(REPO, PR, body, user=ACTIONS_BOT_LOGIN, user_type="Bot")


def listings(stub: GitHubStub) -> list[str]:
    """The pages of comments listed (GET /user aside)."""
    return [r.query.get("page", ["1"])[0] for r in stub.calls("GET") if r.path.endswith("/comments")]


def upsert(stub: GitHubStub, body: str, **kwargs: object) -> CommentResult:
    return upsert_comment(REPO, PR, MARKER, body, token=stub.token, api_url=stub.url, **kwargs)  # type: ignore[arg-type]


def test_first_call_creates_second_updates_the_same_comment(stub: GitHubStub) -> None:
    first = upsert(stub, "Plan: 3 to add")
    assert first.action == "created"
    assert first.url == f"https://github.com/{REPO}/pull/{PR}#issuecomment-{first.comment_id}"
    assert stub.bodies(REPO, PR) == [f"{TAG}\nPlan: 3 to add"]

    second = upsert(stub, "Plan: 1 to change")
    assert second.action == "updated"
    assert second.comment_id == first.comment_id
    assert stub.bodies(REPO, PR) == [f"{TAG}\nPlan: 1 to change"]
    assert len(stub.calls("POST")) == 1
    assert all(r.authorization == f"Bearer {stub.token}" for r in stub.calls())


def test_other_comments_are_untouched(stub: GitHubStub) -> None:
    stub.add_comment(REPO, PR, "LGTM")
    stub.add_comment(REPO, PR, "<!-- deploytool:plan:production -->\nproduction plan")
    upsert(stub, "staging plan v1")
    upsert(stub, "staging plan v2")
    assert stub.bodies(REPO, PR) == [
        "LGTM",
        "<!-- deploytool:plan:production -->\nproduction plan",
        f"{TAG}\nstaging plan v2",
    ]


def test_a_marker_comment_someone_else_wrote_is_left_alone(stub: GitHubStub) -> None:
    # A reviewer quoting the plan comment copies its hidden marker; the Actions token may edit it.
    quoted = stub.add_comment(REPO, PR, f"> {TAG}\n> Plan: 3 to add\n\nwhy 3?", user="octocat")
    first = upsert(stub, "Plan: 3 to add")
    second = upsert(stub, "Plan: 4 to add")
    assert (first.action, second.action) == ("created", "updated")
    assert first.comment_id != quoted["id"] and second.comment_id == first.comment_id
    assert stub.bodies(REPO, PR) == [f"> {TAG}\n> Plan: 3 to add\n\nwhy 3?", f"{TAG}\nPlan: 4 to add"]
    assert not [r for r in stub.calls("PATCH") if r.path.endswith(f"/{quoted['id']}")]
    # GitHub refuses GET /user to the Actions token; its comments are github-actions[bot]'s.
    assert [r.status for r in stub.calls("GET") if r.path == "/user"] == [403, 403]


def test_a_personal_token_edits_only_its_own_users_comment(stub: GitHubStub) -> None:
    stub.add_token("ghp_alice0123456789", "alice")
    add_own_comment(stub, f"{TAG}\nwritten by the workflow")
    stub.add_comment(REPO, PR, f"{TAG}\nbob's copy", user="bob")
    mine = stub.add_comment(REPO, PR, f"{TAG}\nalice's", user="alice")
    result = upsert_comment(REPO, PR, MARKER, "alice again", token="ghp_alice0123456789", api_url=stub.url)
    assert (result.action, result.comment_id) == ("updated", mine["id"])
    assert stub.bodies(REPO, PR) == [f"{TAG}\nwritten by the workflow", f"{TAG}\nbob's copy", f"{TAG}\nalice again"]
    assert [r.status for r in stub.calls("GET") if r.path == "/user"] == [200]


def test_an_app_token_names_its_bot(stub: GitHubStub) -> None:
    stub.add_token("ghs_app0123456789", "deploy-app[bot]", user_type="Bot", installation=True)
    add_own_comment(stub, f"{TAG}\nby the Actions bot")
    ours = stub.add_comment(REPO, PR, f"{TAG}\nby the app", user="deploy-app[bot]", user_type="Bot")
    token = "ghs_app0123456789"
    result = upsert_comment(REPO, PR, MARKER, "new", token=token, api_url=stub.url, author="deploy-app[bot]")
    assert (result.action, result.comment_id) == ("updated", ours["id"])
    assert not [r for r in stub.calls("GET") if r.path == "/user"]


def test_no_user_lookup_when_no_comment_carries_the_marker(stub: GitHubStub) -> None:
    stub.add_comment(REPO, PR, "LGTM")
    upsert(stub, "plan")
    assert [r.path for r in stub.calls()] == [f"/repos/{REPO}/issues/{PR}/comments"] * 2


def test_comment_on_page_two_of_three_is_found(stub: GitHubStub) -> None:
    for i in range(35):
        stub.add_comment(REPO, PR, f"chatter {i}")
    ours = add_own_comment(stub, f"{TAG}\nold plan")
    for i in range(30):
        stub.add_comment(REPO, PR, f"more chatter {i}")

    result = upsert(stub, "new plan", per_page=30)

    assert result.action == "updated"
    assert result.comment_id == ours["id"]
    assert len(stub.bodies(REPO, PR)) == 66
    assert listings(stub) == ["1", "2"]
    assert not stub.calls("POST")


def test_marker_on_the_last_page_is_found(stub: GitHubStub) -> None:
    for i in range(5):
        stub.add_comment(REPO, PR, f"chatter {i}")
    ours = add_own_comment(stub, f"{TAG}\nold")
    result = upsert(stub, "new", per_page=2)
    assert (result.action, result.comment_id) == ("updated", ours["id"])
    assert listings(stub) == ["1", "2", "3"]


def test_primary_rate_limit_is_waited_out_then_succeeds(stub: GitHubStub) -> None:
    stub.fail_next(1, "rate_limit", wait_s=1)
    started = time.monotonic()
    result = upsert(stub, "plan")
    elapsed = time.monotonic() - started
    assert result.action == "created"
    assert 0.5 < elapsed < 5, "waits for X-RateLimit-Reset (+1 s), not longer"
    assert [r.status for r in stub.calls()] == [403, 200, 201]


def test_rate_limit_on_create_is_retried_without_duplicates(stub: GitHubStub) -> None:
    stub.fail_next(1, "too_many_requests", wait_s=1, methods={"POST"})
    result = upsert(stub, "plan")
    assert result.action == "created"
    assert len(stub.bodies(REPO, PR)) == 1
    assert [r.status for r in stub.calls("POST")] == [429, 201]


def test_secondary_rate_limit_with_retry_after_is_retried(stub: GitHubStub) -> None:
    add_own_comment(stub, f"{TAG}\nold")
    stub.fail_next(1, "secondary_rate_limit", wait_s=1, methods={"PATCH"})
    result = upsert(stub, "new")
    assert result.action == "updated"
    assert stub.bodies(REPO, PR) == [f"{TAG}\nnew"]


def test_rate_limit_reset_beyond_the_max_wait_gives_up_at_once(stub: GitHubStub) -> None:
    stub.fail_next(1, "rate_limit", wait_s=3600)
    started = time.monotonic()
    with pytest.raises(DeployError, match=r"rate limit exceeded .* resets in 360\d s, longer than the 60 s"):
        upsert(stub, "plan")
    assert time.monotonic() - started < 2
    assert not stub.calls("POST")


def test_missing_pull_request_is_a_clear_error(stub: GitHubStub) -> None:
    with pytest.raises(DeployError) as caught:
        upsert_comment(REPO, 999, MARKER, "plan", token=stub.token, api_url=stub.url)
    message = caught.value.message
    assert f"GitHub has no pull request {REPO}#999 (HTTP 404" in message
    assert "check the repository and the pull request number" in message
    assert stub.token not in message


def test_missing_permission_is_a_clear_error(stub: GitHubStub) -> None:
    stub.fail_next(1, "forbidden", methods={"POST"})
    with pytest.raises(DeployError) as caught:
        upsert(stub, "plan")
    message = caught.value.message
    assert "HTTP 403: Resource not accessible by integration" in message
    assert "`pull-requests: write`" in message
    assert stub.token not in message


def test_bad_token_is_a_clear_error_without_the_token(stub: GitHubStub, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "ghp_not-the-right-one-0123456789"
    with pytest.raises(DeployError) as caught:
        upsert_comment(REPO, PR, MARKER, "plan", token=secret, api_url=stub.url)
    assert "HTTP 401: Bad credentials" in caught.value.message
    assert secret not in caught.value.message
    assert secret not in caplog.text


def test_server_error_on_create_is_not_retried(stub: GitHubStub) -> None:
    stub.fail_next(1, "server_error", methods={"POST"})
    with pytest.raises(DeployError, match="not retried to avoid a duplicate comment"):
        upsert(stub, "plan")
    assert len(stub.calls("POST")) == 1


def test_server_error_on_listing_is_retried(stub: GitHubStub) -> None:
    stub.fail_next(1, "server_error", methods={"GET"})
    assert upsert(stub, "plan").action == "created"
    assert [r.status for r in stub.calls("GET")] == [502, 200]


def test_unreachable_api_is_a_clear_error() -> None:
    with pytest.raises(DeployError, match="could not list the comments"):
        upsert_comment(REPO, PR, MARKER, "plan", token="t0ken-value", api_url="http://127.0.0.1:9", max_wait_s=0.5)


def test_huge_body_is_truncated_under_the_limit_with_the_marker_kept(stub: GitHubStub) -> None:
    huge = "```\n" + "\n".join(f"  + resource line {i}" for i in range(10_000)) + "\n```\n"
    assert len(huge) > MAX_COMMENT_CHARS
    result = upsert(stub, huge)
    assert result.action == "created"
    [posted] = stub.bodies(REPO, PR)
    assert len(posted) <= MAX_COMMENT_CHARS
    assert posted.startswith(TAG)
    assert "**Truncated:**" in posted
    assert posted.count("```") % 2 == 0, "an open code block is closed before the note"
    assert upsert(stub, huge).action == "updated", "the truncated comment is still found by its marker"


def test_render_body_keeps_short_bodies_and_an_existing_marker() -> None:
    assert render_body(MARKER, "hello") == f"{TAG}\nhello"
    assert render_body(MARKER, f"# Plan\n{TAG}\nhello") == f"# Plan\n{TAG}\nhello"
    assert marker_tag("x") == "<!-- deploytool:x -->"


def test_render_body_truncates_a_body_whose_marker_is_at_the_end() -> None:
    text = render_body(MARKER, "x" * 70_000 + TAG, limit=10_000)
    assert len(text) <= 10_000
    assert text.startswith(TAG)
    assert re.search(r"\*\*Truncated:\*\* 60,\d{3} more characters not shown", text)


@pytest.mark.parametrize(
    ("repo", "pr", "marker", "token", "message"),
    [
        ("not-a-repo", PR, MARKER, "t", "must be 'owner/name'"),
        (REPO, 0, MARKER, "t", "must be positive"),
        (REPO, PR, "bad marker -->", "t", "comment marker"),
        (REPO, PR, MARKER, "", "no GitHub token"),
    ],
)
def test_invalid_input_is_a_user_error(repo: str, pr: int, marker: str, token: str, message: str) -> None:
    with pytest.raises(DeployError, match=message):
        upsert_comment(repo, pr, marker, "body", token=token, api_url="http://127.0.0.1:9")
