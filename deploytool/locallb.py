"""LOCAL MODE ONLY: the stand-in for the environment's Application Load Balancer.

The emulator stores listeners, rules and target groups but routes nothing. In local mode the tool
runs this reverse proxy on the loopback interface (``python -m deploytool.locallb``, an ASGI app
under uvicorn, forwarding with httpx). It reads, every ``REFRESH_S``, the listener's rules and
default action and the target groups they forward to from the emulator, and routes each request
as an ALB does:

- rules by ascending priority, the default action last; a rule matches when every condition does
  (``host-header``, ``http-header``, ``path-pattern``; one of a condition's values, ``*``/``?``
  wildcards, case-insensitive except paths); a condition it does not know never matches;
- ``forward`` to one target group or weighted over several (weight 0 never chosen);
  ``fixed-response`` and ``redirect`` answered itself;
- health checks on the traffic port; a group whose health-check port is another one fails them
  (a stand-in task listens on one port only);
- round robin over the group's healthy targets; none healthy: over all registered ones (the ALB
  fails open); none registered: 503; a target that does not answer: 502 (no retry, as an ALB).

Targets are those registered in the emulator's target groups (the local ECS stand-in registers
its tasks there). The proxy health-checks them with each group's own settings (path, matcher,
healthy/unhealthy thresholds; interval and timeout scaled by ``TIME_SCALE`` so a local rollout
takes seconds, not minutes) and publishes the states ALB would report (``initial``, ``healthy``,
``unhealthy``, ``draining``) to ``health.json`` in its state directory; :class:`TargetHealthView`
serves them through the ``describe_target_health`` interface the tool reads. A deregistered
target gets no new request at once and is reported ``draining`` for the group's deregistration
delay (scaled).

Not reproduced: HTTPS listeners and certificates, stickiness, slow start, query-string and
source-IP conditions, connection draining of keep-alive clients, cross-zone behaviour, access logs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from deploytool.emulator import HOST, free_port

#: Local seconds per ALB second for health-check intervals, timeouts and deregistration delays.
TIME_SCALE = float(os.environ.get("DEPLOYTOOL_LB_TIME_SCALE", "0.1"))
#: How often the proxy re-reads rules, target groups and registrations from the emulator.
REFRESH_S = 0.25
#: A scaled health-check timeout never drops below this (a loaded 2-core machine is slow).
MIN_TIMEOUT_S = 1.0
STATE_FILE = "lb.json"
HEALTH_FILE = "health.json"
LOG_FILE = "lb.log"
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


# --- routing (pure) ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One listener rule (``priority`` None: the default action)."""

    priority: int | None
    conditions: tuple[Mapping[str, Any], ...]
    actions: tuple[Mapping[str, Any], ...]


def _wildcard(pattern: str, value: str, *, case_sensitive: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case_sensitive else re.IGNORECASE) is not None


def _values(condition: Mapping[str, Any], config_key: str) -> list[str]:
    config = condition.get(config_key) or {}
    return [str(v) for v in (config.get("Values") or condition.get("Values") or [])]


def condition_matches(condition: Mapping[str, Any], host: str, headers: Mapping[str, str], path: str) -> bool:
    """Whether one rule condition matches a request (``headers`` keys lower-case)."""
    kind = condition.get("Field")
    if kind == "host-header":
        name = host.split(":", 1)[0]
        return any(_wildcard(v, name) for v in _values(condition, "HostHeaderConfig"))
    if kind == "http-header":
        config = condition.get("HttpHeaderConfig") or {}
        value = headers.get(str(config.get("HttpHeaderName", "")).lower())
        return value is not None and any(_wildcard(str(v), value) for v in config.get("Values") or [])
    if kind == "path-pattern":
        return any(_wildcard(v, path, case_sensitive=True) for v in _values(condition, "PathPatternConfig"))
    return False


def choose_rule(rules: Sequence[Rule], host: str, headers: Mapping[str, str], path: str) -> Rule | None:
    """The first rule by priority whose conditions all match, else the default rule."""
    ordered = sorted((r for r in rules if r.priority is not None), key=lambda r: r.priority or 0)
    for rule in ordered:
        if rule.conditions and all(condition_matches(c, host, headers, path) for c in rule.conditions):
            return rule
    return next((r for r in rules if r.priority is None), None)


