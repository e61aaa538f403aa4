"""HTTP health checks against real servers on loopback."""

from __future__ import annotations

import importlib
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from deploytool import health
from deploytool.errors import DeployError
from deploytool.health import CheckResult, HealthSettings, SmokeRequest, Verdict, check_http
from deploytool.httpfetch import parse_retry_after

HEALTHY = {"status": "healthy", "version": "1.4.2", "components": {"database": {"status": "healthy"}}}
METRICS = '# HELP requests_total Requests.\n# TYPE requests_total counter\nrequests_total{code="200"} 7\n'
MARGIN_S = 1.0


@dataclass
class Reply:
    status: int = 200
    body: str | bytes = ""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    headers_delay_s: float = 0.0
    body_delay_s: float = 0.0
    trickle_s: float = 0.0  # send the body one byte at a time, this far apart


def reply_json(document: Any, status: int = 200, **kwargs: Any) -> Reply:
    return Reply(status=status, body=json.dumps(document), **kwargs)


Route = Callable[[int], Reply]  # called with the 1-based hit number of its path


class App:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.seen_headers: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def healthy(self) -> App:
        self.routes["/health"] = lambda _: Reply(body="ok", content_type="text/plain")
        self.routes["/health/detailed"] = lambda _: reply_json(HEALTHY)
        return self


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Server

    def do_GET(self) -> None:
        app = self.server.app
        path = urlsplit(self.path).path
        with app.lock:
            app.hits[path] += 1
            number = app.hits[path]
            app.seen_headers.append(dict(self.headers.items()))
        route = app.routes.get(path)
        reply = route(number) if route else reply_json({"message": "not found"}, 404)
        body = reply.body.encode() if isinstance(reply.body, str) else reply.body
        try:
            time.sleep(reply.headers_delay_s)
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            if reply.trickle_s:
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(reply.trickle_s)
                return
            half = len(body) // 2
            self.wfile.write(body[:half])
            self.wfile.flush()
            time.sleep(reply.body_delay_s)
            self.wfile.write(body[half:])
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    app: App


@pytest.fixture
def app() -> Iterator[App]:
    server = Server(("127.0.0.1", 0), Handler)
    server.app = App()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.app.base_url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    yield server.app
    server.shutdown()
    server.server_close()


def settings_for(app: App, **overrides: Any) -> HealthSettings:
    values: dict[str, Any] = {
        "base_url": app.base_url,  # type: ignore[attr-defined]
        "request_timeout_s": 1.0,
        "budget_s": 3.0,
        "interval_s": 0.05,
        "max_interval_s": 0.2,
        "consecutive_passes": 3,
    }
    values.update(overrides)
    return HealthSettings(**values)


def timed_check(settings: HealthSettings, **kwargs: Any) -> tuple[Verdict, float]:
    started = time.monotonic()
    verdict = check_http(settings, **kwargs)
    elapsed = time.monotonic() - started
    assert elapsed < settings.budget_s + settings.request_timeout_s + MARGIN_S, elapsed
    return verdict, elapsed


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- healthy ----------------------------------------------------------------------------------


def test_healthy_service_passes_after_consecutive_passes(app: App) -> None:
    app.healthy()
    app.routes["/metrics"] = lambda _: Reply(body=METRICS, content_type="text/plain; version=0.0.4")
    app.routes["/api/v1/regions"] = lambda _: reply_json({"data": {"count": 3, "name": "cocoa"}})
    attempts: list[tuple[int, CheckResult]] = []
    settings = settings_for(
        app,
        metrics_path="/metrics",
        expected_version="1.4.2",
        smoke=[SmokeRequest("regions", "/api/v1/regions", json_field="data.count", expect_value="3")],
    )

    verdict, _ = timed_check(settings, on_attempt=lambda n, r: attempts.append((n, r)))

    assert verdict.ok, verdict.summary()
    names = [c.name for c in verdict.checks]
    assert names == [
        "http.basic",
        "http.detailed",
        "http.version",
        "http.metrics",
        "smoke.regions",
        "http.stability",
    ]
    assert all(c.status == "pass" for c in verdict.checks)
    assert [n for n, _ in attempts] == [1, 2, 3]
    assert all(r.status == "pass" for _, r in attempts)
    assert app.hits["/health"] == 3
    assert verdict.summary() == "6 checks passed"


def test_extra_headers_are_sent(app: App) -> None:
    app.healthy()
    verdict, _ = timed_check(settings_for(app, consecutive_passes=1, extra_headers={"X-Deploy-Color": "green"}))
    assert verdict.ok
    assert all(h.get("X-Deploy-Color") == "green" for h in app.seen_headers)


