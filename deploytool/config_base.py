"""The base of every ``deploy.toml`` table, and its validation errors as one line a user can act on.

Pydantic reports errors by location and type; ``format_validation_error`` turns them into
``<file>: <table.key>: <problem>`` with the key's TOML spelling and a plain-words problem, at most a
few at a time.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, ValidationError

Extras = Mapping[type[BaseModel], tuple[str, ...]]


class SettingsModel(BaseModel):
    """A settings table: unknown keys are errors, values are not coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=False)


def _fields_at(root: type[BaseModel], loc: tuple[int | str, ...], extras: Extras) -> list[str]:
    """The keys allowed at ``loc`` (the location of a table in ``root``), for "did you mean" hints;
    ``extras`` adds keys a model accepts before validation (``extends``)."""
    current: Any = root
    for part in loc:
        while get_origin(current) in (Union, UnionType):
            current = next(a for a in get_args(current) if a is not type(None))
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        elif get_origin(current) in (dict, list):
            current = get_args(current)[-1]
        else:
            return []
    while get_origin(current) in (Union, UnionType):
        current = next(a for a in get_args(current) if a is not type(None))
    if not (isinstance(current, type) and issubclass(current, BaseModel)):
        return []
    return [*current.model_fields, *extras.get(current, ())]


_TYPE_WORDS = {
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "list_type": "must be a list",
    "timedelta_type": "must be a duration string such as 7d",
}


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


_CTX_WORDS = {
    "greater_than": "must be > {gt}",
    "greater_than_equal": "must be >= {ge}",
    "less_than": "must be < {lt}",
    "less_than_equal": "must be <= {le}",
    "too_short": "needs at least {min_length} item(s)",
    "string_too_short": "must not be empty",
    "string_too_long": "must be at most {max_length} characters",
}


def _problem(error: Mapping[str, Any], root: type[BaseModel], extras: Extras) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        message = "is required"
    elif kind == "extra_forbidden":
        key = str(error["loc"][-1]) if error["loc"] else ""
        close = difflib.get_close_matches(key, _fields_at(root, tuple(error["loc"][:-1]), extras), n=1)
        message = "unknown key" + (f" (did you mean {close[0]!r}?)" if close else "")
    elif kind in _CTX_WORDS:
        message = _CTX_WORDS[kind].format(**ctx)
    elif kind == "literal_error":
        got = error.get("input")
        shown = f" (got {got!r})" if isinstance(got, str | int | float) and len(repr(got)) <= 40 else ""
        message = f"must be {ctx.get('expected')}{shown}"
    elif kind in _TYPE_WORDS:
        message = _TYPE_WORDS[kind]
    elif kind in ("value_error", "assertion_error"):
        message = str(error.get("msg", "is invalid"))
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
    else:
        message = str(error.get("msg", "is invalid"))
        message = message[:1].lower() + message[1:]
    return message


def format_validation_error(
    label: str, exc: ValidationError, *, root: type[BaseModel], extras: Extras | None = None, limit: int = 3
) -> str:
    """One line: ``<file>: <key>: <problem>`` for each error (at most ``limit``) of validating ``root``,
    joined by ``; ``."""
    errors = exc.errors(include_url=False)
    parts = []
    for error in errors[:limit]:
        where = _location(tuple(error["loc"]))
        problem = " ".join(_problem(error, root, extras or {}).split())
        parts.append(f"{where}: {problem}" if where else problem)
    more = f" (and {len(errors) - limit} more)" if len(errors) > limit else ""
    return f"{label}: {'; '.join(parts)}{more}"
