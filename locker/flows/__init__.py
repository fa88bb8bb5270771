"""The flows: the only code that changes station state. ``Flows`` wires them over one context."""

from __future__ import annotations

from locker.config import StationConfig
from locker.flows.bundle import BundleFlow, TimeFloor
from locker.flows.common import FlowContext
from locker.flows.doors import DoorFlow
from locker.flows.health import ScannerHealthFlow
from locker.flows.loading import LoadAssignment, LoadingFlow
from locker.flows.move import MoveFlow
from locker.flows.orders import OrdersFlow
from locker.flows.pickup import CodeMethod, PendingPickup, PickupFlow, VerifiedPickup
from locker.flows.recovery import Recovered, RecoveryFlow
from locker.flows.staffwork import StaffWorkFlow
from locker.ports import Clock, LockBank
from locker.staff import StaffAuth
from locker.store import Store

__all__ = [
    "CodeMethod",
    "FlowContext",
    "Flows",
    "LoadAssignment",
    "PendingPickup",
    "Recovered",
    "VerifiedPickup",
]


class Flows:
    """Every flow of one station over one store, lock bank, clock and configuration."""

    def __init__(
        self, store: Store, bank: LockBank, clock: Clock, config: StationConfig, floor: TimeFloor | None = None
    ) -> None:
        self.ctx = FlowContext(store, bank, clock, config)
        self.staff = StaffAuth(store, config, clock)
        self.orders = OrdersFlow(self.ctx)
        self.pickup = PickupFlow(self.ctx)
        self.loading = LoadingFlow(self.ctx, self.staff)
        self.staffwork = StaffWorkFlow(self.ctx, self.staff)
        self.move = MoveFlow(self.ctx, self.staff)
        self.doors = DoorFlow(self.ctx)
        self.recovery = RecoveryFlow(self.ctx, self.doors)
        self.health = ScannerHealthFlow(self.ctx)
        self.bundle = BundleFlow(self.ctx, floor)