def test_flat_detailed_form_passes(app: App) -> None:
    app.healthy()
    app.routes["/health/detailed"] = lambda _: reply_json({"status": "OK", "database": "up", "uptime": "3 days"})
    verdict, _ = timed_check(settings_for(app, consecutive_passes=1))
    assert verdict.ok, verdict.summary()


def test_basic_only_when_detailed_is_skipped(app: App) -> None:
    app.routes["/health"] = lambda _: Reply(body="ok")
    verdict, _ = timed_check(settings_for(app, detailed_path=None, consecutive_passes=2))
    assert verdict.ok
    assert [c.name for c in verdict.checks] == ["http.basic", "http.stability"]


# --- failing services ---------------------------------------------------------------------------


def test_http_500_fails(app: App) -> None:
    app.healthy()
    app.routes["/health"] = lambda _: Reply(status=500, body="boom")
    verdict, _ = timed_check(settings_for(app, budget_s=1.5))
    assert not verdict.ok
    failure = verdict.first_failure
    assert failure is not None and failure.name == "http.basic"
    assert failure.detail.startswith("HTTP 500")
    assert "http.basic failed: HTTP 500" in verdict.summary()
    stability = verdict.checks[-1]
    assert stability.name == "http.stability" and stability.status == "fail"
    assert "no attempt passed" in stability.detail
    assert app.hits["/health"] >= 2, "failures are retried within the budget"


def test_slow_headers_time_out(app: App) -> None:
    app.healthy()
    app.routes["/health"] = lambda _: Reply(body="ok", headers_delay_s=5)
    verdict, elapsed = timed_check(settings_for(app, request_timeout_s=0.5, budget_s=1.5))
    assert not verdict.ok
    failure = verdict.first_failure
    assert failure is not None and failure.name == "http.basic"
    assert "within 0.5 s" in failure.detail
    assert elapsed < 1.5 + 0.5 + MARGIN_S


def test_slow_body_times_out(app: App) -> None:
    app.healthy()
    app.routes["/health/detailed"] = lambda _: reply_json(HEALTHY, body_delay_s=5)
    verdict, _ = timed_check(settings_for(app, request_timeout_s=0.5, budget_s=1.5))
    failure = verdict.first_failure
    assert failure is not None and failure.name == "http.detailed"
    assert "within 0.5 s" in failure.detail


def test_trickling_body_is_bounded_by_the_request_timeout(app: App) -> None:
    app.healthy()
    # Every byte arrives well inside the read timeout; only a total limit stops this.
    app.routes["/health"] = lambda _: Reply(body="o" * 200, trickle_s=0.1)
    verdict, elapsed = timed_check(settings_for(app, request_timeout_s=0.6, budget_s=1.0))
    failure = verdict.first_failure
    assert failure is not None and failure.name == "http.basic"
    assert "within 0.6 s" in failure.detail
    assert elapsed < 1.0 + 0.6 + MARGIN_S


def test_flapping_service_fails(app: App) -> None:
    app.healthy()
    app.routes["/health"] = lambda n: Reply(status=200 if n % 2 else 503, body="x")
    verdict, _ = timed_check(settings_for(app, budget_s=1.5, consecutive_passes=2))
    assert not verdict.ok
    stability = verdict.checks[-1]
    assert stability.status == "fail"
    assert "never 2 in a row" in stability.detail
    assert app.hits["/health"] >= 4


def test_flapping_then_stable_passes(app: App) -> None:
    app.healthy()
    app.routes["/health"] = lambda n: Reply(status=503 if n in (2, 4) else 200, body="x")
    verdict, _ = timed_check(settings_for(app, consecutive_passes=3))
    assert verdict.ok, verdict.summary()
    assert app.hits["/health"] == 7


def test_unhealthy_database_in_nested_json_fails(app: App) -> None:
    app.healthy()
    document = {"status": "healthy", "components": {"database": {"status": "unhealthy", "error": "timeout"}}}
    app.routes["/health/detailed"] = lambda _: reply_json(document)
    verdict, _ = timed_check(settings_for(app, budget_s=1.0))
    failure = verdict.first_failure
    assert failure is not None and failure.name == "http.detailed"
    assert "component 'database' is 'unhealthy' (timeout)" in failure.detail


def test_unhealthy_database_in_flat_json_fails(app: App) -> None:
    app.healthy()
    app.routes["/health/detailed"] = lambda _: reply_json({"status": "healthy", "database": "unhealthy"})
    verdict, _ = timed_check(settings_for(app, budget_s=1.0))
    failure = verdict.first_failure
    assert failure is not None and "component 'database' is 'unhealthy'" in failure.detail


