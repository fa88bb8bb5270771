"""The hub's witness on the device: each stored countersignature verifies and names the checkpoint it is kept with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from backend_sync import schema
from backend_sync.errors import SyncError
from backend_sync.keys import load_ed25519_public
from backend_sync.receiver import verify_countersignature
from locker.db import Database


@dataclass(frozen=True)
class WitnessReport:
    ok: bool
    countersigned: int  # checkpoints that carry a countersignature
    last: int  # the largest countersigned size (0: none)
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "countersigned": self.countersigned, "last": self.last, "problem": self.problem}


def check(database: Database) -> WitnessReport:
    """Verify every countersignature in ``audit_checkpoints`` with the pinned hub keys, and that it covers the
    (size, head) stored beside it. ``audit.verify`` checks those heads against the log, so an entry rewritten
    before a countersigned checkpoint fails one of the two checks, whatever else was recomputed. (A log whose
    countersignatures were deleted passes here; the hub refuses its next checkpoint.)"""
    tables = set(database.db.table_names())
    if "audit_checkpoints" not in tables:
        return WitnessReport(True, 0, 0)
    rows = database.query(
        "SELECT size, head, countersignature FROM audit_checkpoints WHERE countersignature IS NOT NULL ORDER BY size"
    )
    if not rows:
        return WitnessReport(True, 0, 0)
    keys = database.query("SELECT key_id, public_key FROM sync_hub_keys") if "sync_hub_keys" in tables else []
    pinned = {str(k["key_id"]): load_ed25519_public(bytes(k["public_key"])) for k in keys}
    device: str | None = None
    for r in rows:
        size, raw = int(r["size"]), bytes(r["countersignature"])
        try:
            claimed = str(schema.loads(raw).get("device_id", ""))
            cs = verify_countersignature(raw, device or claimed, pinned)
        except (SyncError, AttributeError) as exc:
            return WitnessReport(False, len(rows), size, f"countersignature of checkpoint {size}: {exc}")
        device = cs.device_id
        if (cs.size, cs.head) != (size, bytes(r["head"])):
            problem = f"checkpoint {size} is not what the hub countersigned ({cs.size} entries, head {cs.head.hex()})"
            return WitnessReport(False, len(rows), size, problem)
    return WitnessReport(True, len(rows), int(rows[-1]["size"]))
