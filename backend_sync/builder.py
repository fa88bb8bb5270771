"""Hub side of the protocol as pure functions: build one kiosk's signed, encrypted bundle; countersign checkpoints."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from backend_sync import protocol as p
from backend_sync.keys import Signer, key_id, load_x25519_public
from locker.doctypes import DocumentPolicy
from locker.model import NewOrder, StaffAccount


@dataclass(frozen=True)
class Recipient:
    """A kiosk as the hub knows it after enrollment: its device id and raw X25519 public key."""

    device_id: str
    enc_public: bytes

    @property
    def enc_key_id(self) -> str:
        return key_id(self.enc_public)


@dataclass(frozen=True)
class BuiltBundle:
    data: bytes  # the wire bytes to serve to the kiosk
    manifest: p.Manifest
    manifest_hash: bytes  # the prev_hash of the next bundle once the kiosk reports it applied this one


def build_bundle(
    signer: Signer,
    recipient: Recipient,
    *,
    seq: int,
    prev_hash: bytes,
    issued_at: int,
    orders: Sequence[NewOrder] = (),
    cancellations: Sequence[str] = (),
    staff: Sequence[StaffAccount] = (),
    full_sync: bool = False,
    lifetime_s: int = p.DEFAULT_LIFETIME_S,
    hub_keys: Sequence[bytes] | None = None,
    max_data_age_h: int | None = None,
    document_policies: Sequence[DocumentPolicy] | None = None,
) -> BuiltBundle:
    """Encrypt the payload to the kiosk (HPKE, info bound to device and seq), then sign the manifest.

    ``prev_hash`` is the hash of the manifest the kiosk last accepted (``protocol.GENESIS_HASH`` for the first);
    ``hub_keys`` (raw Ed25519 public keys) rotates the kiosk's pinned set, signed by the current ``signer``;
    ``max_data_age_h`` carries the city's data-age limit, ``document_policies`` its handover policy per document type.
    """
    p.check_device_id(recipient.device_id)
    payload = p.BundlePayload(
        device_id=recipient.device_id,
        seq=seq,
        full_sync=full_sync,
        orders=tuple(orders),
        cancellations=tuple(cancellations),
        staff=tuple(staff),
        max_data_age_h=max_data_age_h,
        document_policies=None if document_policies is None else tuple(document_policies),
    )
    ciphertext = p.SUITE.encrypt(
        p.dump(payload), load_x25519_public(recipient.enc_public), info=p.bundle_info(recipient.device_id, seq)
    )
    manifest = p.Manifest(
        device_id=recipient.device_id,
        seq=seq,
        prev_hash=prev_hash,
        issued_at=issued_at,
        expires_at=issued_at + lifetime_s,
        content_hash=hashlib.sha256(ciphertext).digest(),
        key_id=signer.key_id,
        recipient_key_id=recipient.enc_key_id,
        hub_keys=None if hub_keys is None else tuple(p.HubKeyItem(key_id(k), k) for k in hub_keys),
    )
    manifest_json = p.dump(manifest)
    signature = signer.sign(p.MANIFEST_DOMAIN + manifest_json)
    bundle = p.Bundle(p.PROTOCOL_VERSION, p.MessageKind.BUNDLE, manifest, signature, ciphertext)
    return BuiltBundle(p.dump(bundle), manifest, hashlib.sha256(manifest_json).digest())


def countersign(signer: Signer, device_id: str, body: p.CheckpointBody) -> bytes:
    """The hub's countersignature over a kiosk's audit checkpoint (after checking it extends the last one seen)."""
    message = p.COUNTERSIGN_DOMAIN + p.checkpoint_bytes(device_id, body.size, body.head)
    cs = p.Countersignature(
        p.PROTOCOL_VERSION,
        p.MessageKind.COUNTERSIGNATURE,
        device_id,
        body.size,
        body.head,
        signer.key_id,
        signer.sign(message),
    )
    return p.dump(cs)
