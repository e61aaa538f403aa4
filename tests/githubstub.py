"""A small GitHub REST API stand-in on 127.0.0.1 for pull request comment tests.

Implements what comment upserts use:

- ``GET /user``: the token's user; for an installation token (the default token, standing in for
  GitHub Actions' ``GITHUB_TOKEN``) 403 "Resource not accessible by integration", as GitHub answers
- ``GET /repos/{owner}/{repo}`` (clients that look the repository up first)
- ``GET|POST /repos/{owner}/{repo}/issues/{number}/comments`` (``per_page``/``page`` + ``Link``)
- ``GET|PATCH /repos/{owner}/{repo}/issues/comments/{id}``
- ``GET /repos/{owner}/{repo}/pulls`` with GitHub's ``state`` (``open`` by default, ``closed``,
  ``all``; anything else 422) and ``head`` filters; as on GitHub, ``head`` only filters in the form
  ``owner:branch`` and a bare branch name is ignored (every pull request of the state comes back)
- ``GET /repos/{owner}/{repo}/pulls/{number}``

Requests need ``Authorization: Bearer <token>`` (or ``token <token>``). Every comment has an
author (``user``): a comment created through the API is written by the token's user
(``github-actions[bot]``, type ``Bot``, for the default token; see ``add_token`` for users), one
seeded with ``add_comment`` by ``octocat`` unless told otherwise. As on GitHub, a token that may
write comments may also edit other people's. Faults can be queued for
the next requests: primary rate limit (403 + ``X-RateLimit-Remaining: 0`` + ``X-RateLimit-Reset``),
secondary rate limit (403/429 + ``Retry-After``), 403, 404, 502.

    with GitHubStub() as stub:
        stub.add_pull_request("acme/geo-api", 7)
        ...  # call the code under test with api_url=stub.url, token=stub.token
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlencode, urlsplit

ACTIONS_BOT_LOGIN = "github-actions[bot]"
ACTIONS_BOT_ID = 41898282
FaultKind = Literal["rate_limit", "secondary_rate_limit", "too_many_requests", "forbidden", "not_found", "server_error"]
MAX_BODY = 65_536

_ISSUE_COMMENTS = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<number>\d+)/comments$")
_COMMENT = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/comments/(?P<id>\d+)$")
_REPO = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)$")
_PULLS = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/pulls$")
_PULL = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/pulls/(?P<number>\d+)$")
PullState = Literal["open", "closed"]


@dataclass
class Fault:
    kind: FaultKind
    wait_s: float = 1.0
    methods: frozenset[str] | None = None  # None: any method


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    status: int
    body: Any = None
    authorization: str = ""


@dataclass
class GitHubStub:
    token: str = "ghs_stubtoken0123456789"
    comments: dict[tuple[str, int], list[dict[str, Any]]] = field(default_factory=dict)
    pulls: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Token -> the user it writes as; ``installation: True`` marks a token GET /user refuses."""

    def __post_init__(self) -> None:
        self.users.setdefault(
            self.token, {"login": ACTIONS_BOT_LOGIN, "id": ACTIONS_BOT_ID, "type": "Bot", "installation": True}
        )
        self._lock = threading.Lock()
        self._next_id = 1_000
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None, "stub not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> GitHubStub:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.stub = self
        self._thread = threading.Thread(target=self._server.serve_forever, name="github-stub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> GitHubStub:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # --- fixtures ---------------------------------------------------------------------------------

    def add_pull_request(
        self,
        repo: str,
        number: int,
        *,
        head: str | None = None,
        head_repo: str | None = None,
        head_sha: str = "0" * 40,
        base: str = "main",
        state: PullState = "open",
    ) -> dict[str, Any]:
        """A pull request of ``repo`` from branch ``head`` (default ``branch-<number>``) of ``head_repo``
        (default ``repo`` itself; another repository is a fork)."""
        head_repo = head_repo or repo
        ref = head or f"branch-{number}"
        pull = {
            "number": number,
            "state": state,
            "merged": False,
            "title": f"Pull request {number}",
            "html_url": f"https://github.com/{repo}/pull/{number}",
            "head": {
                "ref": ref,
                "sha": head_sha,
                "label": f"{head_repo.split('/')[0]}:{ref}",
                "repo": {"full_name": head_repo, "fork": head_repo != repo},
            },
            "base": {"ref": base, "label": f"{repo.split('/', maxsplit=1)[0]}:{base}", "repo": {"full_name": repo}},
        }
        with self._lock:
            self.comments.setdefault((repo, number), [])
            self.pulls[(repo, number)] = pull
        return pull

    def close_pull_request(self, repo: str, number: int, *, merged: bool = False) -> dict[str, Any]:
        with self._lock:
            pull = self.pulls[(repo, number)]
            pull["state"] = "closed"
            pull["merged"] = merged
            return pull

    def add_token(self, token: str, login: str, *, user_type: str = "User", installation: bool = False) -> None:
        """Accept ``token`` as ``login``'s (a personal access token unless ``installation``)."""
        with self._lock:
            self.users[token] = {"login": login, "id": _user_id(login), "type": user_type, "installation": installation}

    def add_comment(
        self, repo: str, number: int, body: str, *, user: str = "octocat", user_type: str = "User"
    ) -> dict[str, Any]:
        with self._lock:
            return self._create(repo, number, body, {"login": user, "id": _user_id(user), "type": user_type})

    def fail_next(
        self, count: int = 1, kind: FaultKind = "rate_limit", *, wait_s: float = 1.0, methods: set[str] | None = None
    ) -> None:
        """Answer the next ``count`` requests (of ``methods``, default any) with a fault."""
        with self._lock:
            for _ in range(count):
                self.faults.append(Fault(kind, wait_s, frozenset(methods) if methods else None))

    def bodies(self, repo: str, number: int) -> list[str]:
        with self._lock:
            return [c["body"] for c in self.comments.get((repo, number), [])]

    def calls(self, method: str | None = None) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if method is None or r.method == method]

    # --- internals --------------------------------------------------------------------------------

    def _create(self, repo: str, number: int, body: str, user: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        comment = {
            "id": self._next_id,
            "node_id": f"IC_{self._next_id}",
            "url": f"{self.url}/repos/{repo}/issues/comments/{self._next_id}",
            "html_url": f"https://github.com/{repo}/pull/{number}#issuecomment-{self._next_id}",
            "issue_url": f"{self.url}/repos/{repo}/issues/{number}",
            "body": body,
            "user": {k: user[k] for k in ("login", "id", "type")},
            "created_at": now,
            "updated_at": now,
            "author_association": "MEMBER" if user["type"] == "User" else "NONE",
            "performed_via_github_app": None,
        }
        self.comments.setdefault((repo, number), []).append(comment)
        return comment

    def _take_fault(self, method: str) -> Fault | None:
        for fault in list(self.faults):
            if fault.methods is None or method in fault.methods:
                self.faults.remove(fault)
                return fault
        return None

    def handle(self, method: str, raw_path: str, headers: dict[str, str], payload: Any) -> _Reply:
        split = urlsplit(raw_path)
        path, query = split.path, parse_qs(split.query)
        with self._lock:
            reply = self._route(method, path, query, headers, payload)
            self.requests.append(Recorded(method, path, query, reply.status, payload, headers.get("authorization", "")))
        return reply

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], payload: Any
    ) -> _Reply:
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        user = self.users.get(token) if scheme in ("Bearer", "token") else None
        if user is None:
            return _Reply(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
        fault = self._take_fault(method)
        if fault is not None:
            return _fault_reply(fault)

        if path == "/user" and method == "GET":
            if user["installation"]:
                return _Reply(
                    403,
                    {
                        "message": "Resource not accessible by integration",
                        "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user",
                        "status": "403",
                    },
                )
            return _Reply(200, {k: user[k] for k in ("login", "id", "type")})
        if match := _ISSUE_COMMENTS.match(path):
            key = (match["repo"], int(match["number"]))
            if key not in self.comments:
                return _not_found()
            if method == "GET":
                return self._page(path, query, self.comments[key])
            if method == "POST":
                body = _comment_body(payload)
                if isinstance(body, _Reply):
                    return body
                return _Reply(201, self._create(key[0], key[1], body, user))
        elif match := _COMMENT.match(path):
            comment = next(
                (
                    c
                    for (repo, _), items in self.comments.items()
                    if repo == match["repo"]
                    for c in items
                    if c["id"] == int(match["id"])
                ),
                None,
            )
            if comment is None:
                return _not_found()
            if method == "GET":
                return _Reply(200, comment)
            if method == "PATCH":
                body = _comment_body(payload)
                if isinstance(body, _Reply):
                    return body
                comment["body"] = body
                comment["updated_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                return _Reply(200, comment)
        elif (match := _PULLS.match(path)) and method == "GET":
            return self._list_pulls(match["repo"], path, query)
        elif (match := _PULL.match(path)) and method == "GET":
            pull = self.pulls.get((match["repo"], int(match["number"])))
            return _Reply(200, pull) if pull is not None else _not_found()
        elif (match := _REPO.match(path)) and method == "GET":
            repo = match["repo"]
            if not any(r == repo for r, _ in self.comments):
                return _not_found()
            return _Reply(200, {"id": 1, "name": repo.split("/")[1], "full_name": repo, "private": True})
        return _not_found()

    def _list_pulls(self, repo: str, path: str, query: dict[str, list[str]]) -> _Reply:
        if not any(r == repo for r, _ in self.comments):
            return _not_found()
        state = query.get("state", ["open"])[0]
        if state not in ("open", "closed", "all"):
            return _validation_failed("state", f"state must be one of open, closed, all; got {state}")
        head = query.get("head", [""])[0]
        owner, colon, ref = head.partition(":")
        items = [
            pull
            for (r, _), pull in sorted(self.pulls.items())
            if r == repo
            and (state == "all" or pull["state"] == state)
            and (not colon or (pull["head"]["label"] == f"{owner}:{ref}"))
        ]
        return self._page(path, query, items)

    def _page(self, path: str, query: dict[str, list[str]], items: list[dict[str, Any]]) -> _Reply:
        per_page = max(1, min(100, int(query.get("per_page", ["30"])[0])))
        page = max(1, int(query.get("page", ["1"])[0]))
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        kept = urlencode([(k, v) for k, values in query.items() if k not in ("per_page", "page") for v in values])
        base = f"{self.url}{path}?{kept + '&' if kept else ''}per_page={per_page}&page="
        if page < last:
            links += [f'<{base}{page + 1}>; rel="next"', f'<{base}{last}>; rel="last"']
        if page > 1:
            links += [f'<{base}{page - 1}>; rel="prev"', f'<{base}1>; rel="first"']
        return _Reply(200, chunk, {"Link": ", ".join(links)} if links else {})


@dataclass
class _Reply:
    status: int
    document: Any
    headers: dict[str, str] = field(default_factory=dict)


def _user_id(login: str) -> int:
    return ACTIONS_BOT_ID if login == ACTIONS_BOT_LOGIN else 1_000_000 + sum(map(ord, login))


def _not_found() -> _Reply:
    return _Reply(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})


def _comment_body(payload: Any) -> str | _Reply:
    """The ``body`` of a comment create/update request, or the 422 GitHub answers a bad one with."""
    body = payload.get("body") if isinstance(payload, dict) else None
    if not isinstance(body, str) or not body:
        return _validation_failed("body", "missing_field")
    if len(body) > MAX_BODY:
        return _validation_failed("body", f"body is too long (maximum is {MAX_BODY} characters)")
    return body


def _validation_failed(field_name: str, message: str) -> _Reply:
    return _Reply(
        422,
        {
            "message": "Validation Failed",
            "errors": [{"resource": "IssueComment", "code": "custom", "field": field_name, "message": message}],
        },
    )


def _fault_reply(fault: Fault) -> _Reply:
    if fault.kind == "rate_limit":
        reset = math.ceil(time.time() + fault.wait_s)
        headers = {
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Used": "5000",
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Resource": "core",
        }
        return _Reply(403, {"message": "API rate limit exceeded for installation ID 4242."}, headers)
    if fault.kind == "secondary_rate_limit":
        message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
        return _Reply(403, {"message": message}, {"Retry-After": str(math.ceil(fault.wait_s))})
    if fault.kind == "too_many_requests":
        return _Reply(429, {"message": "Too Many Requests"}, {"Retry-After": str(math.ceil(fault.wait_s))})
    if fault.kind == "forbidden":
        return _Reply(403, {"message": "Resource not accessible by integration"})
    if fault.kind == "not_found":
        return _not_found()
    return _Reply(502, {"message": "Server Error"})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    stub: GitHubStub


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.stub.handle(self.command, self.path, headers, payload)
        data = json.dumps(reply.document).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve
    do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass
