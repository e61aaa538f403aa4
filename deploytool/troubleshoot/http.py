"""The HTTP check: ``/health`` and ``/health/detailed`` of the service, as a user reaches them.

The URL is ``--health-url`` if given, else the configured one, else (local mode) the local
stand-in's, else the app stack's ``url`` output or ``<scheme>://<host>``.
"""

from __future__ import annotations

from deploytool.health import HealthSettings, check_http
from deploytool.troubleshoot.facts import Facts
from deploytool.troubleshoot.findings import Finding, failed, not_checked
from deploytool.troubleshoot.locate import Where


def check_http_endpoints(where: Where, facts: Facts, *, base_url: str | None, budget_s: float) -> list[Finding]:
    """``http.basic`` and ``http.detailed``: ``/health`` answers 200, ``/health/detailed`` reports healthy."""
    health = where.target.settings.health
    url = base_url or health.base_url
    if url is None and where.emulator:
        task = where.local_stand_in().task()
        if task is None:
            return [not_checked("http.basic", "the local stand-in of the task is not running", "local.task")]
        url = task.url
    if url is None:
        app_url = facts.app_outputs.get("url")
        scheme = str(where.platform.get("url_scheme") or "https")
        url = str(app_url) if app_url else f"{scheme}://{where.names.host}"
    settings = HealthSettings(
        base_url=url,
        basic_path=health.paths.basic,
        detailed_path=health.paths.detailed,
        metrics_path=None,
        request_timeout_s=min(health.request_timeout_seconds, 3.0),
        budget_s=budget_s,
        interval_s=1.0,
        max_interval_s=2.0,
        consecutive_passes=1,
        required_components=tuple(health.required_components),
    )
    verdict = check_http(settings)
    fixes = {
        "http.basic": (
            f"{url}{health.paths.basic} must answer 200: {where.command('events')} and "
            f"{where.command('logs', '--since', '1h')} show why the app is not serving"
        ),
        "http.detailed": (
            "a component reports unhealthy (the database, usually): the network.db and rds.status checks "
            f"above, then {where.command('logs', '--since', '1h')}"
        ),
    }
    findings = [
        Finding(c, fixes.get(c.name, f"see {where.command('logs')}"))
        for c in verdict.checks
        if c.name != "http.stability"
    ]
    return findings or [failed("http.basic", verdict.summary(), fixes["http.basic"])]
