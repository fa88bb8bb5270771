"""`wibox run` under a fake systemd notify socket: READY, watchdog pings from the loop, a clean stop."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from firmware_bridge.registry import DRIVERS
from firmware_bridge.sim.memory_bank import MemoryLockBank
from firmware_bridge.sim.station import SimulatedWall
from locker.clock import SystemClock
from locker.config import StationConfig, load_config
from locker.daemon import Daemon, RunningBank
from locker.sdnotify import SdNotify
from tests.daemon.rig import NotifySocket, free_port

ROOT = Path(__file__).resolve().parents[2]


def station_toml(db: Path, port: int, bus0: str, bus1: str) -> str:
    comps = "".join(
        f'[[compartments]]\nnumber = {n}\nbus = "{bus}"\nboard = {board}\nlock = {lock}\nsize = "M"\n'
        f"height_mm = {300 + 200 * lock}\n\n"
        for n, (bus, board, lock) in enumerate(
            [("bus0", 0, 1), ("bus0", 0, 2), ("bus0", 0, 3), ("bus1", 1, 1), ("bus1", 1, 2)], start=1
        )
    )
    return f"""station_id = "daemon-test"

[storage]
database = "{db}"

[ui]
port = {port}

[scanners.camera]
enabled = false

[[buses]]
name = "bus0"
driver = "kerong-cu16"
port = "{bus0}"

[[buses]]
name = "bus1"
driver = "xor-8a"
port = "{bus1}"
baud = 9600
channels = 8

{comps}"""


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    n = NotifySocket(tmp_path / "notify.sock")
    yield n
    n.close()


@pytest.fixture
def wall_config(tmp_path: Path) -> Iterator[tuple[Path, SimulatedWall]]:
    """The simulated boards run in the test process; the daemon opens their pseudo-terminals."""
    port = free_port()
    base = load_config_text(station_toml(tmp_path / "wibox.db", port, "sim", "sim"))
    hw = SimulatedWall(base)
    cfg = hw.start()
    path = tmp_path / "station.toml"
    path.write_text(station_toml(tmp_path / "wibox.db", port, cfg.buses[0].port, cfg.buses[1].port))
    yield path, hw
    hw.stop()


def load_config_text(text: str) -> StationConfig:
    from locker.config import parse_config

    return parse_config(text, DRIVERS)


def test_wibox_run_ready_watchdog_ui_and_clean_stop(
    wall_config: tuple[Path, SimulatedWall], notify: NotifySocket
) -> None:
    path, hw = wall_config
    cfg = load_config(path, DRIVERS)
    env = {**os.environ, "NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": "300000"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "wibox", "run", "--config", str(path)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        notify.wait_for("READY=1")
        notify.wait_for("WATCHDOG=1", count=4, timeout=10)
        # (how often it pings is tested in-process by order; a loaded machine may delay a ping, which is no fault)
        health = httpx.get(f"http://127.0.0.1:{cfg.ui.port}/healthz", timeout=5).json()
        assert health["ok"] is True and health["page_heartbeat_age_s"] is None
        # A door forced open while the daemon runs is seen by the lock bank's poller and recorded.
        hw.force(2)
        deadline = time.monotonic() + 10
        while _state(cfg, 2) != "faulty":
            assert time.monotonic() < deadline, "the forced door was not recorded"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert any(m == "STOPPING=1" for _t, m in notify.messages)
    assert "ready" in out and "stopped" in out
    with sqlite3.connect(cfg.storage.database) as conn:
        alarms = conn.execute("SELECT kind, compartment FROM alarms WHERE cleared_at IS NULL").fetchall()
    assert ("door_forced", 2) in alarms


def _state(cfg: StationConfig, number: int) -> str:
    with sqlite3.connect(cfg.storage.database) as conn:
        row = conn.execute("SELECT state FROM compartments WHERE number = ?", (number,)).fetchone()
    return str(row[0]) if row else ""


class _RecordingNotify(SdNotify):
    """Sends as SdNotify does, and writes each message into ``log`` in the sending thread, in order."""

    def __init__(self, env: dict[str, str], log: list[str]) -> None:
        super().__init__(env)
        self.log = log

    def notify(self, message: str) -> bool:
        self.log.append(message)
        return super().notify(message)


def test_a_blocked_event_loop_stops_the_watchdog_pings(tmp_path: Path, notify: NotifySocket) -> None:
    cfg = load_config_text(station_toml(tmp_path / "wibox.db", free_port(), "/dev/null", "/dev/null"))

    def bank(c: StationConfig, clock: SystemClock) -> RunningBank:
        return _StartableBank([x.number for x in c.compartments], clock)

    log: list[str] = []
    d = Daemon(cfg, bank, _RecordingNotify({"NOTIFY_SOCKET": str(notify.path)}, log), watchdog_ping_s=0.05)
    loops: list[asyncio.AbstractEventLoop] = []
    result: list[int] = []

    async def main() -> int:
        loops.append(asyncio.get_running_loop())
        return await d.run()

    # asyncio.run in the runner thread: the loop and its default executor are shut down and closed when it ends
    runner = threading.Thread(target=lambda: result.append(asyncio.run(main())), name="daemon-loop")
    runner.start()
    blocked, release = threading.Event(), threading.Event()

    def block() -> None:  # runs on the event loop: nothing else runs there until it returns
        log.append("<blocked>")
        blocked.set()
        release.wait(60)
        log.append("<released>")

    try:
        notify.wait_for("READY=1")
        notify.wait_for("WATCHDOG=1", count=5)
        loops[0].call_soon_threadsafe(block)
        assert blocked.wait(60)
        time.sleep(20 * 0.05)  # twenty ping periods pass while the loop is blocked
        release.set()
        deadline = time.monotonic() + 60
        while "<released>" not in log or "WATCHDOG=1" not in log[log.index("<released>") :]:
            assert time.monotonic() < deadline, f"the pings did not resume: {log[-10:]}"
            time.sleep(0.01)
    finally:
        release.set()
        if loops:
            loops[0].call_soon_threadsafe(d.stop)
        runner.join(timeout=60)
    # the pings come from the loop itself: none while it was blocked (systemd would restart the daemon), and they
    # resume once it runs again
    during = log[log.index("<blocked>") : log.index("<released>")]
    assert "WATCHDOG=1" not in during
    assert log[: log.index("<blocked>")].count("WATCHDOG=1") >= 5
    assert result == [0]


class _StartableBank:
    """The in-process lock bank with the life cycle the daemon drives."""

    def __init__(self, numbers: list[int], clock: SystemClock) -> None:
        self.inner = MemoryLockBank(numbers, clock)
        self.unlock = self.inner.unlock
        self.read = self.inner.read
        self.read_many = self.inner.read_many
        self.poll_events = self.inner.poll_events
        self.safe_state = self.inner.safe_state

    def start(self) -> None:
        self.inner.safe_state()

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass
