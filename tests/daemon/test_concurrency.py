"""Everything at once on the production wiring: citizen and staff routes, scans, door events and the ticker, 30 s.

The station is the demo's (``wibox.demo.compose.DemoSystem``: the builder `wibox run` uses, real drivers over pty
simulators with the wall's door physics, the city hub over HTTP). A child process (``tests/daemon/browsers.py``)
plays the browsers, the scanner and the people at the doors over real HTTP while a jammed lock makes every second
door cycle wait out its unlock confirmation. The event loop's lag is measured by the kiosk's own probe (``/healthz``
reports it too).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from pathlib import Path

import httpx
import pytest

from kiosk_ui.runtime import KioskUI
from tests.daemon.browsers import HTTP_TIMEOUT_S, JAMMED
from wibox.demo.common import STAFF
from wibox.demo.compose import DemoSystem

DURATION_S = 30.0  # the load runs this long (at least): a lower bound, not a limit
LAG_P99_MS = 100.0


@pytest.mark.alone  # the lag bound is about this station's load, not the rest of the suite's (Makefile `unit`)
def test_everything_at_once_keeps_the_loop_responsive(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    asyncio.run(_everything_at_once(tmp_path))  # this test's own loop, closed when it returns
    raised = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.exc_info]
    assert not raised, "exceptions were logged:\n" + "\n".join(raised)


async def _everything_at_once(tmp_path: Path) -> None:
    demo = DemoSystem(tmp_path / "demo", hub_port=0, kiosk_port=0)
    await demo.start()
    try:
        assert demo.built.app is not None
        ui: KioskUI = demo.built.app.state.ui
        base = f"http://127.0.0.1:{demo.kiosk_port}"
        async with httpx.AsyncClient(base_url=base, timeout=HTTP_TIMEOUT_S) as c:
            assert (await c.post(f"/sim/api/doors/{JAMMED}/jam", json={"jammed": True})).status_code == 200
        ui.loop_lag.clear()
        started = time.monotonic()
        logins = [f"{demo.hub.badges[who]}:{pin}" for who, pin in STAFF]
        browsers = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.daemon.browsers",
            base,
            str(DURATION_S),
            *logins,
            stdout=asyncio.subprocess.PIPE,
            cwd=Path(__file__).resolve().parents[2],  # the checkout: ``tests`` is importable from there
        )
        try:
            out, _ = await asyncio.wait_for(browsers.communicate(), DURATION_S + 3 * HTTP_TIMEOUT_S)
        finally:
            if browsers.returncode is None:
                browsers.kill()
                await browsers.wait()
        assert browsers.returncode == 0, f"the browsers' process failed ({browsers.returncode})"
        load = json.loads(out.decode().strip().splitlines()[-1])
        counts, failures = load["counts"], load["failures"]
        lag = ui.loop_lag.summary()
        rounds = ui.ticker_rounds
        async with httpx.AsyncClient(base_url=base, timeout=HTTP_TIMEOUT_S) as c:
            health = (await c.get("/healthz")).json()
            while ui.ticker_rounds == rounds:  # the ticker still goes round
                await asyncio.sleep(0.05)
        jams = demo.daemon.station.reads.database.query_one(
            "SELECT count(*) AS n FROM alarms WHERE kind = 'door_did_not_open'"
        )
        print(
            f"\nloop lag over {time.monotonic() - started:.0f} s: p50 {lag['p50_ms']} ms, p99 {lag['p99_ms']} ms, "
            f"max {lag['max_ms']} ms ({lag['samples']} samples); requests {counts}; "
            f"jammed door cycles {jams['n'] if jams else 0}; ticker rounds {rounds}"
        )
        assert not failures, "\n".join(failures)
        assert health["ok"] and health["ticker"] == "running", health
        assert ui.ticker_failures == 0 and ui.scan_failures == 0
        assert counts.get("staff", 0) > 0 and counts.get("scan", 0) > 0 and counts.get("doors", 0) > 0
        assert jams is not None and jams["n"] > 0  # the jammed lock's door cycles ran during the load
        assert lag["samples"] > 100
        assert lag["p99_ms"] < LAG_P99_MS, lag
    finally:
        await demo.stop()
