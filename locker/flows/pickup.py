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
    def verify(self, pending: PendingPickup, dob: str | None = None) -> VerifiedPickup:
        cfg = self.ctx.config
        dob_norm = ""
        if cfg.policy.second_factor:
            if not dob:
                raise BadInput("enter your date of birth")
            dob_norm = codes.normalize_dob(dob)
        store = self.ctx.store
        if pending.method == CodeMethod.MANUAL:
            wait = store.throttle_state(throttle.SCOPE_MANUAL, cfg.throttle).wait_s
            if wait > 0:
                raise Throttled(wait)
            order = store.order_by_pickup_number(pending.pickup_number)
            if order is None:
                self._manual_failure(None)
                raise WrongCode("code not accepted")
            if order.manual_failures >= cfg.policy.manual_max_failures:
                self._manual_failure(None)
                raise ManualPathLocked("manual entry is blocked for this order; use the QR code or ask staff")
            assert isinstance(pending.secret, str)
            if not codes.check_pin(order.id, pending.secret, dob_norm, order.pin_verifier):
                self._manual_failure(order)
                raise WrongCode("code not accepted")
        else:
            found = store.order(pending.order_id)
            assert isinstance(pending.secret, bytes)
            if found is None or not codes.check_qr(found.id, pending.secret, dob_norm, found.qr_verifier):
                with store.change("citizen") as tx:
                    tx.audit("pickup.qr_refused", order=pending.order_id if found else None)
                raise WrongCode("code not accepted")
            order = found
        self._check_collectable(order)
        assert order.compartment is not None
        return VerifiedPickup(order.id, order.compartment, pending.method, order.return_old_id)

    def _manual_failure(self, order: Order | None) -> None:
        cfg = self.ctx.config
        with self.ctx.store.change("citizen") as tx:
            tx.record_failure(throttle.SCOPE_MANUAL)
            if order is not None:
                tx.set_order(order, why="pin.wrong", manual_failures=order.manual_failures + 1)
            else:
                tx.audit("pickup.manual_refused")
            st = throttle.state(tx.conn, throttle.SCOPE_MANUAL, tx.now, cfg.throttle)
            if st.failures_in_window >= cfg.throttle.free_failures:
                tx.raise_alarm(AlarmKind.BRUTE_FORCE)

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
        faulty, an alarm is raised and the order stays in it for staff to hand over.
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
            tx.set_order(tx.order(order.id), OrderState.STORED, why="door.did_not_open")
            tx.raise_alarm(AlarmKind.DOOR_DID_NOT_OPEN, comp.number)
        raise DoorDidNotOpen(comp.number)