def forward_groups(action: Mapping[str, Any]) -> list[tuple[str, int]]:
    """(target group ARN, weight) of a forward action, whichever form it is written in."""
    groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
    if groups:
        return [(str(g["TargetGroupArn"]), int(g.get("Weight", 1))) for g in groups]
    return [(str(action["TargetGroupArn"]), 1)] if action.get("TargetGroupArn") else []


def pick_group(groups: Sequence[tuple[str, int]], rng: random.Random) -> str | None:
    """One target group by weight (weight 0 is never chosen; all 0: none)."""
    weighted = [(arn, w) for arn, w in groups if w > 0]
    if not weighted:
        return None
    if len(weighted) == 1:
        return weighted[0][0]
    return rng.choices([a for a, _ in weighted], weights=[w for _, w in weighted])[0]


def matcher_accepts(matcher: str, status: int) -> bool:
    """The target group's success codes (``200``, ``200,202``, ``200-299``)."""
    for part in matcher.split(","):
        low, _, high = part.strip().partition("-")
        if low and int(low) <= status <= int(high or low):
            return True
    return False


# --- health checks ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class HealthCheck:
    """A target group's health-check settings, scaled to local time."""

    path: str = "/health"
    interval_s: float = 1.0
    timeout_s: float = 1.0
    healthy_threshold: int = 5
    unhealthy_threshold: int = 2
    matcher: str = "200"
    deregistration_delay_s: float = 3.0
    #: A health-check port other than the traffic port: the stand-in's task listens on one port only.
    other_port: str | None = None

    @classmethod
    def of(cls, group: Mapping[str, Any], attributes: Mapping[str, str], scale: float) -> HealthCheck:
        interval = float(group.get("HealthCheckIntervalSeconds", 30)) * scale
        timeout = max(MIN_TIMEOUT_S, float(group.get("HealthCheckTimeoutSeconds", 5)) * scale)
        delay = float(attributes.get("deregistration_delay.timeout_seconds", 300)) * scale
        return cls(
            path=str(group.get("HealthCheckPath") or "/"),
            interval_s=max(interval, 0.2),
            timeout_s=timeout,
            healthy_threshold=int(group.get("HealthyThresholdCount", 5)),
            unhealthy_threshold=int(group.get("UnhealthyThresholdCount", 2)),
            matcher=str((group.get("Matcher") or {}).get("HttpCode") or "200"),
            deregistration_delay_s=max(delay, REFRESH_S * 4),
            other_port=_other_port(group),
        )


def _other_port(group: Mapping[str, Any]) -> str | None:
    port = str(group.get("HealthCheckPort") or "traffic-port")
    return None if port in ("traffic-port", str(group.get("Port", ""))) else port


@dataclass
class TargetState:
    """What the ALB knows of one registered target."""

    id: str
    port: int
    state: str = "initial"
    reason: str = "Elb.RegistrationInProgress"
    description: str = "Target registration is in progress"
    successes: int = 0
    failures: int = 0
    drain_until: float | None = None

    @property
    def address(self) -> str:
        return f"http://{self.id}:{self.port}"

    def observe(self, ok: bool, why: str, check: HealthCheck) -> None:
        """One health-check result, through ALB's thresholds."""
        if self.state == "draining":
            return
        if ok:
            self.successes, self.failures = self.successes + 1, 0
            if self.state != "healthy" and self.successes >= check.healthy_threshold:
                self.state, self.reason, self.description = "healthy", "", ""
            elif self.state == "initial":
                self.reason, self.description = "Elb.InitialHealthChecking", "Initial health checks in progress"
            return
        self.failures, self.successes = self.failures + 1, 0
        if self.failures >= check.unhealthy_threshold:
            reason = "Target.Timeout" if "timed out" in why else "Target.ResponseCodeMismatch"
            if why.startswith("connection"):
                reason = "Target.FailedHealthChecks"
            self.state, self.reason, self.description = "unhealthy", reason, why

    def to_description(self) -> dict[str, Any]:
        health: dict[str, Any] = {"State": self.state}
        if self.reason:
            health["Reason"] = self.reason
        if self.description:
            health["Description"] = self.description
        return {"Target": {"Id": self.id, "Port": self.port}, "HealthCheckPort": str(self.port), "TargetHealth": health}


@dataclass
class Group:
    arn: str
    check: HealthCheck
    targets: dict[tuple[str, int], TargetState] = field(default_factory=dict)
    next_check: float = 0.0
    turn: int = 0

    def routable(self) -> list[TargetState]:
        """Healthy targets; none healthy: every registered one (fail open); draining never."""
        live = [t for t in self.targets.values() if t.state != "draining"]
        healthy = [t for t in live if t.state == "healthy"]
        return healthy or live


# --- the proxy --------------------------------------------------------------------------------------


class Balancer:
    """The listener's routing over the emulator's rules and target groups (an ASGI application)."""

    def __init__(self, elbv2: Any, listener_arn: str, state_dir: Path, *, scale: float = TIME_SCALE) -> None:
        self.elbv2 = elbv2
        self.listener_arn = listener_arn
        self.state_dir = state_dir
        self.scale = scale
        self.rules: list[Rule] = []
        self.groups: dict[str, Group] = {}
        self.rng = random.Random()
        self.client: httpx.AsyncClient | None = None
        self.refreshed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # -- the emulator's configuration ----------------------------------------------------------------
    def read_configuration(self) -> tuple[list[Rule], dict[str, tuple[HealthCheck, set[tuple[str, int]]]]]:
        """Rules and, per target group they forward to, its health check and registered targets."""
        rules: list[Rule] = []
        for raw in self.elbv2.describe_rules(ListenerArn=self.listener_arn).get("Rules", []):
            default = bool(raw.get("IsDefault")) or raw.get("Priority") == "default"
            rules.append(
                Rule(
                    None if default else int(raw["Priority"]),
                    tuple(raw.get("Conditions", [])),
                    tuple(sorted(raw.get("Actions", []), key=lambda a: int(a.get("Order", 1)))),
                )
            )
        if not any(r.priority is None for r in rules):
            (listener,) = self.elbv2.describe_listeners(ListenerArns=[self.listener_arn])["Listeners"]
            rules.append(Rule(None, (), tuple(listener.get("DefaultActions", []))))
        arns = {arn for r in rules for a in r.actions if a.get("Type") == "forward" for arn, _ in forward_groups(a)}
        groups: dict[str, tuple[HealthCheck, set[tuple[str, int]]]] = {}
        for arn in sorted(arns):
            try:
                (described,) = self.elbv2.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"]
                attributes = {
                    a["Key"]: a["Value"]
                    for a in self.elbv2.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]
                }
                registered = {
                    (str(d["Target"]["Id"]), int(d["Target"]["Port"]))
                    for d in self.elbv2.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
                }
            except Exception:  # noqa: S112 - a group deleted between two calls: it is gone
                continue
            groups[arn] = (HealthCheck.of(described, attributes, self.scale), registered)
        return rules, groups

    def apply_configuration(
        self, rules: list[Rule], groups: Mapping[str, tuple[HealthCheck, set[tuple[str, int]]]]
    ) -> None:
        now = time.monotonic()
        self.rules = rules
        for arn, (check, registered) in groups.items():
            group = self.groups.setdefault(arn, Group(arn, check))
            group.check = check
            for key in registered:
                if key not in group.targets or group.targets[key].state == "draining":
                    group.targets[key] = TargetState(*key)
            for key, target in list(group.targets.items()):
                if key in registered:
                    continue
                if target.state != "draining":
                    target.state, target.reason = "draining", "Target.DeregistrationInProgress"
                    target.description = "Target deregistration is in progress"
                    target.drain_until = now + check.deregistration_delay_s
                elif target.drain_until is not None and now >= target.drain_until:
                    del group.targets[key]
        for arn in set(self.groups) - set(groups):
            del self.groups[arn]

    def publish(self) -> None:
        document = {
            "updated": time.time(),
            "listener_arn": self.listener_arn,
            "target_groups": {
                arn: [t.to_description() for t in group.targets.values()] for arn, group in self.groups.items()
            },
        }
        path = self.state_dir / HEALTH_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(document))
        tmp.replace(path)

    async def refresh_loop(self) -> None:
        while True:
            try:
                rules, groups = await asyncio.to_thread(self.read_configuration)
                self.apply_configuration(rules, groups)
                self.publish()
                self.refreshed.set()
            except Exception as exc:  # the emulator restarting: keep the last configuration
                print(f"locallb: cannot read the listener configuration: {exc}", file=sys.stderr, flush=True)
            await asyncio.sleep(REFRESH_S)

    async def check_target(self, target: TargetState, check: HealthCheck) -> None:
        assert self.client is not None
        if check.other_port is not None:
            why = f"connection failed: the task listens on its traffic port only, not on {check.other_port}"
            target.observe(False, why, check)
            return
        try:
            response = await self.client.get(target.address + check.path, timeout=check.timeout_s)
            ok = matcher_accepts(check.matcher, response.status_code)
            why = f"Health checks failed with these codes: [{response.status_code}]"
        except httpx.TimeoutException:
            ok, why = False, "Request timed out"
        except httpx.HTTPError as exc:
            ok, why = False, f"connection failed: {type(exc).__name__}"
        target.observe(ok, why, check)

    async def health_loop(self) -> None:
        await self.refreshed.wait()
        while True:
            now = time.monotonic()
            due = [g for g in self.groups.values() if g.next_check <= now]
            for group in due:
                group.next_check = now + group.check.interval_s
            checks = [self.check_target(t, g.check) for g in due for t in list(g.targets.values())]
            if checks:
                await asyncio.gather(*checks)
                self.publish()
            await asyncio.sleep(0.05)

    # -- ASGI ------------------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.client = httpx.AsyncClient(follow_redirects=False, timeout=60.0)
                self._tasks = [asyncio.create_task(self.refresh_loop()), asyncio.create_task(self.health_loop())]
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in self._tasks:
                    task.cancel()
                if self.client is not None:
                    await self.client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        path = str(scope.get("path", "/"))
        query = scope.get("query_string", b"").decode("latin-1")
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        rule = choose_rule(self.rules, headers.get("host", ""), headers, path)
        action = next((a for a in rule.actions if a.get("Type") != "authenticate-oidc"), None) if rule else None
        if action is None:
            await _respond(send, 503, b"no listener rule or default action\n")
            return
        kind = action.get("Type")
        if kind == "fixed-response":
            config = action.get("FixedResponseConfig") or {}
            content = str(config.get("MessageBody", "")).encode()
            ctype = str(config.get("ContentType") or "text/plain")
            await _respond(send, int(config.get("StatusCode", 200)), content, ctype)
            return
        if kind == "redirect":
            config = action.get("RedirectConfig") or {}
            host = str(config.get("Host", "#{host}")).replace("#{host}", headers.get("host", ""))
            proto = str(config.get("Protocol", "#{protocol}")).replace("#{protocol}", "http").lower()
            location = f"{proto}://{host}{path}" + (f"?{query}" if query else "")
            status = 301 if config.get("StatusCode") == "HTTP_301" else 302
            await _respond(send, status, b"", extra=[(b"location", location.encode())])
            return
        arn = pick_group(forward_groups(action), self.rng)
        group = self.groups.get(arn or "")
        targets = group.routable() if group else []
        if group is None or not targets:
            await _respond(send, 503, b"503 Service Temporarily Unavailable\n")
            return
        group.turn += 1
        chosen = targets[group.turn % len(targets)]
        await self._forward(scope, send, chosen, headers, path, query, body)

    async def _forward(
        self,
        scope: Scope,
        send: Send,
        target: TargetState,
        headers: Mapping[str, str],
        path: str,
        query: str,
        body: bytes,
    ) -> None:
        assert self.client is not None
        client_ip = (scope.get("client") or ("", 0))[0]
        outgoing = [(k, v) for k, v in headers.items() if k not in _HOP_BY_HOP]
        outgoing += [("x-forwarded-for", client_ip), ("x-forwarded-proto", "http")]
        url = target.address + path + (f"?{query}" if query else "")
        request = self.client.build_request(str(scope.get("method", "GET")), url, headers=outgoing, content=body)
        try:
            response = await self.client.send(request, stream=True)
            try:
                content = b"".join([chunk async for chunk in response.aiter_raw()])
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            await _respond(send, 504, b"504 Gateway Time-out\n")
            return
        except httpx.HTTPError:
            await _respond(send, 502, b"502 Bad Gateway\n")
            return
        passed = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in response.headers.multi_items()
            if k.lower() not in _HOP_BY_HOP
        ]
        passed.append((b"content-length", str(len(content)).encode()))
        await send({"type": "http.response.start", "status": response.status_code, "headers": passed})
        await send({"type": "http.response.body", "body": content})


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str = "text/plain",
    extra: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- what the tool reads ----------------------------------------------------------------------------


