"""Terraform plan JSON -> change summary, PR-comment markdown, and redaction of sensitive values.

``summarize`` reads the output of ``terraform show -json PLANFILE``: counts of resources to add,
change, replace (delete + create, counted once) and destroy, the action per resource address, and
container image changes of ECS task definitions. ``render_markdown`` turns a summary and the human
``terraform show`` text into a comment that fits GitHub's size limit. ``sensitive_values`` lists
every value the plan marks sensitive and ``redact`` removes them from any text; ``Secrets`` collects
them over a run (every plan the run reads) and redacts everything the run prints, posts or records.

Nothing here prints a planned attribute value except image tags, and those are masked when the
plan marks them sensitive.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

Action = Literal["create", "update", "replace", "delete", "forget", "import"]

REDACTED = "(sensitive)"
MIN_SECRET_LEN = 4
"""Sensitive values shorter than this are not collected: replacing them everywhere would mangle
the text, and ``terraform show`` already prints every sensitive attribute as ``(sensitive value)``."""

COMMENT_LIMIT = 60_000
"""Default size budget of a comment body (GitHub rejects bodies over 65,536 characters)."""

MAX_TABLE_ROWS = 50
MAX_CELL_CHARS = 200
_UNKNOWN = "(known after apply)"
_TASK_DEFINITION = "aws_ecs_task_definition"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_DIFF_SIGN = re.compile(r"^(\s*)([-+~]|-/\+|\+/-)(?=\s|$)")
_MARKER_KEY = re.compile(r"[A-Za-z0-9_.:/=@+-]+")


@dataclass(frozen=True)
class ResourceChange:
    """One resource with a planned action.

    ``action``: create, update, replace, delete, forget (removed from state only) or import
    (imported without other change). ``reason``: Terraform's ``action_reason`` if it gave one
    (``replace_because_cannot_update``, ``delete_because_no_resource_config`` ...).
    """

    address: str
    type: str
    action: Action
    reason: str | None = None

    @property
    def destructive(self) -> bool:
        return self.action in ("delete", "replace")

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "type": self.type, "action": self.action, "reason": self.reason}


@dataclass(frozen=True)
class ImageChange:
    """A container image change in an ECS task definition.

    ``before``/``after`` are the image tags (or ``sha256:`` digests): ``None`` when the task
    definition is created or destroyed, ``(known after apply)`` when unknown, ``(sensitive)`` when
    the plan marks the container definitions sensitive.
    """

    address: str
    container: str
    before: str | None
    after: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"address": self.address, "container": self.container, "before": self.before, "after": self.after}


@dataclass(frozen=True)
class PlanSummary:
    """What a plan will do. Counts: ``add``, ``change``, ``replace``, ``destroy``, ``forget``, ``imported``."""

    add: int = 0
    change: int = 0
    replace: int = 0
    destroy: int = 0
    forget: int = 0
    imported: int = 0
    resources: tuple[ResourceChange, ...] = ()
    image_changes: tuple[ImageChange, ...] = ()
    output_changes: tuple[str, ...] = field(default=())
    terraform_version: str | None = None

    @property
    def has_changes(self) -> bool:
        """True if any resource or output changes."""
        return bool(self.resources or self.output_changes)

    @property
    def destructive(self) -> tuple[ResourceChange, ...]:
        """The resources to destroy or replace."""
        return tuple(r for r in self.resources if r.destructive)

    @property
    def image_tag(self) -> str | None:
        """The single new image tag of this plan, if every image change agrees on one."""
        tags = {c.after for c in self.image_changes if c.after not in (None, _UNKNOWN, REDACTED)}
        return tags.pop() if len(tags) == 1 else None

    def headline(self) -> str:
        """``2 to add, 1 to change, 1 to replace, 0 to destroy`` (plus forget/import when present)."""
        parts = [
            f"{self.add} to add",
            f"{self.change} to change",
            f"{self.replace} to replace",
            f"{self.destroy} to destroy",
        ]
        if self.forget:
            parts.append(f"{self.forget} to forget")
        if self.imported:
            parts.append(f"{self.imported} to import")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for ``--output json`` and the deploy history)."""
        return {
            "add": self.add,
            "change": self.change,
            "replace": self.replace,
            "destroy": self.destroy,
            "forget": self.forget,
            "import": self.imported,
            "has_changes": self.has_changes,
            "resources": [r.to_dict() for r in self.resources],
            "image_changes": [c.to_dict() for c in self.image_changes],
            "output_changes": list(self.output_changes),
            "terraform_version": self.terraform_version,
        }


