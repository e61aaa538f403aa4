"""One HTTP exchange with hard limits, for health and smoke checks.

``fetch`` bounds the whole exchange (headers and body, size and time), whatever the server does,
and turns every failure into one line a user can act on (``describe_http_error``).
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

MAX_BODY_BYTES = 8 * 1024 * 1024
SNIPPET_CHARS = 60


@dataclass(frozen=True)
class Fetched:
    status_code: int
    reason: str
    headers: httpx.Headers
    body: bytes
    elapsed_s: float

    @property
    def retry_after(self) -> float | None:
        if self.status_code not in (429, 503):
            return None
        return parse_retry_after(self.headers.get("Retry-After"))

    def status_text(self) -> str:
        text = f"HTTP {self.status_code}" + (f" {self.reason}" if self.reason else "")
        if self.status_code in (301, 302, 303, 307, 308) and "location" in self.headers:
            text += f" redirect to {self.headers['location']}"
        if self.retry_after is not None:
            text += f" (Retry-After {self.retry_after:g} s)"
        return text

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def describe_body(self) -> str:
        kind = self.headers.get("content-type", "no content type").split(";")[0].strip()
        body = self.text().strip()
        return f"{kind}: {snippet(body)}" if body else f"{kind} with an empty body"

    def json_object(self) -> tuple[dict[str, Any] | None, str]:
        try:
            document = json.loads(self.body)
        except ValueError:
            return None, f"expected JSON, got {self.describe_body()}"
        if not isinstance(document, dict):
            return None, f"expected a JSON object, got {type(document).__name__}"
        return document, ""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent or invalid."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def snippet(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat[:SNIPPET_CHARS] + ("…" if len(flat) > SNIPPET_CHARS else ""))


def make_client(extra_headers: Mapping[str, str], verify_tls: bool | str = True) -> httpx.Client:
    """A client for health requests: no redirects followed, no proxy from the environment;
    ``verify_tls`` may name a CA bundle."""
    verify: bool | ssl.SSLContext = (
        ssl.create_default_context(cafile=verify_tls) if isinstance(verify_tls, str) else verify_tls
    )
    headers = {"User-Agent": "deploytool-health", "Accept": "application/json, text/plain;q=0.9, */*;q=0.5"}
    headers.update(extra_headers)
    return httpx.Client(verify=verify, headers=headers, follow_redirects=False, trust_env=False)


class _BodyTooSlow(Exception):
    pass


class _BodyTooLarge(Exception):
    pass


@dataclass(frozen=True)
class FetchFailure:
    """No usable response: why, in one line, and how long it took to find out."""

    message: str
    elapsed_s: float


def fetch(client: httpx.Client, method: str, url: str, timeout_s: float) -> Fetched | FetchFailure:
    """One request with a hard limit of ``timeout_s`` on the whole exchange (headers and body).

    httpx's timeouts bound each network operation; a server trickling its body byte by byte
    would outlive them, so the exchange runs on a worker thread that the caller stops waiting
    for at the deadline (the worker gives up at its next chunk or read timeout).
    """
    started = time.monotonic()
    deadline = started + timeout_s
    outcome: list[Fetched | BaseException] = []

    def exchange() -> None:
        try:
            with client.stream(method, url, timeout=httpx.Timeout(timeout_s)) as response:
                outcome.append(
                    Fetched(
                        response.status_code,
                        response.reason_phrase,
                        response.headers,
                        b"".join(_bounded_chunks(response.iter_bytes(), deadline)),
                        time.monotonic() - started,
                    )
                )
        except Exception as exc:  # reported to the caller as a failed check
            outcome.append(exc)

    worker = threading.Thread(target=exchange, name="deploytool-health-request", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()) + 0.05)
    if not outcome:
        return FetchFailure(f"no complete response from {url} within {timeout_s:.1f} s", timeout_s)
    result = outcome[0]
    if isinstance(result, Fetched):
        return result
    return FetchFailure(describe_http_error(result, url, timeout_s), time.monotonic() - started)


def _bounded_chunks(chunks: Iterator[bytes], deadline: float) -> Iterator[bytes]:
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _BodyTooLarge
        if time.monotonic() > deadline:
            raise _BodyTooSlow
        yield chunk


def describe_http_error(exc: BaseException, url: str, timeout_s: float) -> str:  # noqa: PLR0911
    """A one-line, user-readable reason for a failed HTTP exchange."""
    target = httpx.URL(url)
    where = f"{target.host}:{target.port or (443 if target.scheme == 'https' else 80)}"
    if isinstance(exc, _BodyTooSlow):
        return f"response body from {url} not complete within {timeout_s:.1f} s"
    if isinstance(exc, _BodyTooLarge):
        return f"response body from {url} larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB"
    if isinstance(exc, httpx.ConnectTimeout):
        return f"could not connect to {where} within {timeout_s:.1f} s"
    if isinstance(exc, httpx.ReadTimeout):
        return f"no response from {url} within {timeout_s:.1f} s (read timeout)"
    if isinstance(exc, httpx.TimeoutException):
        return f"request to {url} timed out after {timeout_s:.1f} s"
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate verification failed for {where}: {cause.verify_message or cause}"
        if isinstance(cause, ssl.SSLError):
            return f"TLS handshake with {where} failed ({cause.reason or cause}); is the port serving HTTPS?"
        if isinstance(cause, socket.gaierror):
            return f"DNS lookup failed for {target.host}: {cause.strerror or cause}"
        if isinstance(cause, ConnectionRefusedError):
            return f"connection refused by {where} (nothing listening?)"
        if isinstance(cause, ConnectionResetError):
            return f"connection reset by {where}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"{where} sent no valid HTTP response: {exc}"
    if isinstance(exc, httpx.HTTPError):
        return f"request to {url} failed: {exc or type(exc).__name__}"
    return f"request to {url} failed: {type(exc).__name__}: {exc}"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__
