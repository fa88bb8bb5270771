"""Accepted bundles: first bundle, a chain, cancellations and staff, updates, full sync, key rotation, round trip."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Any

import pytest

from backend_sync import event_bodies
from backend_sync import protocol as p
from backend_sync.errors import TamperError
from backend_sync.keys import Signer
from locker import audit, codes
from locker.doctypes import DocumentType
from locker.errors import FlowError, WrongCode
from locker.flows.bundle import ApplyResult, load_time_floor
from locker.model import AlarmKind, NewOrder, OrderState, Size, StaffAccount
from tests.harness import DAY, STATEMENT, Codes
from tests.sync.rig import SHARED_PIN_VERIFIER, Rig, make_rig, order

STAFF_PIN = "424242"


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return make_rig(tmp_path)


def apply(rig: Rig, **kw: Any) -> p.Manifest:
    return receive(rig, **kw)[1]


def receive(rig: Rig, **kw: Any) -> tuple[ApplyResult, p.Manifest]:
    built = rig.build(**kw)
    result = rig.receiver.receive(built.data)
    rig.accepted(built)
    return result, built.manifest


def new_staff(staff_id: str, roles: tuple[str, ...] = ("loader",)) -> tuple[codes.Badge, StaffAccount]:
    """What the hub does when it creates a staff account: a badge to print, verifiers to sync."""
    badge = codes.Badge(staff_id, codes.new_token())
    account = StaffAccount(
        staff_id, codes.badge_hash(badge), codes.staff_pin_verifier(staff_id, STAFF_PIN), roles, True
    )
    return badge, account


def test_first_bundle(rig: Rig) -> None:
    now = rig.now()
    m = apply(rig, orders=[order("ORD-1", now=now), order("ORD-2", now=now, size=Size.L)])
    head = rig.flow.head()
    assert (head.seq, head.hash, head.issued_at) == (1, rig.head_hash, float(now))
    assert m.prev_hash == p.GENESIS_HASH
    o = rig.st.store.order("ORD-2")
    assert o is not None and o.state == OrderState.ANNOUNCED and o.size == Size.L
    assert o.pin_verifier == SHARED_PIN_VERIFIER
    # time floor persisted in the same transaction and pushed to the clock after commit
    assert load_time_floor(rig.st.store) == float(now)
    assert rig.floor.raised == [float(now)]
    assert audit.verify(rig.st.database).ok
    kinds = [json.loads(e.body)["kind"] for e in rig.st.store.pending(100)]
    assert kinds == ["bundle_applied"]
    assert rig.spy.calls == 1


def test_chain_of_three(rig: Rig) -> None:
    for i in range(1, 4):
        rig.st.clock.advance(3600)
        m = apply(rig, orders=[order(f"ORD-{i}", now=rig.now())])
        assert m.seq == i
    assert rig.flow.head().seq == 3
    assert {o.id for o in rig.st.store.orders()} == {"ORD-1", "ORD-2", "ORD-3"}
    assert load_time_floor(rig.st.store) == float(rig.now())
    rows = rig.st.database.query("SELECT seq, hash, prev_hash FROM sync_manifests ORDER BY seq")
    assert [bytes(r["prev_hash"]) for r in rows[1:]] == [bytes(r["hash"]) for r in rows[:-1]]


def test_cancellations_and_staff(rig: Rig) -> None:
    now = rig.now()
    anna_badge, anna = new_staff("ANNA-01")
    ben_badge, ben = new_staff("BEN-02", ("loader", "maintenance"))
    apply(rig, orders=[order("ORD-1", now=now), order("ORD-2", now=now)], staff=[anna])
    assert rig.st.flows.staff.authenticate(anna_badge.payload, STAFF_PIN) == "ANNA-01"

    anna_off = StaffAccount(anna.id, anna.badge_hash, anna.pin_verifier, anna.roles, False)
    result, _ = receive(rig, cancellations=["ORD-1", "ORD-404"], staff=[anna_off, ben])
    assert result.cancelled == ["ORD-1"]
    assert result.cancel_unknown == ["ORD-404"]
    assert sorted(result.staff_changed) == ["ANNA-01", "BEN-02"]
    o1, o2 = rig.st.store.order("ORD-1"), rig.st.store.order("ORD-2")
    assert o1 is not None and o1.state == OrderState.CANCELLED
    assert o2 is not None and o2.state == OrderState.ANNOUNCED
    with pytest.raises(WrongCode):
        rig.st.flows.staff.authenticate(anna_badge.payload, STAFF_PIN)
    assert rig.st.flows.staff.authenticate(ben_badge.payload, STAFF_PIN) == "BEN-02"
    rec = rig.st.store.staff("BEN-02")
    assert rec is not None and rec.roles == ("loader", "maintenance")
    events = [e.event["type"] for e in audit.entries(rig.st.database)]
    assert events.count("staff.synced") == 3
    assert audit.verify(rig.st.database).ok


def test_known_order_validity_extension_and_reissue(rig: Rig) -> None:
    now = rig.now()
    first = order("ORD-1", now=now)
    apply(rig, orders=[first])
    longer = NewOrder(**{**first.__dict__, "valid_until": first.valid_until + 7 * DAY})
    r, _ = receive(rig, orders=[longer])
    assert r.updated == ["ORD-1"] and r.inserted == []
    o = rig.st.store.order("ORD-1")
    assert o is not None and o.valid_until == first.valid_until + 7 * DAY
    r, _ = receive(rig, orders=[longer])  # same again: nothing to do
    assert r.skipped == ["ORD-1"] and r.updated == []
    last = audit.entries(rig.st.database)[-3].event
    assert last["type"] == "order.update" and last["fields"] == "valid_until"
    assert "pin_verifier" not in json.dumps([e.event for e in audit.entries(rig.st.database)])


def test_stored_order_keeps_its_size_but_gets_new_codes(rig: Rig) -> None:
    c = rig_order_with_codes(rig, "ORD-5")
    sid = rig.st.staff_session()
    rig.st.load(sid, c)
    fresh = codes.issue_codes("ORD-5", c.pickup_number)
    resent = NewOrder(
        "ORD-5", c.pickup_number, DocumentType.PASSPORT, Size.L, True, False, 0, rig.now() + DAY, fresh.qr_verifier, "x"
    )
    item = NewOrder(**{**resent.__dict__, "pin_verifier": fresh.pin_verifier})
    r, _ = receive(rig, orders=[item])
    assert r.updated == ["ORD-5"]
    o = rig.st.store.order("ORD-5")
    assert o is not None and o.state == OrderState.STORED
    assert (o.size, o.document_kind, o.reachable) == (Size.S, "id_card", False)  # loaded: not changed
    assert o.qr_verifier == fresh.qr_verifier
    with pytest.raises(WrongCode):  # the old QR code is revoked
        rig.st.flows.pickup.verify(rig.st.flows.pickup.scan_qr(c.qr))
    v = rig.st.flows.pickup.verify(rig.st.flows.pickup.scan_qr(fresh.qr.payload))
    assert v.order_id == "ORD-5"


def test_full_sync(rig: Rig) -> None:
    now = rig.now()
    _, anna = new_staff("ANNA-01")
    _, ben = new_staff("BEN-02")
    apply(rig, orders=[order("ORD-1", now=now), order("ORD-2", now=now)], staff=[anna, ben])
    r, _ = receive(rig, orders=[order("ORD-2", now=now)], staff=[ben], full_sync=True)
    assert r.cancelled == ["ORD-1"] and r.staff_changed == ["ANNA-01"]
    rec = rig.st.store.staff("ANNA-01")
    assert rec is not None and not rec.active


def test_cancel_during_door_cycle_is_deferred(rig: Rig) -> None:
    c = rig_order_with_codes(rig, "ORD-6")
    sid = rig.st.staff_session()
    rig.st.flows.loading.scan_label(sid, codes.label_payload(c.order_id))  # door open, not yet closed
    r, _ = receive(rig, cancellations=["ORD-6"])
    assert r.cancel_deferred == ["ORD-6"]
    o = rig.st.store.order("ORD-6")
    assert o is not None and o.state == OrderState.ANNOUNCED
    assert "cancel_deferred" in [json.loads(e.body)["kind"] for e in rig.st.store.pending(100)]


def test_hub_key_rotation(rig: Rig) -> None:
    old, new = rig.hub, Signer.generate()
    apply(rig, hub_keys=[new.public_raw])  # signed by the old key, announcing the new set
    assert [k.key_id for k in rig.flow.hub_keys()] == [new.key_id]
    with pytest.raises(TamperError, match="not pinned"):
        rig.receiver.receive(rig.build(signer=old).data)
    rig.hub = new
    apply(rig, orders=[order("ORD-1", now=rig.now())])
    assert rig.flow.head().seq == 2


def test_pinning_is_for_enrollment_only(rig: Rig) -> None:
    apply(rig)
    with pytest.raises(FlowError, match="rotate"):
        rig.flow.pin_hub_keys(rig.flow.hub_keys())


def rig_order_with_codes(rig: Rig, order_id: str, size: Size = Size.S) -> Codes:
    """An order whose codes the hub issued (codes.issue_codes), synced in a bundle."""
    issued = codes.issue_codes(
        order_id, f"{zlib.crc32(order_id.encode()) % 10**8:08d}", rig.st.config.policy.pin_length
    )
    now = rig.now()
    o = NewOrder(
        order_id,
        issued.pickup_number,
        DocumentType.ID_CARD,
        size,
        False,
        False,
        now,
        now + 7 * DAY,
        issued.qr_verifier,
        issued.pin_verifier,
    )
    apply(rig, orders=[o])
    return Codes(order_id, issued.qr.payload, issued.pickup_number, issued.pin)


def test_round_trip_code_opens_compartment(rig: Rig) -> None:
    """Hub issues codes and a staff badge, the bundle carries verifiers only, staff load, the citizen collects."""
    badge, loader = new_staff("LENA-03")
    apply(rig, staff=[loader])
    by_qr = rig_order_with_codes(rig, "ORD-QR")
    by_pin = rig_order_with_codes(rig, "ORD-PIN")
    pickup = rig.st.flows.pickup
    staff_id = rig.st.flows.staff.authenticate(badge.payload, STAFF_PIN)
    sid = rig.st.flows.staff.open_session(staff_id).id
    n_qr = rig.st.load(sid, by_qr)
    n_pin = rig.st.load(sid, by_pin)
    stored = rig.st.store.order("ORD-QR")
    assert stored is not None and stored.state == OrderState.STORED

    assert pickup.confirm_receipt(pickup.verify(pickup.scan_qr(by_qr.qr)), STATEMENT) == n_qr
    assert rig.st.bank.is_open(n_qr)
    assert (
        pickup.confirm_receipt(pickup.verify(pickup.enter_manual(by_pin.pickup_number, by_pin.pin)), STATEMENT) == n_pin
    )
    assert rig.st.bank.is_open(n_pin)
    assert audit.verify(rig.st.database).ok


def test_every_event_the_station_writes_fits_the_hubs_schema(rig: Rig) -> None:
    """The hub refuses an event that does not fit its kind's schema: every kind the station writes must fit."""
    st = rig.st
    apply(rig, orders=[order("ORD-0", now=rig.now())])  # bundle_applied
    deferred = rig_order_with_codes(rig, "ORD-6")
    sid = st.staff_session()
    n = st.flows.loading.scan_label(sid, codes.label_payload(deferred.order_id)).compartment
    receive(rig, cancellations=["ORD-6"])  # cancel_deferred: the door is open
    st.pump()
    st.bank.put_item(n)
    st.bank.close(n)
    st.pump()  # stored
    picked = rig_order_with_codes(rig, "ORD-7")
    m = st.load(sid, picked)
    v = st.flows.pickup.verify(st.flows.pickup.scan_qr(picked.qr))
    assert st.flows.pickup.confirm_receipt(v, STATEMENT) == m
    st.pump()
    st.bank.take_item(m)
    st.bank.close(m)
    st.pump()  # collected
    with st.store.change("system") as tx:  # alarm raised and cleared
        tx.raise_alarm(AlarmKind.DOOR_LEFT_OPEN, m)
        tx.clear_alarm(AlarmKind.DOOR_LEFT_OPEN, m)
    left = rig_order_with_codes(rig, "ORD-8")
    k = st.load(sid, left)
    st.clock.advance(60 * DAY)
    assert {"ORD-0", "ORD-8"} <= set(st.flows.orders.expire_due())  # expired, with and without a compartment
    assert st.flows.staffwork.take_out(st.staff_session(), k) == k
    st.pump()
    st.bank.take_item(k)
    st.bank.close(k)
    st.pump()  # returned

    events = st.store.pending(1000)
    for e in events:
        body = event_bodies.check(p.EventItem(e.id, e.seq, e.kind, e.body))
        assert body["kind"] == e.kind
    kinds = {e.kind for e in events}
    assert {"bundle_applied", "cancel_deferred", "stored", "collected", "alarm", "expired", "returned"} <= kinds
    alarm = [json.loads(e.body) for e in events if e.kind == "alarm"]
    assert [a["raised"] for a in alarm] == [True, False]  # JSON booleans, as the schema asks
