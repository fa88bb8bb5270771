"""Scanner health: a failed camera or scanner raises an alarm; the manual code path stays available."""

from __future__ import annotations

from locker.flows.common import FlowContext
from locker.model import AlarmKind


class ScannerHealthFlow:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx

    def report(self, scanner: str, ok: bool, reason: str = "") -> None:
        """Record a scanner's health change (``scanner`` names it, e.g. "camera"); idempotent."""
        with self.ctx.store.change("scanner") as tx:
            if ok:
                tx.clear_alarm(AlarmKind.SCANNER_FAILED, board=scanner)
            elif tx.raise_alarm(AlarmKind.SCANNER_FAILED, board=scanner) and reason:
                tx.audit("scanner.failed", scanner=scanner, detail=reason[:120])

    def failed(self) -> list[str]:
        """Names of scanners currently failed (the UI then says the camera is out of order, offers the keypad)."""
        return [b for k, _c, b, _t in self.ctx.store.open_alarms() if k == AlarmKind.SCANNER_FAILED]
