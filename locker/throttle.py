"""Device-wide throttle with growing, capped delays; failures are stored so it survives restarts."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from locker.config import ThrottleConfig

SCOPE_MANUAL = "manual"  # pickup number + PIN attempts
SCOPE_STAFF = "staff"  # staff badge + PIN attempts
_KEEP = 1000  # failures kept per scope (older ones are pruned in the same transaction)


@dataclass(frozen=True)
class ThrottleState:
    failures_in_window: int
    wait_s: float  # 0 when an attempt may be made now


def delay_for(failures: int, cfg: ThrottleConfig) -> float:
    """Delay after ``failures`` failures inside the window: none up to the free count, then doubling, capped."""
    extra = failures - cfg.free_failures
    if extra < 0:
        return 0.0
    return float(min(cfg.max_delay_s, cfg.base_delay_s * (2 ** min(extra, 30))))


def state(conn: sqlite3.Connection, scope: str, now: float, cfg: ThrottleConfig) -> ThrottleState:
    rows = conn.execute(
        "SELECT at FROM failures WHERE scope = ? AND at > ? ORDER BY at DESC",
        (scope, now - cfg.window_s),
    ).fetchall()
    n = len(rows)
    if n == 0:
        return ThrottleState(0, 0.0)
    last = float(rows[0][0])
    wait = last + delay_for(n, cfg) - now
    return ThrottleState(n, max(0.0, wait))


def record_failure(conn: sqlite3.Connection, scope: str, now: float) -> None:
    """Record one failure; call inside a write transaction."""
    conn.execute("INSERT INTO failures (scope, at) VALUES (?, ?)", (scope, now))
    conn.execute(
        "DELETE FROM failures WHERE scope = ? AND id NOT IN "
        "(SELECT id FROM failures WHERE scope = ? ORDER BY at DESC LIMIT ?)",
        (scope, scope, _KEEP),
    )
