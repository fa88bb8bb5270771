"""SIGKILL `wibox run` 20 times at random points of loading and pickup; after each restart the station is sound.

Everything is real except the boards and the people: the daemon is a subprocess with the real drivers on
pseudo-terminals of byte-level simulators that run in this process (the doors, items and springs of the wall); staff
load through the kiosk UI over HTTP, citizens scan their QR on a serial scanner (a pty) and confirm receipt over HTTP;
the test's hands put documents in, take them out and close doors. A timer kills the daemon at a random moment of
the cycle (seeded, printed); the dead time may see doors spring open and people close them; then the daemon starts
again on the same database and simulators. After every restart:

* ``PRAGMA integrity_check`` is ok and the audit chain verifies (``locker.audit.verify``);
* every cycle left open by the recovery has its door physically open, and closing it finishes the cycle;
* the database is consistent with itself and with the wall: orders and compartments point at each other, each
  compartment holds at most one order, an occupied compartment holds a document and a free one is empty;
* no code works twice: a used code is refused by the UI and opens no door; on the wall's records, no order's
  pickup ever opened a door twice;
* every door that opened is in the audit log: each physical opening (the simulator's records) lies in a door cycle
  committed before the pulse and has an audit record of the opening (the confirmation, or the start-up
  recovery's), and no recovery claims "never opened" about a door that did open.
"""

from __future__ import annotations

import itertools
import json
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from locker import audit, codes
from locker.model import AlarmKind, CompartmentState, DoorState, OrderState
from locker.ports import UnlockResult
from tests.daemon.kill_world import (
    COMPARTMENTS,
    KILLS,
    ORDERS,
    SEED,
    SPRING_S,
    Killed,
    Killer,
    Marks,
    World,
)
from tests.daemon.rig import OrderCodes, build_station, seed
from tests.harness import make_station


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    st = build_station(tmp_path / "station", compartments=COMPARTMENTS, spring_delay_s=SPRING_S)
    orders, badge = seed(st.config, ORDERS)
    w = World(st, orders, badge, random.Random(SEED))
    try:
        yield w
    finally:
        if w.client is not None:
            w.client.close()
        if w.daemon is not None and w.daemon.alive():
            w.daemon.kill()
        st.close()


def _settle(w: World) -> None:
    w.check_store()
    w.check_recovered()
    w.finish_open_cycles()
    w.check_consistent()


