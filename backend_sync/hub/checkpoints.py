"""Audit checkpoints at the hub: check a kiosk's log extends the last countersigned one, then countersign."""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from backend_sync import protocol as p
from backend_sync.builder import countersign
from backend_sync.hub.errors import CheckpointBase, Conflict, Invalid
from backend_sync.hub.keys import HubKeys
from backend_sync.hub.tables import alarms, checkpoints, kiosks, orders
from backend_sync.keys import b64, load_ed25519_public
from locker import audit

log = logging.getLogger(__name__)

AUDIT_NOT_EXTENDED = "audit_not_extended"


class AuditNotExtended(Conflict):
    """The kiosk's audit log does not extend the last checkpoint the hub countersigned (truncated or forked)."""


def check_extends(conn: Connection, kiosk: Row[Any], body: p.CheckpointBody) -> None:
    """Countersign only a log that extends the last checkpoint countersigned in this enrollment.

    The kiosk sends the entries after that checkpoint (``since``); the hub re-chains them from the head it
    witnessed and must arrive at the signed head. A shorter log (truncation), entries that do not chain to the head
    (an edited, dropped or forked entry anywhere after the witnessed one) and a handover proof the re-chained log
    does not hold are refused as ``AuditNotExtended``; entries from another starting point get ``CheckpointBase``
    (no alarm: the kiosk may have missed a countersignature), which names the size to start from.
    """
    device, last = kiosk.device_id, int(kiosk.checkpoint_size)
    if body.size < last:
        raise AuditNotExtended(f"kiosk {device}: audit log of {body.size} entries is shorter than checkpoint {last}")
    if body.since != last:
        raise CheckpointBase(f"kiosk {device}: send the audit entries after {last}, the last countersigned", last)
    if len(body.entries) != body.size - last:
        raise Invalid(f"checkpoint.entries: {body.size - last} entries after {last} expected, got {len(body.entries)}")
    h = bytes.fromhex(kiosk.checkpoint_head)
    heads: dict[int, str] = {}
    for seq, entry in enumerate(body.entries, start=last + 1):
        h = audit.chain_hash(h, seq, entry.encode())
        heads[seq] = h.hex()
    if h != body.head:
        raise AuditNotExtended(f"kiosk {device}: the audit log at {body.size} does not extend checkpoint {last}")
    _check_proofs(conn, device, heads)


def _proofs(conn: Connection, device: str) -> list[Any]:
    return list(
        conn.execute(
            select(orders.c.id, orders.c.handover_proof).where(
                orders.c.kiosk_id == device, orders.c.handover_proof.is_not(None)
            )
        ).all()
    )


def _check_proofs(conn: Connection, device: str, heads: dict[int, str]) -> None:
    """Handover proofs inside the re-chained stretch: one the log does not hold refuses the checkpoint (the
    transaction rolls back), pending ones are marked ``match``."""
    for r in _proofs(conn, device):
        proof = json.loads(r.handover_proof)
        seq = proof.get("audit_seq")
        if not isinstance(seq, int) or seq not in heads:
            continue
        if proof.get("audit_hash") != heads[seq]:
            raise AuditNotExtended(f"kiosk {device}: handover proof of order {r.id} is not in this log")
        if proof.get("check") == "pending":
            proof["check"] = "match"
            conn.execute(
                update(orders).where(orders.c.id == r.id).values(handover_proof=json.dumps(proof, sort_keys=True))
            )


def countersign_checkpoint(
    conn: Connection, keys: HubKeys, kiosk: Row[Any], body: p.CheckpointBody, now: float
) -> bytes:
    """Verify the kiosk's signature, check the log extends the last countersigned one, record and countersign."""
    device = kiosk.device_id
    p.verify_checkpoint(device, body, load_ed25519_public(bytes.fromhex(kiosk.sign_public)))
    check_extends(conn, kiosk, body)
    cs = countersign(keys.signer, device, body)
    row = {
        "head": body.head.hex(),
        "kiosk_signature": b64(body.signature),
        "countersignature": cs.decode(),
        "at": now,
    }
    where = (checkpoints.c.device_id == device, checkpoints.c.size == body.size)
    exists = conn.execute(select(checkpoints.c.at).where(*where)).first()
    if exists is None:
        conn.execute(insert(checkpoints).values(device_id=device, size=body.size, **row))
    elif exists.at < float(kiosk.approved_at or 0.0):  # a checkpoint of an earlier enrollment's log (a new SD card)
        log.warning("kiosk %s: checkpoint %d of an earlier enrollment replaced", device, body.size)
        conn.execute(update(checkpoints).where(*where).values(**row))
    conn.execute(
        update(kiosks)
        .where(kiosks.c.device_id == device)
        .values(checkpoint_size=body.size, checkpoint_head=body.head.hex())
    )
    return cs


def raise_audit_alarm(conn: Connection, device: str, now: float) -> None:
    """The fleet alarm for a refused checkpoint (its own transaction: the refused request rolls back)."""
    open_ = conn.execute(
        select(alarms.c.id).where(
            alarms.c.device_id == device, alarms.c.kind == AUDIT_NOT_EXTENDED, alarms.c.cleared_at.is_(None)
        )
    ).first()
    if open_ is None:
        conn.execute(insert(alarms).values(device_id=device, kind=AUDIT_NOT_EXTENDED, compartment=None, raised_at=now))
    log.warning("kiosk %s: audit log does not extend the last countersigned checkpoint", device)


def covering_checkpoint(conn: Connection, device: str, seq: int) -> tuple[int, float] | None:
    """(size, at) of the first countersigned checkpoint of ``device`` whose log holds entry ``seq``."""
    r = conn.execute(
        select(checkpoints.c.size, checkpoints.c.at)
        .where(checkpoints.c.device_id == device, checkpoints.c.size >= seq)
        .order_by(checkpoints.c.size)
        .limit(1)
    ).first()
    return (int(r.size), float(r.at)) if r is not None else None