def test_degraded_overall_status_with_503_fails_with_both_reasons(app: App) -> None:
    app.healthy()
    document = {"status": "degraded", "checks": [{"name": "database", "status": "down"}]}
    app.routes["/health/detailed"] = lambda _: reply_json(document, status=503)
    verdict, _ = timed_check(settings_for(app, budget_s=1.0))
    failure = verdict.first_failure
    assert failure is not None
    assert failure.detail.startswith("HTTP 503")
    assert "overall status is 'degraded'" in failure.detail
    assert "component 'database' is 'down'" in failure.detail


def test_wrong_version_fails(app: App) -> None:
    app.healthy()
    verdict, _ = timed_check(settings_for(app, budget_s=1.0, expected_version="1.5.0"))
    failure = verdict.first_failure
    assert failure is not None and failure.name == "http.version"
    assert failure.detail == "version '1.4.2' is serving, expected '1.5.0'"


def test_version_with_v_prefix_matches(app: App) -> None:
    app.healthy()
    verdict, _ = timed_check(settings_for(app, consecutive_passes=1, expected_version="v1.4.2"))
    assert verdict.ok, verdict.summary()


def test_html_instead_of_json_fails(app: App) -> None:
    app.healthy()
    page = "<!DOCTYPE html><html><body>Welcome to nginx</body></html>"
    app.routes["/health/detailed"] = lambda _: Reply(body=page, content_type="text/html; charset=utf-8")
    verdict, _ = timed_check(settings_for(app, budget_s=1.0, expected_version="1.4.2"))
    failure = verdict.first_failure
    assert failure is not None and failure.name == "http.detailed"
    assert failure.detail.startswith("expected JSON, got text/html: '<!DOCTYPE html>")
    version = next(c for c in verdict.checks if c.name == "http.version")
    assert version.status == "fail"


def test_json_missing_fields_fails(app: App) -> None:
    app.healthy()
    app.routes["/health/detailed"] = lambda _: reply_json({"components": {}})
    verdict, _ = timed_check(settings_for(app, budget_s=1.0, expected_version="1.4.2"))
    detailed = next(c for c in verdict.checks if c.name == "http.detailed")
    assert detailed.status == "fail"
    assert "no 'status' field" in detailed.detail
    assert "no 'database' component" in detailed.detail
    version = next(c for c in verdict.checks if c.name == "http.version")
    assert version.status == "fail" and "no 'version' field" in version.detail


def test_json_array_is_not_a_health_document(app: App) -> None:
    app.healthy()
    app.routes["/health/detailed"] = lambda _: reply_json(["healthy"])
    verdict, _ = timed_check(settings_for(app, budget_s=1.0))
    failure = verdict.first_failure
    assert failure is not None and failure.detail == "expected a JSON object, got list"


def test_503_retry_after_is_honoured(app: App) -> None:
    app.healthy()
    app.routes["/health"] = lambda n: Reply(status=503, headers={"Retry-After": "1"}) if n == 1 else Reply(body="ok")
    attempts: list[CheckResult] = []
    verdict, elapsed = timed_check(settings_for(app, consecutive_passes=1), on_attempt=lambda _, r: attempts.append(r))
    assert verdict.ok, verdict.summary()
    assert elapsed >= 1.0, "the server asked for a one second pause"
    assert attempts[0].detail == "HTTP 503 Service Unavailable (Retry-After 1 s)"


def test_503_retry_after_beyond_the_budget_stops_early(app: App) -> None:
    app.healthy()
    app.routes["/health"] = lambda _: Reply(status=503, headers={"Retry-After": "120"})
    verdict, elapsed = timed_check(settings_for(app, budget_s=2.0))
    assert not verdict.ok
    assert elapsed < 1.0, "no point waiting when the server asks for more than the budget"
    assert app.hits["/health"] == 1
    assert "asked to retry after 120 s" in verdict.checks[-1].detail


def test_invalid_metrics_fail(app: App) -> None:
    app.healthy()
    app.routes["/metrics"] = lambda _: Reply(body="<html>oops</html>", content_type="text/html")
    verdict, _ = timed_check(settings_for(app, budget_s=1.0, metrics_path="/metrics"))
    failure = verdict.first_failure
    assert failure is not None and failure.name == "http.metrics"
    assert failure.detail.startswith("not Prometheus text")


