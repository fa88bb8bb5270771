"""Check results and the runner: aligned PASS/WARN/FAIL/SKIP lines (or JSON), a summary and the exit code."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TextIO

EXIT_OK = 0  # nothing failed (warnings and skipped checks do not fail)
EXIT_FAILED = 1  # at least one check failed


class Status(enum.StrEnum):
    """What one check found."""

    PASS = "PASS"  # noqa: S105 - a check status, not a password
    WARN = "WARN"  # works, but needs a look (does not fail the run)
    FAIL = "FAIL"  # the station cannot work like this
    SKIP = "SKIP"  # not checked here (not configured, not available on this machine, owned by the daemon)


@dataclass(frozen=True)
class Result:
    """One line: ``subject`` (e.g. ``board bus0/1 (kerong-cu16)``), what was found, and for WARN/FAIL the fix."""

    status: Status
    subject: str
    message: str
    hint: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"status": self.status.value, "check": self.subject, "message": self.message, "hint": self.hint}


def passed(subject: str, message: str) -> Result:
    return Result(Status.PASS, subject, message)


def warned(subject: str, message: str, hint: str = "") -> Result:
    return Result(Status.WARN, subject, message, hint)


def failed(subject: str, message: str, hint: str = "") -> Result:
    return Result(Status.FAIL, subject, message, hint)


def skipped(subject: str, message: str) -> Result:
    return Result(Status.SKIP, subject, message)


CheckFn = Callable[[], Result | Sequence[Result]]


@dataclass(frozen=True)
class Check:
    """A named check; ``subject`` names it when it crashes (a check never takes the run down)."""

    subject: str
    run: CheckFn

    def results(self) -> list[Result]:
        try:
            out = self.run()
        except Exception as exc:  # noqa: BLE001 - an unexpected error is this check's FAIL, the others still run
            return [failed(self.subject, f"the check itself failed: {type(exc).__name__}: {exc}", "report this bug")]
        return [out] if isinstance(out, Result) else list(out)


def run_checks(checks: Iterable[Check], on_result: Callable[[Result], None] = lambda r: None) -> list[Result]:
    """Run every check in order; ``on_result`` sees each line as soon as it is known."""
    results: list[Result] = []
    for check in checks:
        for r in check.results():
            results.append(r)
            on_result(r)
    return results


def exit_code(results: Sequence[Result]) -> int:
    return EXIT_FAILED if any(r.status is Status.FAIL for r in results) else EXIT_OK


def line(r: Result) -> str:
    """``PASS  board bus0/1 (kerong-cu16) answers, 16 locks, 16 doors read`` (and the fix on the next line)."""
    text = f"{r.status.value:<5} {r.subject} {r.message}"
    return f"{text}\n      fix: {r.hint}" if r.hint and r.status in (Status.FAIL, Status.WARN) else text


def counts(results: Sequence[Result]) -> dict[str, int]:
    return {s.value.lower(): sum(1 for r in results if r.status is s) for s in Status}


def summary(results: Sequence[Result]) -> str:
    c = counts(results)
    verdict = "FAILED" if exit_code(results) else "ok"
    warnings = f"{c['warn']} warning{'' if c['warn'] == 1 else 's'}"
    return f"doctor: {verdict} ({c['pass']} passed, {warnings}, {c['fail']} failed, {c['skip']} skipped)"


def print_text(checks: Iterable[Check], out: TextIO) -> int:
    """Print each line as its check ends, then the summary; returns the exit code."""

    def show(r: Result) -> None:
        out.write(line(r) + "\n")
        out.flush()

    results = run_checks(checks, show)
    out.write(summary(results) + "\n")
    return exit_code(results)


def print_json(checks: Iterable[Check], out: TextIO) -> int:
    """One JSON object: ``{"ok": …, "counts": {…}, "checks": [{status, check, message, hint}, …]}``."""
    results = run_checks(checks)
    body = {"ok": not exit_code(results), "counts": counts(results), "checks": [r.as_dict() for r in results]}
    out.write(json.dumps(body, indent=2) + "\n")
    return exit_code(results)