@pytest.mark.slow
def test_sigkill_daemon_during_loading_and_pickup(world: World) -> None:
    w, rng = world, world.rng
    print(f"\nkill test seed {SEED} (replay: WIBOX_KILL_SEED={SEED})")
    t_begin = time.monotonic()
    w.start()
    # Calibration: one loading and one pickup run to the end, timing each phase. A kill is then drawn as a phase
    # (the door window, from the request that commits and pulses until it returns, three times as often as any
    # other) and a moment within that phase's calibrated length.
    first = w.loadable()
    assert first is not None
    cal = {"load": Marks(), "pickup": Marks()}
    w.load(first, cal["load"])
    cal["load"].mark("after the cycle")
    w.pickup(first, cal["pickup"])
    cal["pickup"].mark("after the cycle")
    w.check_refused(first)
    door_window = {"load": "label typed", "pickup": "receipt confirmed"}
    lengths: dict[str, dict[str, float]] = {}
    for kind, m in cal.items():
        at = sorted(m.times.items(), key=lambda kv: kv[1])
        lengths[kind] = {p: max(0.02, t1 - t0) for (p, t0), (_q, t1) in itertools.pairwise(at)}
        print(f"calibration {kind}:", ", ".join(f"{p} {d:.2f} s" for p, d in lengths[kind].items()))
    starts: list[float] = []
    kinds = ["load", "pickup"] * (KILLS // 2)
    rng.shuffle(kinds)
    for i, kind in enumerate(kinds):
        round_order: OrderCodes | None
        if kind == "pickup" and w.collectable() is None:
            fresh = w.loadable()
            assert fresh is not None, "no order left to load"
            w.load(fresh, Marks())  # set-up, not killed
        if kind == "load" and w.loadable() is None:
            ready = w.collectable()
            assert ready is not None, "no free compartment and nothing to collect"
            w.pickup(ready, Marks())  # set-up, not killed
        w.kind = kind
        round_order = w.loadable() if kind == "load" else w.collectable()
        assert round_order is not None, f"round {i}: nothing to {kind}"
        phases = list(lengths[kind])
        phase = rng.choices(phases, weights=[3 if p == door_window[kind] else 1 for p in phases])[0]
        delay = rng.uniform(0.0, lengths[kind][phase])
        assert w.daemon is not None
        k = Killer(daemon=w.daemon, at=phase, delay=delay)
        try:
            (w.load if kind == "load" else w.pickup)(round_order, k)
            k.mark("after the cycle")
        except Killed:
            pass
        k.wait_fired()
        w.kill_points[f"{kind}: {k.phase}"] += 1
        # Dead time: released doors spring open; people at an open door finish now or wait for the restart.
        time.sleep(SPRING_S + 0.2)
        for n in w.open_doors():
            if rng.random() < 0.5:
                w.act_on_door(n)
                w.dead_time[f"{kind}: door {n} closed while dead"] += 1
            else:
                w.dead_time[f"{kind}: door {n} left open over the restart"] += 1
        t0 = time.monotonic()
        recovered = w.start()
        starts.append(time.monotonic() - t0)
        w.dead_windows.append((k.killed_at, w.daemon.ready_at))
        ctx = f"round {i} ({kind}, killed {delay:.3f} s into {phase!r}, in {k.phase!r}, recovery {recovered})"
        try:
            _settle(w)
            if kind == "pickup" and round_order in w.used_codes():
                w.check_refused(round_order)
            w.check_doors_audited()
        except AssertionError as exc:
            raise AssertionError(f"{ctx}: {exc}") from exc
    for o in w.used_codes():
        w.check_refused(o)
    stats = w.check_doors_audited()
    elapsed = time.monotonic() - t_begin
    print(f"{KILLS} kills in {elapsed:.1f} s; restart to serving: median {sorted(starts)[len(starts) // 2]:.2f} s")
    print("kill points:", json.dumps(dict(sorted(w.kill_points.items())), indent=1))
    print("dead time:", json.dumps(dict(sorted(w.dead_time.items())), indent=1))
    print("recovery actions:", dict(w.recoveries))
    print("doors:", stats, f"used codes refused by the kiosk: {w.refused_checks}")
    assert sum(v for k, v in w.kill_points.items() if k.startswith("load")) == KILLS // 2
    assert sum(v for k, v in w.kill_points.items() if k.startswith("pickup")) == KILLS // 2
    assert w.refused_checks >= len(w.used_codes())


class _Crash(BaseException):
    """The process dies right here (nothing after this line of the flow runs)."""


@pytest.mark.parametrize("item_sensors", [True, False], ids=["item-sensor", "no-item-sensor"])
def test_a_loading_whose_door_opened_while_the_station_was_down(tmp_path: Path, item_sensors: bool) -> None:
    """The kill test's find, reduced: killed after the pulse, before the door was confirmed open; staff put the
    document in and closed the door while the station was down. Recovery used to undo the loading and call the
    compartment free with the document inside. With an item sensor the loading is now finished (the document
    proves the door opened); without one the compartment is faulty with an alarm, for staff."""
    st = make_station(tmp_path, item_sensors=item_sensors)
    sid = st.staff_session()
    c = st.announce("LOAD-0001")
    pulse = st.bank.unlock

    def pulse_then_die(number: int, confirm_s: float) -> UnlockResult:
        pulse(number, confirm_s)
        raise _Crash

    st.bank.unlock = pulse_then_die  # type: ignore[method-assign,assignment]
    with pytest.raises(_Crash):
        st.flows.loading.scan_label(sid, codes.label_payload(c.order_id))
    st.bank.unlock = pulse  # type: ignore[method-assign]
    (n,) = [x.number for x in st.store.compartments() if x.state == CompartmentState.LOADING]
    assert st.bank.read(n).door == DoorState.OPEN  # the door sprang open; the confirmation was never written
    st.bank.put_item(n)
    st.bank.close(n)
    st.bank.poll_events(0)  # what the dead process never saw
    st.restart()
    comp, order = st.store.compartment(n), st.store.order(c.order_id)
    assert order is not None
    events = [e.event for e in audit.entries(st.database) if e.event.get("compartment") == n]
    outbox = st.database.query("SELECT body FROM outbox WHERE kind = 'stored'")
    stored = [json.loads(r["body"])["order"] for r in outbox]
    if item_sensors:
        assert (comp.state, comp.content, comp.order_id) == (CompartmentState.OCCUPIED, "document", c.order_id)
        assert (order.state, order.compartment) == (OrderState.STORED, n)
        assert any(e.get("door_confirmed_at") for e in events)  # the opening is recorded
        assert stored == [c.order_id]  # and the citizen notified
    else:
        assert (comp.state, comp.order_id) == (CompartmentState.FAULTY, None)
        assert (order.state, order.compartment) == (OrderState.ANNOUNCED, None)
        assert (AlarmKind.INTERRUPTED_CYCLE, n) in [(k, m) for k, m, _b, _t in st.store.open_alarms()]
        assert stored == []
