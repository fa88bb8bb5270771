"""Property test: random loads, pickups with right and wrong codes, left-behind documents, boards with and without
item sensors, old ID cards, counter handovers, documents moved to another compartment, codes reissued by the hub,
door events, faults and restarts."""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from locker import audit, codes, throttle
from locker.doctypes import DocumentType
from locker.errors import (
    BadInput,
    CodeError,
    DoorDidNotOpen,
    FlowError,
    SessionError,
)
from locker.flows import PendingPickup, VerifiedPickup
from locker.flows.bundle import BundleContent, ManifestRecord
from locker.flows.move import is_pending_target
from locker.model import IN_COMPARTMENT, CompartmentState, Content, NewOrder, OpenPurpose, Order, OrderState, Size
from tests.harness import DAY, STATEMENT, Codes, Station, make_station

N_ORDERS = 10
N_COMPARTMENTS = 4


def _pool() -> list[tuple[Codes, codes.IssuedCodes]]:
    out = []
    for i in range(N_ORDERS):
        oid = f"ORD-{i:04d}"
        issued = codes.issue_codes(oid, f"{40000000 + i * 7919:08d}")
        out.append((Codes(oid, issued.qr.payload, issued.pickup_number, issued.pin), issued))
    return out


DOC_TYPES = list(DocumentType)
POOL = _pool()  # argon2id is slow on purpose: issue the codes once for every example
REISSUED = _pool()  # the same orders and pickup numbers with other QR tokens and PINs (the hub's reissue)


def digest(s: Station) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for t in ("orders", "compartments", "audit", "outbox", "failures", "alarms", "staff", "meta"):
        rows.extend(tuple(r) for r in s.database.query(f"SELECT * FROM {t}"))
    return rows


class StationMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="wibox-prop-"))
        self.s = make_station(self.dir, n=N_COMPARTMENTS, old_id_return=True)
        self.sid = self.s.staff_session()
        self.announced: set[int] = set()
        # The physical world, as the people in it know it: whose document lies in which compartment, which
        # compartments hold a returned old ID card.
        self.inside: dict[int, str] = {}
        self.old_ids: set[int] = set()
        # The codes each order's citizen holds now, and the ones a reissue made worthless.
        self.codes: dict[int, Codes] = {i: POOL[i][0] for i in range(N_ORDERS)}
        self.superseded: dict[int, Codes] = {}
        # Compartments staff moved an order's document out of (and not back into): they never open for it again.
        self.vacated: dict[str, set[int]] = {}

    def teardown(self) -> None:
        self.s.database.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _session(self) -> str:
        try:
            self.s.flows.staff.require(self.sid)
        except SessionError:
            who = self.s.flows.staff.authenticate(self._badge(), "246810")
            self.sid = self.s.flows.staff.open_session(who).id
        return self.sid

    def _badge(self) -> str:
        badge = self.s.flows.staff.add("ANNA-01", "246810", ("loader", "maintenance"))
        return badge.payload

    # -- rules ------------------------------------------------------------------------------------------
    @initialize(loaded=st.integers(0, 3), sensors=st.booleans())
    def some_orders_waiting(self, loaded: int, sensors: bool) -> None:
        if not sensors:  # a board without item sensors (xor-8a, Modbus relays, GPIO): people answer instead
            self.s.database.close()
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = Path(tempfile.mkdtemp(prefix="wibox-prop-"))
            self.s = make_station(self.dir, n=N_COMPARTMENTS, item_sensors=False, old_id_return=True)
            self.sid = self.s.staff_session()
        event(f"item sensors: {sensors}")
        for i in range(5):
            self.announce(i, Size.S, i % 2 == 0)
        for i in range(loaded):
            self.load(i * 5 + 1, True, "truth")

    @rule(i=st.integers(0, N_ORDERS - 1), size=st.sampled_from(list(Size)), reachable=st.booleans())
    def announce(self, i: int, size: Size, reachable: bool) -> None:
        if i in self.announced:
            return
        c, issued = POOL[i]
        now = self.s.clock.now()
        self.s.flows.orders.announce(
            [
                NewOrder(
                    c.order_id,
                    c.pickup_number,
                    DOC_TYPES[i % len(DOC_TYPES)],  # the old ID is asked only for ID cards and passports
                    size,
                    reachable,
                    i % 3 == 0,  # some orders ask for the old ID card back
                    now,
                    now + 3 * DAY,
                    issued.qr_verifier,
                    issued.pin_verifier,
                )
            ]
        )
        self.announced.add(i)

    def _pick(self, k: int, state: OrderState) -> int:
        """Mostly an order in ``state`` (so loads and pickups really happen), sometimes any order."""
        ids = [int(o.id[4:]) for o in self.s.store.orders([state])]
        return ids[k % len(ids)] if ids and k % 5 else k % N_ORDERS

    def _sensed(self) -> bool:
        return self.s.bank.item_sensors

    def _checking(self, n: int) -> bool:
        return self.s.store.compartment(n).state == CompartmentState.CHECKING

    @rule(k=st.integers(0, 99), put_item=st.booleans(), answer=st.sampled_from(["truth", "none", "reopen"]))
    def load(self, k: int, put_item: bool, answer: str) -> None:
        c = self.codes[self._pick(k, OrderState.ANNOUNCED)]
        try:
            a = self.s.flows.loading.scan_label(self._session(), codes.label_payload(c.order_id))
        except (FlowError, BadInput):
            return
        except DoorDidNotOpen:
            event("load door did not open")
            return
        event("load opened a door")
        n = a.compartment
        self._close(n, put=c.order_id if put_item else None)
        if not self._checking(n):
            return
        if answer == "reopen":
            try:
                self.s.flows.loading.reopen(self._session(), n)
            except DoorDidNotOpen:
                return
            self._close(n, put=c.order_id)
            put_item = True
        if answer != "none":  # staff answer what they see ("none": they walk away; the timer settles it)
            self.s.flows.loading.envelope_inside(self._session(), n, put_item)

    def _close(self, n: int, *, put: str | None = None, take: bool = False, old_id: bool = False) -> None:
        """A person at the open door: puts a document (or an old ID card) in, or takes what is there out; closes
        the door."""
        self.s.pump()
        if put is not None:
            self.s.bank.put_item(n)
            self.inside[n] = put
        if old_id:
            self.s.bank.put_item(n)
            self.old_ids.add(n)
        if take:
            self.s.bank.take_item(n)
            self.inside.pop(n, None)
            self.old_ids.discard(n)
        self.s.bank.close(n)
        self.s.pump()

    def _pickup(self, v: VerifiedPickup, take: bool, answer: str, old_id: bool) -> None:
        try:
            n = self.s.flows.pickup.confirm_receipt(v, STATEMENT)
        except DoorDidNotOpen:
            event("pickup door did not open")
            return
        except CodeError:
            return
        event("pickup opened a door")
        assert n not in self.vacated.get(v.order_id, set()), f"{v.order_id}: a compartment it was moved out of opened"
        self._close(n, take=take)
        if self._checking(n):
            if answer == "truth" and take:
                self.s.flows.pickup.taken(v)
            elif answer == "truth":
                with contextlib.suppress(DoorDidNotOpen):
                    self.s.flows.pickup.open_again(v)
                    self._close(n, take=True)
                    self.s.flows.pickup.taken(v)
            elif answer == "walk":
                self.s.flows.pickup.walked_away(v)
        o = self.s.store.order(v.order_id)
        if not take or o is None or o.state != OrderState.COLLECTED or not old_id:
            event("left behind" if not take else "taken")
            return
        try:
            self.s.flows.pickup.open_for_old_id(v)
        except (CodeError, DoorDidNotOpen):
            return
        event("old ID door opened")
        self._close(n, old_id=True)
        if self._checking(n):
            self.s.flows.pickup.old_id_inside(v, True)

    @rule(
        k=st.integers(0, 99),
        right=st.booleans(),
        take=st.booleans(),
        answer=st.sampled_from(["truth", "walk", "none"]),
        old_id=st.booleans(),
    )
    def pickup_qr(self, k: int, right: bool, take: bool, answer: str, old_id: bool) -> None:
        c = self.codes[self._pick(k, OrderState.STORED)]
        qr = c.qr if right else codes.QrCode(c.order_id, codes.new_token()).payload
        try:
            v = self.s.flows.pickup.verify(self.s.flows.pickup.scan_qr(qr))
        except CodeError:
            return
        assert right, "a wrong QR token was accepted"
        self._pickup(v, take, answer, old_id)

    @rule(k=st.integers(0, 99), right=st.booleans())
    def pickup_manual(self, k: int, right: bool) -> None:
        c = self.codes[self._pick(k, OrderState.STORED)]
        pin = c.pin if right else f"{(int(c.pin) + 1) % 10**6:06d}"
        try:
            v = self.s.flows.pickup.verify(self.s.flows.pickup.enter_manual(c.pickup_number, pin))
        except CodeError:
            event("manual code refused")
            return
        assert right, "a wrong PIN was accepted"
        self._pickup(v, True, "truth", False)

    @rule(k=st.integers(0, 99), take=st.booleans())
    def counter_handover(self, k: int, take: bool) -> None:
        """Staff hand a document over in person (from its compartment, or one already taken back to the office)."""
        orders = self.s.flows.staffwork.counter_orders()
        if not orders:
            return
        o = orders[k % len(orders)]
        try:
            n = self.s.flows.staffwork.counter_hand_over(self._session(), o.id, STATEMENT)
        except (FlowError, DoorDidNotOpen):
            return
        event("counter handover")
        if n is None:
            return
        assert n not in self.vacated.get(o.id, set()), f"{o.id}: a compartment it was moved out of opened"
        self._close(n, take=take)
        if self._checking(n):
            self.s.flows.staffwork.counter_taken(self._session(), n, take)

    @rule(
        k=st.integers(0, 99),
        jam_target=st.booleans(),
        put=st.booleans(),
        restart_at=st.sampled_from(["none", "source open", "in hands", "target open"]),
    )
    def move(self, k: int, jam_target: bool, put: bool, restart_at: str) -> None:
        """Staff move a stored document to another compartment: the source may not open, the first target may be
        jammed, staff may close it without the envelope first, the station may restart in the middle."""
        movable = self.s.flows.move.movable()
        if not movable:
            return
        o = movable[k % len(movable)]
        src = o.compartment
        assert src is not None
        try:
            self.s.flows.move.start(self._session(), o.id)
        except DoorDidNotOpen:
            event("move: source did not open")
            return
        except FlowError:
            event("move: no target")
            return
        event(f"move: restart {restart_at}")
        if restart_at == "source open":
            self.s.restart()
        self._close(src, take=True)
        if self._checking(src):
            self.s.flows.move.source_answer(self._session(), src, True)
        self.vacated.setdefault(o.id, set()).add(src)
        if restart_at == "in hands":
            self.s.restart()
        self._into_target(o, jam_target, put, restart_at == "target open")

    def _into_target(self, o: Order, jam: bool, put: bool, restart: bool) -> None:
        """The envelope of ``o`` is in staff's hands: open the waiting target (the next one after a jam), put it in
        (or, once, close it empty), until it is stored there or the move ends at the counter."""
        for _ in range(2 * N_COMPARTMENTS):
            cur = self.s.store.order(o.id)
            assert cur is not None
            if cur.state == OrderState.RETURNED:
                event("move ended at the counter")
                return
            assert cur.compartment is not None and is_pending_target(self.s.store.compartment(cur.compartment))
            t = cur.compartment
            if jam:
                self.s.bank.jam(t)
                jam = False
            try:
                self.s.flows.move.open_target(self._session(), t)
            except DoorDidNotOpen:
                event("move: target did not open")
                continue
            if restart:
                self.s.restart()
                restart = False
            self._close(t, put=o.id if put else None)
            if self._checking(t):
                self.s.flows.move.target_answer(self._session(), t, put)
            put = True  # staff put it in the next time
            if self.s.store.compartment(t).state == CompartmentState.OCCUPIED:
                self._moved(o, t)
                return
        for c in self.s.flows.move.pending():  # staff give up: they hand it over at the counter
            if c.order_id == o.id:
                self.s.flows.move.give_up(self._session(), c.number)

    def _moved(self, o: Order, t: int) -> None:
        """The move is done: the order is in ``t`` with its codes unchanged, and they find it there."""
        event("moved")
        self.vacated[o.id].discard(t)
        after = self.s.store.order(o.id)
        assert after is not None and after.compartment == t and after.state == o.state, after
        assert (after.qr_verifier, after.pin_verifier) == (o.qr_verifier, o.pin_verifier), "a move changed the codes"
        if after.state == OrderState.STORED and after.valid_until > self.s.clock.now():
            v = self.s.flows.pickup.verify(self.s.flows.pickup.scan_qr(self.codes[int(o.id[4:])].qr))
            assert v.compartment == t, (v, t)

    @rule(k=st.integers(0, 99))
    def reissue(self, k: int) -> None:
        """The hub reissues an order's codes (new QR token and PIN, same pickup number): the next bundle replaces
        its verifiers, and from then on the old codes are refused and the new ones work."""
        i = self._pick(k, OrderState.STORED)
        o = self.s.store.order(POOL[i][0].order_id)
        if o is None or o.state not in (OrderState.ANNOUNCED, OrderState.STORED) or o.code_used:
            return
        new, issued = (REISSUED if self.codes[i] is POOL[i][0] else POOL)[i]
        head = self.s.flows.bundle.head()
        manifest = ManifestRecord(head.seq + 1, secrets.token_bytes(32), head.hash, self.s.clock.now())
        order = NewOrder(
            o.id,
            o.pickup_number,
            o.document_kind,
            o.size,
            o.reachable,
            o.return_old_id,
            o.valid_from,
            o.valid_until,
            issued.qr_verifier,
            issued.pin_verifier,
        )
        assert self.s.flows.bundle.apply(BundleContent(manifest, orders=[order])).updated == [o.id]
        old, self.codes[i] = self.codes[i], new
        self.superseded[i] = old
        event("codes reissued")
        after = self.s.store.order(o.id)
        assert after is not None
        box = self.s.store.compartment(after.compartment) if after.compartment is not None else None
        collectable = after.state == OrderState.STORED and after.valid_until > self.s.clock.now()
        if collectable and box is not None and box.state == CompartmentState.OCCUPIED:
            v = self.s.flows.pickup.verify(self.s.flows.pickup.scan_qr(new.qr))
            assert v.compartment == after.compartment, "the new QR code does not open the order's compartment"
        pickup = self.s.flows.pickup
        assert self._refused(lambda: pickup.scan_qr(old.qr)), f"{o.id}: the QR code from before the reissue worked"
        assert self._refused(lambda: pickup.enter_manual(old.pickup_number, old.pin)), f"{o.id}: the old PIN worked"

    def _refused(self, attempt: Callable[[], PendingPickup]) -> bool:
        try:
            self.s.flows.pickup.verify(attempt())
        except CodeError:
            return True
        return False

    @rule(n=st.integers(1, N_COMPARTMENTS), jammed=st.booleans())
    def jam(self, n: int, jammed: bool) -> None:
        self.s.bank.jam(n, jammed)

    @rule(n=st.integers(1, N_COMPARTMENTS))
    def force_door(self, n: int) -> None:
        self.s.bank.force(n)
        self.s.pump()

    @rule(n=st.integers(1, N_COMPARTMENTS))
    def close_door(self, n: int) -> None:
        self.s.bank.close(n)
        self.s.pump()

    @rule(n=st.integers(1, N_COMPARTMENTS))
    def staff_fix(self, n: int) -> None:
        self.s.bank.jam(n, False)
        self.s.bank.close(n)
        self.s.pump()
        with contextlib.suppress(FlowError):  # only disabled or faulty compartments can be enabled
            self.s.flows.staffwork.enable(self._session(), n)

    @rule(n=st.integers(1, N_COMPARTMENTS))
    def staff_take_out(self, n: int) -> None:
        if n not in {c.number for c in self.s.flows.staffwork.returnable()}:
            return
        try:
            self.s.flows.staffwork.take_out(self._session(), n)
        except (DoorDidNotOpen, FlowError):
            return
        self._close(n, take=True)

    @rule(hours=st.integers(1, 48))
    def time_passes(self, hours: int) -> None:
        self.s.clock.advance(hours * 3600)
        self.s.flows.orders.expire_due()
        self.s.flows.doors.check_timers()

    @rule()
    def restart(self) -> None:
        cfg = self.s.config.throttle
        scopes = (throttle.SCOPE_MANUAL, throttle.SCOPE_STAFF)
        before = [self.s.store.throttle_state(scope, "", cfg) for scope in scopes]
        self.s.restart()
        event("restart")
        after = [self.s.store.throttle_state(scope, "", cfg) for scope in scopes]
        assert before == after, "throttle state changed across a restart"

    @rule(text=st.text(max_size=40), which=st.sampled_from(["qr", "manual", "label", "badge"]))
    def bad_input(self, text: str, which: str) -> None:
        sid = self._session()
        before = digest(self.s)
        try:
            if which == "qr":
                self.s.flows.pickup.scan_qr(text)
            elif which == "manual":
                self.s.flows.pickup.enter_manual(text, text)
            elif which == "label":
                self.s.flows.loading.scan_label(sid, "x" + text)
                return  # a well-formed label for a known order is a real load, not bad input
            else:
                self.s.flows.staff.authenticate("x" + text, "1")
        except BadInput:
            event("bad input refused")
            assert digest(self.s) == before, "bad input changed the database"
            return
        except (CodeError, FlowError):
            return

    # -- invariants -------------------------------------------------------------------------------------
    @invariant()
    def a_collected_orders_document_is_out(self) -> None:
        """A collected order's compartment is empty or holds only its returned old ID card."""
        for o in self.s.store.orders([OrderState.COLLECTED]):
            assert o.id not in self.inside.values(), f"{o.id} collected but its document is still inside"
        for c in self.s.store.compartments():
            if c.content == Content.OLD_ID:
                assert c.state != CompartmentState.FREE, c

    @invariant()
    def a_moved_order_is_never_in_a_compartment_it_left(self) -> None:
        for oid, left in self.vacated.items():
            o = self.s.store.order(oid)
            assert o is not None and (o.compartment is None or o.compartment not in left), (o, left)

    @invariant()
    def a_reissued_orders_old_qr_code_matches_nothing(self) -> None:
        """The station holds the verifiers of the codes the hub reissued last (checked without a verification, which
        would count as a failed attempt): the old QR token cannot match."""
        for old in self.superseded.values():
            o = self.s.store.order(old.order_id)
            assert o is not None
            token = codes.parse_qr(old.qr).token
            assert not codes.check_qr(o.id, token, "", o.qr_verifier), f"{o.id}: the old QR code still matches"

    @invariant()
    def no_stored_without_a_confirmed_envelope(self) -> None:
        confirmed = {e.event["order"] for e in audit.entries(self.s.database) if e.event["type"] == "load.inside"}
        for o in self.s.store.orders([OrderState.STORED]):
            assert o.id in confirmed, f"{o.id} stored without a confirmed envelope"
            if self._sensed():  # the sensor cannot be wrong here: the envelope is physically there
                assert o.compartment is not None and self.inside.get(o.compartment) == o.id, (o, self.inside)

    @invariant()
    def a_code_is_spent_only_by_a_door_confirmed_open(self) -> None:
        history = [e.event for e in audit.entries(self.s.database)]
        for o in self.s.store.orders():
            if not o.code_used:
                continue
            assert o.state in (OrderState.COLLECTING, OrderState.COLLECTED), o
            if o.state != OrderState.COLLECTED:
                continue
            start = max(
                i
                for i, ev in enumerate(history)
                if ev["type"] == "order.state" and ev["order"] == o.id and ev["to"] == OrderState.COLLECTING
            )
            assert any(
                ev.get("compartment") == o.compartment and ev.get("door_confirmed_at") is not None
                for ev in history[start:]
            ), f"{o.id} collected, but no door was confirmed open since its receipt"

    @invariant()
    def every_proof_names_its_method_and_statement(self) -> None:
        for r in self.s.database.query("SELECT body FROM outbox WHERE kind = 'collected'"):
            proof = json.loads(r["body"])["proof"]
            assert proof["method"] in ("qr", "manual", "counter"), proof
            assert proof["statement"] == STATEMENT.as_dict(), proof
            taken = ("staff",) if proof["method"] == "counter" else ("sensor", "citizen")
            assert proof["taken"] in (*taken, "sensor"), proof
            assert bool(proof.get("staff")) == (proof["method"] == "counter"), proof

    @invariant()
    def nothing_in_a_cycle_between_rules_but_unanswered_questions(self) -> None:
        for c in self.s.store.compartments():
            if c.state == CompartmentState.CHECKING:
                purposes = (None, OpenPurpose.PICKUP, OpenPurpose.OLD_ID, OpenPurpose.COUNTER)
                assert not self._sensed() and c.purpose in purposes, c

    @invariant()
    def a_compartment_holds_at_most_one_order(self) -> None:
        comps = {c.number: c for c in self.s.store.compartments()}
        holders: dict[int, list[str]] = {}
        for o in self.s.store.orders():
            if o.state in (OrderState.STORED, OrderState.COLLECTING):
                assert o.compartment is not None, o
            in_box = o.state in IN_COMPARTMENT or o.state == OrderState.ANNOUNCED
            if in_box and o.compartment is not None:
                holders.setdefault(o.compartment, []).append(o.id)
        for n, ids in holders.items():
            assert len(ids) <= 1, (n, ids)
            assert comps[n].order_id == ids[0], (n, ids, comps[n])
        referenced = [c.order_id for c in comps.values() if c.order_id is not None]
        assert len(referenced) == len(set(referenced)), referenced
        for c in comps.values():
            if c.state == CompartmentState.FREE:
                assert c.order_id is None, c

    @invariant()
    def every_state_change_is_audited(self) -> None:
        orders: dict[str, str] = {}
        compartments: dict[int, str] = {}
        for e in audit.entries(self.s.database):
            ev = e.event
            if ev["type"] == "order.state":
                assert orders.get(ev["order"]) == ev.get("from"), ev
                orders[ev["order"]] = ev["to"]
            elif ev["type"] == "compartment.state":
                assert compartments.get(ev["compartment"]) == ev.get("from"), ev
                compartments[ev["compartment"]] = ev["to"]
        assert orders == {o.id: o.state.value for o in self.s.store.orders()}
        assert compartments == {c.number: c.state.value for c in self.s.store.compartments()}

    @invariant()
    def chain_verifies(self) -> None:
        report = audit.verify(self.s.database)
        assert report.ok, report.problem


StationMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestStationMachine = StationMachine.TestCase