class TargetHealthView:
    """``describe_target_health`` in local mode: the emulator's registrations with the states the
    local load balancer observed (a registered target it has not checked yet is ``initial``; a
    deregistered one it still drains is ``draining``)."""

    def __init__(self, elbv2: Any, state_dir: Path) -> None:
        self.elbv2 = elbv2
        self.state_dir = state_dir

    def describe_target_health(self, TargetGroupArn: str) -> dict[str, Any]:
        registered = self.elbv2.describe_target_health(TargetGroupArn=TargetGroupArn)["TargetHealthDescriptions"]
        observed: dict[tuple[str, int], dict[str, Any]] = {}
        path = self.state_dir / HEALTH_FILE
        if path.is_file():
            with contextlib.suppress(ValueError):
                for d in json.loads(path.read_text()).get("target_groups", {}).get(TargetGroupArn, []):
                    observed[(str(d["Target"]["Id"]), int(d["Target"]["Port"]))] = d
        out: list[dict[str, Any]] = []
        for d in registered:
            key = (str(d["Target"]["Id"]), int(d["Target"]["Port"]))
            seen = observed.pop(key, None)
            if seen is None or seen["TargetHealth"]["State"] == "draining":
                seen = TargetState(*key).to_description()
            out.append(seen)
        out.extend(d for d in observed.values() if d["TargetHealth"]["State"] == "draining")
        return {"TargetHealthDescriptions": out}


