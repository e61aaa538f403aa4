"""Pull request comments that are updated in place instead of piling up.

``upsert_comment`` finds the comment carrying a hidden marker (``<!-- deploytool:<marker> -->``)
among all comments of a pull request and edits it, or creates it when there is none. Only a comment
the token's own user wrote is edited: anyone can paste the marker into a comment of theirs, and a
token with write access may edit other people's comments. The token's user comes from ``GET /user``;
GitHub Actions' ``GITHUB_TOKEN`` (an installation token) is refused there (HTTP 403, "Resource not
accessible by integration") and writes as the ``github-actions[bot]`` bot, which is matched then. GitHub's
rate limits are honoured (bounded waits); permission and not-found errors become ``DeployError``
with what to fix. The token is only ever sent in the Authorization header: it never appears in
messages or logs.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity.stop import stop_base

from deploytool.errors import DeployError
from deploytool.httpfetch import parse_retry_after

log = logging.getLogger(__name__)

MAX_COMMENT_CHARS = 65_536
"""GitHub rejects comment bodies longer than this."""

DEFAULT_API_URL = "https://api.github.com"
ACTIONS_BOT = "github-actions[bot]"
"""The author of what GitHub Actions' ``GITHUB_TOKEN`` writes (a user of type ``Bot``)."""
_INTEGRATION_REFUSED = "Resource not accessible by integration"
_RESERVED_FOR_NOTE = 300
_SECONDARY_LIMIT_WAIT_S = 60.0
_MAX_ATTEMPTS = 5
_IDEMPOTENT = frozenset({"GET", "PATCH", "PUT", "DELETE", "HEAD"})
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_MARKER = re.compile(r"^[A-Za-z0-9_.:/-]+$")
_PERMISSION_HINT = (
    "the token needs `pull-requests: write` (or `issues: write`) permission; "
    "in GitHub Actions add it under `permissions:` of the job"
)


@dataclass(frozen=True)
class CommentResult:
    """What ``upsert_comment`` did."""

    action: Literal["created", "updated"]
    comment_id: int
    url: str


@dataclass(frozen=True)
class Author:
    """Whose comments may be edited: a login, and whether it must be a bot account."""

    login: str
    bot: bool = False

    @classmethod
    def named(cls, login: str) -> Author:
        return cls(login, bot=login.endswith("[bot]"))

    def wrote(self, comment: dict[str, Any]) -> bool:
        user = comment.get("user")
        if not isinstance(user, dict) or user.get("login") != self.login:
            return False
        return not self.bot or user.get("type") == "Bot"


def marker_tag(marker: str) -> str:
    """The hidden HTML comment that identifies a deploytool comment."""
    return f"<!-- deploytool:{marker} -->"


def render_body(marker: str, body: str, *, limit: int = MAX_COMMENT_CHARS) -> str:
    """The comment text: the marker on the first line, then ``body``, truncated to ``limit`` with a note."""
    tag = marker_tag(marker)
    full = body if tag in body else f"{tag}\n{body}"
    if len(full) <= limit:
        return full
    keep = limit - _RESERVED_FOR_NOTE
    head = full[:keep]
    if tag not in head:
        head = f"{tag}\n{head[: keep - len(tag) - 1]}"
    cut = head.rfind("\n", keep - 2000)
    if cut > len(tag):
        head = head[:cut]
    if head.count("```") % 2:
        head += "\n```"
    omitted = len(full) - len(head)
    note = (
        f"\n\n> **Truncated:** {omitted:,} more characters not shown "
        f"(GitHub comments are limited to {limit:,} characters). See the workflow log for the full text.\n"
    )
    return head + note


