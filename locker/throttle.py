"""Throttle per identity (screen session, staff badge) with growing, capped delays, under an hourly device budget;
failures are stored so they survive restarts."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from locker.config import ThrottleConfig

SCOPE_MANUAL = "manual"  # wrong citizen codes: pickup number + PIN, and wrong second factors on the QR path
SCOPE_STAFF = "staff"  # staff badge + PIN attempts
BUDGET_WINDOW_S = 3600  # the device budget counts the failures of the last hour
PRUNE_EVERY = 64  # rows inserted between two deletions of expired failures


@dataclass(frozen=True)
class ThrottleState:
    failures_in_window: int  # the identity's failures within ``window_s``
    wait_s: float  # 0 when the identity may make an attempt now
    device_failures: int = 0  # the scope's failures (every identity) within ``window_s``


def delay_for(failures: int, cfg: ThrottleConfig) -> float:
    """Delay after ``failures`` failures inside the window: none up to the free count, then doubling, capped."""
    extra = failures - cfg.free_failures
    if extra < 0:
        return 0.0
    return float(min(cfg.max_delay_s, cfg.base_delay_s * (2 ** min(extra, 30))))


def _key(scope: str, identity: str) -> str:
    return f"{scope}:{identity}"


def _count(conn: sqlite3.Connection, key: str, since: float) -> tuple[int, float]:
    """(failures of ``key`` after ``since``, the newest one's time)."""
    n, newest = conn.execute(
        "SELECT COUNT(*), MAX(at) FROM failures WHERE scope = ? AND at > ?", (key, since)
    ).fetchone()
    return int(n), float(newest or 0.0)


def state(conn: sqlite3.Connection, scope: str, identity: str, now: float, cfg: ThrottleConfig) -> ThrottleState:
    """The identity's wait: its own growing delay, or longer while the scope's hourly budget is used up."""
    own, newest = _count(conn, _key(scope, identity), now - cfg.window_s)
    wait = newest + delay_for(own, cfg) - now if own else 0.0
    last_hour, _ = _count(conn, scope, now - BUDGET_WINDOW_S)
    if last_hour >= cfg.device_budget_per_hour:  # wait until the oldest counted failure leaves the hour
        (at,) = conn.execute(
            "SELECT at FROM failures WHERE scope = ? AND at > ? ORDER BY at DESC LIMIT 1 OFFSET ?",
            (scope, now - BUDGET_WINDOW_S, cfg.device_budget_per_hour - 1),
        ).fetchone()
        wait = max(wait, float(at) + BUDGET_WINDOW_S - now)
    in_window, _ = _count(conn, scope, now - cfg.window_s)
    return ThrottleState(own, max(0.0, wait), in_window)


def record_failure(conn: sqlite3.Connection, scope: str, identity: str, now: float, cfg: ThrottleConfig) -> bool:
    """Record one failure of ``identity`` (call inside a write transaction). Returns True when the scope's
    failures within ``window_s`` reach ``alarm_failures``: the caller raises the ``brute_force`` alarm."""
    conn.execute("INSERT INTO failures (scope, at) VALUES (?, ?)", (_key(scope, identity), now))
    row = conn.execute("INSERT INTO failures (scope, at) VALUES (?, ?)", (scope, now)).lastrowid
    if row is not None and row % PRUNE_EVERY == 0:  # failures older than any window count for nothing
        conn.execute("DELETE FROM failures WHERE at <= ?", (now - max(cfg.window_s, BUDGET_WINDOW_S),))
    return state(conn, scope, identity, now, cfg).device_failures >= cfg.alarm_failures
