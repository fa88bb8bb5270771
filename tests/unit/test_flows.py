"""The flows end to end over a real SQLite file and the in-process lock bank."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from locker import audit, codes
from locker.errors import (
    BadInput,
    DoorDidNotOpen,
    FlowError,
    ManualPathLocked,
    NoFreeCompartment,
    NotCollectable,
    SessionError,
    Throttled,
    WrongCode,
)
from locker.model import AlarmKind, CompartmentState, OrderState, Size
from locker.ports import DoorEvent, DoorEventKind
from tests.harness import DAY, STATEMENT, Station, make_station


def db_digest(st: Station) -> str:
    rows: list[str] = []
    for t in ("orders", "compartments", "audit", "outbox", "failures", "alarms", "staff"):
        rows.extend(repr(tuple(r)) for r in st.database.query(f"SELECT * FROM {t}"))
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def alarms(st: Station) -> set[tuple[AlarmKind, int | None]]:
    return {(k, c) for k, c, _b, _t in st.store.open_alarms()}


@pytest.fixture
def st(tmp_path: Path) -> Station:
    return make_station(tmp_path)


def test_load_chooses_fitting_and_reachable(st: Station) -> None:
    sid = st.staff_session()
    # compartments: 1 S 200mm, 2 M 500, 3 L 800, 4 S 1100, 5 M 1400, 6 L 1700 (reach 380..1220)
    assert st.load(sid, st.announce("ORD-0001", size=Size.S)) == 1  # smallest fitting, keep reachable free
    assert st.load(sid, st.announce("ORD-0002", size=Size.S, reachable=True)) == 4
    assert st.load(sid, st.announce("ORD-0003", size=Size.L, reachable=True)) == 3
    assert st.load(sid, st.announce("ORD-0004", size=Size.M, reachable=True)) == 2
    assert st.load(sid, st.announce("ORD-0005", size=Size.M)) == 5
    assert st.load(sid, st.announce("ORD-0006", size=Size.M)) == 6
    with pytest.raises(NoFreeCompartment):
        st.flows.loading.scan_label(sid, codes.label_payload(st.announce("ORD-0007").order_id))
    stored = [e for e in st.store.pending(100) if e.kind == "stored"]
    assert len(stored) == 6  # notified only when the door closed with the document inside


def test_loading_needs_session_and_four_eyes(tmp_path: Path) -> None:
    st = make_station(tmp_path, four_eyes_loading=True)
    c = st.announce("ORD-0001")
    label = codes.label_payload(c.order_id)
    with pytest.raises(SessionError):
        st.flows.loading.scan_label("no-such-session", label)
    one = st.staff_session("ANNA-01")
    with pytest.raises(SessionError, match="four-eyes"):
        st.flows.loading.scan_label(one, label)
    with pytest.raises(SessionError, match="someone else"):
        st.flows.staff.add_second(one, "ANNA-01")
    two = st.staff_session("ANNA-01", "BERT-02")
    assert st.load(two, c) == 1
    st.clock.advance(st.config.timing.staff_session_timeout_s + 1)
    with pytest.raises(SessionError, match="timed out"):
        st.flows.staff.require(two)


def test_load_closed_empty_is_not_stored(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    a = st.flows.loading.scan_label(sid, codes.label_payload(c.order_id))
    st.bank.close(a.compartment)  # no item put in
    st.pump()
    assert st.store.order(c.order_id).state == OrderState.ANNOUNCED  # type: ignore[union-attr]
    assert st.store.compartment(a.compartment).state == CompartmentState.FREE
    assert not [e for e in st.store.pending(10) if e.kind == "stored"]


def test_qr_pickup_once_only(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    n = st.load(sid, c)
    v = st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr))
    assert st.flows.pickup.confirm_receipt(v, STATEMENT) == n
    assert st.bank.is_open(n)
    with pytest.raises(NotCollectable):
        st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr))
    st.bank.take_item(n)
    st.bank.close(n)
    st.pump()
    assert st.store.order(c.order_id).state == OrderState.COLLECTED  # type: ignore[union-attr]
    with pytest.raises(NotCollectable):
        st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr))
    with pytest.raises(NotCollectable):  # a verification made earlier cannot be replayed either
        st.flows.pickup.confirm_receipt(v, STATEMENT)
    assert st.bank.pulses(n) == 2  # one for loading, one for the pickup
    proof = [e for e in st.store.pending(100) if e.kind == "collected"]
    assert len(proof) == 1 and '"audit_hash"' in proof[0].body
    assert audit.verify(st.database).ok


def test_manual_pickup_and_wrong_codes(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    n = st.load(sid, c)
    other = "000000" if c.pin != "000000" else "111111"
    with pytest.raises(WrongCode) as e1:
        st.flows.pickup.verify(st.flows.pickup.enter_manual(c.pickup_number, other))
    with pytest.raises(WrongCode) as e2:
        st.flows.pickup.verify(st.flows.pickup.enter_manual("99999999", c.pin))
    assert str(e1.value) == str(e2.value)  # no hint which part was wrong
    v = st.flows.pickup.verify(st.flows.pickup.enter_manual(c.pickup_number, c.pin))
    assert st.flows.pickup.confirm_receipt(v, STATEMENT) == n
    assert st.store.order(c.order_id).manual_failures == 0  # type: ignore[union-attr]


def test_pin_alone_is_never_accepted(st: Station) -> None:
    c = st.announce("ORD-0001", pickup_number="12345678")
    sid = st.staff_session()
    st.load(sid, c)
    for number in ("", c.pin):
        with pytest.raises(BadInput):
            st.flows.pickup.enter_manual(number, c.pin)
    with pytest.raises(WrongCode):  # the PIN typed into the number field identifies nothing
        st.flows.pickup.verify(st.flows.pickup.enter_manual(c.pin + "00", c.pin))


def test_manual_path_locks_per_order_but_qr_still_works(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    st.load(sid, c)
    wrong = "000000" if c.pin != "000000" else "111111"
    for visit in range(5):  # five people (visits): the order's counter, not a visit's throttle, locks it
        with pytest.raises(WrongCode):
            st.flows.pickup.verify(st.flows.pickup.enter_manual(c.pickup_number, wrong), identity=f"v{visit}")
    with pytest.raises(ManualPathLocked):
        st.flows.pickup.verify(st.flows.pickup.enter_manual(c.pickup_number, c.pin))
    v = st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr))
    st.flows.pickup.confirm_receipt(v, STATEMENT)


def test_throttle_per_identity_grows_caps_and_survives_restart(st: Station) -> None:
    cfg = st.config.throttle
    verify = st.flows.pickup.verify
    for i in range(cfg.free_failures):
        with pytest.raises(WrongCode):
            verify(st.flows.pickup.enter_manual(f"{i:08d}", "123456"), identity="visit-a")
    with pytest.raises(Throttled) as t1:
        verify(st.flows.pickup.enter_manual("12345678", "123456"), identity="visit-a")
    assert 0 < t1.value.wait_s <= cfg.base_delay_s * 2
    with pytest.raises(WrongCode):  # someone else at the screen is not slowed down
        verify(st.flows.pickup.enter_manual("12345678", "123456"), identity="visit-b")
    st.restart()
    verify = st.flows.pickup.verify
    with pytest.raises(Throttled):
        verify(st.flows.pickup.enter_manual("12345678", "123456"), identity="visit-a")
    waits = [t1.value.wait_s]
    for _ in range(7):
        st.clock.advance(waits[-1] + 0.01)
        with pytest.raises(WrongCode):
            verify(st.flows.pickup.enter_manual("12345678", "123456"), identity="visit-a")
        with pytest.raises(Throttled) as t:
            verify(st.flows.pickup.enter_manual("12345678", "123456"), identity="visit-a")
        waits.append(t.value.wait_s)
    assert waits == sorted(waits) and waits[-1] > waits[0]  # grows...
    assert max(waits) <= cfg.max_delay_s  # ...but is capped: never a lockout
    assert (AlarmKind.BRUTE_FORCE, None) in alarms(st)  # 3 + 1 + 7 failures >= alarm_failures (10)
    # QR path without a second factor is never throttled
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    st.load(sid, c)
    st.flows.pickup.confirm_receipt(verify(st.flows.pickup.scan_qr(c.qr), identity="visit-a"), STATEMENT)


def test_second_factor(tmp_path: Path) -> None:
    st = make_station(tmp_path, second_factor=True)
    sid = st.staff_session()
    c = st.announce("ORD-0001", dob="1990-05-17")
    st.load(sid, c)
    pending = st.flows.pickup.scan_qr(c.qr)
    assert pending.needs_second_factor
    with pytest.raises(BadInput):
        st.flows.pickup.verify(pending)
    with pytest.raises(WrongCode):
        st.flows.pickup.verify(pending, "18051990")
    st.flows.pickup.verify(pending, "17051990")
    with pytest.raises(WrongCode):
        st.flows.pickup.verify(st.flows.pickup.enter_manual(c.pickup_number, c.pin), "01011990")
    v = st.flows.pickup.verify(st.flows.pickup.enter_manual(c.pickup_number, c.pin), "1990-05-17")
    st.flows.pickup.confirm_receipt(v, STATEMENT)


def test_door_did_not_open(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    n = st.load(sid, c)
    st.bank.jam(n)
    v = st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr))
    with pytest.raises(DoorDidNotOpen):
        st.flows.pickup.confirm_receipt(v, STATEMENT)
    assert st.bank.pulses(n) == 3  # load + one pulse + exactly one checked retry
    assert st.store.compartment(n).state == CompartmentState.FAULTY
    o = st.store.order(c.order_id)
    assert o is not None and o.state == OrderState.STORED and not o.code_used  # the door never opened
    assert (AlarmKind.DOOR_DID_NOT_OPEN, n) in alarms(st)
    with pytest.raises(NotCollectable, match="out of service"):  # until staff have looked at the lock
        st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr))
    # staff fixes the lock and takes the document out for a handover at the office
    st.bank.jam(n, False)
    assert [x.number for x in st.flows.staffwork.returnable()] == [n]
    st.flows.staffwork.take_out(sid, n)
    st.bank.take_item(n)
    st.bank.close(n)
    st.pump()
    assert st.store.order(c.order_id).state == OrderState.RETURNED  # type: ignore[union-attr]
    assert st.store.compartment(n).state == CompartmentState.FAULTY  # until staff put it back in service
    st.flows.staffwork.enable(sid, n)
    assert st.store.compartment(n).state == CompartmentState.FREE
    assert (AlarmKind.DOOR_DID_NOT_OPEN, n) not in alarms(st)


def test_a_jam_does_not_spend_the_code(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0002")
    n = st.load(sid, c)
    st.bank.jam(n)
    with pytest.raises(DoorDidNotOpen):
        st.flows.pickup.confirm_receipt(st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr)), STATEMENT)
    st.bank.jam(n, False)  # staff free the lock and put the compartment back in service
    st.flows.staffwork.enable(sid, n)
    assert st.store.compartment(n).state == CompartmentState.OCCUPIED
    v = st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr))  # the citizen's retry, with the same code
    assert st.flows.pickup.confirm_receipt(v, STATEMENT) == n
    st.pump()
    st.bank.take_item(n)
    st.bank.close(n)
    st.pump()
    o = st.store.order(c.order_id)
    assert o is not None and o.state == OrderState.COLLECTED and o.code_used
    with pytest.raises(NotCollectable):  # now it is spent
        st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr))


def test_loading_door_did_not_open_then_other_compartment(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    st.bank.jam(1)
    with pytest.raises(DoorDidNotOpen):
        st.flows.loading.scan_label(sid, codes.label_payload(c.order_id))
    assert st.store.compartment(1).state == CompartmentState.FAULTY
    assert st.load(sid, c) == 5  # next non-reachable fitting compartment


def test_forced_door_and_left_open_and_sensor(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    n = st.load(sid, c)
    st.bank.force(2)
    st.pump()
    assert st.store.compartment(2).state == CompartmentState.FAULTY
    assert (AlarmKind.DOOR_FORCED, 2) in alarms(st)
    v = st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr))
    st.flows.pickup.confirm_receipt(v, STATEMENT)
    st.clock.advance(st.config.timing.door_open_alarm_s + 1)
    assert st.flows.doors.check_timers() == [n]
    assert (AlarmKind.DOOR_LEFT_OPEN, n) in alarms(st)
    st.bank.close(n)
    st.pump()
    assert (AlarmKind.DOOR_LEFT_OPEN, n) not in alarms(st)
    st.flows.doors.handle(DoorEvent(DoorEventKind.ITEM_PRESENT, 3, st.clock.now()))
    assert st.store.compartment(3).state == CompartmentState.FAULTY
    assert (AlarmKind.SENSOR_DISAGREES, 3) in alarms(st)
    st.flows.staffwork.enable(sid, 3)
    assert st.store.compartment(3).state == CompartmentState.FREE
    assert (AlarmKind.SENSOR_DISAGREES, 3) not in alarms(st)
    st.flows.doors.handle(DoorEvent(DoorEventKind.BOARD_OFFLINE, None, st.clock.now(), board="bus0/0"))
    assert (AlarmKind.BOARD_OFFLINE, None) in alarms(st)
    st.flows.doors.handle(DoorEvent(DoorEventKind.BOARD_ONLINE, None, st.clock.now(), board="bus0/0"))
    assert (AlarmKind.BOARD_OFFLINE, None) not in alarms(st)


def test_expiry_cancel_and_return(st: Station) -> None:
    sid = st.staff_session()
    c1 = st.announce("ORD-0001", days=1)
    c2 = st.announce("ORD-0002", days=10)
    c3 = st.announce("ORD-0003", days=1)
    n1 = st.load(sid, c1)
    n2 = st.load(sid, c2)
    st.clock.advance(DAY + 1)
    sid = st.staff_session()  # the earlier session timed out meanwhile
    assert sorted(st.flows.orders.expire_due()) == ["ORD-0001", "ORD-0003"]
    with pytest.raises(NotCollectable, match="period is over"):
        st.flows.pickup.verify(st.flows.pickup.scan_qr(c1.qr))
    assert st.flows.orders.cancel(c2.order_id) == OrderState.CANCELLED
    with pytest.raises(NotCollectable):
        st.flows.pickup.verify(st.flows.pickup.scan_qr(c2.qr))
    assert sorted(x.number for x in st.flows.staffwork.returnable()) == sorted([n1, n2])
    for n in (n1, n2):
        st.flows.staffwork.take_out(sid, n)
        st.bank.take_item(n)
        st.bank.close(n)
        st.pump()
    assert st.store.order(c1.order_id).state == OrderState.RETURNED  # type: ignore[union-attr]
    assert st.store.order(c2.order_id).state == OrderState.RETURNED  # type: ignore[union-attr]
    assert st.store.order(c3.order_id).state == OrderState.EXPIRED  # type: ignore[union-attr]
    assert {e.kind for e in st.store.pending(100)} >= {"expired", "returned"}


def test_maintenance_disable_enable(st: Station) -> None:
    sid = st.staff_session()
    with pytest.raises(BadInput):
        st.flows.staffwork.maintenance_open(sid, 2, "")
    st.flows.staffwork.maintenance_open(sid, 2, "check hinge")
    assert st.store.compartment(2).state == CompartmentState.OPENING
    st.bank.close(2)
    st.pump()
    assert st.store.compartment(2).state == CompartmentState.FREE
    st.flows.staffwork.disable(sid, 2, "lock broken")
    assert st.store.compartment(2).state == CompartmentState.DISABLED
    c = st.announce("ORD-0001", size=Size.M)
    assert st.load(sid, c) == 5  # the disabled M compartment is skipped
    st.flows.staffwork.enable(sid, 2)
    assert st.store.compartment(2).state == CompartmentState.FREE
    events = [e.event for e in audit.entries(st.database)]
    assert any(e.get("reason") == "check hinge" for e in events)


@pytest.mark.parametrize(
    "action",
    [
        lambda st, sid: st.flows.pickup.scan_qr("WIBOX1:garbage"),
        lambda st, sid: st.flows.pickup.enter_manual("1234", "123456"),
        lambda st, sid: st.flows.pickup.enter_manual("12345678", "12"),
        lambda st, sid: st.flows.loading.scan_label(sid, "not a label"),
        lambda st, sid: st.flows.loading.scan_label(sid, "WIBOXL1:ORD-9999"),
        lambda st, sid: st.flows.staffwork.maintenance_open("nope", 1, "reason"),
        lambda st, sid: st.flows.staffwork.disable(sid, 1, "x"),
    ],
)
def test_bad_input_changes_nothing(tmp_path: Path, action: object) -> None:
    st = make_station(tmp_path)
    sid = st.staff_session()
    st.load(sid, st.announce("ORD-0001"))
    before = db_digest(st)
    with pytest.raises((BadInput, SessionError)):
        action(st, sid)  # type: ignore[operator]
    assert db_digest(st) == before


def test_recovery_after_crash_between_commit_and_unlock(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    n = st.load(sid, c)
    # Simulate the crash: the commit happened, the lock was never energised.
    v = st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr))
    st.bank.jam(n)
    with pytest.raises(DoorDidNotOpen):
        st.flows.pickup.confirm_receipt(v, STATEMENT)
    # (the did-not-open path covers a dead lock; now the crash itself:)
    st.bank.jam(n, False)
    c2 = st.announce("ORD-0002")
    n2 = st.load(sid, c2)
    with st.store.change("citizen") as tx:
        order = tx.order(c2.order_id)
        tx.set_order(order, OrderState.COLLECTING, why="receipt_confirmed", code_used=True)
        comp = tx.compartment(n2)
        tx.set_compartment(comp, CompartmentState.OPENING, why="pickup", purpose="pickup", resume_state="occupied")
    st.restart()  # door still closed, document still inside, recent: re-armed
    assert st.store.order(c2.order_id).state == OrderState.STORED  # type: ignore[union-attr]
    assert st.store.compartment(n2).state == CompartmentState.OCCUPIED
    v2 = st.flows.pickup.verify(st.flows.pickup.scan_qr(c2.qr))
    st.flows.pickup.confirm_receipt(v2, STATEMENT)
    # crash after the door opened (not yet recorded): restart sees it open and continues
    with st.store.change("test") as tx:
        tx.set_compartment(tx.compartment(n2), why="test", door_confirmed_at=None)
    st.restart()
    assert st.store.compartment(n2).door_confirmed_at is not None
    st.bank.take_item(n2)
    st.bank.close(n2)
    st.pump()
    assert st.store.order(c2.order_id).state == OrderState.COLLECTED  # type: ignore[union-attr]
    assert audit.verify(st.database).ok


def test_recovery_without_item_sensor_goes_to_staff(tmp_path: Path) -> None:
    st = make_station(tmp_path, item_sensors=False)
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    n = st.load(sid, c)
    with st.store.change("citizen") as tx:
        tx.set_order(tx.order(c.order_id), OrderState.COLLECTING, why="receipt_confirmed", code_used=True)
        tx.set_compartment(tx.compartment(n), CompartmentState.OPENING, why="pickup", purpose="pickup")
    st.restart()
    assert st.store.compartment(n).state == CompartmentState.FAULTY
    assert (AlarmKind.INTERRUPTED_CYCLE, n) in alarms(st)
    with pytest.raises(NotCollectable):
        st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr))
    assert [x.number for x in st.flows.staffwork.returnable()] == [n]


def test_announce_validation_all_or_nothing(st: Station) -> None:
    st.announce("ORD-0001", pickup_number="11112222")
    with pytest.raises(BadInput, match="pickup number"):
        st.announce("ORD-0002", pickup_number="11112222")
    assert st.store.order("ORD-0002") is None
    with pytest.raises(FlowError):
        sid = st.staff_session()
        st.flows.loading.scan_label(sid, codes.label_payload("ORD-0001"))
        st.flows.orders.cancel("ORD-0001")


def _commit_cycle(st: Station, n: int, order_id: str | None, purpose: str) -> None:
    """The state a crash leaves between the commit of a door cycle and the confirmation of its opening."""
    with st.store.change("test") as tx:
        if purpose == "pickup" and order_id:
            tx.set_order(tx.order(order_id), OrderState.COLLECTING, why="receipt_confirmed", code_used=True)
        c = tx.compartment(n)
        tx.set_compartment(c, CompartmentState.OPENING, why=purpose, purpose=purpose, resume_state=c.state)


def test_recovery_pickup_taken_while_down_is_collected(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    n = st.load(sid, c)
    _commit_cycle(st, n, c.order_id, "pickup")
    st.bank.take_item(n)  # the pulse went out, the citizen took the document and closed the door: all while down
    st.restart()
    assert st.store.order(c.order_id).state == OrderState.COLLECTED  # type: ignore[union-attr]
    assert st.store.compartment(n).state == CompartmentState.FREE
    assert any(e.kind == "collected" for e in st.store.pending(100))
    whys = [e.event.get("why") for e in audit.entries(st.database)]
    assert "recovery.opened_while_down" in whys


def test_recovery_return_taken_while_down_and_without_sensor(tmp_path: Path) -> None:
    for sensors in (True, False):
        st = make_station(tmp_path / str(sensors), item_sensors=sensors)
        sid = st.staff_session()
        c = st.announce("ORD-0001", days=1)
        n = st.load(sid, c)
        st.clock.advance(DAY + 1)
        st.flows.orders.expire_due()
        _commit_cycle(st, n, c.order_id, "return")
        st.bank.take_item(n)
        st.restart()
        if sensors:
            assert st.store.order(c.order_id).state == OrderState.RETURNED  # type: ignore[union-attr]
            assert st.store.compartment(n).state == CompartmentState.FREE
        else:
            assert st.store.compartment(n).state == CompartmentState.FAULTY
            assert (AlarmKind.INTERRUPTED_CYCLE, n) in alarms(st)


def test_recovery_reconciles_item_sensors_outside_cycles(st: Station) -> None:
    sid = st.staff_session()
    n = st.load(sid, st.announce("ORD-0001"))
    st.bank.take_item(n)  # occupied, but the sensor reads empty
    st.bank.put_item(2)  # free, but something lies in it
    st.restart()
    assert st.store.compartment(n).state == CompartmentState.FAULTY
    assert st.store.compartment(2).state == CompartmentState.FAULTY
    assert {(AlarmKind.SENSOR_DISAGREES, n), (AlarmKind.SENSOR_DISAGREES, 2)} <= alarms(st)
    assert st.store.compartment(3).state == CompartmentState.FREE