def upsert_comment(
    repo: str,
    pr: int,
    marker: str,
    body: str,
    *,
    token: str,
    api_url: str = DEFAULT_API_URL,
    max_wait_s: float = 60.0,
    timeout_s: float = 30.0,
    per_page: int = 100,
    author: str | None = None,
) -> CommentResult:
    """Create or update the pull request comment identified by ``marker``; never posts a duplicate.

    All pages of comments are searched; the first (oldest) comment carrying the marker and written by
    ``author`` (default: the token's own user, see the module docstring) is edited.
    Rate-limited requests (403/429 with ``X-RateLimit-Remaining: 0`` + ``X-RateLimit-Reset``, or
    ``Retry-After``) are retried after the reset if that is at most ``max_wait_s`` away; otherwise,
    and for 401/403/404/422, a ``DeployError`` says what to fix.
    """
    if not _REPO.match(repo):
        raise DeployError(f"GitHub repository must be 'owner/name', got {repo!r}")
    if pr < 1:
        raise DeployError(f"pull request number must be positive, got {pr}")
    if not _MARKER.match(marker):
        raise DeployError(f"comment marker may only contain letters, digits and _.:/-, got {marker!r}")
    if not token:
        raise DeployError("no GitHub token: set GITHUB_TOKEN")
    text = render_body(marker, body)
    with _Api(repo, pr, token=token, api_url=api_url, max_wait_s=max_wait_s, timeout_s=timeout_s) as api:
        existing = api.find_comment(marker_tag(marker), Author.named(author) if author else None, per_page=per_page)
        if existing is not None:
            updated = api.update_comment(int(existing["id"]), text)
            if updated is not None:
                log.info("updated comment %s on %s#%s", updated["id"], repo, pr)
                return CommentResult("updated", int(updated["id"]), str(updated.get("html_url", "")))
            log.info("comment %s disappeared while updating it; creating a new one", existing["id"])
        created = api.create_comment(text)
        log.info("created comment %s on %s#%s", created["id"], repo, pr)
        return CommentResult("created", int(created["id"]), str(created.get("html_url", "")))


@dataclass(frozen=True)
class PullRequest:
    """An open pull request: its number and head branch, and the repository the branch lives in."""

    number: int
    branch: str
    head_repo: str


_READ_PULLS_HINT = (
    "the token needs `pull-requests: read` permission; in GitHub Actions add it under `permissions:` of the job"
)


def open_pull_requests(
    repo: str,
    *,
    token: str,
    api_url: str = DEFAULT_API_URL,
    branch: str | None = None,
    max_wait_s: float = 60.0,
    timeout_s: float = 30.0,
    per_page: int = 100,
) -> list[PullRequest]:
    """The open pull requests of ``repo`` whose head branch lives in ``repo`` itself (pull requests from
    forks never deploy, so they never keep an environment), oldest first; only those from ``branch`` if
    given. All pages are read; rate limits and errors are handled as in ``upsert_comment``."""
    if not _REPO.match(repo):
        raise DeployError(f"GitHub repository must be 'owner/name', got {repo!r}")
    if not token:
        raise DeployError("no GitHub token: set GITHUB_TOKEN")
    if branch is not None and not branch.strip():
        raise DeployError("branch name is empty")
    # GitHub filters by head only in the form owner:branch (a bare branch name is ignored).
    head = f"{repo.split('/', maxsplit=1)[0]}:{branch}" if branch is not None else None
    with _Api(
        repo,
        None,
        token=token,
        api_url=api_url,
        max_wait_s=max_wait_s,
        timeout_s=timeout_s,
        permission_hint=_READ_PULLS_HINT,
    ) as api:
        pulls = api.list_pulls(head=head, per_page=per_page)
    found = []
    for pull in pulls:
        head_info = pull.get("head")
        if not isinstance(head_info, dict) or pull.get("state", "open") != "open":
            continue
        head_repo = head_info.get("repo")
        ref = head_info.get("ref")
        # A fork's repository may be deleted: GitHub then answers "repo": null.
        if not isinstance(head_repo, dict) or head_repo.get("full_name") != repo or not isinstance(ref, str):
            continue
        if branch is not None and ref != branch:
            continue
        found.append(PullRequest(int(pull["number"]), ref, repo))
    return sorted(found, key=lambda p: p.number)


def pr_for_branch(repo: str, branch: str, **kwargs: Any) -> int | None:
    """The number of the open pull request from ``branch`` of ``repo`` (the oldest if several), or None."""
    pulls = open_pull_requests(repo, branch=branch, **kwargs)
    return pulls[0].number if pulls else None


def open_pr_branches(repo: str, **kwargs: Any) -> list[str]:
    """The head branches of the open pull requests of ``repo`` (same-repository heads only), each once."""
    return list(dict.fromkeys(p.branch for p in open_pull_requests(repo, **kwargs)))


# --- REST calls -------------------------------------------------------------------------------------


class _RateLimited(Exception):
    def __init__(self, wait_s: float) -> None:
        super().__init__(f"rate limited for {wait_s:.0f} s")
        self.wait_s = wait_s


class _Transient(Exception):
    """A server error or lost connection on a request that is safe to send again."""


class _stop_if_wait_exceeds(stop_base):
    """Stop instead of sleeping longer than ``max_wait_s`` before the next attempt."""

    def __init__(self, max_wait_s: float) -> None:
        self.max_wait_s = max_wait_s

    def __call__(self, retry_state: RetryCallState) -> bool:
        return (retry_state.upcoming_sleep or 0.0) > self.max_wait_s


