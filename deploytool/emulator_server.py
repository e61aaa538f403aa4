"""The emulator's server: moto's own server, patched in-process before it serves.

Run as ``python -m deploytool.emulator_server`` with the arguments ``python -m moto.server`` takes.

Target groups (always on): AWS identifies a registered target by its ID *and* port, so two tasks
behind one address (``127.0.0.1`` for the local stand-in's tasks) are two targets; moto keys them
by ID alone, so registering the second replaced the first and deregistering either removed both.
:func:`patch_target_groups` keys them by (ID, port), as AWS does.

ACM's DNS validation (always on): moto issues every requested certificate once
``MOTO_ACM_VALIDATION_WAIT`` seconds have passed, whether or not anyone created its validation
records. ACM issues a DNS-validated certificate only when the CNAME it asked for answers: here the
certificate stays ``PENDING_VALIDATION`` until every validation record it lists is in a Route 53
hosted zone of the account (name and value exact), so a validation that would hang on AWS hangs
here too (:func:`patch_acm_validation`).

Three patches of IAM enforcement, all inert until it is switched on (``POST /moto-api/reset-auth``
with body ``0``, see :func:`deploytool.emulator.enforce_iam`):

- Resource matching. moto derives the request's resource ARN for S3 (bucket and object ARNs), for
  IAM calls that name an existing role and for ``sts:AssumeRole``; for every other request it passes
  ``*``, which a statement scoped to an ARN pattern never matches, so moto would deny what AWS
  allows. Exactly that case - the resource moto could not determine - is taken to match any
  statement ``Resource``; derived ARNs are still compared exactly.
- Action names. moto names the action after the SigV4 signing name of the request, which for a few
  services is not IAM's service prefix (CloudWatch signs as ``monitoring``): those are renamed to the
  prefix IAM policies use (``cloudwatch:PutMetricAlarm``), as AWS evaluates them.
- Decisions. Every authorization decision (principal ARN, action, resource, allowed or denied) is
  appended as one JSON line to the file named by ``DEPLOYTOOL_EMULATOR_DECISIONS``, so a caller can
  name the action a role lacked (the AWS SDKs of JSON-protocol services cannot parse moto's XML
  denial) and list the actions a flow used.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

DECISIONS_ENV = "DEPLOYTOOL_EMULATOR_DECISIONS"
# What moto passes as the resource when it could not derive the request's ARN.
UNDETERMINED_RESOURCE = "*"
# SigV4 signing names that differ from the service's prefix in IAM actions.
IAM_PREFIX = {"monitoring": "cloudwatch", "email": "ses"}

_WRITE_LOCK = threading.Lock()


def _record(entry: dict[str, Any]) -> None:
    path = os.environ.get(DECISIONS_ENV)
    if not path:
        return
    line = json.dumps({"time": round(time.time(), 3), **entry}, sort_keys=True) + "\n"
    with _WRITE_LOCK, open(path, "a", encoding="utf-8") as out:
        out.write(line)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, KeyError):  # moto reads the Authorization header of an unsigned request
        return "MissingAuthenticationToken"
    for attr in ("error_type", "code"):
        value = getattr(exc, attr, None)
        if isinstance(value, str) and value:
            return value
    return type(exc).__name__


def patch_moto() -> None:
    """Apply both patches to moto's IAM access control (idempotent)."""
    from moto.iam import access_control as ac

    statement = ac.IAMPolicyStatement
    if getattr(statement, "_deploytool_patched", False):
        return

    original_matches: Callable[[Any, Any, str], bool] = statement._check_element_matches

    def check_element_matches(self: Any, statement_element: Any, value: str) -> bool:
        if statement_element == "Resource" and value == UNDETERMINED_RESOURCE:
            return True
        return original_matches(self, statement_element, value)

    statement._check_element_matches = check_element_matches  # type: ignore[method-assign]
    statement._deploytool_patched = True  # type: ignore[attr-defined]

    request = ac.IAMRequestBase
    original_init: Callable[..., None] = request.__init__
    original_signature: Callable[[Any], None] = request.check_signature
    original_permitted: Callable[[Any, str], None] = request.check_action_permitted

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            original_init(self, *args, **kwargs)
            service, _, name = str(self._action).partition(":")
            if service in IAM_PREFIX:
                self._action = f"{IAM_PREFIX[service]}:{name}"
        except Exception as exc:  # an unknown access key or a bad session token
            _record(
                {
                    "principal": None,
                    "action": getattr(self, "_action", None),
                    "resource": None,
                    "decision": "denied",
                    "reason": _reason(exc),
                }
            )
            raise

    def check_signature(self: Any) -> None:
        try:
            original_signature(self)
        except Exception as exc:
            _record(
                {
                    "principal": self._access_key.arn,
                    "action": self._action,
                    "resource": None,
                    "decision": "denied",
                    "reason": _reason(exc),
                }
            )
            raise

    def check_action_permitted(self: Any, resource: str) -> None:
        entry = {"principal": self._access_key.arn, "action": self._action, "resource": resource}
        try:
            original_permitted(self, resource)
        except Exception as exc:
            _record({**entry, "decision": "denied", "reason": _reason(exc)})
            raise
        _record({**entry, "decision": "allowed"})

    request.__init__ = init  # type: ignore[method-assign]
    request.check_signature = check_signature  # type: ignore[method-assign]
    request.check_action_permitted = check_action_permitted  # type: ignore[method-assign]


def _name(value: Any) -> str:
    """A DNS name or record value, compared as DNS does (moto keeps values as strings or as dicts)."""
    if isinstance(value, dict):
        value = value.get("Value", "")
    return str(value).lower().rstrip(".")


def validation_records_in_place(account_id: str, options: list[dict[str, Any]]) -> bool:
    """Whether every DNS validation record of ``options`` is in one of the account's hosted zones."""
    from moto.route53.models import route53_backends

    wanted = {
        (_name(o["ResourceRecord"]["Name"]), o["ResourceRecord"]["Type"], _name(o["ResourceRecord"]["Value"]))
        for o in options
        if o.get("ResourceRecord")
    }
    present: set[tuple[str, str, str]] = set()
    for backend in route53_backends[account_id].values():
        for zone in backend.zones.values():
            for record in zone.rrsets:
                present.update((_name(record.name), str(record.type), _name(value)) for value in record.records)
    return bool(wanted) and wanted <= present


def patch_acm_validation() -> None:
    """Issue a DNS-validated certificate only when its validation records exist (idempotent)."""
    from moto.acm import models as acm

    bundle = acm.CertBundle
    if getattr(bundle, "_deploytool_patched", False):
        return
    original_check: Callable[[Any], None] = bundle.check

    def check(self: Any) -> None:
        pending = self.type == "AMAZON_ISSUED" and self.status == "PENDING_VALIDATION"
        original_check(self)
        if pending and self.status == "ISSUED":
            account_id = self.arn.split(":")[4]
            options = self.describe()["Certificate"].get("DomainValidationOptions", [])
            if not validation_records_in_place(account_id, options):
                self.status = "PENDING_VALIDATION"

    bundle.check = check  # type: ignore[method-assign]
    bundle._deploytool_patched = True  # type: ignore[attr-defined]


def patch_target_groups() -> None:
    """Key a target group's targets by (ID, port), as AWS does (idempotent)."""
    from moto.elbv2 import models
    from moto.elbv2.exceptions import InvalidTargetError, TargetNotRunning

    group = models.FakeTargetGroup
    if getattr(group, "_deploytool_patched", False):
        return
    original_health: Callable[..., Any] = group.health_for

    def key(self: Any, target: dict[str, Any]) -> str:
        return f"{target['Id']}:{target.get('Port') or self.port}"

    def register(self: Any, targets: list[dict[str, Any]]) -> None:
        for target in targets:
            instance = self.ec2_backend.get_instance_by_id(target["Id"])
            if instance and instance.state != "running":
                raise TargetNotRunning(instance_id=target["Id"])
            self.targets[key(self, target)] = {"Id": target["Id"], "Port": target.get("Port", self.port)}
            self.deregistered_targets.pop(key(self, target), None)

    def deregister(self: Any, targets: list[dict[str, Any]]) -> None:
        for target in targets:
            registered = self.targets.pop(key(self, target), None)
            if not registered:
                raise InvalidTargetError()
            self.deregistered_targets[key(self, target)] = registered

    def deregister_terminated_instances(self: Any, instance_ids: list[str]) -> None:
        for name, target in list(self.targets.items()):
            if target["Id"] in instance_ids:
                self.terminated_targets[name] = self.targets.pop(name)

    def health_for(self: Any, target: dict[str, Any], ec2_backend: Any) -> Any:
        # moto's own logic, looked up by the (ID, port) key in views keyed by ID.
        name = key(self, target)
        views = {
            "targets": {t["Id"]: t for n, t in self.targets.items() if n == name},
            "deregistered_targets": {t["Id"]: t for n, t in self.deregistered_targets.items() if n == name},
            "terminated_targets": {t["Id"]: t for n, t in self.terminated_targets.items() if n == name},
        }
        saved = {attr: getattr(self, attr) for attr in views}
        try:
            for attr, view in views.items():
                setattr(self, attr, view)
            return original_health(self, target, ec2_backend)
        finally:
            for attr, value in saved.items():
                setattr(self, attr, value)

    group.register = register  # type: ignore[method-assign]
    group.deregister = deregister  # type: ignore[method-assign]
    group.deregister_terminated_instances = deregister_terminated_instances  # type: ignore[method-assign]
    group.health_for = health_for  # type: ignore[method-assign]
    group._deploytool_patched = True  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> None:
    patch_moto()
    patch_acm_validation()
    patch_target_groups()
    from moto import server

    server.main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
