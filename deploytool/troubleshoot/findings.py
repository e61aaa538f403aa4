"""Findings: one checklist item's result with its fix, and the diagnosis that collects them.

Every check returns a ``Finding`` built with ``passed``, ``failed`` (with the fix),
``unavailable`` (the emulator cannot answer: neither pass nor fail) or ``not_checked`` (a check it
depends on failed first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deploytool.health import CheckResult, Status, Verdict

EMULATOR = "unavailable on the emulator"


@dataclass(frozen=True)
class Finding:
    """One check of the checklist and, when it fails, what to do about it."""

    check: CheckResult
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**self.check.to_dict(), "fix": self.fix if self.check.status == "fail" else ""}


@dataclass(frozen=True)
class Diagnosis:
    """The checklist's findings for one environment/workspace."""

    env: str
    workspace: str
    emulator: bool
    findings: tuple[Finding, ...]

    @property
    def verdict(self) -> Verdict:
        return Verdict(tuple(f.check for f in self.findings))

    @property
    def ok(self) -> bool:
        """No check failed (``unavailable`` checks are neither passes nor failures)."""
        return self.verdict.ok

    def finding(self, name: str) -> Finding | None:
        return next((f for f in self.findings if f.check.name == name), None)

    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.check.status == "fail"]

    def counts(self) -> dict[Status, int]:
        out: dict[Status, int] = {"pass": 0, "fail": 0, "unavailable": 0}
        for f in self.findings:
            out[f.check.status] += 1
        return out

    def summary(self) -> str:
        c = self.counts()
        line = f"{len(self.findings)} checks: {c['pass']} passed, {c['fail']} failed"
        if c["unavailable"]:
            where = EMULATOR if self.emulator else "unavailable here"
            line += f", {c['unavailable']} {where} (not counted as passed)"
        return line

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "workspace": self.workspace,
            "emulator": self.emulator,
            "ok": self.ok,
            "summary": self.summary(),
            "checks": [f.to_dict() for f in self.findings],
        }

    def table(self) -> str:
        labels = {"pass": "PASS", "fail": "FAIL", "unavailable": "UNAVAILABLE"}
        width = max((len(f.check.name) for f in self.findings), default=10)
        where = " (emulator)" if self.emulator else ""
        lines = [f"diagnose {self.env} / {self.workspace}{where}"]
        for f in self.findings:
            lines.append(f"  {labels[f.check.status]:<11}  {f.check.name:<{width}}  {f.check.detail}")
            if f.check.status == "fail" and f.fix:
                lines.append(f"  {'':<11}  {'':<{width}}  fix: {f.fix}")
        lines.append(self.summary())
        return "\n".join(lines)


def passed(name: str, detail: str) -> Finding:
    """A check that passed."""
    return Finding(CheckResult(name, "pass", detail))


def failed(name: str, detail: str, fix: str) -> Finding:
    """A check that failed, and what to do about it."""
    return Finding(CheckResult(name, "fail", detail), fix)


def unavailable(name: str, detail: str) -> Finding:
    """A check this backend cannot answer (the emulator): neither a pass nor a failure."""
    return Finding(CheckResult(name, "unavailable", detail))


def not_checked(name: str, because: str, first: str) -> Finding:
    """A failure because check ``first``, which this one needs, failed."""
    return Finding(CheckResult(name, "fail", f"not checked: {because}"), f"fix {first} first")
