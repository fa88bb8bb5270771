"""SIGKILL `wibox run` between the lock pulse of a remote `open_compartment` and its answer: after the restart the
door is not opened again, and the hub, which delivers the command again, is answered "interrupted, not repeated".

The daemon is a real process over the byte-level simulators (tests/daemon/rig.py) with its sync service talking to a
hub over HTTP (tests/daemon/fake_hub.py). The simulated door springs open only when the test lets it (its wall clock
jumps the spring delay), so the daemon is still waiting for the door — after the pulse, before the answer — when
the test sees the pulse on the wall and kills it.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from backend_sync.commands import RESULT_EVENT, Command, CommandKind
from firmware_bridge.registry import DRIVERS
from firmware_bridge.sim.wall import SimEvent
from locker.config import load_config
from tests.daemon.fake_hub import FakeHub
from tests.daemon.rig import DaemonProcess, Station, build_station, wait_for

COMPARTMENT = 3
HELD_S = 3600.0  # the spring delay: a released door stays shut until the test moves the wall's clock past it
DEADLINE_S = 90.0  # for waits that take a second or a sync period (5 s) when all is well


class JumpingClock:
    """The simulated wall's clock: monotonic time plus the jumps the test makes."""

    def __init__(self) -> None:
        self._jumped = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return time.monotonic() + self._jumped

    def jump(self, seconds: float) -> None:
        with self._lock:
            self._jumped += seconds


@dataclass
class World:
    st: Station
    hub: FakeHub
    clock: JumpingClock
    daemons: list[DaemonProcess] = field(default_factory=list)

    @property
    def where(self) -> str:
        c = self.st.config.compartment(COMPARTMENT)
        return f"{c.bus}/{c.board}/{c.lock}"

    def pulses(self) -> int:
        return sum(1 for r in self.st.hw.wall.recorder.records(SimEvent.UNLOCK) if r.where == self.where)

    def db(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        conn = sqlite3.connect(self.st.db_path, timeout=10)
        conn.row_factory = sqlite3.Row
        try:
            return list(conn.execute(sql, params))
        finally:
            conn.close()

    def start(self, name: str) -> DaemonProcess:
        """Spawn `wibox run` and wait until it serves."""
        daemon = self.st.spawn(name)
        self.daemons.append(daemon)
        daemon.wait_serving(timeout=60)
        return daemon


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    hub = FakeHub("daemon-rig")
    st = build_station(tmp_path / "station", compartments=4, spring_delay_s=HELD_S, unlock_confirm_s=30.0)
    with st.config_path.open("a") as f:  # the rig's station, connected to the hub
        f.write(f'\n[sync]\nhub_url = "{hub.url}"\nkey_dir = "{tmp_path / "keys"}"\npoll_s = 5\n')
    st.config = load_config(st.config_path, DRIVERS)
    clock = JumpingClock()
    st.hw.wall.clock = clock.now
    w = World(st, hub, clock)
    try:
        yield w
    finally:
        for d in w.daemons:
            if d.alive():
                d.kill()
        st.close()
        hub.close()


def _command() -> Command:
    now = int(time.time())
    return Command(
        uuid.uuid4().hex, "daemon-rig", CommandKind.OPEN_COMPARTMENT, "check it", "adm-1", now, now + 3600, COMPARTMENT
    )


def _state(w: World) -> str:
    return str(w.db("SELECT state FROM compartments WHERE number = ?", (COMPARTMENT,))[0]["state"])


@pytest.mark.slow
@pytest.mark.parametrize("closed_while_down", [False, True], ids=["door-open-over-restart", "door-closed-while-down"])
def test_a_remote_open_killed_after_the_pulse_is_not_repeated_after_the_restart(
    world: World, closed_while_down: bool
) -> None:
    """With the door closed again while the station was down, the recovery puts the compartment back to free: a
    kiosk that ran the command again would pulse the lock a second time."""
    w, cmd = world, _command()
    # Life 1: enrolls and syncs; then the hub has the command. The next pull brings it: the daemon commits the door
    # cycle and pulses the lock; the door is held shut, so it waits for it to open. Killed right there: after the
    # pulse, before the answer.
    first = w.start("life-1")
    wait_for(lambda: w.hub.seen("/api/v1/kiosk/heartbeat") > 0, DEADLINE_S, "a first sync", first)
    w.hub.deliver(cmd)
    wait_for(lambda: w.pulses() >= 1, DEADLINE_S, f"the pulse of compartment {COMPARTMENT}", first)
    first.kill()
    assert w.pulses() == 1
    (row,) = w.db("SELECT state, kind, compartment FROM remote_commands WHERE id = ?", (cmd.id,))
    assert (row["state"], row["kind"], row["compartment"]) == ("started", "open_compartment", COMPARTMENT)
    assert w.db("SELECT 1 FROM outbox WHERE kind = ?", (RESULT_EVENT,)) == []  # killed before the answer
    (comp,) = w.db("SELECT state, purpose FROM compartments WHERE number = ?", (COMPARTMENT,))
    assert (comp["state"], comp["purpose"]) == ("opening", "maintenance")
    assert w.hub.results(cmd.id) == []

    # While the station is down the released door springs open, and perhaps someone shuts it again.
    w.clock.jump(HELD_S)
    assert w.st.hw.is_open(COMPARTMENT)
    if closed_while_down:
        w.st.hw.close(COMPARTMENT)

    # Life 2: recovery reconciles the compartment with its door; the hub delivers the same command again.
    pulls_before = w.hub.pulls_with_commands()
    second = w.start("life-2")
    recovered = "cycle undone" if closed_while_down else "cycle continues: door open"
    assert f"recovery: compartment {COMPARTMENT}: {recovered}" in second.output()
    now_in = "free" if closed_while_down else "opening with its door open"
    # The answer, then (after the next pull delivered the command once more) the same answer again.
    wait_for(lambda: len(w.hub.results(cmd.id)) >= 2, DEADLINE_S, "the command's answer, twice", second)
    assert w.hub.pulls_with_commands() >= pulls_before + 2
    answers = {(a["command_kind"], a["outcome"], a["detail"]) for a in w.hub.results(cmd.id)}
    assert answers == {
        (
            "open_compartment",
            "interrupted",
            f"interrupted before its outcome was recorded; not repeated; compartment {COMPARTMENT} is now {now_in}",
        )
    }
    assert w.pulses() == 1  # the door was not opened again
    (row,) = w.db("SELECT state FROM remote_commands WHERE id = ?", (cmd.id,))
    assert row["state"] == "answered"

    # The door is shut (now, or it already was): the compartment is free, and the daemon stops cleanly.
    w.st.hw.close(COMPARTMENT)
    wait_for(lambda: _state(w) == "free", DEADLINE_S, f"compartment {COMPARTMENT} free again", second)
    assert w.pulses() == 1
    assert second.stop() == 0
