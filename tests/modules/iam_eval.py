"""A small evaluator of IAM policy documents with IAM's condition semantics, for plan-level tests.

What it knows (and what the tests need): `Allow`/`Deny` statements with `Action`/`Resource` lists
and `*`/`?` wildcards (actions case-insensitive, resources case-sensitive), `Principal`
`Federated`, and `Condition` blocks with the string and ARN operators. A condition block holds
when every operator holds; an operator holds when every key under it holds; a key holds when any of
its values matches (several values are an OR). A key missing from the request context fails every
positive operator, as in IAM. An explicit Deny wins. Anything else it meets (`NotAction`,
`NotPrincipal`, an operator it does not know) raises, so that no test passes on what the evaluator
skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

Statement = Mapping[str, Any]
Context = Mapping[str, str | Sequence[str]]

WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"


def as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def like(pattern: str, value: str, *, case: bool = True) -> bool:
    """IAM's `StringLike`: `*` is any run of characters (`/` included), `?` is one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def _context_values(context: Context, key: str) -> list[str] | None:
    """The request's values of condition key ``key`` (keys are case-insensitive), or None."""
    for name, value in context.items():
        if name.lower() == key.lower():
            return as_list(value)
    return None


def _matches(operator: str, wanted: str, actual: str) -> bool:
    base = operator.removesuffix("IfExists")
    if base in ("StringEquals", "ArnEquals"):
        return actual == wanted
    if base == "StringEqualsIgnoreCase":
        return actual.lower() == wanted.lower()
    if base in ("StringLike", "ArnLike"):
        return like(wanted, actual)
    if base == "Bool":
        return actual.lower() == wanted.lower()
    raise NotImplementedError(f"condition operator {operator} is not evaluated here")


def condition_holds(condition: Mapping[str, Mapping[str, Any]], context: Context) -> bool:
    """Whether a statement's ``Condition`` block holds for a request with ``context``."""
    for operator, keys in condition.items():
        negated = operator.startswith(("StringNot", "ArnNot"))
        positive = operator.replace("Not", "", 1) if negated else operator
        for key, wanted in keys.items():
            actual = _context_values(context, key)
            if actual is None:
                if operator.endswith("IfExists") or negated:
                    continue
                return False
            hit = any(_matches(positive, w, a) for w in as_list(wanted) for a in actual)
            if hit is negated:
                return False
    return True


def statements(document: str | Mapping[str, Any]) -> list[Statement]:
    policy = json.loads(document) if isinstance(document, str) else document
    if policy.get("Version") != "2012-10-17":
        raise ValueError("policy Version must be 2012-10-17")
    raw = policy["Statement"]
    items: list[Statement] = raw if isinstance(raw, list) else [raw]
    for s in items:
        unknown = {"NotAction", "NotResource", "NotPrincipal"} & set(s)
        if unknown:
            raise NotImplementedError(f"{sorted(unknown)} are not evaluated here")
        if s.get("Effect") not in ("Allow", "Deny"):
            raise ValueError(f"bad Effect in {s}")
    return items


def _applies(statement: Statement, action: str, resource: str | None, context: Context) -> bool:
    if not any(like(p, action, case=False) for p in as_list(statement.get("Action"))):
        return False
    if resource is not None and not any(like(p, resource) for p in as_list(statement.get("Resource"))):
        return False
    return condition_holds(statement.get("Condition", {}), context)


def allowing(
    document: str | Mapping[str, Any], action: str, resource: str, context: Context | None = None
) -> list[str]:
    """Sids of the statements that allow ``action`` on ``resource`` in ``context`` (empty when
    nothing allows it or an explicit Deny applies)."""
    found = statements(document)
    ctx = context or {}
    applicable = [s for s in found if _applies(s, action, resource, ctx)]
    if any(s["Effect"] == "Deny" for s in applicable):
        return []
    return [str(s.get("Sid", "")) for s in applicable if s["Effect"] == "Allow"]


def allows(document: str | Mapping[str, Any], action: str, resource: str, context: Context | None = None) -> bool:
    """Whether the identity policy allows ``action`` on ``resource`` for a request with ``context``."""
    return bool(allowing(document, action, resource, context))


def github_claims(sub: str, aud: str = "sts.amazonaws.com") -> dict[str, str]:
    """The condition keys IAM derives from a GitHub Actions OIDC token."""
    return {f"{GITHUB_OIDC_HOST}:sub": sub, f"{GITHUB_OIDC_HOST}:aud": aud}


def can_assume(trust_policy: str | Mapping[str, Any], provider_arn: str, claims: Context) -> bool:
    """Whether a token from the OIDC provider ``provider_arn`` with ``claims`` may assume the role
    through `sts:AssumeRoleWithWebIdentity` under ``trust_policy``."""
    found = statements(trust_policy)

    def applies(s: Statement) -> bool:
        principal = s.get("Principal", {})
        federated = as_list(principal.get("Federated")) if isinstance(principal, Mapping) else as_list(principal)
        trusted = provider_arn in federated or "*" in federated
        return trusted and _applies(s, WEB_IDENTITY, None, claims)

    applicable = [s for s in found if applies(s)]
    return bool(applicable) and not any(s["Effect"] == "Deny" for s in applicable)
