"""Citizen pickup: code, optional second factor, receipt confirmation, commit, then unlock and confirm."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from locker import codes, throttle
from locker.errors import (
    BadInput,
    DoorDidNotOpen,
    ManualPathLocked,
    NotCollectable,
    SecondFactorLocked,
    Throttled,
    WrongCode,
)
from locker.flows.common import FlowContext, open_door
from locker.model import AlarmKind, CompartmentState, OpenPurpose, Order, OrderState


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
    return_old_id: bool


class PickupFlow:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx

    # -- step 1: the code ------------------------------------------------------------------------------
    def scan_qr(self, text: str) -> PendingPickup:
        qr = codes.parse_qr(text)
        return PendingPickup(CodeMethod.QR, qr.order_id, "", self.ctx.config.policy.second_factor, qr.token)

    def enter_manual(self, pickup_number: str, pin: str) -> PendingPickup:
        number = codes.normalize_pickup_number(pickup_number)
        if not pin:
            raise BadInput("enter the PIN from your letter")
        p = codes.normalize_pin(pin, self.ctx.config.policy.pin_length)
        return PendingPickup(CodeMethod.MANUAL, "", number, self.ctx.config.policy.second_factor, p)

    # -- step 2: verification (with the second factor when the city requires it) -----------------------
    def verify(self, pending: PendingPickup, dob: str | None = None, *, identity: str = "") -> VerifiedPickup:
        """Check a code. ``identity`` is who is trying (the screen session): wrong codes slow down that identity,
        and the station only within its hourly budget, so one person at the screen does not block the others.
        """
        cfg = self.ctx.config
        dob_norm = ""
        if cfg.policy.second_factor:
            if not dob:
                raise BadInput("enter your date of birth")
            dob_norm = codes.normalize_dob(dob)
        # A QR token (128 bits) cannot be guessed; a PIN or a date of birth can, so those paths are throttled.
        if pending.method == CodeMethod.MANUAL or cfg.policy.second_factor:
            wait = self.ctx.store.throttle_state(throttle.SCOPE_MANUAL, identity, cfg.throttle).wait_s
            if wait > 0:
                raise Throttled(wait)
        manual = pending.method == CodeMethod.MANUAL
        order = self._manual(pending, dob_norm, identity) if manual else self._qr(pending, dob_norm, identity)
        self._check_collectable(order)
        assert order.compartment is not None
        return VerifiedPickup(order.id, order.compartment, pending.method, order.return_old_id)

    def _manual(self, pending: PendingPickup, dob_norm: str, identity: str) -> Order:
        max_failures = self.ctx.config.policy.manual_max_failures
        order = self.ctx.store.order_by_pickup_number(pending.pickup_number)
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

    def _qr(self, pending: PendingPickup, dob_norm: str, identity: str) -> Order:
        second_factor = self.ctx.config.policy.second_factor
        found = self.ctx.store.order(pending.order_id)
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
        """One wrong code: the identity's and the station's throttle count it, the order's counter too."""
        with self.ctx.store.change("citizen") as tx:
            tx.record_failure(throttle.SCOPE_MANUAL, identity, self.ctx.config.throttle)
            if order is not None:
                tx.set_order(order, None, why=why, **counter)
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
    def confirm_receipt(self, verified: VerifiedPickup) -> int:
        """Consume the code and commit, then open the door. Returns the compartment number.

        Raises DoorDidNotOpen when the door stayed shut after one checked retry: the compartment is then
        faulty and an alarm is raised; the order stays in it, collectable with the same codes once staff have freed
        the lock and enabled the compartment (or staff take it out and hand it over at the office).
        """
        store = self.ctx.store
        with store.change("citizen") as tx:
            order = tx.order(verified.order_id)
            self._check_collectable(order)
            comp = tx.compartment(verified.compartment)
            if order.compartment != comp.number:
                raise NotCollectable("this document is not ready for pickup")
            tx.set_order(order, OrderState.COLLECTING, why="receipt_confirmed", code_used=True, manual_failures=0)
            tx.set_compartment(
                comp,
                CompartmentState.OPENING,
                why="pickup",
                purpose=OpenPurpose.PICKUP,
                resume_state=CompartmentState.OCCUPIED,
                door_confirmed_at=None,
            )
            tx.audit("pickup.receipt_confirmed", order=order.id, method=verified.method)
        if open_door(self.ctx, comp.number):
            with store.change("citizen") as tx:
                c = tx.compartment(comp.number)
                if c.door_confirmed_at is None:
                    tx.set_compartment(c, why="door.opened", door_confirmed_at=tx.now)
            return comp.number
        with store.change("system") as tx:
            c = tx.compartment(comp.number)
            tx.set_compartment(
                c,
                CompartmentState.FAULTY,
                why="door.did_not_open",
                purpose=None,
                resume_state=None,
                reason="did not open",
            )
            # the door never opened: the code is not spent, and opens the door again once staff put it back in order
            tx.set_order(tx.order(order.id), OrderState.STORED, why="door.did_not_open", code_used=False)
            tx.raise_alarm(AlarmKind.DOOR_DID_NOT_OPEN, comp.number)
        raise DoorDidNotOpen(comp.number)
