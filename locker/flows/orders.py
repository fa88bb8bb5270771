"""Orders as the backend sends them: announce, cancel, and expiry when the pickup window is over."""

from __future__ import annotations

from collections.abc import Sequence

from locker import codes
from locker.doctypes import DocumentType
from locker.errors import BadInput, FlowError
from locker.flows.common import FlowContext
from locker.model import NewOrder, OrderState


class OrdersFlow:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx

    @staticmethod
    def validate(o: NewOrder) -> None:
        if not codes.valid_order_id(o.id):
            raise BadInput(f"order id {o.id!r} is not valid")
        codes.normalize_pickup_number(o.pickup_number)
        if len(o.qr_verifier) != 32:
            raise BadInput(f"order {o.id}: QR verifier must be 32 bytes")
        if not codes.verifier_strength_ok(o.pin_verifier):
            raise BadInput(f"order {o.id}: PIN verifier is not argon2id with the required strength")
        if o.valid_until <= o.valid_from:
            raise BadInput(f"order {o.id}: validity ends before it starts")
        if not isinstance(o.document_kind, DocumentType):
            raise BadInput(f"order {o.id}: document type must be one of {', '.join(DocumentType)}")

    def announce(self, orders: Sequence[NewOrder], actor: str = "backend") -> list[str]:
        """Insert new orders (known ids are skipped); all or nothing. Returns the ids inserted."""
        for o in orders:
            self.validate(o)
        store = self.ctx.store
        inserted: list[str] = []
        numbers = [o.pickup_number for o in orders]
        if len(set(numbers)) != len(numbers):
            raise BadInput("two orders in one batch share a pickup number")
        with store.change(actor) as tx:
            for o in orders:
                if tx.conn.execute("SELECT 1 FROM orders WHERE id = ?", (o.id,)).fetchone():
                    continue
                clash = store.order_by_pickup_number(o.pickup_number)
                if clash is not None:
                    raise BadInput(f"order {o.id}: pickup number is in use by a live order")
                tx.insert_order(o)
                inserted.append(o.id)
        return inserted

    def cancel(self, order_id: str, actor: str = "backend") -> OrderState:
        """Cancel an order; one that is in a compartment stays there until staff take it out."""
        store = self.ctx.store
        with store.change(actor) as tx:
            o = tx.order(order_id)
            if o.state in (OrderState.CANCELLED, OrderState.COLLECTED, OrderState.RETURNED):
                return o.state
            if o.state == OrderState.COLLECTING or (o.state == OrderState.ANNOUNCED and o.compartment):
                raise FlowError(f"order {order_id} is in a door cycle; cancel again when the door is closed")
            if o.state not in (OrderState.ANNOUNCED, OrderState.STORED):
                raise FlowError(f"order {order_id} is {o.state} and cannot be cancelled")
            tx.set_order(o, OrderState.CANCELLED, why="cancelled")
            return OrderState.CANCELLED

    def expire_due(self) -> list[str]:
        """Move orders whose pickup window is over to ``expired`` (they stay in their compartment)."""
        store = self.ctx.store
        now = self.ctx.clock.now()
        expired: list[str] = []
        for o in store.orders([OrderState.ANNOUNCED, OrderState.STORED]):
            if o.valid_until > now or (o.state == OrderState.ANNOUNCED and o.compartment is not None):
                continue
            with store.change("system") as tx:
                cur = tx.order(o.id)
                if cur.state != o.state or (cur.state == OrderState.ANNOUNCED and cur.compartment is not None):
                    continue
                tx.set_order(cur, OrderState.EXPIRED, why="window_over")
                tx.outbox("expired", order=o.id, compartment=cur.compartment)
            expired.append(o.id)
        return expired
