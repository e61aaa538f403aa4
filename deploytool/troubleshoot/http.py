"""The HTTP check: ``/health`` and ``/health/detailed`` of the service, as a user reaches them.

The URL is the one a deploy checks (``deploytool.runtime.check_url``): ``--health-url`` if given,
else the configured one, else the runtime's (the app stack's ``url`` output or the public URL of
its host; in local mode the local load balancer), with the headers that route there (the Host
header in local mode).
"""

from __future__ import annotations

from deploytool.errors import DeployError
from deploytool.health import HealthSettings, check_http
from deploytool.runtime import check_url
from deploytool.state import AppOutputs
from deploytool.troubleshoot.facts import Facts
from deploytool.troubleshoot.findings import Finding, failed, not_checked
from deploytool.troubleshoot.locate import Where


def check_http_endpoints(where: Where, facts: Facts, *, base_url: str | None, budget_s: float) -> list[Finding]:
    """``http.basic`` and ``http.detailed``: ``/health`` answers 200, ``/health/detailed`` reports healthy."""
    health = where.target.settings.health
    try:
        url, headers = check_url(
            where.target, where.names, AppOutputs(facts.app_outputs), where.service, override=base_url
        )
    except DeployError as exc:  # the runtime has no task to send requests to
        return [not_checked("http.basic", str(exc), "local.task")]
    failure = None if base_url or health.base_url else where.runtime.task_failure(where.service)
    if failure:
        return [not_checked("http.basic", f"the task is not running: {failure}", "local.task")]
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
        extra_headers=headers,
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
