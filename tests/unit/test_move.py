"""Staff move a stored document to another compartment: same order and codes, jams at either door, boards with and
without item sensor, and a restart in the middle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from locker import audit
from locker.errors import DoorDidNotOpen, FlowError, NoFreeCompartment, NotCollectable
from locker.model import AlarmKind, Compartment, CompartmentState, Content, OpenPurpose, OrderState
from tests.harness import STATEMENT, Codes, Station, make_station


def alarms(st: Station) -> set[tuple[AlarmKind, int | None]]:
    return {(k, c) for k, c, _b, _t in st.store.open_alarms()}


def outbox(st: Station, kind: str) -> list[dict[str, object]]:
    rows = st.database.query("SELECT body FROM outbox WHERE kind = ? ORDER BY seq", (kind,))
    return [json.loads(r["body"]) for r in rows]


def where(st: Station, c: Codes) -> tuple[OrderState, int | None]:
    o = st.store.order(c.order_id)
    assert o is not None
    return o.state, o.compartment


def close(st: Station, n: int, *, put: bool = False, take: bool = False) -> None:
    st.pump()
    if put:
        st.bank.put_item(n)
    if take:
        st.bank.take_item(n)
    st.bank.close(n)
    st.pump()


def collect(st: Station, c: Codes, *, manual: bool = False) -> int:
    """The citizen collects with the codes of the letter; returns the compartment that opened."""
    pending = st.flows.pickup.enter_manual(c.pickup_number, c.pin) if manual else st.flows.pickup.scan_qr(c.qr)
    v = st.flows.pickup.verify(pending)
    n = st.flows.pickup.confirm_receipt(v, STATEMENT)
    close(st, n, take=True)
    if st.store.compartment(n).state == CompartmentState.CHECKING:
        st.flows.pickup.taken(v)
    assert where(st, c)[0] == OrderState.COLLECTED
    return n


def in_hands(st: Station) -> tuple[str, Codes, int, Compartment]:
    """An order loaded, its move begun and the envelope taken out of the source (a board with item sensor): staff
    hold it, and the target waits. Returns the staff session, the codes, the source and the target."""
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    src = st.load(sid, c)
    st.flows.move.start(sid, c.order_id)
    close(st, src, take=True)
    [target] = st.flows.move.pending()
    return sid, c, src, target


def test_move_with_item_sensor_keeps_order_and_codes(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    src = st.load(sid, c)
    assert [o.id for o in st.flows.move.movable()] == [c.order_id]
    assert st.flows.move.start(sid, c.order_id) == src
    assert st.store.compartment(src).purpose == OpenPurpose.MOVE
    close(st, src, take=True)
    assert st.store.compartment(src).state == CompartmentState.FREE
    [target] = st.flows.move.pending()
    assert target.move_from == src and target.state == CompartmentState.LOADING and target.number != src
    assert where(st, c) == (OrderState.STORED, target.number)
    with pytest.raises(NotCollectable):  # in staff's hands: nobody collects it now
        st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr))
    assert st.flows.move.open_target(sid, target.number) == target.number
    close(st, target.number, put=True)
    t = st.store.compartment(target.number)
    assert (t.state, t.content, t.order_id, t.move_from) == (
        CompartmentState.OCCUPIED,
        Content.DOCUMENT,
        c.order_id,
        None,
    )
    assert outbox(st, "moved") == [
        {
            "id": outbox(st, "moved")[0]["id"],
            "kind": "moved",
            "t": outbox(st, "moved")[0]["t"],
            "order": c.order_id,
            "compartment": target.number,
            "from_compartment": src,
        }
    ]
    assert len(outbox(st, "stored")) == 1  # no second notice: the codes and the station are the same
    [inside] = [e.event for e in audit.entries(st.database) if e.event["type"] == "move.inside"]
    assert (inside["from"], inside["by"]) == (src, "sensor")
    assert collect(st, c, manual=True) == target.number  # the same PIN opens the new compartment


def test_move_respects_the_need_for_a_reachable_compartment(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001", reachable=True)
    src = st.load(sid, c)
    assert st.config.is_reachable(src)
    st.flows.move.start(sid, c.order_id)
    close(st, src, take=True)
    [target] = st.flows.move.pending()
    assert st.config.is_reachable(target.number)


def test_source_jam_leaves_the_order_where_it_is(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    src = st.load(sid, c)
    st.bank.jam(src)
    with pytest.raises(DoorDidNotOpen) as exc:
        st.flows.move.start(sid, c.order_id)
    assert exc.value.key == "staff.err.move_source_jammed"
    assert where(st, c) == (OrderState.STORED, src)
    comp = st.store.compartment(src)
    assert (comp.state, comp.order_id, comp.content) == (CompartmentState.FAULTY, c.order_id, Content.DOCUMENT)
    assert (AlarmKind.DOOR_DID_NOT_OPEN, src) in alarms(st)
    assert [o.id for o in st.flows.staffwork.counter_orders()] == [c.order_id]  # staff hand it over instead
    assert st.flows.move.pending() == []


def test_a_faulty_source_stays_faulty_after_the_move(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    src = st.load(sid, c)
    st.bank.jam(src)
    with pytest.raises(DoorDidNotOpen):
        collect(st, c)
    st.bank.jam(src, False)  # staff freed the lock enough to open it once; it still needs a look
    st.flows.move.start(sid, c.order_id)
    close(st, src, take=True)
    comp = st.store.compartment(src)
    assert (comp.state, comp.order_id, comp.content) == (CompartmentState.FAULTY, None, Content.NONE)
    [target] = st.flows.move.pending()
    st.flows.move.open_target(sid, target.number)
    close(st, target.number, put=True)
    assert collect(st, c) == target.number


def test_target_jam_retargets_then_returns_when_none_is_left(tmp_path: Path) -> None:
    st = make_station(tmp_path, n=3)  # S, M, L
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    src = st.load(sid, c)
    st.flows.move.start(sid, c.order_id)
    close(st, src, take=True)
    [first] = st.flows.move.pending()
    st.bank.jam(first.number)
    with pytest.raises(DoorDidNotOpen) as exc:
        st.flows.move.open_target(sid, first.number)
    [second] = st.flows.move.pending()
    assert exc.value.key == "staff.err.move_target_jammed" and exc.value.params["to"] == second.number
    assert st.store.compartment(first.number).state == CompartmentState.FAULTY
    assert st.store.compartment(first.number).order_id is None
    assert where(st, c) == (OrderState.STORED, second.number)
    st.bank.jam(second.number)
    with pytest.raises(DoorDidNotOpen) as exc:
        st.flows.move.open_target(sid, second.number)
    assert exc.value.key == "staff.err.move_no_target"
    assert where(st, c) == (OrderState.RETURNED, None)  # staff hold it: at the counter now
    [ret] = outbox(st, "returned")
    assert ret["compartment"] == src
    assert st.flows.staffwork.counter_hand_over(sid, c.order_id, STATEMENT) is None
    assert where(st, c)[0] == OrderState.COLLECTED


def test_no_free_target_opens_nothing(tmp_path: Path) -> None:
    st = make_station(tmp_path, n=1)
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    src = st.load(sid, c)
    with pytest.raises(NoFreeCompartment) as exc:
        st.flows.move.start(sid, c.order_id)
    assert exc.value.key == "staff.err.no_move_target"
    assert st.store.compartment(src).state == CompartmentState.OCCUPIED


def test_envelope_still_inside_the_source_changes_nothing(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    src = st.load(sid, c)
    st.flows.move.start(sid, c.order_id)
    close(st, src)
    assert st.store.compartment(src).state == CompartmentState.OCCUPIED
    assert st.flows.move.pending() == []
    assert collect(st, c) == src


def test_target_closed_empty_waits_then_staff_give_up(st: Station) -> None:
    sid, c, _src, target = in_hands(st)
    st.flows.move.open_target(sid, target.number)
    close(st, target.number)  # staff closed it without the envelope
    assert [p.number for p in st.flows.move.pending()] == [target.number]
    assert st.flows.move.give_up(sid, target.number) == c.order_id
    assert st.store.compartment(target.number).state == CompartmentState.FREE
    assert where(st, c) == (OrderState.RETURNED, None)
    with pytest.raises(FlowError):
        st.flows.move.open_target(sid, target.number)


def test_move_without_item_sensor_asks_staff(bare: Station) -> None:
    st = bare
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    src = st.load(sid, c)
    st.flows.move.start(sid, c.order_id)
    close(st, src, take=True)
    assert st.store.compartment(src).state == CompartmentState.CHECKING
    target = st.flows.move.source_answer(sid, src, True)
    assert target is not None and st.store.compartment(src).state == CompartmentState.FREE
    with pytest.raises(FlowError):  # the source is not a target
        st.flows.move.target_answer(sid, src, True)
    st.flows.move.open_target(sid, target)
    close(st, target, put=True)
    assert st.store.compartment(target).state == CompartmentState.CHECKING
    st.flows.move.target_answer(sid, target, False)  # not inside after all: open again
    st.flows.move.open_target(sid, target)
    close(st, target, put=True)
    st.flows.move.target_answer(sid, target, True)
    assert st.store.compartment(target).state == CompartmentState.OCCUPIED
    [inside] = [e.event for e in audit.entries(st.database) if e.event["type"] == "move.inside"]
    assert inside["by"] == "staff"
    assert collect(st, c) == target


def test_without_sensor_still_inside_and_unanswered(bare: Station) -> None:
    st = bare
    sid = st.staff_session()
    a, b = st.announce("ORD-0001"), st.announce("ORD-0002")
    na, nb = st.load(sid, a), st.load(sid, b)
    st.flows.move.start(sid, a.order_id)
    close(st, na)
    assert st.flows.move.source_answer(sid, na, False) == na
    assert st.store.compartment(na).state == CompartmentState.OCCUPIED
    st.flows.move.start(sid, b.order_id)  # staff close the source and walk away
    close(st, nb, take=True)
    st.clock.advance(st.config.timing.answer_s + 1)
    st.flows.doors.check_timers()
    comp = st.store.compartment(nb)
    assert (comp.state, comp.order_id, comp.content) == (CompartmentState.FAULTY, b.order_id, Content.DOCUMENT)
    assert (AlarmKind.INTERRUPTED_CYCLE, nb) in alarms(st)
    assert [o.id for o in st.flows.staffwork.counter_orders() if o.id == b.order_id] == [b.order_id]


def test_target_unanswered_without_sensor_waits_for_staff(bare: Station) -> None:
    st = bare
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    src = st.load(sid, c)
    st.flows.move.start(sid, c.order_id)
    close(st, src, take=True)
    target = st.flows.move.source_answer(sid, src, True)
    assert target is not None
    st.flows.move.open_target(sid, target)
    close(st, target, put=True)
    st.clock.advance(st.config.timing.answer_s + 1)
    st.flows.doors.check_timers()
    assert [p.number for p in st.flows.move.pending()] == [target]  # nobody said: open it again and look
    assert (AlarmKind.INTERRUPTED_CYCLE, target) in alarms(st)
    st.flows.move.open_target(sid, target)
    close(st, target)  # the envelope was inside already
    st.flows.move.target_answer(sid, target, True)
    assert (AlarmKind.INTERRUPTED_CYCLE, target) not in alarms(st)
    assert collect(st, c) == target


# -- a restart in the middle ----------------------------------------------------------------------------------------
def test_restart_with_the_source_open_continues_the_move(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    src = st.load(sid, c)
    st.flows.move.start(sid, c.order_id)
    st.pump()
    st.restart()
    close(st, src, take=True)
    [target] = st.flows.move.pending()
    sid = st.staff_session()
    st.flows.move.open_target(sid, target.number)
    close(st, target.number, put=True)
    assert collect(st, c) == target.number


def test_restart_while_staff_hold_the_envelope_keeps_the_target(st: Station) -> None:
    sid, c, _src, target = in_hands(st)
    st.restart()
    assert [p.number for p in st.flows.move.pending()] == [target.number]
    assert where(st, c) == (OrderState.STORED, target.number)
    assert (AlarmKind.INTERRUPTED_CYCLE, target.number) in alarms(st)
    sid = st.staff_session()
    st.flows.move.open_target(sid, target.number)
    close(st, target.number, put=True)
    assert (AlarmKind.INTERRUPTED_CYCLE, target.number) not in alarms(st)
    assert collect(st, c) == target.number


def test_restart_with_the_target_open_finishes_by_the_sensor(st: Station) -> None:
    sid, c, _src, target = in_hands(st)
    st.flows.move.open_target(sid, target.number)
    st.pump()
    st.bank.put_item(target.number)
    st.bank.close(target.number)  # closed while the station was down
    st.restart()
    st.pump()
    assert st.store.compartment(target.number).state == CompartmentState.OCCUPIED
    assert len(outbox(st, "moved")) == 1
    assert collect(st, c) == target.number


def test_restart_after_the_source_pulse_without_sensor_is_for_staff(bare: Station) -> None:
    st = bare
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    src = st.load(sid, c)
    with st.store.change("test") as tx:  # killed after the commit, before the pulse
        comp = tx.compartment(src)
        tx.set_compartment(
            comp, CompartmentState.OPENING, why="move", purpose=OpenPurpose.MOVE, resume_state=comp.state
        )
    st.restart()
    comp = st.store.compartment(src)
    assert (comp.state, comp.order_id, comp.content) == (CompartmentState.FAULTY, c.order_id, Content.DOCUMENT)
    assert where(st, c) == (OrderState.STORED, src)
    assert (AlarmKind.INTERRUPTED_CYCLE, src) in alarms(st)


def test_a_forced_target_goes_on_as_the_move(st: Station) -> None:
    _sid, c, _src, target = in_hands(st)
    st.bank.force(target.number)
    st.pump()
    assert (AlarmKind.DOOR_FORCED, target.number) in alarms(st)
    close(st, target.number, put=True)
    assert collect(st, c) == target.number


def test_only_a_stored_document_in_a_quiet_compartment_moves(st: Station) -> None:
    sid = st.staff_session()
    c, d = st.announce("ORD-0001"), st.announce("ORD-0002")
    with pytest.raises(FlowError):  # announced, not in a compartment
        st.flows.move.start(sid, c.order_id)
    with pytest.raises(FlowError):
        st.flows.move.start(sid, "ORD-9999")
    st.load(sid, c)
    st.flows.pickup.confirm_receipt(st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr)), STATEMENT)
    with pytest.raises(FlowError):  # a pickup is under way
        st.flows.move.start(sid, c.order_id)
    assert [o.id for o in st.flows.move.movable()] == []
    del d
