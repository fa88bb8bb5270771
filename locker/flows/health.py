"""Scanner health: a failed camera or scanner raises an alarm; the manual code path stays available."""

from __future__ import annotations

from locker.flows.common import FlowContext
from locker.model import AlarmKind


class ScannerHealthFlow:
    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx

    def report(self, scanner: str, ok: bool, reason: str = "", kind: AlarmKind = AlarmKind.SCANNER_FAILED) -> None:
        """Record a part's health change (``scanner`` names it, e.g. "camera"; ``kind``: SCANNER_FAILED for scanners,
        SCREEN_FAILED for the kiosk UI); idempotent."""
        with self.ctx.store.change("scanner") as tx:
            if ok:
                tx.clear_alarm(kind, board=scanner)
            elif tx.raise_alarm(kind, board=scanner) and reason:
                tx.audit(f"{kind.value.removesuffix('_failed')}.failed", scanner=scanner, detail=reason[:120])

    def failed(self) -> list[str]:
        """Names of scanners currently failed (the UI then says the camera is out of order, offers the keypad)."""
        return [b for k, _c, b, _t in self.ctx.store.open_alarms() if k == AlarmKind.SCANNER_FAILED]