def test_smoke_request_with_wrong_field_value_fails(app: App) -> None:
    app.healthy()
    app.routes["/api/v1/regions"] = lambda _: reply_json({"data": {"count": 0}})
    smoke = [
        SmokeRequest("regions", "/api/v1/regions", json_field="data.count", expect_value="3"),
        SmokeRequest("missing", "/api/v1/nothing"),
    ]
    verdict, _ = timed_check(settings_for(app, budget_s=1.0, smoke=smoke))
    by_name = {c.name: c for c in verdict.checks}
    assert by_name["smoke.regions"].detail == "field 'data.count' is '0', expected '3'"
    assert by_name["smoke.missing"].detail == "HTTP 404 Not Found, expected 200"


# --- no HTTP answer at all ------------------------------------------------------------------------


def test_connection_refused_fails() -> None:
    settings = HealthSettings(base_url=f"http://127.0.0.1:{closed_port()}", budget_s=1.0, interval_s=0.1)
    verdict, _ = timed_check(settings)
    failure = verdict.first_failure
    assert failure is not None and failure.name == "http.basic"
    assert "connection refused" in failure.detail
    assert [c.name for c in verdict.checks] == ["http.basic", "http.stability"]


def test_dns_failure_fails() -> None:
    settings = HealthSettings(base_url="http://nonexistent.invalid", budget_s=1.0, interval_s=0.1, request_timeout_s=2)
    verdict, _ = timed_check(settings)
    failure = verdict.first_failure
    assert failure is not None
    assert failure.detail.startswith("DNS lookup failed for nonexistent.invalid")


def test_tls_to_a_plain_http_port_fails(app: App) -> None:
    app.healthy()
    settings = settings_for(app, budget_s=1.0)
    settings.base_url = settings.base_url.replace("http://", "https://")
    verdict, _ = timed_check(settings)
    failure = verdict.first_failure
    assert failure is not None
    assert "TLS handshake" in failure.detail and "is the port serving HTTPS?" in failure.detail


def test_whole_call_is_bounded_when_every_request_hangs(app: App) -> None:
    app.routes = {path: (lambda _: Reply(body="{}", headers_delay_s=10)) for path in ("/health", "/health/detailed")}
    settings = settings_for(app, request_timeout_s=0.8, budget_s=1.0, metrics_path="/health")
    verdict, elapsed = timed_check(settings)
    assert not verdict.ok
    assert elapsed < 1.0 + 0.8 + 0.5


# --- result types and settings ------------------------------------------------------------------


def test_verdict_with_unavailable_checks_is_ok_but_says_so() -> None:
    verdict = Verdict(
        (
            CheckResult("http.basic", "pass", "HTTP 200"),
            CheckResult("ecs.rollout", "unavailable", "not available on the emulator: no tasks run"),
        )
    )
    assert verdict.ok
    assert verdict.first_failure is None
    assert verdict.summary() == "1 check passed; not available here: ecs.rollout"
    assert verdict.to_dict()["checks"][1] == {
        "name": "ecs.rollout",
        "status": "unavailable",
        "detail": "not available on the emulator: no tasks run",
        "duration_s": 0.0,
    }


def test_verdict_summary_names_the_first_failure() -> None:
    verdict = Verdict(
        (
            CheckResult("a", "pass", "fine"),
            CheckResult("b", "fail", "database down"),
            CheckResult("c", "fail", "timeout"),
        )
    )
    assert not verdict.ok
    assert verdict.summary() == "b failed: database down (+1 more failing)"
    assert verdict.to_dict()["ok"] is False


def test_empty_verdict_is_not_ok() -> None:
    assert not Verdict(()).ok
    assert Verdict(()).summary() == "no checks ran"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"base_url": "localhost:8000"}, "must start with http"),
        ({"budget_s": 0}, "must be positive"),
        ({"consecutive_passes": 0}, "at least 1"),
        ({"detailed_path": None, "expected_version": "1.0"}, "detailed health endpoint"),
        ({"basic_path": "health"}, "must start with '/'"),
    ],
)
def test_invalid_settings_are_user_errors(overrides: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {"base_url": "http://127.0.0.1:8000"}
    values.update(overrides)
    with pytest.raises(DeployError, match=message):
        check_http(HealthSettings(**values))


def test_fallback_metrics_validator(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_prometheus(name: str) -> Any:
        raise ImportError(name)

    monkeypatch.setattr(importlib, "import_module", no_prometheus)
    assert health._parse_prometheus(METRICS) == ("", 1)
    assert health._parse_prometheus('up 1\nlatency_seconds{le="+Inf"} 2.5e-3 1700000000\n') == ("", 2)
    error, _ = health._parse_prometheus("up 1\n<html>\n")
    assert error == "line 2: '<html>'"


def test_retry_after_parsing() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
