#!/usr/bin/env python3
"""Restarts the kiosk browser unit when the kiosk page's heartbeat is stale (run by wibox-kiosk-watch.service).

Contract with the daemon (kiosk_ui): ``GET /healthz`` on 127.0.0.1:8080 answers with a JSON object (status 200, or
503 when the daemon is unwell) holding ``page_heartbeat_age_s`` (seconds since the page's last heartbeat, by the
daemon's monotonic clock; ``null`` when no heartbeat arrived since the daemon started) and ``uptime_s`` (seconds
since the daemon started), and optionally ``screen`` (``unclaimed``: a screen token was issued and no browser
presented it since the daemon started; the browser is restarted so that its launcher claims the screen again).
Standard library only, so the venv's python runs it without extra packages.
Exit 0: fresh, nothing to check, or restarted; 1: the check itself failed (bad answer from the daemon, or
systemctl failed); 2: bad arguments.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    restart: bool
    reason: str


def unit_active_for(systemctl: str, unit: str) -> float | None:
    """Seconds the unit has been active, or None when it is not active."""
    out = subprocess.run(
        [systemctl, "show", unit, "--property=ActiveState", "--property=ActiveEnterTimestampMonotonic"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    props = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    if props.get("ActiveState") != "active":
        return None
    entered_us = int(props.get("ActiveEnterTimestampMonotonic", "0") or "0")
    return time.monotonic() - entered_us / 1_000_000


def fetch_health(url: str, timeout: float) -> dict[str, object] | None:
    """The daemon's /healthz JSON object, or None when the daemon does not answer at all."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (fixed loopback URL)
            body = resp.read()
    except urllib.error.HTTPError as exc:
        # 503 says the daemon is unwell, but its JSON still tells how old the page's heartbeat is.
        body = exc.read()
    except (urllib.error.URLError, OSError):
        return None
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError(f"{url} did not answer with a JSON object")
    return data


def _seconds(data: dict[str, object], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"healthz field {key} must be a number or null, got {value!r}")
    return float(value)


def judge(health: dict[str, object] | None, active_for: float | None, max_age: float, grace: float) -> Verdict:
    """Decides whether to restart the browser; pure, so every rule is visible in one place."""
    if active_for is None:
        return Verdict(False, "kiosk unit is not active; nothing to check")
    if active_for < grace:
        return Verdict(False, f"kiosk unit started {active_for:.0f} s ago (grace {grace:.0f} s)")
    if health is None:
        return Verdict(False, "daemon does not answer; the browser is left alone (wibox.service restarts the daemon)")
    if "page_heartbeat_age_s" not in health:
        raise ValueError("healthz has no page_heartbeat_age_s field")
    age = _seconds(health, "page_heartbeat_age_s")
    uptime = _seconds(health, "uptime_s")
    if health.get("screen") == "unclaimed" and uptime is not None and uptime > grace:
        # the daemon restarted under a running browser: only a new start of the browser claims the screen again
        return Verdict(True, f"the browser has not claimed the screen since the daemon started {uptime:.0f} s ago")
    if age is not None:
        if age > max_age:
            return Verdict(True, f"page heartbeat is {age:.0f} s old (limit {max_age:.0f} s)")
        return Verdict(False, f"page heartbeat is {age:.0f} s old")
    if uptime is not None and uptime > max_age:
        return Verdict(True, f"no page heartbeat since the daemon started {uptime:.0f} s ago")
    return Verdict(False, "no page heartbeat yet; the daemon started recently")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--url", default="http://127.0.0.1:8080/healthz")
    ap.add_argument("--max-age", type=float, default=60.0, help="seconds without a heartbeat before a restart")
    ap.add_argument("--grace", type=float, default=90.0, help="seconds after the browser started before judging")
    ap.add_argument("--unit", default="wibox-kiosk.service")
    ap.add_argument("--systemctl", default="systemctl")
    ap.add_argument("--timeout", type=float, default=5.0, help="HTTP timeout in seconds")
    args = ap.parse_args(argv)
    try:
        active_for = unit_active_for(args.systemctl, args.unit)
        health = fetch_health(args.url, args.timeout) if active_for is not None else None
        verdict = judge(health, active_for, args.max_age, args.grace)
    except (ValueError, subprocess.SubprocessError, OSError) as exc:
        print(f"wibox-kiosk-watch: check failed: {exc}", file=sys.stderr)
        return 1
    if not verdict.restart:
        print(f"wibox-kiosk-watch: ok: {verdict.reason}")
        return 0
    print(f"wibox-kiosk-watch: restarting {args.unit}: {verdict.reason}")
    done = subprocess.run([args.systemctl, "restart", "--no-block", args.unit], check=False, timeout=30)
    if done.returncode != 0:
        print(f"wibox-kiosk-watch: systemctl restart {args.unit} failed ({done.returncode})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
