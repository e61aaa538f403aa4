"""An HTTP reverse proxy in front of the AWS emulator that fails the way a network does.

Every client of a run (the Terraform provider, the S3 state backend, the tool's boto3 calls) talks
to the emulator through the proxy when the run's emulator endpoint is the proxy's. The proxy
forwards every request unchanged until a fault is armed:

* ``outage(trigger, until)``: from the first request matching ``trigger`` the emulator is gone:
  that request and every later one get their connection reset without an answer, until a
  request matches ``until``; that one and everything after it are forwarded again. The requests
  that met the outage never reach the emulator.
* ``refuse(match, code)``: every request matching ``match`` is answered with an S3 error
  (``AccessDenied``, 403, by default) and never reaches the emulator; the rest are forwarded.
* ``hold(match)``: the first request matching ``match`` is kept waiting (the caller sees a slow
  AWS API) until the test releases it, forwarded or dropped.

Faults are keyed on what the run is doing (the AWS API call), never on timing, so tests that use
them are deterministic.
"""

from __future__ import annotations

import http.client
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "expect"})
HOLD_LIMIT_S = 300.0


@dataclass(frozen=True)
class Request:
    """What the proxy saw of one request."""

    method: str
    path: str
    target: str  # X-Amz-Target of JSON-protocol APIs (ECS, ...), "" otherwise
    body: bytes

    @property
    def action(self) -> str:
        """The API action: ``RegisterTaskDefinition`` for JSON APIs, ``Action=`` of query APIs, else ""."""
        if self.target:
            return self.target.rsplit(".", 1)[-1]
        for part in self.body.decode("latin-1").split("&"):
            if part.startswith("Action="):
                return part[len("Action=") :]
        return ""


Matcher = Callable[[Request], bool]


def api_call(action: str) -> Matcher:
    """Matches one AWS API action (``RegisterTaskDefinition``, ``DescribeRules`` ...)."""
    return lambda request: request.action == action


def bucket_call(bucket: str) -> Matcher:
    """Matches any S3 request on ``bucket`` (path style, as the emulator override configures)."""
    return lambda request: request.path == f"/{bucket}" or request.path.startswith((f"/{bucket}/", f"/{bucket}?"))


@dataclass
class Hold:
    """A request kept waiting: ``arrived`` is set when it comes in; ``release`` lets it go."""

    match: Matcher
    arrived: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    forward: bool = True
    request: Request | None = None

    def release(self, *, forward: bool = True) -> None:
        self.forward = forward
        self.released.set()


@dataclass
class Refusal:
    """Requests matching ``match`` answered with an S3 error; ``refused`` are the ones it answered."""

    match: Matcher
    status: int
    code: str
    refused: list[Request] = field(default_factory=list)

    def answer(self) -> bytes:
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{self.code}</Code><Message>refused by the fault proxy</Message></Error>"
        ).encode()


@dataclass
class _Outage:
    trigger: Matcher
    until: Matcher
    active: bool = False
    began: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    refused: list[Request] = field(default_factory=list)


class FaultProxy:
    """A loopback reverse proxy to ``upstream`` (the emulator's endpoint)."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.seen: list[Request] = []
        self._lock = threading.Lock()
        self._outage: _Outage | None = None
        self._holds: list[Hold] = []
        self._refusals: list[Refusal] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_any(self) -> None:
                proxy._handle(self)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # reset connections and vanished clients are the point here

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.clear()
        self._server.shutdown()
        self._server.server_close()

    # -- faults ------------------------------------------------------------------------------------
    def outage(self, trigger: Matcher, until: Matcher) -> _Outage:
        """Arm an outage from the first request matching ``trigger`` to the first matching ``until``."""
        with self._lock:
            self._outage = _Outage(trigger, until)
            return self._outage

    def refuse(self, match: Matcher, *, status: int = 403, code: str = "AccessDenied") -> Refusal:
        """Answer every request matching ``match`` with an S3 error (``code``, HTTP ``status``)."""
        refusal = Refusal(match, status, code)
        with self._lock:
            self._refusals.append(refusal)
        return refusal

    def hold(self, match: Matcher) -> Hold:
        """Keep the next request matching ``match`` waiting until ``Hold.release``."""
        hold = Hold(match)
        with self._lock:
            self._holds.append(hold)
        return hold

    def clear(self) -> None:
        """Disarm every fault and let held requests go (dropped)."""
        with self._lock:
            holds, self._holds = self._holds, []
            self._outage = None
            self._refusals = []
        for hold in holds:
            hold.release(forward=False)

    def calls(self, action: str) -> list[Request]:
        with self._lock:
            return [r for r in self.seen if r.action == action]

    # -- one request -------------------------------------------------------------------------------
    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = _read_body(handler)
        request = Request(handler.command, handler.path, handler.headers.get("X-Amz-Target", ""), body)
        with self._lock:
            self.seen.append(request)
            outage = self._outage
            cut = False
            if outage is not None:
                if not outage.active and not outage.ended.is_set() and outage.trigger(request):
                    outage.active = True
                    outage.began.set()
                elif outage.active and outage.until(request):
                    outage.active = False
                    outage.ended.set()
                cut = outage.active
                if cut:
                    outage.refused.append(request)
            refusal = None if cut else next((r for r in self._refusals if r.match(request)), None)
            if refusal is not None:
                refusal.refused.append(request)
            hold = next((h for h in self._holds if not h.arrived.is_set() and h.match(request)), None)
            if hold is not None and not cut and refusal is None:
                hold.request = request
                hold.arrived.set()
        if cut:
            _reset(handler)
            return
        if refusal is not None:
            payload = refusal.answer()
            handler.send_response(refusal.status)
            handler.send_header("Content-Type", "application/xml")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            return
        if hold is not None:
            hold.released.wait(HOLD_LIMIT_S)
            if not hold.forward:
                _reset(handler)
                return
        self._forward(handler, request)

    def _forward(self, handler: BaseHTTPRequestHandler, request: Request) -> None:
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(request.body))
        upstream = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=120)
        try:
            upstream.request(request.method, request.path, body=request.body, headers=headers)
            response = upstream.getresponse()
            payload = response.read()
            handler.send_response(response.status, response.reason)
            for key, value in response.getheaders():
                if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                    handler.send_header(key, value)
            if request.method == "HEAD":
                handler.send_header("Content-Length", response.getheader("Content-Length", "0"))
            else:
                handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            if request.method != "HEAD":
                handler.wfile.write(payload)
        except OSError:
            _reset(handler)
        finally:
            upstream.close()


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _reset(handler: BaseHTTPRequestHandler) -> None:
    """Drop the connection with a TCP reset, as a vanished server's host does."""
    handler.close_connection = True
    try:
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()
    except OSError:
        pass
