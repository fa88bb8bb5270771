"""Audit checkpoints at the hub: check a kiosk's log extends the last countersigned one, then countersign."""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from backend_sync import protocol as p
from backend_sync.builder import countersign
from backend_sync.hub.errors import Conflict
from backend_sync.hub.keys import HubKeys
from backend_sync.hub.tables import alarms, checkpoints, kiosks, orders
from backend_sync.keys import b64, load_ed25519_public

log = logging.getLogger(__name__)

AUDIT_NOT_EXTENDED = "audit_not_extended"


class AuditNotExtended(Conflict):
    """The kiosk's audit log does not extend the last checkpoint the hub countersigned (truncated or forked)."""


def check_extends(conn: Connection, kiosk: Row[Any], body: p.CheckpointBody) -> None:
    """What the hub can check without the log entries (it only ever sees (size, head) pairs and proofs):

    - size never shrinks below the last countersigned checkpoint (truncation);
    - a size the hub countersigned before must have the same head (rewritten history);
    - a handover proof (audit seq, hash) reported at exactly this size must equal the head.
    Proofs at other positions are checked when a checkpoint lands exactly on them; between two checkpoints a
    rewritten entry is only caught by the kiosk's own ``audit.verify`` (the chain) — documented limitation.
    """
    device = kiosk.device_id
    if body.size < kiosk.checkpoint_size:
        raise AuditNotExtended(
            f"kiosk {device}: audit log of {body.size} entries is shorter than checkpoint {kiosk.checkpoint_size}"
        )
    same = conn.execute(
        select(checkpoints.c.head).where(checkpoints.c.device_id == device, checkpoints.c.size == body.size)
    ).first()
    if same is not None and same.head != body.head.hex():
        raise AuditNotExtended(f"kiosk {device}: audit head at {body.size} differs from the countersigned one")
    for r in _proofs(conn, device):
        proof = json.loads(r.handover_proof)
        if proof.get("audit_seq") == body.size and proof.get("audit_hash") != body.head.hex():
            raise AuditNotExtended(f"kiosk {device}: handover proof of order {r.id} is not in this log")


def _proofs(conn: Connection, device: str) -> list[Any]:
    return list(
        conn.execute(
            select(orders.c.id, orders.c.handover_proof).where(
                orders.c.kiosk_id == device, orders.c.handover_proof.is_not(None)
            )
        ).all()
    )


def _mark_proofs(conn: Connection, device: str, size: int, head: str) -> None:
    for r in _proofs(conn, device):
        proof = json.loads(r.handover_proof)
        if proof.get("audit_seq") == size and proof.get("check") == "pending":
            proof["check"] = "match" if proof.get("audit_hash") == head else "mismatch"
            conn.execute(
                update(orders).where(orders.c.id == r.id).values(handover_proof=json.dumps(proof, sort_keys=True))
            )


def countersign_checkpoint(
    conn: Connection, keys: HubKeys, kiosk: Row[Any], body: p.CheckpointBody, now: float
) -> bytes:
    """Verify the kiosk's signature, check the log extends the last one, record and countersign."""
    device = kiosk.device_id
    p.verify_checkpoint(device, body, load_ed25519_public(bytes.fromhex(kiosk.sign_public)))
    check_extends(conn, kiosk, body)
    cs = countersign(keys.signer, device, body)
    exists = conn.execute(
        select(checkpoints.c.size).where(checkpoints.c.device_id == device, checkpoints.c.size == body.size)
    ).first()
    if exists is None:
        conn.execute(
            insert(checkpoints).values(
                device_id=device,
                size=body.size,
                head=body.head.hex(),
                kiosk_signature=b64(body.signature),
                countersignature=cs.decode(),
                at=now,
            )
        )
    conn.execute(
        update(kiosks)
        .where(kiosks.c.device_id == device)
        .values(checkpoint_size=body.size, checkpoint_head=body.head.hex())
    )
    _mark_proofs(conn, device, body.size, body.head.hex())
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
