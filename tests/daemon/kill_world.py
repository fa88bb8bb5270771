"""The kill test's world: the station under test driven as staff and citizens, a timer that SIGKILLs the daemon,
and the checks run after every restart (see tests/daemon/test_kill.py)."""

from __future__ import annotations

import bisect
import os
import random
import re
import signal
import sqlite3
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from firmware_bridge.sim.wall import SimEvent
from locker import audit
from locker.db import Database
from tests.daemon.rig import STAFF_PIN, DaemonProcess, OrderCodes, Station, wait_for

SEED = int(os.environ.get("WIBOX_KILL_SEED", "20260214"))  # set it to replay a reported run
KILLS = 20  # half during loading, half during pickup
COMPARTMENTS = 10
ORDERS = 40
SPRING_S = 0.1  # an unlatched door swings open after this long
EPS = 0.01  # seconds: audit times (rounded to ms) against the simulator's clock
IN_CYCLE = ("loading", "opening")
NEVER_OPENED = {"recovery.rearmed", "recovery.load_undone", "recovery.cycle_undone"}
FLAGGED = {"recovery.interrupted", "recovery.unreadable", "door.forced"}
RECOVERY_LINE = re.compile(r"recovery: compartment (\d+): (.+)")


class Killed(Exception):
    """The daemon was killed under the running step."""


@dataclass
class Marks:
    """What a step is doing, and when each part began (seconds from the start of the step)."""

    phase: str = "start"
    fired: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)
    times: dict[str, float] = field(default_factory=dict)

    def mark(self, phase: str) -> None:
        if self.fired.is_set():
            raise Killed(self.phase)
        self.phase = phase
        self.times.setdefault(phase, time.monotonic() - self.started)


@dataclass
class Killer(Marks):
    """SIGKILLs the daemon ``delay`` seconds after the step enters phase ``at``; notes what it was doing then."""

    daemon: DaemonProcess | None = None
    at: str = ""
    delay: float = 0.0
    killed_at: float = 0.0  # time.monotonic() of the kill
    _timer: threading.Timer | None = None

    def mark(self, phase: str) -> None:
        super().mark(phase)
        if phase == self.at and self._timer is None:
            self._timer = threading.Timer(self.delay, self._fire)
            self._timer.start()

    def _fire(self) -> None:
        assert self.daemon is not None
        self.killed_at = time.monotonic()
        self.fired.set()
        os.kill(self.daemon.pid, signal.SIGKILL)

    def wait_fired(self) -> None:
        assert self.daemon is not None and self._timer is not None
        self._timer.join()
        self.daemon.proc.wait(10)