# --- summary -------------------------------------------------------------------------------------


_ACTIONS: dict[tuple[str, ...], Action] = {
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
    ("create",): "create",
    ("update",): "update",
    ("delete",): "delete",
    ("forget",): "forget",
}


def _action(change: Mapping[str, Any]) -> Action | None:
    actions = tuple(change.get("actions") or ())
    if actions in _ACTIONS:
        return _ACTIONS[actions]
    if change.get("importing") and actions in ((), ("no-op",)):
        return "import"
    return None  # no-op and read


def image_tag(image: str) -> str:
    """The tag of an image reference: ``repo:tag`` -> tag, ``repo@sha256:..`` -> digest, else latest."""
    if "@" in image:
        return image.rsplit("@", 1)[1]
    last = image.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


def _containers(definitions: Any) -> dict[str, str]:
    """Container name -> image tag from a ``container_definitions`` JSON string."""
    if not isinstance(definitions, str):
        return {}
    try:
        parsed = json.loads(definitions)
    except ValueError:
        return {}
    found: dict[str, str] = {}
    if isinstance(parsed, list):
        for index, container in enumerate(parsed):
            if isinstance(container, Mapping) and isinstance(container.get("image"), str):
                found[str(container.get("name") or index)] = image_tag(container["image"])
    return found


def _is_marked(mask: Any, key: str) -> bool:
    return mask is True or (isinstance(mask, Mapping) and mask.get(key) is True)


def _image_changes(address: str, change: Mapping[str, Any]) -> list[ImageChange]:
    before_raw, after_raw = change.get("before"), change.get("after")
    before_values: Mapping[str, Any] = before_raw if isinstance(before_raw, Mapping) else {}
    after_values: Mapping[str, Any] = after_raw if isinstance(after_raw, Mapping) else {}
    before_sensitive = _is_marked(change.get("before_sensitive"), "container_definitions")
    after_sensitive = _is_marked(change.get("after_sensitive"), "container_definitions")
    after_unknown = _is_marked(change.get("after_unknown"), "container_definitions")
    before = _containers(before_values.get("container_definitions"))
    after = _containers(after_values.get("container_definitions"))
    if before_sensitive or after_sensitive:
        same = before_values.get("container_definitions") == after_values.get("container_definitions")
        if same and not after_unknown:
            return []
        # container names and images alike stay hidden
        return [ImageChange(address, REDACTED, REDACTED if before_values else None, REDACTED if after_values else None)]
    changes: list[ImageChange] = []
    for name in sorted(set(before) | set(after)):
        old = before.get(name)
        new = after.get(name, _UNKNOWN if after_unknown else None)
        if old != new:
            changes.append(ImageChange(address, name, old, new))
    return changes


def summarize(plan: Mapping[str, Any]) -> PlanSummary:
    """Summarize ``terraform show -json`` output of a saved plan."""
    counts = {"create": 0, "update": 0, "replace": 0, "delete": 0, "forget": 0, "import": 0}
    resources: list[ResourceChange] = []
    images: list[ImageChange] = []
    for entry in plan.get("resource_changes") or ():
        if not isinstance(entry, Mapping) or entry.get("mode", "managed") != "managed":
            continue
        change = entry.get("change") or {}
        action = _action(change)
        if action is None:
            continue
        address = str(entry.get("address", "?"))
        rtype = str(entry.get("type", ""))
        counts[action] += 1
        reason = entry.get("action_reason")
        resources.append(ResourceChange(address, rtype, action, reason if isinstance(reason, str) else None))
        if rtype == _TASK_DEFINITION:
            images.extend(_image_changes(address, change))
    outputs = tuple(
        name
        for name, change in (plan.get("output_changes") or {}).items()
        if isinstance(change, Mapping) and tuple(change.get("actions") or ()) not in ((), ("no-op",))
    )
    return PlanSummary(
        add=counts["create"],
        change=counts["update"],
        replace=counts["replace"],
        destroy=counts["delete"],
        forget=counts["forget"],
        imported=counts["import"],
        resources=tuple(resources),
        image_changes=tuple(images),
        output_changes=outputs,
        terraform_version=plan.get("terraform_version"),
    )


