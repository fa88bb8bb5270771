"""The staff screen's move on a board without item sensor: what staff are asked and told at each step (the browser
test drives a board with sensors)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from kiosk_ui.staff_desk import StaffDesk, StaffView
from locker.errors import DoorDidNotOpen
from locker.model import CompartmentState, OrderState
from locker.station import Station
from tests.harness import STATEMENT, make_station


def test_move_without_item_sensor_step_by_step(tmp_path: Path) -> None:
    st = make_station(tmp_path, item_sensors=False)
    c = st.announce("ORDER-MOVE2")
    src = st.load(st.staff_session(), c)
    station = Station(st.flows, st.config, st.clock, lock=st.lock)
    desk = StaffDesk(station, lambda _lang, _id: STATEMENT)
    badge = st.add_staff("EVA-06", "246810", ("loader",))

    async def journey() -> tuple[StaffView, int]:
        session = await desk.login(badge.payload, "246810", "de", None)
        v = desk.view(session.id)
        await desk.move(v, c.order_id)
        assert (v.message, v.params) == ("staff.move_source_open", {"n": src})
        st.pump()
        st.bank.take_item(src)
        st.bank.close(src)
        st.pump()
        desk.tick()
        assert (v.message, v.params) == ("staff.move_check_out", {"n": src})
        await desk.moved_out(v, src, True)  # the new compartment opens at once
        order = st.store.order(c.order_id)
        assert order is not None and order.compartment is not None and order.compartment != src
        t = order.compartment
        assert (v.message, v.params) == ("staff.move_target_open", {"n": t})
        st.pump()
        st.bank.close(t)  # closed before the envelope went in
        st.pump()
        desk.tick()
        assert (v.message, v.params) == ("staff.move_check_in", {"n": t})
        await desk.moved_in(v, t, False)
        assert (v.message, v.params) == ("staff.move_waiting", {"order": c.order_id, "n": t})
        st.bank.jam(t)
        try:
            await desk.move_open(v, t)
        except DoorDidNotOpen as exc:
            desk.refused(v, exc)
        assert v.message == "staff.err.move_target_jammed" and v.error
        order = st.store.order(c.order_id)
        assert order is not None and order.compartment is not None
        t2 = order.compartment
        assert v.params == {"n": t, "to": t2}
        await desk.move_open(v, t2)
        st.pump()
        st.bank.put_item(t2)
        st.bank.close(t2)
        st.pump()
        desk.tick()
        assert (v.message, v.params) == ("staff.move_check_in", {"n": t2})
        await desk.moved_in(v, t2, True)
        assert (v.message, v.params) == ("staff.moved", {"n": t2})
        return v, t2

    try:
        _v, t2 = asyncio.run(journey())
    finally:
        station.close()
    order = st.store.order(c.order_id)
    assert order is not None and (order.state, order.compartment) == (OrderState.STORED, t2)
    assert st.store.compartment(src).state == CompartmentState.FREE
    assert st.store.compartment(t2).state == CompartmentState.OCCUPIED
