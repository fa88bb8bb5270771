"""What a closed door means: left-behind documents, boards without item sensor, old ID cards, receipt statements."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from locker import audit
from locker.errors import BadInput, DoorDidNotOpen, FlowError, ManualPathLocked, NotCollectable, WrongCode
from locker.flows import VerifiedPickup
from locker.model import AlarmKind, CompartmentState, Content, OrderState, Statement
from tests.harness import STATEMENT, Codes, Station, make_station


def alarms(st: Station) -> set[tuple[AlarmKind, int | None]]:
    return {(k, c) for k, c, _b, _t in st.store.open_alarms()}


def outbox(st: Station, kind: str) -> list[dict[str, object]]:
    rows = st.database.query("SELECT body FROM outbox WHERE kind = ? ORDER BY seq", (kind,))
    return [json.loads(r["body"]) for r in rows]


def entries(st: Station, kind: str) -> list[dict[str, object]]:
    return [e.event for e in audit.entries(st.database) if e.event["type"] == kind]


def state(st: Station, c: Codes) -> OrderState:
    o = st.store.order(c.order_id)
    assert o is not None
    return o.state


def opened(st: Station, c: Codes) -> tuple[VerifiedPickup, int]:
    v = st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr))
    n = st.flows.pickup.confirm_receipt(v, STATEMENT)
    st.pump()
    return v, n


def close(st: Station, n: int, *, take: bool) -> None:
    if take:
        st.bank.take_item(n)
    st.bank.close(n)
    st.pump()


# -- boards with item sensors: the sensor decides ---------------------------------------------------------------
def test_document_left_behind_stays_collectable_and_alarms(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    n = st.load(sid, c)
    v, _ = opened(st, c)
    close(st, n, take=False)  # the citizen closes the door without taking the document
    assert state(st, c) == OrderState.STORED
    comp = st.store.compartment(n)
    assert (comp.state, comp.content, comp.order_id) == (CompartmentState.OCCUPIED, Content.DOCUMENT, c.order_id)
    assert (AlarmKind.DOCUMENT_LEFT_BEHIND, n) in alarms(st)
    assert outbox(st, "collected") == []
    assert entries(st, "pickup.left_behind")[0]["by"] == "sensor"
    # never chosen for loading while occupied
    other = st.announce("ORD-0002")
    assert st.load(sid, other) != n
    # the screen offers to open again: this time the document is taken
    assert st.flows.pickup.open_again(v) == n
    close(st, n, take=True)
    assert state(st, c) == OrderState.COLLECTED
    assert (AlarmKind.DOCUMENT_LEFT_BEHIND, n) not in alarms(st)
    assert st.store.compartment(n).state == CompartmentState.FREE


def test_left_behind_document_opens_again_with_the_same_code_on_a_later_visit(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    n = st.load(sid, c)
    opened(st, c)
    close(st, n, take=False)
    _v, again = opened(st, c)  # the same QR code, another visit
    assert again == n
    close(st, n, take=True)
    assert state(st, c) == OrderState.COLLECTED
    with pytest.raises(NotCollectable):
        st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr))


def test_proof_names_method_statement_and_witness(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    n = st.load(sid, c)
    statement = Statement("confirm.statement", "fd97ed78df102b68", "uk")
    v = st.flows.pickup.verify(st.flows.pickup.enter_manual(c.pickup_number, c.pin))
    st.flows.pickup.confirm_receipt(v, statement)
    close(st, n, take=True)
    [ev] = outbox(st, "collected")
    proof = ev["proof"]
    assert isinstance(proof, dict)
    assert proof["method"] == "manual" and proof["taken"] == "sensor"
    assert proof["statement"] == {"id": "confirm.statement", "version": "fd97ed78df102b68", "language": "uk"}
    [entry] = entries(st, "pickup.handover")
    assert entry["statement"] == proof["statement"] and entry["method"] == "manual"
    [receipt] = entries(st, "pickup.receipt_confirmed")
    assert receipt["statement"] == proof["statement"]
    seq = proof["audit_seq"]
    assert isinstance(seq, int)
    [text] = audit.entry_texts(st.database, seq - 1, seq)  # the proof points at the handover entry itself
    assert json.loads(text)["type"] == "pickup.handover"


@pytest.mark.parametrize(
    "bad",
    [Statement("", "v1", "de"), Statement("confirm.statement", "", "de"), Statement("x", "v1", "german")],
)
def test_a_statement_without_id_version_or_language_is_refused(st: Station, bad: Statement) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    st.load(sid, c)
    v = st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr))
    before = st.database.query("SELECT * FROM orders")
    with pytest.raises(BadInput):
        st.flows.pickup.confirm_receipt(v, bad)
    assert st.database.query("SELECT * FROM orders") == before


def test_old_id_is_its_own_step_after_the_compartment_is_empty(tmp_path: Path) -> None:
    st = make_station(tmp_path, old_id_return=True)
    sid = st.staff_session()
    c = st.announce("ORD-0001", return_old_id=True)
    n = st.load(sid, c)
    v, _ = opened(st, c)
    close(st, n, take=False)  # the new document left inside is not an old ID
    assert state(st, c) == OrderState.STORED
    with pytest.raises(NotCollectable):
        st.flows.pickup.open_for_old_id(v)
    st.flows.pickup.open_again(v)
    close(st, n, take=True)
    assert state(st, c) == OrderState.COLLECTED
    assert st.flows.pickup.open_for_old_id(v) == n  # the screen asks for the old ID and opens the door again
    st.pump()
    st.bank.put_item(n)
    close(st, n, take=False)
    comp = st.store.compartment(n)
    assert (comp.state, comp.content, comp.order_id) == (CompartmentState.OCCUPIED, Content.OLD_ID, c.order_id)
    assert outbox(st, "old_id_returned") == [
        {**outbox(st, "old_id_returned")[0], "order": c.order_id, "compartment": n, "by": "sensor"}
    ]
    assert [x.number for x in st.flows.staffwork.returnable()] == [n]
    st.flows.staffwork.take_out(sid, n)
    close(st, n, take=True)
    assert st.store.compartment(n).state == CompartmentState.FREE
    assert [e["order"] for e in outbox(st, "old_id_taken")] == [c.order_id]


def test_old_id_door_closed_empty_returns_nothing(tmp_path: Path) -> None:
    st = make_station(tmp_path, old_id_return=True)
    sid = st.staff_session()
    c = st.announce("ORD-0001", return_old_id=True)
    n = st.load(sid, c)
    v, _ = opened(st, c)
    close(st, n, take=True)
    st.flows.pickup.open_for_old_id(v)
    st.pump()
    close(st, n, take=False)
    comp = st.store.compartment(n)
    assert (comp.state, comp.order_id) == (CompartmentState.FREE, None)
    assert outbox(st, "old_id_returned") == []
    with pytest.raises(NotCollectable):  # an order that asks for no old ID never opens a door for one
        st.flows.pickup.open_for_old_id(VerifiedPickup(c.order_id, n, v.method, False))


# -- boards without item sensors: a person says what is inside ---------------------------------------------------
def test_loading_without_sensor_waits_for_staff_before_stored(bare: Station) -> None:
    sid = bare.staff_session()
    c = bare.announce("ORD-0001")
    a = bare.flows.loading.scan_label(sid, f"WIBOXL1:{c.order_id}")
    bare.pump()
    close(bare, a.compartment, take=False)  # an empty door close: nobody can tell
    assert bare.store.compartment(a.compartment).state == CompartmentState.CHECKING
    assert state(bare, c) == OrderState.ANNOUNCED and outbox(bare, "stored") == []
    bare.flows.loading.envelope_inside(sid, a.compartment, False)  # staff: the compartment is empty
    assert bare.store.compartment(a.compartment).state == CompartmentState.FREE
    assert bare.store.order(c.order_id).compartment is None  # type: ignore[union-attr]
    # loaded again, reopened once, then confirmed
    a = bare.flows.loading.scan_label(sid, f"WIBOXL1:{c.order_id}")
    bare.pump()
    close(bare, a.compartment, take=False)
    bare.flows.loading.reopen(sid, a.compartment)
    bare.pump()
    close(bare, a.compartment, take=False)
    bare.flows.loading.envelope_inside(sid, a.compartment, True)
    assert state(bare, c) == OrderState.STORED
    assert [e["order"] for e in outbox(bare, "stored")] == [c.order_id]
    assert entries(bare, "load.inside")[0]["by"] == "staff"
    with pytest.raises(FlowError):  # nothing waits for an answer any more
        bare.flows.loading.envelope_inside(sid, a.compartment, True)


def test_unanswered_loading_turns_faulty_without_notice(bare: Station) -> None:
    sid = bare.staff_session()
    c = bare.announce("ORD-0001")
    a = bare.flows.loading.scan_label(sid, f"WIBOXL1:{c.order_id}")
    bare.pump()
    close(bare, a.compartment, take=False)
    bare.clock.advance(bare.config.timing.answer_s - 1)
    bare.flows.doors.check_timers()
    assert bare.store.compartment(a.compartment).state == CompartmentState.CHECKING
    bare.clock.advance(2)
    bare.flows.doors.check_timers()
    comp = bare.store.compartment(a.compartment)
    assert (comp.state, comp.order_id) == (CompartmentState.FAULTY, None)
    assert state(bare, c) == OrderState.ANNOUNCED and outbox(bare, "stored") == []
    assert (AlarmKind.INTERRUPTED_CYCLE, a.compartment) in alarms(bare)


def test_pickup_without_sensor_needs_the_citizens_word(bare: Station) -> None:
    sid = bare.staff_session()
    c = bare.announce("ORD-0001")
    n = bare.load(sid, c)
    v, _ = opened(bare, c)
    close(bare, n, take=False)
    assert bare.store.compartment(n).state == CompartmentState.CHECKING
    assert state(bare, c) == OrderState.COLLECTING
    assert bare.flows.pickup.open_again(v) == n  # "No, open the compartment again"
    close(bare, n, take=True)
    bare.flows.pickup.taken(v)  # "Yes, I have my document"
    assert state(bare, c) == OrderState.COLLECTED
    assert bare.store.compartment(n).state == CompartmentState.FREE
    [ev] = outbox(bare, "collected")
    assert ev["proof"]["taken"] == "citizen"  # type: ignore[index]
    with pytest.raises(NotCollectable):
        bare.flows.pickup.taken(v)


@pytest.mark.parametrize("how", ["walked_away", "timer"])
def test_unanswered_pickup_counts_as_left_behind(bare: Station, how: str) -> None:
    sid = bare.staff_session()
    c = bare.announce("ORD-0001")
    n = bare.load(sid, c)
    v, _ = opened(bare, c)
    close(bare, n, take=True)
    if how == "walked_away":
        bare.flows.pickup.walked_away(v)
    else:
        bare.clock.advance(bare.config.timing.answer_s + 1)
        bare.flows.doors.check_timers()
    assert state(bare, c) == OrderState.STORED
    assert bare.store.order(c.order_id).code_used is False  # type: ignore[union-attr]
    assert bare.store.compartment(n).state == CompartmentState.OCCUPIED
    assert (AlarmKind.DOCUMENT_LEFT_BEHIND, n) in alarms(bare)
    assert entries(bare, "pickup.left_behind")[0]["by"] == "unanswered"


def test_old_id_without_sensor_by_the_citizens_word(tmp_path: Path) -> None:
    st = make_station(tmp_path, item_sensors=False, old_id_return=True)
    sid = st.staff_session()
    c = st.announce("ORD-0001", return_old_id=True)
    n = st.load(sid, c)
    v, _ = opened(st, c)
    close(st, n, take=True)
    st.flows.pickup.taken(v)
    st.flows.pickup.open_for_old_id(v)
    st.pump()
    close(st, n, take=False)
    assert st.store.compartment(n).state == CompartmentState.CHECKING
    st.flows.pickup.old_id_inside(v, True)
    comp = st.store.compartment(n)
    assert (comp.state, comp.content) == (CompartmentState.OCCUPIED, Content.OLD_ID)
    assert outbox(st, "old_id_returned")[0]["by"] == "citizen"


def test_staff_cannot_disable_a_compartment_waiting_for_an_answer(bare: Station) -> None:
    sid = bare.staff_session()
    c = bare.announce("ORD-0001")
    n = bare.load(sid, c)
    opened(bare, c)
    close(bare, n, take=True)
    with pytest.raises(FlowError):
        bare.flows.staffwork.disable(sid, n, "checking hinge")
    assert bare.store.compartment(n).state == CompartmentState.CHECKING


def test_a_forced_door_during_the_question_is_no_handover(bare: Station) -> None:
    sid = bare.staff_session()
    c = bare.announce("ORD-0001")
    n = bare.load(sid, c)
    opened(bare, c)
    close(bare, n, take=True)
    bare.bank.force(n)
    bare.pump()
    assert bare.store.compartment(n).state == CompartmentState.FAULTY
    assert state(bare, c) == OrderState.STORED and outbox(bare, "collected") == []
    assert (AlarmKind.DOOR_FORCED, n) in alarms(bare)


# -- staff hand a document over at the counter ------------------------------------------------------------------
def test_counter_handover_from_a_compartment(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    n = st.load(sid, c)
    assert [o.id for o in st.flows.staffwork.counter_orders()] == [c.order_id]
    statement = Statement("confirm.statement", "0123456789abcdef", "tr")
    assert st.flows.staffwork.counter_hand_over(sid, c.order_id, statement) == n
    close(st, n, take=True)
    assert state(st, c) == OrderState.COLLECTED
    assert st.store.compartment(n).state == CompartmentState.FREE
    [ev] = outbox(st, "collected")
    proof = ev["proof"]
    assert isinstance(proof, dict)
    assert (proof["method"], proof["taken"], proof["staff"]) == ("counter", "sensor", ["ANNA-01"])
    assert proof["statement"] == statement.as_dict()
    with pytest.raises(NotCollectable):  # the citizen's code is of no use any more
        st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr))


def test_counter_handover_after_a_jam_keeps_the_compartment_for_staff(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    n = st.load(sid, c)
    st.bank.jam(n)
    v = st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr))
    with pytest.raises(DoorDidNotOpen):
        st.flows.pickup.confirm_receipt(v, STATEMENT)
    st.bank.jam(n, False)  # staff free the lock; the citizen is at the counter
    st.flows.staffwork.counter_hand_over(sid, c.order_id, STATEMENT)
    close(st, n, take=True)
    assert state(st, c) == OrderState.COLLECTED
    assert st.store.compartment(n).state == CompartmentState.FAULTY  # still to be checked and enabled


def test_counter_handover_document_still_inside_changes_nothing(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    n = st.load(sid, c)
    st.flows.staffwork.counter_hand_over(sid, c.order_id, STATEMENT)
    close(st, n, take=False)
    assert state(st, c) == OrderState.STORED
    assert st.store.compartment(n).state == CompartmentState.OCCUPIED
    assert outbox(st, "collected") == []
    opened(st, c)  # the citizen's code still opens it
    close(st, n, take=True)
    assert state(st, c) == OrderState.COLLECTED


def test_counter_handover_of_a_returned_document_and_without_sensor(tmp_path: Path) -> None:
    st = make_station(tmp_path, item_sensors=False)
    sid = st.staff_session()
    a, b = st.announce("ORD-0001", days=1), st.announce("ORD-0002")
    na, nb = st.load(sid, a), st.load(sid, b)
    st.clock.advance(2 * 86400)
    st.flows.orders.expire_due()
    sid = st.staff_session()  # a new day, a new login
    st.flows.staffwork.take_out(sid, na)
    close(st, na, take=True)
    assert state(st, a) == OrderState.RETURNED
    assert st.flows.staffwork.counter_hand_over(sid, a.order_id, STATEMENT) is None  # at the office: no door
    assert state(st, a) == OrderState.COLLECTED
    [ev] = outbox(st, "collected")
    assert ev["compartment"] is None and ev["proof"]["method"] == "counter"  # type: ignore[index]
    st.flows.staffwork.counter_hand_over(sid, b.order_id, STATEMENT)
    close(st, nb, take=True)
    assert st.store.compartment(nb).state == CompartmentState.CHECKING
    st.flows.staffwork.counter_taken(sid, nb, True)
    assert state(st, b) == OrderState.COLLECTED
    assert outbox(st, "collected")[1]["proof"]["taken"] == "staff"  # type: ignore[index]
    with pytest.raises(FlowError):
        st.flows.staffwork.counter_hand_over(sid, b.order_id, STATEMENT)


# -- the manual path: counted, and its lock told to the hub --------------------------------------------------------
def test_the_pin_that_locks_the_manual_path_tells_the_hub(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001")
    st.load(sid, c)
    wrong = f"{(int(c.pin) + 1) % 10**6:06d}"
    limit = st.config.policy.manual_max_failures
    for i in range(limit):
        with pytest.raises(WrongCode):
            st.flows.pickup.verify(st.flows.pickup.enter_manual(c.pickup_number, wrong), identity=f"visit-{i}")
    assert [e["locked"] for e in outbox(st, "manual_path")] == [True]  # once, with the PIN that locked it
    with pytest.raises(ManualPathLocked):
        st.flows.pickup.verify(st.flows.pickup.enter_manual(c.pickup_number, c.pin), identity="visit-x")
    with pytest.raises(WrongCode):
        st.flows.pickup.verify(st.flows.pickup.enter_manual("99999999", wrong), identity="visit-y")
    assert st.store.meta("pin_failures_total") == str(limit + 2)  # every wrong manual code at this station
    st.flows.staffwork.reset_manual_path(sid, c.order_id)
    assert [e["locked"] for e in outbox(st, "manual_path")] == [True, False]


def test_a_left_behind_document_that_expires_is_taken_out_and_its_alarm_clears(st: Station) -> None:
    sid = st.staff_session()
    c = st.announce("ORD-0001", days=1)
    n = st.load(sid, c)
    opened(st, c)
    close(st, n, take=False)
    assert (AlarmKind.DOCUMENT_LEFT_BEHIND, n) in alarms(st)
    assert n not in [x.number for x in st.flows.staffwork.returnable()]  # still the citizen's to collect
    st.clock.advance(2 * 86400)
    st.flows.orders.expire_due()
    sid = st.staff_session()
    assert n in [x.number for x in st.flows.staffwork.returnable()]
    st.flows.staffwork.take_out(sid, n)
    close(st, n, take=True)
    assert state(st, c) == OrderState.RETURNED
    assert (AlarmKind.DOCUMENT_LEFT_BEHIND, n) not in alarms(st)
