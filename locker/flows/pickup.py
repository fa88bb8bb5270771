"""Citizen pickup: code, optional second factor, receipt confirmation, commit, then unlock and confirm."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Any

from locker import codes, throttle
from locker.doctypes import DocumentPolicy, DocumentType
from locker.errors import (
    BadInput,
    ManualPathLocked,
    NotCollectable,
    SecondFactorLocked,
    Throttled,
    WrongCode,
)
from locker.flows import handover
from locker.flows.common import FlowContext, open_or_fault
from locker.flows.handover import Witness
from locker.flows.policy import document_policy
from locker.flows.statements import check_statement
from locker.model import (
    Compartment,
    CompartmentState,
    Content,
    OpenPurpose,
    Order,
    OrderState,
    Statement,
)
from locker.store import Tx

PIN_FAILURES = "pin_failures_total"  # station counter (meta): wrong manual codes entered here, ever
_MANUAL_WHYS = frozenset({"pin.wrong", "pickup.manual_refused"})


class CodeMethod(enum.StrEnum):
    QR = "qr"
    MANUAL = "manual"


@dataclass(frozen=True)
class PendingPickup:
    """A code as entered, not yet verified. Secrets live only in memory, never in the database."""

    method: CodeMethod
    order_id: str  # for QR: from the payload; for manual: empty until looked up
    pickup_number: str
    needs_second_factor: bool
    secret: bytes | str = field(repr=False)


@dataclass(frozen=True)
class VerifiedPickup:
    order_id: str
    compartment: int
    method: CodeMethod
    return_old_id: bool  # the order asks for its old document and the policy of its type wants it returned
    document_type: DocumentType = DocumentType.ID_CARD
    statement: str = "statement.id_card"  # the receipt statement id of the order's type (its policy)


class PickupFlow:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx

    # -- step 1: the code ------------------------------------------------------------------------------
    def scan_qr(self, text: str) -> PendingPickup:
        qr = codes.parse_qr(text)
        asks = self._asks_dob(self.ctx.store.order(qr.order_id))
        return PendingPickup(CodeMethod.QR, qr.order_id, "", asks, qr.token)

    def enter_manual(self, pickup_number: str, pin: str) -> PendingPickup:
        number = codes.normalize_pickup_number(pickup_number)
        if not pin:
            raise BadInput("enter the PIN from your letter")
        p = codes.normalize_pin(pin, self.ctx.config.policy.pin_length)
        asks = self._asks_dob(self.ctx.store.order_by_pickup_number(number))
        return PendingPickup(CodeMethod.MANUAL, "", number, asks, p)

    def _policy(self, order: Order | None) -> DocumentPolicy:
        """The policy of the order's document type; an unknown order gets the default type's (so that whether the
        date of birth is asked tells nobody whether a pickup number exists beyond what the default says)."""
        return document_policy(self.ctx, order.document_kind if order is not None else DocumentType.ID_CARD)

    def _asks_dob(self, order: Order | None) -> bool:
        return self._policy(order).asks_date_of_birth

    def _target(self, pending: PendingPickup) -> Order | None:
        """The order a code names (by its QR order id or its pickup number), before any secret is checked."""
        if pending.method == CodeMethod.MANUAL:
            return self.ctx.store.order_by_pickup_number(pending.pickup_number)
        return self.ctx.store.order(pending.order_id)

    # -- step 2: verification (with the second factor when the city requires it) -----------------------
    def verify(self, pending: PendingPickup, dob: str | None = None, *, identity: str = "") -> VerifiedPickup:
        """Check a code. ``identity`` is who is trying (the screen session): wrong codes slow down that identity,
        and the station only within its hourly budget, so one person at the screen does not block the others.
        """
        cfg = self.ctx.config
        target = self._target(pending)
        asks = self._asks_dob(target)  # the policy of the order's document type decides, not the screen
        dob_norm = ""
        if asks:
            if not dob:
                raise BadInput("enter your date of birth")
            dob_norm = codes.normalize_dob(dob)
        # A QR token (128 bits) cannot be guessed; a PIN or a date of birth can, so those paths are throttled.
        if pending.method == CodeMethod.MANUAL or asks:
            wait = self.ctx.store.throttle_state(throttle.SCOPE_MANUAL, identity, cfg.throttle).wait_s
            if wait > 0:
                raise Throttled(wait)
        if pending.method == CodeMethod.MANUAL:
            order = self._manual(pending, target, dob_norm, identity)
        else:
            order = self._qr(pending, target, asks, dob_norm, identity)
        self._check_collectable(order)
        assert order.compartment is not None
        policy = self._policy(order)
        old_id = order.return_old_id and policy.asks_old_document
        return VerifiedPickup(
            order.id, order.compartment, pending.method, old_id, order.document_kind, policy.statement
        )

    def _manual(self, pending: PendingPickup, order: Order | None, dob_norm: str, identity: str) -> Order:
        max_failures = self.ctx.config.policy.manual_max_failures
        if order is None:
            self._failure(identity, None, "pickup.manual_refused")
            raise WrongCode("code not accepted")
        if order.manual_failures >= max_failures:
            self._failure(identity, None, "pickup.manual_refused")
            raise ManualPathLocked("manual entry is blocked for this order; use the QR code or ask staff")
        assert isinstance(pending.secret, str)
        if not codes.check_pin(order.id, pending.secret, dob_norm, order.pin_verifier):
            self._failure(identity, order, "pin.wrong", manual_failures=order.manual_failures + 1)
            raise WrongCode("code not accepted")
        return order

    def _qr(
        self, pending: PendingPickup, found: Order | None, second_factor: bool, dob_norm: str, identity: str
    ) -> Order:
        if found is not None and second_factor and found.factor_failures >= self.ctx.config.policy.manual_max_failures:
            self._failure(identity, None, "pickup.qr_refused")
            raise SecondFactorLocked("too many wrong dates of birth for this code; please ask staff or the office")
        assert isinstance(pending.secret, bytes)
        if found is not None and codes.check_qr(found.id, pending.secret, dob_norm, found.qr_verifier):
            return found
        if found is not None and second_factor:  # a valid order's QR with a wrong date of birth, most likely
            self._failure(identity, found, "pickup.qr_refused", factor_failures=found.factor_failures + 1)
        elif second_factor:
            self._failure(identity, None, "pickup.qr_refused")
        else:  # without a second factor only a forged token fails here: audited, not throttled
            with self.ctx.store.change("citizen") as tx:
                tx.audit("pickup.qr_refused", order=pending.order_id if found else None)
        raise WrongCode("code not accepted")

    def _failure(self, identity: str, order: Order | None, why: str, **counter: int) -> None:
        """One wrong code: the identity's and the station's throttle count it, the order's counter too. A wrong
        manual code is counted for the fleet (``pin_failures_total``); the PIN that locks an order's manual path
        tells the hub (outbox ``manual_path``), so the office can see why a citizen calls."""
        with self.ctx.store.change("citizen") as tx:
            tx.record_failure(throttle.SCOPE_MANUAL, identity, self.ctx.config.throttle)
            if why in _MANUAL_WHYS:
                tx.count(PIN_FAILURES)
            if order is not None:
                tx.set_order(order, None, why=why, **counter)
                limit = self.ctx.config.policy.manual_max_failures
                if why == "pin.wrong" and order.manual_failures < limit <= counter.get("manual_failures", 0):
                    tx.outbox("manual_path", order=order.id, locked=True)
            else:
                tx.audit(why)

    def _check_collectable(self, order: Order) -> None:
        now = self.ctx.clock.now()
        if order.code_used or order.state in (OrderState.COLLECTING, OrderState.COLLECTED):
            raise NotCollectable("this code has already been used")
        if order.state == OrderState.EXPIRED or (order.state == OrderState.STORED and order.valid_until <= now):
            raise NotCollectable("the pickup period is over; please contact the citizens' office")
        if order.state != OrderState.STORED or order.compartment is None:
            raise NotCollectable("this document is not ready for pickup")
        comp = self.ctx.store.compartment(order.compartment)
        if comp.state != CompartmentState.OCCUPIED:
            raise NotCollectable("this compartment is out of service; please contact the citizens' office")

    # -- step 3: receipt confirmed -> commit -> unlock -> confirm --------------------------------------
    def confirm_receipt(self, verified: VerifiedPickup, statement: Statement) -> int:
        """Record the receipt confirmation (method and ``statement``, the text the citizen confirmed) and commit,
        then open the door. Returns the compartment number. The handover itself is recorded when the door has
        closed on an empty compartment (``handover.collected``).

        Raises DoorDidNotOpen when the door stayed shut after one checked retry: the compartment is then faulty and
        an alarm is raised; the order stays in it, collectable with the same codes once staff have freed the lock
        and enabled the compartment (or staff hand it over at the counter).
        """
        check_statement(statement)
        with self.ctx.store.change("citizen") as tx:
            order = tx.order(verified.order_id)
            self._check_collectable(order)
            if order.compartment != verified.compartment:
                raise NotCollectable("this document is not ready for pickup")
            receipt = json.dumps({"method": verified.method.value, "statement": statement.as_dict()}, sort_keys=True)
            tx.audit("pickup.receipt_confirmed", order=order.id, method=verified.method, statement=statement.as_dict())
            self._start(tx, order, tx.compartment(verified.compartment), receipt=receipt)
        return self._open(order.id, verified.compartment)

    def open_again(self, verified: VerifiedPickup) -> int:
        """The citizen asks for the door again in the same visit: the document was left behind (the sensor saw it,
        or the door closed on a board without sensor and the citizen says it is not taken yet)."""
        with self.ctx.store.change("citizen") as tx:
            order = tx.order(verified.order_id)
            comp = tx.compartment(verified.compartment)
            unanswered = (
                comp.state == CompartmentState.CHECKING
                and comp.purpose == OpenPurpose.PICKUP
                and comp.order_id == order.id
                and order.state == OrderState.COLLECTING
            )
            if unanswered:
                tx.set_compartment(comp, CompartmentState.OPENING, why="pickup.reopened", door_confirmed_at=None)
            else:
                self._check_collectable(order)
                if order.compartment != comp.number or not order.receipt:
                    raise NotCollectable("this document is not ready for pickup")
                self._start(tx, order, comp)
            tx.audit("pickup.reopened", order=order.id, compartment=comp.number)
        return self._open(order.id, verified.compartment)

    def taken(self, verified: VerifiedPickup) -> None:
        """The citizen says "I have taken my document" after the door closed on a board without item sensor."""
        with self.ctx.store.change("citizen") as tx:
            order = tx.order(verified.order_id)
            comp = tx.compartment(verified.compartment)
            self._require_checking(comp, OpenPurpose.PICKUP, order.id)
            handover.collected(tx, comp, order, Witness.CITIZEN)

    def walked_away(self, verified: VerifiedPickup) -> None:
        """The citizen's screen timed out while the compartment waited for their answer: the safe side, as the
        answer timer would (``DoorFlow.unanswered``) — a document counts as left behind, an old ID as inside."""
        with self.ctx.store.change("citizen") as tx:
            comp = tx.compartment(verified.compartment)
            order = tx.order(verified.order_id)
            if comp.state != CompartmentState.CHECKING or comp.order_id != order.id:
                return  # answered meanwhile, or settled by the timer
            if comp.purpose == OpenPurpose.PICKUP:
                handover.left_behind(tx, comp, order, Witness.UNANSWERED)
            elif comp.purpose == OpenPurpose.OLD_ID:
                handover.old_id_in(tx, comp, order, Witness.UNANSWERED)

    # -- step 4 (where the city asks for it): the old ID card goes in --------------------------------------
    def wants_old_id(self, verified: VerifiedPickup) -> bool:
        """The order asks for its old document and the policy of its type (hub, else station TOML) wants it."""
        return verified.return_old_id and document_policy(self.ctx, verified.document_type).asks_old_document

    def statement_id(self, order_id: str) -> str:
        """The receipt statement id the policy of the order's type names (for the counter handover's screen)."""
        return self._policy(self.ctx.store.order(order_id)).statement

    def open_for_old_id(self, verified: VerifiedPickup) -> int:
        """After the handover, open the now empty compartment again for the old ID card (same visit only: the
        verified pickup lives in the citizen's screen session)."""
        if not self.wants_old_id(verified):
            raise NotCollectable("no old ID card is to be returned for this order")
        with self.ctx.store.change("citizen") as tx:
            order = tx.order(verified.order_id)
            comp = tx.compartment(verified.compartment)
            empty = comp.state == CompartmentState.FREE and comp.order_id is None and comp.content == Content.NONE
            if order.state != OrderState.COLLECTED or order.compartment != comp.number or not empty:
                raise NotCollectable("this compartment cannot take the old ID card now; please ask at the office")
            tx.set_compartment(
                comp,
                CompartmentState.OPENING,
                why="old_id",
                order_id=order.id,
                purpose=OpenPurpose.OLD_ID,
                resume_state=CompartmentState.FREE,
                door_confirmed_at=None,
            )
        return self._open(order.id, comp.number)

    def old_id_inside(self, verified: VerifiedPickup, inside: bool) -> None:
        """The citizen's answer after the old-ID door closed on a board without item sensor."""
        with self.ctx.store.change("citizen") as tx:
            comp = tx.compartment(verified.compartment)
            self._require_checking(comp, OpenPurpose.OLD_ID, verified.order_id)
            if inside:
                handover.old_id_in(tx, comp, tx.order(verified.order_id), Witness.CITIZEN)
            else:
                handover.old_id_not_in(tx, comp, verified.order_id, Witness.CITIZEN)

    # -- the door -----------------------------------------------------------------------------------------
    @staticmethod
    def _require_checking(comp: Compartment, purpose: OpenPurpose, order_id: str) -> None:
        if comp.state != CompartmentState.CHECKING or comp.purpose != purpose or comp.order_id != order_id:
            raise NotCollectable("there is nothing to confirm for this compartment now")

    @staticmethod
    def _start(tx: Tx, order: Order, comp: Compartment, **order_fields: Any) -> None:
        tx.set_order(
            order, OrderState.COLLECTING, why="receipt_confirmed", code_used=True, manual_failures=0, **order_fields
        )
        tx.set_compartment(
            comp,
            CompartmentState.OPENING,
            why="pickup",
            purpose=OpenPurpose.PICKUP,
            resume_state=CompartmentState.OCCUPIED,
            door_confirmed_at=None,
        )

    def _open(self, order_id: str, number: int) -> int:
        """Pulse and confirm. A door that stayed shut turns the compartment faulty (alarm) and gives the code back:
        it never opened a door, so it opens this one again once staff have put it back in order."""

        def fault(tx: Tx, c: Compartment) -> None:
            old_id = c.purpose == OpenPurpose.OLD_ID
            tx.set_compartment(
                c,
                CompartmentState.FAULTY,
                why="door.did_not_open",
                purpose=None,
                resume_state=None,
                reason="did not open",
                **({"order_id": None} if old_id else {}),
            )
            if not old_id:
                tx.set_order(tx.order(order_id), OrderState.STORED, why="door.did_not_open", code_used=False)

        open_or_fault(self.ctx, number, "citizen", fault)
        return number
