"""Kiosk side of the protocol: check a bundle (signature first, then device, chain, time), decrypt, apply."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from backend_sync import protocol as p
from backend_sync import schema
from backend_sync.errors import ChainError, ExpiredError, ReplayError, TamperError, WrongDeviceError
from backend_sync.keys import key_id, load_ed25519_public, raw_public, verify_signature
from locker.flows.bundle import (
    ApplyResult,
    BundleContent,
    BundleFlow,
    HubKey,
    ManifestRecord,
    StaleBundle,
    StaleReason,
    SyncHead,
)
from locker.ports import Clock


@dataclass(frozen=True)
class SyncPolicy:
    max_future_s: int = 15 * 60  # issued_at may be this far ahead of the kiosk's clock (clock drift)
    max_lifetime_s: int = 31 * p.DAY_S  # expires_at - issued_at beyond this is refused: it would void expiry
    max_bundle_bytes: int = schema.MAX_MESSAGE_BYTES


class Decryptor(Protocol):
    """Holds the kiosk's X25519 private key; tests wrap it to prove refusals happen before decryption."""

    @property
    def enc_key_id(self) -> str: ...

    def decrypt(self, ciphertext: bytes, info: bytes) -> bytes: ...


class HpkeDecryptor:
    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._key = private_key
        self._id = key_id(raw_public(private_key.public_key()))

    @property
    def enc_key_id(self) -> str:
        return self._id

    def decrypt(self, ciphertext: bytes, info: bytes) -> bytes:
        try:
            return p.SUITE.decrypt(ciphertext, self._key, info=info)
        except (InvalidTag, ValueError) as exc:
            raise TamperError("bundle ciphertext does not decrypt with this kiosk's key and context") from exc


@dataclass(frozen=True)
class OpenedBundle:
    manifest: p.Manifest
    manifest_hash: bytes
    payload: p.BundlePayload


def check_manifest(
    parsed: p.ParsedBundle,
    *,
    device_id: str,
    enc_key_id: str,
    pinned: dict[str, Ed25519PublicKey],
    head: SyncHead,
    now: float,
    policy: SyncPolicy,
) -> None:
    """Every check that needs no decryption, signature first. Raises a SyncError subclass on refusal."""
    b = parsed.bundle
    m = b.manifest
    if not pinned:
        raise TamperError("no hub key is pinned: enroll the kiosk first")
    verify_signature(pinned, m.key_id, b.signature, parsed.signed_bytes)
    if not hmac.compare_digest(hashlib.sha256(b.ciphertext).digest(), m.content_hash):
        raise TamperError("ciphertext does not match the signed content hash")
    if m.device_id != device_id:
        raise WrongDeviceError(f"bundle is for device {m.device_id!r}, this is {device_id!r}")
    if m.recipient_key_id != enc_key_id:
        raise WrongDeviceError(f"bundle is encrypted to key {m.recipient_key_id}, this kiosk's key is {enc_key_id}")
    if m.seq <= head.seq:
        raise ReplayError(f"bundle {m.seq} is not newer than the accepted bundle {head.seq}")
    if m.seq != head.seq + 1 or m.prev_hash != head.hash:
        raise ChainError(f"bundle {m.seq} does not link to the accepted manifest {head.seq}")
    if m.expires_at < now:
        raise ExpiredError(f"bundle {m.seq} expired at {m.expires_at} (kiosk time {now:.0f})")
    if m.issued_at > now + policy.max_future_s:
        raise ExpiredError(f"bundle {m.seq} is issued {m.issued_at - now:.0f} s in the kiosk's future")
    if m.expires_at - m.issued_at > policy.max_lifetime_s:
        raise ExpiredError(f"bundle {m.seq} claims a lifetime over {policy.max_lifetime_s} s")


def open_bundle(
    data: bytes,
    *,
    device_id: str,
    decryptor: Decryptor,
    pinned: dict[str, Ed25519PublicKey],
    head: SyncHead,
    now: float,
    policy: SyncPolicy,
) -> OpenedBundle:
    """Parse, check (before any decryption), decrypt and parse the payload of one bundle."""
    parsed = p.parse_bundle(data, policy.max_bundle_bytes)
    check_manifest(
        parsed, device_id=device_id, enc_key_id=decryptor.enc_key_id, pinned=pinned, head=head, now=now, policy=policy
    )
    m = parsed.bundle.manifest
    plaintext = decryptor.decrypt(parsed.bundle.ciphertext, p.bundle_info(m.device_id, m.seq))
    payload = schema.decode(p.BundlePayload, schema.loads(plaintext, policy.max_bundle_bytes), "payload")
    if payload.device_id != m.device_id or payload.seq != m.seq:
        raise TamperError("payload names another device or sequence number than its manifest")
    return OpenedBundle(m, parsed.manifest_hash, payload)


def to_core(opened: OpenedBundle) -> BundleContent:
    """Convert the wire payload into the core's typed bundle content."""
    m = opened.manifest
    return BundleContent(
        manifest=ManifestRecord(m.seq, opened.manifest_hash, m.prev_hash, float(m.issued_at)),
        orders=list(opened.payload.orders),
        cancellations=list(opened.payload.cancellations),
        staff=list(opened.payload.staff),
        full_sync=opened.payload.full_sync,
        max_data_age_h=opened.payload.max_data_age_h,
        document_policies=opened.payload.document_policies,
        hub_keys=None if m.hub_keys is None else [HubKey(k.key_id, k.public_key) for k in m.hub_keys],
    )


class BundleReceiver:
    """What the kiosk's sync client calls with the bytes it pulled: verify, decrypt, apply; or raise and change
    nothing (SchemaError, TamperError, WrongDeviceError, ReplayError, ChainError, ExpiredError; BadInput when
    the content is refused by the core)."""

    def __init__(
        self,
        flow: BundleFlow,
        device_id: str,
        decryptor: Decryptor,
        clock: Clock,
        policy: SyncPolicy | None = None,
    ) -> None:
        p.check_device_id(device_id)
        self.flow = flow
        self.device_id = device_id
        self.decryptor = decryptor
        self.clock = clock
        self.policy = policy or SyncPolicy()

    def pinned(self) -> dict[str, Ed25519PublicKey]:
        return {k.key_id: load_ed25519_public(k.public_key) for k in self.flow.hub_keys()}

    def open(self, data: bytes) -> BundleContent:
        opened = open_bundle(
            data,
            device_id=self.device_id,
            decryptor=self.decryptor,
            pinned=self.pinned(),
            head=self.flow.head(),
            now=self.clock.now(),
            policy=self.policy,
        )
        return to_core(opened)

    def receive(self, data: bytes) -> ApplyResult:
        content = self.open(data)
        try:
            return self.flow.apply(content)
        except StaleBundle as exc:
            # Another bundle was applied between the checks and the transaction.
            if exc.reason == StaleReason.REPLAY:
                raise ReplayError(str(exc)) from exc
            raise ChainError(str(exc)) from exc


def verify_countersignature(data: bytes, device_id: str, pinned: dict[str, Ed25519PublicKey]) -> p.Countersignature:
    """Kiosk side: check the hub's countersignature over one of this kiosk's audit checkpoints."""
    cs = schema.decode(p.Countersignature, schema.loads(data), "countersignature")
    if cs.device_id != device_id:
        raise WrongDeviceError(f"countersignature is for device {cs.device_id!r}")
    message = p.COUNTERSIGN_DOMAIN + p.checkpoint_bytes(device_id, cs.size, cs.head)
    verify_signature(pinned, cs.key_id, cs.signature, message)
    return cs