# --- the process ------------------------------------------------------------------------------------


@dataclass
class LoadBalancerInfo:
    pid: int
    port: int
    listener_arn: str

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def running(state_dir: Path) -> LoadBalancerInfo | None:
    path = state_dir / STATE_FILE
    if not path.is_file():
        return None
    info = LoadBalancerInfo(**json.loads(path.read_text()))
    return info if _alive(info.pid) else None


def ensure_running(
    state_dir: Path, *, endpoint: str, region: str, listener_arn: str, credentials: Mapping[str, str]
) -> LoadBalancerInfo:
    """The local load balancer of ``listener_arn``, started (and waited for) unless it runs."""
    state_dir.mkdir(parents=True, exist_ok=True)
    info = running(state_dir)
    if info is not None and info.listener_arn == listener_arn:
        return info
    stop(state_dir)
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "DEPLOYTOOL_LB_TIME_SCALE": str(TIME_SCALE),
        **credentials,
    }
    log = (state_dir / LOG_FILE).open("ab")
    args = ["--state-dir", str(state_dir), "--endpoint", endpoint, "--region", region]
    args += ["--listener-arn", listener_arn, "--port", str(port)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "deploytool.locallb", *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    info = LoadBalancerInfo(proc.pid, port, listener_arn)
    (state_dir / STATE_FILE).write_text(json.dumps(asdict(info)))
    deadline = time.monotonic() + 20.0
    while time.monotonic() < deadline and proc.poll() is None:
        if (state_dir / HEALTH_FILE).is_file() and _answers(info.url):
            return info
        time.sleep(0.1)
    raise RuntimeError(f"the local load balancer did not start; see {state_dir / LOG_FILE}")


def _answers(url: str) -> bool:
    try:
        httpx.get(url + "/", timeout=1.0)
    except httpx.HTTPError:
        return False
    return True


def stop(state_dir: Path) -> bool:
    """Stop the local load balancer of ``state_dir`` (True if one ran)."""
    path = state_dir / STATE_FILE
    if not path.is_file():
        return False
    info = LoadBalancerInfo(**json.loads(path.read_text()))
    stopped = False
    if _alive(info.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(info.pid, signal.SIGTERM)
        for _ in range(50):
            if not _alive(info.pid):
                break
            time.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(info.pid, signal.SIGKILL)
        stopped = True
    path.unlink(missing_ok=True)
    (state_dir / HEALTH_FILE).unlink(missing_ok=True)
    return stopped


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deploytool.locallb", description=__doc__.split("\n")[0])
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--region", required=True)
    parser.add_argument("--listener-arn", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)

    import boto3
    import uvicorn

    elbv2 = boto3.client(
        "elbv2",
        endpoint_url=args.endpoint,
        region_name=args.region,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
        aws_session_token=os.environ.get("AWS_SESSION_TOKEN") or None,
    )
    balancer = Balancer(elbv2, args.listener_arn, args.state_dir)
    uvicorn.run(balancer, host=HOST, port=args.port, log_level="warning", access_log=False, lifespan="on")


if __name__ == "__main__":
    main()


__all__ = [
    "Balancer",
    "HealthCheck",
    "LoadBalancerInfo",
    "Rule",
    "TargetHealthView",
    "choose_rule",
    "condition_matches",
    "ensure_running",
    "forward_groups",
    "matcher_accepts",
    "pick_group",
    "running",
    "stop",
]