@dataclass
class World:
    """The station under test and what the test knows and counts across daemon lives."""

    st: Station
    orders: list[OrderCodes]
    badge: str
    rng: random.Random
    daemon: DaemonProcess | None = None
    client: httpx.Client | None = None
    lives: int = 0
    kill_points: Counter[str] = field(default_factory=Counter)
    recoveries: Counter[str] = field(default_factory=Counter)
    dead_time: Counter[str] = field(default_factory=Counter)
    refused_checks: int = 0
    dead_windows: list[tuple[float, float]] = field(default_factory=list)  # monotonic (kill, READY) pairs
    kind: str = "load"  # the work of the round: at an open door, staff put a document in, citizens take it out

    # -- the daemon -------------------------------------------------------------------------------------------
    def start(self) -> list[tuple[int, str]]:
        """Start `wibox run`, wait until it serves; returns the recovery actions it logged."""
        self.lives += 1
        self.daemon = self.st.spawn(f"life-{self.lives:02d}")
        self.daemon.wait_serving(timeout=30)
        if self.client is not None:
            self.client.close()
        self.client = httpx.Client(base_url=self.st.url, timeout=10)
        found = [(int(n), a) for n, a in RECOVERY_LINE.findall(self.daemon.output())]
        for _n, action in found:
            self.recoveries[action] += 1
        return found

    @property
    def http(self) -> httpx.Client:
        assert self.client is not None
        return self.client

    def db(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.st.db_path, timeout=10)
        conn.row_factory = sqlite3.Row
        return conn

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self.db() as conn:
            return list(conn.execute(sql, params))

    def order(self, oid: str) -> sqlite3.Row:
        return self.rows("SELECT * FROM orders WHERE id = ?", (oid,))[0]

    def compartment(self, n: int) -> sqlite3.Row:
        return self.rows("SELECT * FROM compartments WHERE number = ?", (n,))[0]

    # -- people at the wall --------------------------------------------------------------------------------------
    def act_on_door(self, n: int) -> None:
        """A person at an open door: puts the document in (loading) or takes it out (pickup), then closes it."""
        self.st.hw.set_item(n, self.kind == "load")
        self.st.hw.close(n)

    def open_doors(self) -> list[int]:
        return [c.number for c in self.st.config.compartments if self.st.hw.is_open(c.number)]

    # -- steps, each possibly killed ------------------------------------------------------------------------------
    def _post(self, k: Marks | None, url: str, data: dict[str, str]) -> httpx.Response:
        try:
            return self.http.post(url, data=data)
        except httpx.HTTPError:
            if k is not None and k.fired.wait(2):
                raise Killed(k.phase) from None
            raise

    def _until(self, k: Marks | None, cond: Any, what: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not cond():
            if k is not None and k.fired.is_set():
                raise Killed(k.phase)
            assert time.monotonic() < deadline, f"timed out: {what}"
            time.sleep(0.005)

    def load(self, o: OrderCodes, k: Marks) -> int:
        """Staff log in, open the load screen, type the order label; the door opens, the document goes in."""
        mark = k.mark
        mark("login")
        r = self._post(k, "/staff/login", {"badge": self.badge, "pin": STAFF_PIN})
        assert r.status_code == 303, r.text[:300]
        mark("load screen")
        assert self._post(k, "/staff/act", {"op": "go:load"}).status_code == 303
        mark("label typed")
        r = self._post(k, "/staff/act", {"op": "label:", "label": o.label})
        assert r.status_code == 303, f"load of {o.order_id} refused: {r.status_code} {r.text[-400:]}"
        n = int(self.order(o.order_id)["compartment"])
        mark("door opening")
        self._until(k, lambda: self.st.hw.is_open(n), f"door {n} to open")
        mark("door open")
        time.sleep(self.rng.uniform(0.0, 0.15))
        mark("document in")
        self.st.hw.set_item(n, True)
        time.sleep(self.rng.uniform(0.0, 0.1))
        mark("door closed")
        self.st.hw.close(n)
        self._until(k, lambda: self.compartment(n)["state"] in ("occupied", "checking"), f"compartment {n} closed")
        if self.compartment(n)["state"] == "checking":  # no item sensor: staff say the envelope is inside
            mark("envelope confirmed")
            assert self._post(k, "/staff/act", {"op": f"inside:{n}"}).status_code == 303
        self._until(k, lambda: self.compartment(n)["state"] == "occupied", f"compartment {n} occupied")
        mark("stored, logging out")
        assert self._post(k, "/staff/logout", {}).status_code == 303
        return n

    def pickup(self, o: OrderCodes, k: Marks) -> int:
        """A citizen scans the QR, confirms receipt; the door opens, the document comes out, the door closes."""
        mark = k.mark
        n = int(self.order(o.order_id)["compartment"])
        mark("kiosk")
        self._post(k, "/act", {"op": "cancel:"})  # this browser is the one scans go to
        mark("qr scanned")
        self.st.scanner.scan(o.qr)
        self._until(k, lambda: self.screen(k) != "start", "the scan to be taken")
        shown = self.screen(k)
        assert shown == "confirm", f"{o.order_id}: scan led to {shown}"
        mark("receipt confirmed")
        assert self._post(k, "/act", {"op": "confirm:"}).status_code == 303
        mark("door opening")
        self._until(k, lambda: self.st.hw.is_open(n), f"door {n} to open")
        mark("door open")
        time.sleep(self.rng.uniform(0.0, 0.15))
        mark("document out")
        self.st.hw.set_item(n, False)
        time.sleep(self.rng.uniform(0.0, 0.1))
        mark("door closed")
        self.st.hw.close(n)
        self._until(k, lambda: self.compartment(n)["state"] != "opening", f"door {n} to close")
        if self.compartment(n)["state"] == "checking":  # no item sensor: the citizen says "I have taken it"
            self._until(k, lambda: self.screen(k) == "taken", "the screen to ask whether it was taken")
            mark("taken confirmed")
            assert self._post(k, "/act", {"op": "taken:"}).status_code == 303
        self._until(k, lambda: self.order(o.order_id)["state"] == "collected", f"{o.order_id} collected")
        mark("collected")
        return n

    def screen(self, k: Marks | None = None) -> str:
        """The citizen screen this browser shows (``data-screen`` of the page)."""
        try:
            text = self.http.get("/").text
        except httpx.HTTPError:
            if k is not None and k.fired.wait(2):
                raise Killed(k.phase) from None
            raise
        m = re.search(r'data-screen="([^"]*)"', text)
        return m.group(1) if m else "?"

    # -- choosing work -----------------------------------------------------------------------------------------
    def loadable(self) -> OrderCodes | None:
        free = self.rows("SELECT 1 FROM compartments WHERE state = 'free'")
        ids = {r["id"] for r in self.rows("SELECT id FROM orders WHERE state = 'announced' AND compartment IS NULL")}
        return next((o for o in self.orders if o.order_id in ids), None) if free else None

    def collectable(self) -> OrderCodes | None:
        ids = {
            r["id"]
            for r in self.rows(
                "SELECT o.id FROM orders o JOIN compartments c ON c.number = o.compartment"
                " WHERE o.state = 'stored' AND o.code_used = 0 AND c.state = 'occupied'"
            )
        }
        return next((o for o in self.orders if o.order_id in ids), None)

    def used_codes(self) -> list[OrderCodes]:
        ids = {
            r["id"]
            for r in self.rows("SELECT id FROM orders WHERE state IN ('collected', 'collecting') OR code_used = 1")
        }
        return [o for o in self.orders if o.order_id in ids]

    # -- checks ------------------------------------------------------------------------------------------------
    def check_store(self) -> None:
        with self.db() as conn:
            assert [r[0] for r in conn.execute("PRAGMA integrity_check")] == ["ok"]
        database = Database(self.st.db_path)
        try:
            report = audit.verify(database)
        finally:
            database.close()
        assert report.ok, f"audit chain: {report.problem}"

    def check_recovered(self) -> None:
        """Right after start: a cycle still open in the database has its door physically open."""
        for c in self.rows("SELECT number, state FROM compartments"):
            if c["state"] in IN_CYCLE:
                assert self.st.hw.is_open(c["number"]), f"compartment {c['number']} left {c['state']}, door shut"
        for o in self.rows("SELECT id, compartment FROM orders WHERE state = 'collecting'"):
            comp = self.compartment(int(o["compartment"]))
            assert comp["state"] == "opening" and self.st.hw.is_open(comp["number"]), f"{o['id']} left collecting"

    def finish_open_cycles(self) -> None:
        """People close the doors left open; each close must finish its cycle."""
        for n in self.open_doors():
            self.act_on_door(n)
        assert self.daemon is not None
        wait_for(
            lambda: not self.rows("SELECT 1 FROM compartments WHERE state IN ('loading', 'opening')"),
            10,
            "closed doors to finish their cycles",
            self.daemon,
        )
        self.answer_loadings()

    def answer_loadings(self) -> None:
        """Loadings on boards without item sensor wait for staff: they log in and say what they see inside."""
        query = "SELECT number FROM compartments WHERE state = 'checking' AND purpose IS NULL"
        waiting = [int(r["number"]) for r in self.rows(query)]
        if not waiting:
            return
        assert self._post(None, "/staff/login", {"badge": self.badge, "pin": STAFF_PIN}).status_code == 303
        for n in waiting:
            answer = "inside" if self.st.hw.has_item(n) else "empty"
            assert self._post(None, "/staff/act", {"op": f"{answer}:{n}"}).status_code == 303
        assert self._post(None, "/staff/logout", {}).status_code == 303

    def check_consistent(self) -> None:
        """Settled: no cycle, orders and compartments agree, the wall agrees with the database."""
        comps = {int(c["number"]): c for c in self.rows("SELECT * FROM compartments")}
        orders = {o["id"]: o for o in self.rows("SELECT * FROM orders")}
        assert not [n for n, c in comps.items() if c["state"] in IN_CYCLE], "a cycle was left open"
        assert not [i for i, o in orders.items() if o["state"] == "collecting"], "an order was left collecting"
        holders: Counter[int] = Counter()
        for oid, o in orders.items():
            if o["compartment"] is None or o["state"] in ("collected", "returned"):
                continue
            n = int(o["compartment"])
            holders[n] += 1
            assert o["state"] != "announced", f"{oid} is assigned to {n} outside a loading"
            held = comps[n]["order_id"]
            assert held == oid, f"{oid} ({o['state']}) points at {n}, which holds {held}"
        assert all(v == 1 for v in holders.values()), f"compartments holding several orders: {holders}"
        for n, c in comps.items():
            if c["order_id"] is not None:
                o = orders[c["order_id"]]
                assert o["compartment"] == n, f"compartment {n} holds {o['id']}, which points at {o['compartment']}"
            if c["state"] == "occupied":
                assert c["order_id"] is not None, f"occupied {n} without an order"
                # Empty but occupied only on the safe side: a pickup's door closed where no sensor could tell and
                # nobody could say it was taken (the cycle went on across the restart): left behind, for staff.
                unknown = self.rows(
                    "SELECT 1 FROM alarms WHERE kind = 'document_left_behind' AND compartment = ?"
                    " AND cleared_at IS NULL",
                    (n,),
                )
                assert self.st.hw.has_item(n) or unknown, f"occupied {n}: nothing inside"
            if c["state"] == "free":
                assert c["order_id"] is None and not self.st.hw.has_item(n), f"free {n} holds a document"

    def check_refused(self, o: OrderCodes) -> None:
        """A used code: the kiosk refuses it and no lock is pulsed."""
        pulses = len(self.st.hw.wall.recorder.records(SimEvent.UNLOCK))
        self._post(None, "/act", {"op": "cancel:"})
        self.st.scanner.scan(o.qr)
        self._until(None, lambda: self.screen() != "start", f"the scan of {o.order_id}")
        shown = self.screen()
        self._post(None, "/act", {"op": "confirm:"})  # even if a confirm button were shown: no door may open
        assert shown == "error-not_collectable", f"used code of {o.order_id} led to {shown}"
        time.sleep(0.05)
        assert len(self.st.hw.wall.recorder.records(SimEvent.UNLOCK)) == pulses, f"{o.order_id}: a lock was pulsed"
        self.refused_checks += 1

    def check_doors_audited(self) -> dict[str, int]:
        """Every physical opening lies in a committed cycle and has its audit record; see the module docstring."""
        database = Database(self.st.db_path)
        try:
            events = [(e.seq, e.event) for e in audit.entries(database)]
        finally:
            database.close()
        offset = time.time() - time.monotonic()
        where = {f"{c.bus}/{c.board}/{c.lock}": c.number for c in self.st.config.compartments}
        rec = self.st.hw.wall.recorder
        stats: Counter[str] = Counter()
        receipts = {seq: ev["order"] for seq, ev in events if ev["type"] == "pickup.receipt_confirmed"}
        opened_pickups: Counter[str] = Counter()
        for n in where.values():
            mine = [(seq, ev) for seq, ev in events if ev.get("compartment") == n]
            starts = [(ev["t"], seq) for seq, ev in mine if ev["type"] == "compartment.state" and ev["to"] in IN_CYCLE]
            start_t = [t for t, _s in starts]
            state_changes = [(ev["t"], ev["to"]) for _s, ev in mine if ev["type"] == "compartment.state"]
            for r in rec.records(SimEvent.UNLOCK):
                if where[r.where] != n:
                    continue
                t = r.t + offset
                before = [to for ts, to in state_changes if ts <= t + EPS]
                assert before and before[-1] in IN_CYCLE, f"compartment {n}: pulse at {t:.3f} outside a committed cycle"
                stats["pulses"] += 1
            opens = [r.t + offset for r in rec.records(SimEvent.DOOR_OPENED) if where[r.where] == n]
            for t_open in opens:
                i = bisect.bisect_right(start_t, t_open + EPS) - 1
                assert i >= 0, f"compartment {n}: door opened at {t_open:.3f} before any cycle was committed"
                t0, seq0 = starts[i]
                t1 = starts[i + 1][0] if i + 1 < len(starts) else float("inf")
                cycle = [ev for _s, ev in mine if t0 <= ev["t"] < t1]
                records = [
                    ev
                    for ev in cycle
                    if ev["t"] >= t_open - EPS
                    and (ev.get("door_confirmed_at") or ev.get("why") in FLAGGED or ev["type"] == "door.opened")
                ]
                assert records, f"compartment {n}: the opening at {t_open:.3f} has no audit record: {cycle}"
                lies = [ev for ev in cycle if ev.get("why") in NEVER_OPENED and ev["t"] >= t_open - EPS]
                assert not lies, f"compartment {n}: recovery says the door never opened, but it did: {lies}"
                dead = self._dead_window(t_open - offset)
                if dead is not None:  # opened while no daemon ran: the next start-up recovery must record it
                    assert any(ev["t"] - offset <= dead[1] + EPS for ev in records), (
                        f"compartment {n}: opened at {t_open:.3f} while the daemon was dead, not recorded at start-up"
                    )
                by_recovery = any(self._dead_window(ev["t"] - offset) is not None for ev in records)
                stats["openings recorded by start-up recovery" if by_recovery else "openings recorded live"] += 1
                stats["openings while the daemon was dead"] += dead is not None
                order = receipts.get(seq0 + 1) or receipts.get(seq0 + 2)
                if order is not None:
                    opened_pickups[order] += 1
            # and the converse: a recorded confirmation has a physical opening in its cycle
            for i, (t0, _seq) in enumerate(starts):
                t1 = starts[i + 1][0] if i + 1 < len(starts) else float("inf")
                confirmed = [ev for _s, ev in mine if t0 <= ev["t"] < t1 and ev.get("door_confirmed_at")]
                if confirmed:
                    assert any(t0 - EPS <= t < t1 for t in opens), f"compartment {n}: confirmed, never opened"
        twice = {o: c for o, c in opened_pickups.items() if c > 1}
        assert not twice, f"codes that opened a door twice: {twice}"
        stats["openings"] = sum(1 for _ in rec.records(SimEvent.DOOR_OPENED))
        return dict(stats)

    def _dead_window(self, t_mono: float) -> tuple[float, float] | None:
        """The (kill, READY) window containing a moment, if the daemon was dead or starting then."""
        return next(((a, b) for a, b in self.dead_windows if a <= t_mono <= b), None)