class _Api:
    def __init__(
        self,
        repo: str,
        pr: int | None,
        *,
        token: str,
        api_url: str,
        max_wait_s: float,
        timeout_s: float,
        permission_hint: str = _PERMISSION_HINT,
    ) -> None:
        self.repo = repo
        self.pr = pr
        self.where = repo if pr is None else f"{repo}#{pr}"
        self.permission_hint = permission_hint
        self.api_url = api_url.rstrip("/")
        self.max_wait_s = max_wait_s
        self._token = token
        self._client = httpx.Client(
            base_url=self.api_url,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": "deploytool",
            },
            timeout=timeout_s,
            follow_redirects=False,
        )

    def __enter__(self) -> _Api:
        return self

    def __exit__(self, *_: object) -> None:
        self._client.close()

    def find_comment(self, tag: str, author: Author | None, *, per_page: int) -> dict[str, Any] | None:
        """The oldest comment carrying ``tag`` written by ``author`` (None: the token's user)."""
        url: str | None = f"/repos/{self.repo}/issues/{self.pr}/comments?per_page={per_page}"
        while url is not None:
            response = self._call("GET", url, what="list the comments")
            comments: list[dict[str, Any]] = response.json()
            for comment in comments:
                if tag in str(comment.get("body") or ""):
                    author = author or self.token_author()  # asked only once a marker turns up
                    if author.wrote(comment):
                        return comment
                    log.info("comment %s carries the marker but is not by %s: left alone", comment.get("id"), author)
            url = self._next_page(response)
        return None

    def token_author(self) -> Author:
        """Who the token writes as: ``GET /user``, or the Actions bot for an installation token."""
        response = self._call("GET", "/user", what="identify the token's user", allow={403})
        if response.status_code == httpx.codes.FORBIDDEN:
            if _INTEGRATION_REFUSED.lower() not in _github_message(response).lower():
                raise DeployError(self._error_message(response, "identify the token's user"))
            return Author(ACTIONS_BOT, bot=True)
        document = response.json()
        login = document.get("login") if isinstance(document, dict) else None
        if not isinstance(login, str) or not login:
            raise DeployError("GitHub API answered GET /user without a login; pass the comment author (--author)")
        return Author(login, bot=document.get("type") == "Bot")

    def update_comment(self, comment_id: int, text: str) -> dict[str, Any] | None:
        """The updated comment, or None if it no longer exists."""
        url = f"/repos/{self.repo}/issues/comments/{comment_id}"
        response = self._call("PATCH", url, what="update the comment", json={"body": text}, allow={404})
        if response.status_code == httpx.codes.NOT_FOUND:
            return None
        result: dict[str, Any] = response.json()
        return result

    def list_pulls(self, *, head: str | None, per_page: int) -> list[dict[str, Any]]:
        """Every open pull request of the repository (all pages), only those from ``head`` if given."""
        params: dict[str, str | int] = {"state": "open", "per_page": per_page}
        if head is not None:
            params["head"] = head
        url: str | None = str(httpx.URL(f"/repos/{self.repo}/pulls", params=params))
        pulls: list[dict[str, Any]] = []
        while url is not None:
            response = self._call("GET", url, what="list the open pull requests")
            page = response.json()
            if not isinstance(page, list):
                raise DeployError(f"GitHub API answered the pull request listing of {self.where} without a list")
            pulls.extend(p for p in page if isinstance(p, dict))
            url = self._next_page(response)
        return pulls

    def create_comment(self, text: str) -> dict[str, Any]:
        url = f"/repos/{self.repo}/issues/{self.pr}/comments"
        result: dict[str, Any] = self._call("POST", url, what="create the comment", json={"body": text}).json()
        return result

    def _next_page(self, response: httpx.Response) -> str | None:
        url = response.links.get("next", {}).get("url")
        if url is None:
            return None
        if not url.startswith(self.api_url + "/"):
            # Never send the token anywhere but the API it was meant for.
            raise DeployError(f"GitHub API returned a next page outside {self.api_url}: {url}")
        return url

    def _call(
        self, method: str, url: str, *, what: str, json: Any = None, allow: frozenset[int] | set[int] = frozenset()
    ) -> httpx.Response:
        def wait(state: RetryCallState) -> float:
            error = state.outcome.exception() if state.outcome else None
            if isinstance(error, _RateLimited):
                return error.wait_s
            return float(min(2 ** (state.attempt_number - 1), 8))

        retrying = Retrying(
            retry=retry_if_exception_type((_RateLimited, _Transient)),
            wait=wait,
            stop=stop_after_attempt(_MAX_ATTEMPTS) | _stop_if_wait_exceeds(self.max_wait_s),
            before_sleep=lambda state: log.info(
                "GitHub API %s %s: retrying in %.0f s", method, _path(url), state.upcoming_sleep
            ),
            reraise=True,
        )
        try:
            response = retrying(self._send, method, url, json)
        except _RateLimited as exc:
            raise DeployError(
                f"GitHub API rate limit exceeded while trying to {what} on {self.where}: "
                f"it resets in {exc.wait_s:.0f} s, longer than the {self.max_wait_s:g} s this command waits; "
                "retry later"
            ) from None
        except _Transient as exc:
            raise DeployError(f"could not {what} on {self.where}: {self._scrub(str(exc))}") from None
        except httpx.HTTPError as exc:
            raise DeployError(
                f"could not {what} on {self.where}: {type(exc).__name__}: {self._scrub(str(exc))}"
            ) from None
        if response.is_success or response.status_code in allow:
            return response
        raise DeployError(self._error_message(response, what))

    def _send(self, method: str, url: str, json: Any) -> httpx.Response:
        try:
            response = self._client.request(method, url, json=json)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise _Transient(f"cannot reach {self.api_url}: {exc}") from exc
        except httpx.TransportError as exc:
            if method in _IDEMPOTENT:
                raise _Transient(f"{type(exc).__name__} talking to {self.api_url}: {exc}") from exc
            raise
        wait_s = _rate_limit_wait(response)
        if wait_s is not None:
            raise _RateLimited(wait_s)
        if response.status_code >= httpx.codes.INTERNAL_SERVER_ERROR:
            detail = f"GitHub API answered HTTP {response.status_code} {response.reason_phrase}"
            if method in _IDEMPOTENT:
                raise _Transient(detail)
            # A POST that failed on the server side may still have created the comment: do not repeat it.
            raise DeployError(f"{detail} to {method} {_path(url)}; not retried to avoid a duplicate comment")
        return response

    def _error_message(self, response: httpx.Response, what: str) -> str:
        status = response.status_code
        message = self._scrub(_github_message(response))
        where = self.where
        if status == httpx.codes.UNAUTHORIZED:
            return f"GitHub rejected the token (HTTP 401: {message}); check GITHUB_TOKEN"
        if status == httpx.codes.FORBIDDEN:
            return f"GitHub refused to let the token {what} on {where} (HTTP 403: {message}); {self.permission_hint}"
        if status == httpx.codes.NOT_FOUND and self.pr is None:
            return (
                f"GitHub has no repository {where} (HTTP 404: {message}): check the name and that the token "
                "can see the repository"
            )
        if status == httpx.codes.NOT_FOUND:
            return (
                f"GitHub has no pull request {where} (HTTP 404: {message}): check the repository and the pull "
                "request number, and that the token can see the repository"
            )
        if status == httpx.codes.UNPROCESSABLE_ENTITY:
            return f"GitHub rejected the comment on {where} (HTTP 422: {message})"
        return f"could not {what} on {where}: HTTP {status} {message}"

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


def _rate_limit_wait(response: httpx.Response) -> float | None:
    """Seconds to wait if ``response`` is a rate-limit refusal, else None."""
    if response.status_code not in (httpx.codes.FORBIDDEN, httpx.codes.TOO_MANY_REQUESTS):
        return None
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if retry_after is not None:
        return retry_after
    if response.headers.get("x-ratelimit-remaining") == "0":
        reset = response.headers.get("x-ratelimit-reset", "")
        if reset.isdigit():
            # The reset is a whole second: wait one more so the window has surely rolled over.
            return max(0.0, int(reset) - time.time()) + 1.0
        return _SECONDARY_LIMIT_WAIT_S
    if response.status_code == httpx.codes.TOO_MANY_REQUESTS or "rate limit" in _github_message(response).lower():
        return _SECONDARY_LIMIT_WAIT_S
    return None


def _github_message(response: httpx.Response) -> str:
    try:
        document = response.json()
    except ValueError:
        return response.reason_phrase or "no message"
    message = str(document.get("message", "")) if isinstance(document, dict) else ""
    errors = document.get("errors") if isinstance(document, dict) else None
    if isinstance(errors, list):
        details = [str(e.get("message") or e.get("code") or "") for e in errors if isinstance(e, dict)]
        message = "; ".join(filter(None, [message, *details]))
    return message[:300] or response.reason_phrase or "no message"


def _path(url: str) -> str:
    return httpx.URL(url).path