_STREAMED_ACTIONS: dict[str, Action] = {
    "create": "create",
    "update": "update",
    "replace": "replace",
    "delete": "delete",
    "remove": "forget",
    "import": "import",
}
"""``planned_change`` actions of Terraform's machine-readable UI (``apply -json``) -> summary actions
(``read``, ``noop`` and ``move`` change nothing)."""


def summarize_planned_changes(
    changes: Iterable[Mapping[str, Any]], terraform_version: str | None = None
) -> PlanSummary:
    """Summarize the ``change`` objects of the ``planned_change`` messages that ``terraform apply -json``
    streams before it changes anything: the same counts and resources ``summarize`` gives for the
    saved plan of the same run. The stream carries no attribute values, so no image changes."""
    counts = {"create": 0, "update": 0, "replace": 0, "delete": 0, "forget": 0, "import": 0}
    resources: list[ResourceChange] = []
    seen: set[str] = set()
    for change in changes:
        resource = change.get("resource") or {}
        action = _STREAMED_ACTIONS.get(str(change.get("action", "")))
        address = str(resource.get("addr", "?"))
        if action is None or address in seen or address.startswith("data.") or ".data." in address:
            continue  # a data source is read, never changed
        seen.add(address)
        counts[action] += 1
        reason = change.get("reason")
        resources.append(
            ResourceChange(
                address, str(resource.get("resource_type", "")), action, reason if isinstance(reason, str) else None
            )
        )
    return PlanSummary(
        add=counts["create"],
        change=counts["update"],
        replace=counts["replace"],
        destroy=counts["delete"],
        forget=counts["forget"],
        imported=counts["import"],
        resources=tuple(resources),
        terraform_version=terraform_version,
    )


# --- sensitive values ----------------------------------------------------------------------------


def _leaves(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)


def _masked(value: Any, mask: Any) -> Iterator[str]:
    """Strings of ``value`` where the parallel ``mask`` (Terraform's *_sensitive shape) is true."""
    if mask is True:
        yield from _leaves(value)
    elif isinstance(mask, Mapping) and isinstance(value, Mapping):
        for key, sub in mask.items():
            yield from _masked(value.get(key), sub)
    elif isinstance(mask, list) and isinstance(value, list):
        for item, sub in zip(value, mask, strict=False):
            yield from _masked(item, sub)


def _module_values(module: Any) -> Iterator[str]:
    if not isinstance(module, Mapping):
        return
    for resource in module.get("resources") or ():
        if isinstance(resource, Mapping):
            yield from _masked(resource.get("values"), resource.get("sensitive_values"))
    for child in module.get("child_modules") or ():
        yield from _module_values(child)


def _state_values(values: Any) -> Iterator[str]:
    if not isinstance(values, Mapping):
        return
    for output in (values.get("outputs") or {}).values():
        if isinstance(output, Mapping) and output.get("sensitive"):
            yield from _leaves(output.get("value"))
    yield from _module_values(values.get("root_module"))


def sensitive_values(plan: Mapping[str, Any]) -> set[str]:
    """Every string the plan marks sensitive (at least ``MIN_SECRET_LEN`` characters long).

    Sources: ``before_sensitive``/``after_sensitive`` of resource changes, drift and output
    changes; sensitive outputs and ``sensitive_values`` in planned values and prior state; root
    variables declared ``sensitive`` in the configuration.
    """
    found: set[str] = set()
    for key in ("resource_changes", "resource_drift"):
        for entry in plan.get(key) or ():
            change = entry.get("change") if isinstance(entry, Mapping) else None
            if isinstance(change, Mapping):
                found.update(_masked(change.get("before"), change.get("before_sensitive")))
                found.update(_masked(change.get("after"), change.get("after_sensitive")))
    for change in (plan.get("output_changes") or {}).values():
        if isinstance(change, Mapping):
            found.update(_masked(change.get("before"), change.get("before_sensitive")))
            found.update(_masked(change.get("after"), change.get("after_sensitive")))
    found.update(_state_values(plan.get("planned_values")))
    prior = plan.get("prior_state")
    if isinstance(prior, Mapping):
        found.update(_state_values(prior.get("values")))
    configuration = plan.get("configuration") or {}
    declared = (configuration.get("root_module") or {}).get("variables") or {}
    for name, variable in (plan.get("variables") or {}).items():
        if isinstance(declared.get(name), Mapping) and declared[name].get("sensitive"):
            found.update(_leaves(variable.get("value") if isinstance(variable, Mapping) else None))
    return {value for value in found if len(value) >= MIN_SECRET_LEN}


def redact(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in ``text`` with ``(sensitive)``.

    Also catches a secret's JSON-escaped form and, for a multi-line secret, each of its lines of
    at least 8 characters. Empty secrets are ignored.
    """
    needles: set[str] = set()
    for secret in secrets:
        if not secret:
            continue
        needles.add(secret)
        needles.add(json.dumps(secret)[1:-1])
        needles.add(json.dumps(secret, ensure_ascii=False)[1:-1])
        if "\n" in secret:
            needles.update(line.strip() for line in secret.splitlines() if len(line.strip()) >= 8)
    needles.discard("")
    if not needles:
        return text
    pattern = re.compile("|".join(re.escape(n) for n in sorted(needles, key=len, reverse=True)))
    return pattern.sub(REDACTED, text)


class Secrets:
    """The sensitive values of every plan a run has read, and their redaction from any text.

    One instance per run (a ``Target`` holds it): the Terraform runner learns from each plan JSON
    it reads and redacts its streamed output and errors, the ledger redacts its records, the CLI
    its lines. Values a plan does not mark sensitive cannot be known here: the settings refuse
    secret-looking plain environment variables instead (``deploytool.config.check_plain_environment``).
    """

    def __init__(self, values: Iterable[str] = ()) -> None:
        self.values: set[str] = {v for v in values if len(v) >= MIN_SECRET_LEN}

    def learn(self, plan: Mapping[str, Any]) -> None:
        """Add every value ``plan`` (``terraform show -json`` of a plan or of state) marks sensitive."""
        state = {v for v in _state_values(plan.get("values")) if len(v) >= MIN_SECRET_LEN}
        self.values |= sensitive_values(plan) | state

    def redact(self, text: str) -> str:
        return redact(text, self.values) if self.values else text

    __call__ = redact


# --- markdown ------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    text = " ".join(str(text).split()).replace("`", "'")
    if not text:
        return ""
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - 1] + "…"
    return "`" + text.replace("|", "\\|") + "`"


def _duration(ttl: timedelta | str) -> str:
    if isinstance(ttl, str):
        return ttl
    seconds = int(ttl.total_seconds())
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds"


def diff_lines(plan_text: str) -> list[str]:
    """``terraform show`` text as diff lines: colours stripped, change signs moved to column 0.

    ``~`` (update in place) becomes ``!`` so that ```` ```diff ```` highlights additions and
    removals only.
    """
    lines = []
    for line in _ANSI.sub("", plan_text).replace("\r\n", "\n").split("\n"):
        match = _DIFF_SIGN.match(line)
        if match:
            indent, sign = match.group(1), match.group(2)
            lines.append(sign.replace("~", "!") + indent + line[match.end() :])
        else:
            lines.append(line)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def _fence_for(lines: list[str]) -> str:
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    return "`" * max(3, longest + 1)


def _table(header: str, rows: list[str], total: int) -> list[str]:
    out = [header, *rows[:MAX_TABLE_ROWS]]
    if total > MAX_TABLE_ROWS:
        out.append(f"\n… and {total - MAX_TABLE_ROWS} more")
    return out


def _head(summary: PlanSummary, *, env: str, workspace: str, url: str | None, ttl: timedelta | str | None) -> list[str]:
    parts = [f"### Terraform plan: {_cell(env)} · workspace {_cell(workspace)}", ""]
    if not summary.has_changes:
        parts += ["✅ **No changes.** The infrastructure matches the configuration.", ""]
    else:
        parts += [f"**{summary.headline()}**", ""]
    rows = [
        ("➕ Add", summary.add, False),
        ("🔧 Change", summary.change, False),
        ("♻️ Replace", summary.replace, summary.replace > 0),
        ("🗑️ Destroy", summary.destroy, summary.destroy > 0),
    ]
    if summary.forget:
        rows.append(("📤 Forget", summary.forget, False))
    if summary.imported:
        rows.append(("📥 Import", summary.imported, False))
    parts += ["| Action | Count |", "|---|---:|"]
    parts += [f"| {label} | {count}{' ⚠️' if flag else ''} |" for label, count, flag in rows]
    parts.append("")
    if url:
        parts += [f"🌐 **URL:** {url}", ""]
    if ttl is not None:
        parts += [f"⏳ **TTL:** {_duration(ttl)} after the last deploy; the environment is then destroyed.", ""]
    destructive = summary.destructive
    if destructive:
        parts += ["#### ⚠️ Destroyed or replaced", ""]
        rows_md = [f"| ⚠️ {r.action} | {_cell(r.address)} | {_cell(r.reason or '')} |" for r in destructive]
        parts += _table("| Action | Resource | Reason |\n|---|---|---|", rows_md, len(destructive))
        parts.append("")
    if summary.image_changes:
        parts += ["#### 🐳 Image changes", ""]
        none = "(none)"
        rows_md = [
            f"| {_cell(c.address)} | {_cell(c.container)} | {_cell(c.before or none)} | {_cell(c.after or none)} |"
            for c in summary.image_changes
        ]
        parts += _table(
            "| Task definition | Container | Before | After |\n|---|---|---|---|", rows_md, len(summary.image_changes)
        )
        parts.append("")
    return parts


def _details(lines: list[str], fence: str, shown: int, total: int) -> str:
    title = f"Full plan ({total} lines)" if shown == total else f"Plan, first {shown} of {total} lines"
    body = "\n".join(lines)
    return f"<details><summary>{title}</summary>\n\n{fence}diff\n{body}\n{fence}\n\n</details>\n"


def render_markdown(
    summary: PlanSummary,
    *,
    env: str,
    workspace: str,
    plan_text: str,
    url: str | None = None,
    ttl: timedelta | str | None = None,
    marker: str | None = None,
    limit: int = COMMENT_LIMIT,
    secrets: Iterable[str] = (),
    full_plan_url: str | None = None,
) -> str:
    """A PR comment for a plan: counts, destroyed/replaced resources, image changes and the plan.

    ``plan_text`` is the human ``terraform show`` output (redact it first; any ``secrets`` given
    here are redacted again). The plan goes in a collapsed ``<details>`` block in a ``diff``
    fence. When the whole body would exceed ``limit`` characters, the plan is cut at a line
    boundary (fences and ``<details>`` still closed) and a note says so and where the full plan
    is (``full_plan_url``, e.g. the workflow run, if given). ``marker`` adds a hidden
    ``<!-- deploytool:<marker> -->`` first line, used to find and update the comment.
    """
    top = ""
    if marker is not None:
        if not _MARKER_KEY.fullmatch(marker):
            raise ValueError(f"marker must match {_MARKER_KEY.pattern}, got {marker!r}")
        top = f"<!-- deploytool:{marker} -->\n"
    head = top + "\n".join(_head(summary, env=env, workspace=workspace, url=url, ttl=ttl)) + "\n"
    lines = diff_lines(redact(plan_text, secrets)) if plan_text.strip() else []
    if not lines:
        return _checked(head, limit)
    fence = _fence_for(lines)
    full = head + _details(lines, fence, len(lines), len(lines))
    if len(full) <= limit:
        return full

    where = f"[the full plan]({full_plan_url})" if full_plan_url else "the full plan in the log of the workflow run"
    note = (
        "> [!NOTE]\n> The plan is too long for a comment and was truncated: see "
        f"{where}, or run the plan for `{env}` locally.\n"
    )
    empty = head + note + "\n" + _details([], fence, 0, len(lines))
    budget = limit - len(empty) - len(f"… ({len(lines)} lines in total)\n") - 16
    if budget <= 0:
        omitted = "> [!NOTE]\n> The plan is too long for a comment and was left out: see " + f"{where}.\n"
        return _checked(head + omitted, limit)
    kept: list[str] = []
    used = 0
    for line in lines:
        cost = len(line) + 1
        if used + cost > budget:
            room = budget - used - 2
            if room > 0 and not kept:
                kept.append(line[:room] + "…")
            break
        kept.append(line)
        used += cost
    shown = len(kept)
    kept.append(f"… ({len(lines)} lines in total)")
    return _checked(head + note + "\n" + _details(kept, fence, shown, len(lines)), limit)


def _checked(body: str, limit: int) -> str:
    if len(body) > limit:
        raise ValueError(f"limit of {limit} characters is too small for the plan summary ({len(body)} characters)")
    return body
