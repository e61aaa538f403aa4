"""HTTP health verification of a deployed release.

``check_http`` asks the service's health endpoints (basic, detailed JSON, optional Prometheus
metrics, optional smoke requests) until they pass a number of times in a row or the overall
budget is spent. Every request has its own timeout and the whole call returns within
``budget_s + request_timeout_s`` (plus a little bookkeeping), whatever the server does.

The result types (``CheckResult``, ``Verdict``) are shared by every post-deploy check.
"""

from __future__ import annotations

import importlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from tenacity import RetryCallState, Retrying, retry_if_result

from deploytool.errors import DeployError
from deploytool.httpfetch import Fetched, FetchFailure, fetch, make_client, snippet

Status = Literal["pass", "fail", "unavailable"]
"""``unavailable``: the target (e.g. the AWS emulator) cannot answer this check. Never a pass."""

HEALTHY_WORDS = frozenset({"healthy", "ok", "pass", "up"})
UNHEALTHY_WORDS = frozenset(
    {"unhealthy", "fail", "failed", "failing", "down", "error", "degraded", "critical", "warn", "unknown"}
)
_COMPONENT_CONTAINERS = ("components", "checks", "services", "dependencies", "details")
_FLAT_META_KEYS = frozenset(
    {"status", "version", "timestamp", "time", "uptime", "build", "commit", "service", "name", "message"}
)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check."""

    name: str
    status: Status
    detail: str
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "duration_s": round(self.duration_s, 3),
        }


@dataclass(frozen=True)
class Verdict:
    """The outcome of a set of checks.

    ``ok`` holds when at least one check ran and none failed; ``unavailable`` checks do not
    fail the verdict but are named in the summary, so nobody mistakes them for passes.
    """

    checks: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.status != "fail" for c in self.checks)

    @property
    def first_failure(self) -> CheckResult | None:
        return next((c for c in self.checks if c.status == "fail"), None)

    @property
    def unavailable(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.status == "unavailable")

    def summary(self) -> str:
        """One line: the first failing check and why, or what passed (and what could not be checked)."""
        if not self.checks:
            return "no checks ran"
        failure = self.first_failure
        if failure is not None:
            failing = sum(1 for c in self.checks if c.status == "fail")
            more = f" (+{failing - 1} more failing)" if failing > 1 else ""
            return f"{failure.name} failed: {failure.detail}{more}"
        passed = sum(1 for c in self.checks if c.status == "pass")
        line = f"{passed} check{'s' if passed != 1 else ''} passed"
        if self.unavailable:
            line += f"; not available here: {', '.join(c.name for c in self.unavailable)}"
        return line

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "summary": self.summary(),
            "checks": [c.to_dict() for c in self.checks],
        }


@dataclass(frozen=True)
class SmokeRequest:
    """One request that must answer ``expect_status`` (and, optionally, a JSON field value).

    ``json_field`` is a dotted path into the JSON body (``"data.items.0.id"``); ``expect_value`` is
    compared with the field's value as text (JSON scalars as JSON: ``true``, ``3``, ``null``).
    """

    name: str
    path: str
    method: str = "GET"
    expect_status: int = 200
    json_field: str | None = None
    expect_value: str | None = None


@dataclass
class HealthSettings:
    """What ``check_http`` checks and how long it may take."""

    base_url: str
    basic_path: str = "/health"
    detailed_path: str | None = "/health/detailed"
    metrics_path: str | None = None
    request_timeout_s: float = 5.0
    budget_s: float = 180.0
    interval_s: float = 1.0
    max_interval_s: float = 15.0
    consecutive_passes: int = 3
    expected_version: str | None = None
    required_components: tuple[str, ...] = ("database",)
    smoke: list[SmokeRequest] = field(default_factory=list)
    verify_tls: bool | str = True
    extra_headers: dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        """Raise ``DeployError`` for settings that cannot work."""
        if not re.match(r"^https?://[^/\s]+", self.base_url):
            raise DeployError(f"health check URL must start with http:// or https://, got {self.base_url!r}")
        if self.request_timeout_s <= 0 or self.budget_s <= 0:
            raise DeployError("health check request timeout and budget must be positive")
        if self.interval_s < 0 or self.max_interval_s < self.interval_s:
            raise DeployError("health check interval must be >= 0 and not above its cap")
        if self.consecutive_passes < 1:
            raise DeployError("health check needs at least 1 consecutive pass")
        if self.expected_version is not None and self.detailed_path is None:
            raise DeployError("checking the version needs the detailed health endpoint (detailed_path)")
        for path in (self.basic_path, self.detailed_path, self.metrics_path, *(s.path for s in self.smoke)):
            if path is not None and not path.startswith("/"):
                raise DeployError(f"health check path must start with '/', got {path!r}")


OnAttempt = Callable[[int, CheckResult], None]


def check_http(settings: HealthSettings, *, on_attempt: OnAttempt | None = None) -> Verdict:
    """Check the service over HTTP until ``consecutive_passes`` full passes in a row or the budget is spent.

    Each attempt runs every configured check. Between attempts the wait starts at ``interval_s``
    and doubles after each failure up to ``max_interval_s``; a ``Retry-After`` from a 429/503 is
    honoured when it fits the remaining budget. ``on_attempt`` gets the attempt number and that
    attempt's first failure (or a pass summary).

    The verdict holds the checks of the last attempt plus ``http.stability``, which fails unless
    the required passes in a row were reached (a flapping service fails).
    """
    settings.validate()
    start = time.monotonic()
    attempts_deadline = start + settings.budget_s
    hard_deadline = attempts_deadline + settings.request_timeout_s
    progress = _Progress()

    def one_attempt() -> tuple[CheckResult, ...]:
        checks, retry_after = _run_attempt(settings, client, hard_deadline)
        progress.record(checks, retry_after)
        if on_attempt is not None:
            on_attempt(progress.attempts, _attempt_summary(checks, progress, settings.consecutive_passes))
        return checks

    def next_wait(_: RetryCallState) -> float:
        if progress.streak > 0:
            base = settings.interval_s
        else:
            base = min(settings.interval_s * 2 ** (progress.failures_in_row - 1), settings.max_interval_s)
        return max(base, progress.retry_after or 0.0)

    def out_of_budget(state: RetryCallState) -> bool:
        return time.monotonic() + (state.upcoming_sleep or 0.0) >= attempts_deadline

    def last_checks(state: RetryCallState) -> tuple[CheckResult, ...]:
        assert state.outcome is not None
        result: tuple[CheckResult, ...] = state.outcome.result()
        return result

    with make_client(settings.extra_headers, settings.verify_tls) as client:
        retrying = Retrying(
            retry=retry_if_result(lambda _: progress.streak < settings.consecutive_passes),
            wait=next_wait,
            stop=out_of_budget,
            retry_error_callback=last_checks,
            reraise=True,
        )
        checks = retrying(one_attempt)

    elapsed = time.monotonic() - start
    return Verdict((*checks, _stability(progress, settings, elapsed)))


# --- one attempt -------------------------------------------------------------------------------


@dataclass
class _Progress:
    attempts: int = 0
    passes: int = 0
    streak: int = 0
    best_streak: int = 0
    failures_in_row: int = 0
    retry_after: float | None = None
    last_retry_after: float | None = None

    def record(self, checks: tuple[CheckResult, ...], retry_after: float | None) -> None:
        self.attempts += 1
        self.retry_after = retry_after
        if retry_after is not None:
            self.last_retry_after = retry_after
        if all(c.status != "fail" for c in checks):
            self.passes += 1
            self.streak += 1
            self.failures_in_row = 0
            self.best_streak = max(self.best_streak, self.streak)
        else:
            self.streak = 0
            self.failures_in_row += 1


def _attempt_summary(checks: tuple[CheckResult, ...], progress: _Progress, needed: int) -> CheckResult:
    duration = sum(c.duration_s for c in checks)
    failure = Verdict(checks).first_failure
    if failure is not None:
        return failure
    detail = f"all {len(checks)} checks passed ({progress.streak}/{needed} in a row)"
    return CheckResult("http", "pass", detail, duration)


def _stability(progress: _Progress, settings: HealthSettings, elapsed: float) -> CheckResult:
    needed = settings.consecutive_passes
    tries = f"{progress.attempts} attempt{'s' if progress.attempts != 1 else ''}"
    if progress.streak >= needed:
        return CheckResult("http.stability", "pass", f"{needed} passes in a row ({tries}, {elapsed:.1f} s)", elapsed)
    if progress.passes == 0:
        detail = f"no attempt passed in {tries} within the {settings.budget_s:g} s budget"
    else:
        detail = (
            f"flapping or slow to settle: {progress.passes} of {tries} passed but never {needed} in a row "
            f"within the {settings.budget_s:g} s budget (best run {progress.best_streak})"
        )
    if progress.last_retry_after is not None:
        detail += f"; the server asked to retry after {progress.last_retry_after:g} s"
    return CheckResult("http.stability", "fail", detail, elapsed)


def _run_attempt(
    settings: HealthSettings, client: httpx.Client, hard_deadline: float
) -> tuple[tuple[CheckResult, ...], float | None]:
    """Run every configured check once. Returns the results and any Retry-After the server sent."""
    checks: list[CheckResult] = []
    retry_after: float | None = None

    def get(name: str, method: str, path: str) -> Fetched | CheckResult:
        nonlocal retry_after
        timeout = min(settings.request_timeout_s, hard_deadline - time.monotonic())
        if timeout <= 0.05:
            return CheckResult(name, "fail", "not run: the health check budget is spent")
        fetched = fetch(client, method, settings.base_url.rstrip("/") + path, timeout)
        if isinstance(fetched, FetchFailure):
            return CheckResult(name, "fail", fetched.message, fetched.elapsed_s)
        if fetched.retry_after is not None:
            retry_after = max(retry_after or 0.0, fetched.retry_after)
        return fetched

    basic = get("http.basic", "GET", settings.basic_path)
    checks.append(_judge_basic(basic))
    if not isinstance(basic, Fetched):
        # No HTTP answer at all (refused, DNS, TLS, timeout): the other endpoints cannot answer either.
        return tuple(checks), retry_after

    if settings.detailed_path is not None:
        detailed = get("http.detailed", "GET", settings.detailed_path)
        result, document = _judge_detailed(detailed, settings.required_components)
        checks.append(result)
        if settings.expected_version is not None:
            checks.append(_judge_version(document, settings.expected_version))

    if settings.metrics_path is not None:
        checks.append(_judge_metrics(get("http.metrics", "GET", settings.metrics_path)))

    for smoke in settings.smoke:
        checks.append(_judge_smoke(smoke, get(f"smoke.{smoke.name}", smoke.method, smoke.path)))

    return tuple(checks), retry_after


def _judge_basic(fetched: Fetched | CheckResult) -> CheckResult:
    if isinstance(fetched, CheckResult):
        return fetched
    name = "http.basic"
    if fetched.status_code == 200:
        return CheckResult(name, "pass", f"HTTP 200 in {fetched.elapsed_s:.2f} s", fetched.elapsed_s)
    return CheckResult(name, "fail", fetched.status_text(), fetched.elapsed_s)


def _judge_detailed(
    fetched: Fetched | CheckResult, required: tuple[str, ...]
) -> tuple[CheckResult, dict[str, Any] | None]:
    if isinstance(fetched, CheckResult):
        return fetched, None
    name = "http.detailed"
    document, error = fetched.json_object()
    problems: list[str] = []
    if fetched.status_code != 200:
        problems.append(fetched.status_text())
    if document is None:
        if fetched.status_code == 200:
            problems.append(error)
        return CheckResult(name, "fail", "; ".join(problems), fetched.elapsed_s), None
    problems.extend(_detailed_problems(document, required))
    if problems:
        return CheckResult(name, "fail", "; ".join(problems), fetched.elapsed_s), document
    components = _components(document)
    detail = f"status {document['status']!r}, {len(components)} component{'s' if len(components) != 1 else ''} healthy"
    return CheckResult(name, "pass", detail, fetched.elapsed_s), document


def _detailed_problems(document: Mapping[str, Any], required: tuple[str, ...]) -> list[str]:
    problems: list[str] = []
    if "status" not in document:
        keys = ", ".join(sorted(document)) or "none"
        problems.append(f"detailed health JSON has no 'status' field (keys: {keys})")
    elif not _is_healthy(document["status"]):
        problems.append(f"overall status is {document['status']!r}")
    components = _components(document)
    present = {c.lower() for c in components}
    for wanted in required:
        if wanted.lower() not in present:
            problems.append(f"no {wanted!r} component in the detailed health JSON")
    for component, (status, note) in components.items():
        if status is None:
            problems.append(f"component {component!r} reports no status")
        elif not _is_healthy(status):
            problems.append(f"component {component!r} is {status!r}" + (f" ({note})" if note else ""))
    return problems


def _components(document: Mapping[str, Any]) -> dict[str, tuple[Any, str]]:
    """Component name -> (status or None, note) for the nested and the flat form."""
    found: dict[str, tuple[Any, str]] = {}
    for key in _COMPONENT_CONTAINERS:
        container = document.get(key)
        if isinstance(container, Mapping):
            for name, value in container.items():
                found[str(name)] = _component_status(value)
        elif isinstance(container, list):
            for index, item in enumerate(container):
                label = item.get("name", f"{key}[{index}]") if isinstance(item, Mapping) else f"{key}[{index}]"
                found[str(label)] = _component_status(item)
    for key, value in document.items():
        if key in _FLAT_META_KEYS or key in _COMPONENT_CONTAINERS or key in found:
            continue
        if isinstance(value, str) and value.strip().lower() in HEALTHY_WORDS | UNHEALTHY_WORDS:
            found[key] = (value, "")
        elif isinstance(value, Mapping) and "status" in value:
            found[key] = _component_status(value)
    return found


def _component_status(value: Any) -> tuple[Any, str]:
    if isinstance(value, str | bool):
        return value, ""
    if isinstance(value, Mapping):
        note = next((str(value[k]) for k in ("error", "message", "detail", "reason") if value.get(k)), "")
        return value.get("status", value.get("state")), note[:200]
    return None, ""


def _is_healthy(status: Any) -> bool:
    if isinstance(status, bool):
        return status
    return isinstance(status, str) and status.strip().lower() in HEALTHY_WORDS


def _judge_version(document: dict[str, Any] | None, expected: str) -> CheckResult:
    name = "http.version"
    if document is None:
        return CheckResult(name, "fail", "not checked: the detailed health endpoint returned no JSON object")
    if "version" not in document:
        return CheckResult(name, "fail", f"detailed health JSON has no 'version' field (expected {expected!r})")
    actual = str(document["version"])
    if actual.removeprefix("v") != expected.removeprefix("v"):
        return CheckResult(name, "fail", f"version {actual!r} is serving, expected {expected!r}")
    return CheckResult(name, "pass", f"version {actual!r}")


def _judge_metrics(fetched: Fetched | CheckResult) -> CheckResult:
    if isinstance(fetched, CheckResult):
        return fetched
    name = "http.metrics"
    if fetched.status_code != 200:
        return CheckResult(name, "fail", fetched.status_text(), fetched.elapsed_s)
    error, samples = _parse_prometheus(fetched.text())
    if error:
        return CheckResult(name, "fail", f"not Prometheus text: {error}", fetched.elapsed_s)
    if samples == 0:
        return CheckResult(name, "fail", "no metric samples in the response", fetched.elapsed_s)
    return CheckResult(name, "pass", f"{samples} samples", fetched.elapsed_s)


_SAMPLE_LINE = re.compile(
    r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?[ \t]+"
    r"([-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?|[-+]?Inf|NaN)([ \t]+-?\d+)?$"
)


def _parse_prometheus(text: str) -> tuple[str, int]:
    """Return (error or "", number of samples); uses prometheus-client's parser when installed."""
    try:
        parser: Any = importlib.import_module("prometheus_client.parser")
    except ImportError:
        samples = 0
        for number, line in enumerate(text.splitlines(), start=1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if not _SAMPLE_LINE.match(stripped):
                return f"line {number}: {snippet(stripped)}", 0
            samples += 1
        return "", samples
    try:
        families = list(parser.text_string_to_metric_families(text))
    except (ValueError, TypeError, IndexError) as exc:
        return str(exc)[:200], 0
    return "", sum(len(family.samples) for family in families)


def _judge_smoke(smoke: SmokeRequest, fetched: Fetched | CheckResult) -> CheckResult:
    if isinstance(fetched, CheckResult):
        return fetched
    name = f"smoke.{smoke.name}"
    if fetched.status_code != smoke.expect_status:
        detail = f"{fetched.status_text()}, expected {smoke.expect_status}"
        return CheckResult(name, "fail", detail, fetched.elapsed_s)
    if smoke.json_field is None:
        detail = f"{smoke.method} {smoke.path}: HTTP {fetched.status_code}"
        return CheckResult(name, "pass", detail, fetched.elapsed_s)
    problem, shown = _smoke_field(smoke, fetched)
    if problem:
        return CheckResult(name, "fail", problem, fetched.elapsed_s)
    return CheckResult(name, "pass", f"HTTP {fetched.status_code}, {smoke.json_field} = {shown!r}", fetched.elapsed_s)


def _smoke_field(smoke: SmokeRequest, fetched: Fetched) -> tuple[str, str]:
    """(problem or "", the field's value as text) for a smoke request's JSON field."""
    field_path = smoke.json_field or ""
    try:
        document: Any = json.loads(fetched.body)
    except ValueError:
        return f"expected JSON, got {fetched.describe_body()}", ""
    found, value = _dig(document, field_path)
    if not found:
        return f"field {field_path!r} missing from the JSON response", ""
    shown = value if isinstance(value, str) else json.dumps(value)
    if smoke.expect_value is not None and shown != smoke.expect_value:
        return f"field {field_path!r} is {shown!r}, expected {smoke.expect_value!r}", shown
    return "", shown


def _dig(document: Any, dotted: str) -> tuple[bool, Any]:
    current = document
    for part in dotted.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return False, None
    return True, current
