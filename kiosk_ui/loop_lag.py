"""How late the event loop wakes up: a probe task's sleep overshoot, kept as a window for /healthz and tests."""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections import deque

PROBE_S = 0.05  # the probe sleeps this long; anything more is time the loop was busy elsewhere
WINDOW = 6000  # samples kept: the last 5 minutes


class LoopLag:
    """Samples of the loop's lag in seconds (the newest ``WINDOW``), recorded by ``measure()`` on the loop."""

    def __init__(self, probe_s: float = PROBE_S, window: int = WINDOW) -> None:
        self.probe_s = probe_s
        self._samples: deque[float] = deque(maxlen=window)
        self._lock = threading.Lock()

    async def measure(self) -> None:
        """Run on the loop for as long as it lives."""
        while True:
            start = time.monotonic()
            await asyncio.sleep(self.probe_s)
            lag = max(0.0, time.monotonic() - start - self.probe_s)
            with self._lock:
                self._samples.append(lag)

    def samples(self) -> list[float]:
        with self._lock:
            return list(self._samples)

    def clear(self) -> None:
        with self._lock:
            self._samples.clear()

    def summary(self) -> dict[str, float | int]:
        """``{"samples": n, "p50_ms", "p99_ms", "max_ms"}`` over the window (zeros before the first sample)."""
        xs = self.samples()
        if len(xs) < 2:
            top = max(xs, default=0.0) * 1000
            return {"samples": len(xs), "p50_ms": round(top, 1), "p99_ms": round(top, 1), "max_ms": round(top, 1)}
        q = statistics.quantiles(xs, n=100)
        return {
            "samples": len(xs),
            "p50_ms": round(q[49] * 1000, 1),
            "p99_ms": round(q[98] * 1000, 1),
            "max_ms": round(max(xs) * 1000, 1),
        }
