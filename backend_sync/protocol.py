"""The sync protocol, one definition for hub and kiosk: message kinds, wire schemas, signed bytes, HPKE suite."""

from __future__ import annotations

import enum
import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.hpke import AEAD, KDF, KEM, Suite

from backend_sync import schema
from backend_sync.errors import SchemaError, WrongDeviceError
from backend_sync.keys import Signer, key_id, load_ed25519_public, raw_public, verify_signature
from backend_sync.schema import B64, B64Key, B64Sig, Hex32
from locker import audit
from locker.doctypes import DocumentPolicy
from locker.model import NewOrder, StaffAccount

PROTOCOL_VERSION = 1
# ChaCha20-Poly1305: the Pi 4 has no AES instructions. Base mode, no AAD: context is bound through ``info``.
SUITE = Suite(KEM.X25519, KDF.HKDF_SHA256, AEAD.CHACHA20_POLY1305)
GENESIS_HASH = bytes(32)
DAY_S = 86_400
DEFAULT_LIFETIME_S = 14 * DAY_S
MAX_DATA_AGE_H = 24 * 120  # a data-age limit beyond the longest bundle validity would never fire
MAX_CHECKPOINT_ENTRIES = 2000  # audit entries per checkpoint message; a longer stretch goes in several steps

# Domain separation: every signature covers one of these prefixes followed by canonical JSON.
MANIFEST_DOMAIN = b"wibox-manifest-v1\n"
KIOSK_MESSAGE_DOMAIN = b"wibox-kiosk-message-v1\n"
CHECKPOINT_DOMAIN = b"wibox-checkpoint-v1\n"
COUNTERSIGN_DOMAIN = b"wibox-countersign-v1\n"

_DEVICE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_KEY_ID_RE = re.compile(r"^[0-9a-f]{16}$")
_MSG_ID_RE = re.compile(r"^[0-9a-f]{32}$")


class MessageKind(enum.StrEnum):
    BUNDLE = "bundle"  # hub -> kiosk: signed manifest + HPKE ciphertext
    COUNTERSIGNATURE = "countersignature"  # hub -> kiosk: the hub's signature over an audit checkpoint
    PULL = "pull"  # kiosk -> hub: "build my next bundle on this head"
    HEARTBEAT = "heartbeat"  # kiosk -> hub: alive, chain head, audit size
    EVENTS = "events"  # kiosk -> hub: outbox events (at least once; ids make processing exactly once)
    CHECKPOINT = "checkpoint"  # kiosk -> hub: signed audit checkpoint for countersigning
    KEY_ANNOUNCE = "key_announce"  # kiosk -> hub: its public keys (enrollment, rotation)


ENROLLMENT_CODE_DIGITS = 8  # the one-time code the hub gives an enrolling kiosk to show


def check_device_id(device_id: str, where: str = "device_id") -> None:
    if not _DEVICE_RE.fullmatch(device_id):
        raise SchemaError(f"{where}: {device_id!r} is not a device id (1-64 of A-Z a-z 0-9 . _ -)")


def _check_key_id(kid: str, where: str) -> None:
    if not _KEY_ID_RE.fullmatch(kid):
        raise SchemaError(f"{where}: {kid!r} is not a key id (16 lowercase hex digits)")


def _check_version(v: int, where: str) -> None:
    if v != PROTOCOL_VERSION:
        raise SchemaError(f"{where}.v: protocol version {v} is not supported (this side speaks {PROTOCOL_VERSION})")


def bundle_info(device_id: str, seq: int) -> bytes:
    """HPKE ``info``: binds a ciphertext to one device and one sequence number."""
    return b"wibox-bundle-v1|" + device_id.encode("ascii") + b"|" + str(seq).encode("ascii")


def dump(obj: Any) -> bytes:
    """A protocol dataclass as canonical JSON bytes."""
    return schema.canonical(schema.encode(obj))


# -- hub -> kiosk: bundles ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class HubKeyItem:
    key_id: str
    public_key: B64Key

    def __post_init__(self) -> None:
        if key_id(self.public_key) != self.key_id:
            raise SchemaError(f"hub key {self.key_id!r}: key id does not match the public key")


@dataclass(frozen=True)
class Manifest:
    """Signed in clear; everything the kiosk checks before it decrypts anything. Times are integer seconds."""

    device_id: str
    seq: int
    prev_hash: Hex32  # SHA-256 of the canonical JSON of the previous manifest (zeros for seq 1)
    issued_at: int
    expires_at: int
    content_hash: Hex32  # SHA-256 of the HPKE ciphertext (enc || sealed payload)
    key_id: str  # the hub signing key that signed this manifest
    recipient_key_id: str  # the kiosk X25519 key the payload is encrypted to
    hub_keys: tuple[HubKeyItem, ...] | None = None  # rotation: the complete new set of hub keys to pin

    def __post_init__(self) -> None:
        check_device_id(self.device_id, "manifest.device_id")
        if self.seq < 1:
            raise SchemaError("manifest.seq: must be at least 1")
        if self.expires_at <= self.issued_at:
            raise SchemaError("manifest.expires_at: must be after issued_at")
        _check_key_id(self.key_id, "manifest.key_id")
        _check_key_id(self.recipient_key_id, "manifest.recipient_key_id")
        if self.hub_keys is not None and not self.hub_keys:
            raise SchemaError("manifest.hub_keys: a rotation must name at least one key")


@dataclass(frozen=True)
class Bundle:
    v: int
    kind: MessageKind
    manifest: Manifest
    signature: B64Sig  # Ed25519 over MANIFEST_DOMAIN + canonical(manifest)
    ciphertext: B64

    def __post_init__(self) -> None:
        _check_version(self.v, "bundle")
        if self.kind != MessageKind.BUNDLE:
            raise SchemaError(f"bundle.kind: expected {MessageKind.BUNDLE}, got {self.kind}")


@dataclass(frozen=True)
class BundlePayload:
    """The plaintext inside the HPKE ciphertext: the core's own order and staff records."""

    device_id: str
    seq: int
    full_sync: bool
    orders: tuple[NewOrder, ...]
    cancellations: tuple[str, ...]
    staff: tuple[StaffAccount, ...]
    # The city's data-age limit in hours (stale_data past it); absent: the station's sync.max_data_age_h applies.
    max_data_age_h: int | None = None
    # The city's handover policy per document type; absent: the policies in force stay (before any: station TOML).
    document_policies: tuple[DocumentPolicy, ...] | None = None

    def __post_init__(self) -> None:
        if self.max_data_age_h is not None and not 1 <= self.max_data_age_h <= MAX_DATA_AGE_H:
            raise SchemaError(f"bundle.max_data_age_h: 1 to {MAX_DATA_AGE_H} hours")
        if self.document_policies is not None:
            kinds = [d.document_type for d in self.document_policies]
            if len(set(kinds)) != len(kinds):
                raise SchemaError("bundle.document_policies: one document type is listed twice")


@dataclass(frozen=True)
class ParsedBundle:
    """A bundle as parsed (nothing verified yet) with the exact manifest bytes the signature covers."""

    bundle: Bundle
    manifest_json: bytes

    @property
    def manifest_hash(self) -> bytes:
        return hashlib.sha256(self.manifest_json).digest()

    @property
    def signed_bytes(self) -> bytes:
        return MANIFEST_DOMAIN + self.manifest_json


def parse_bundle(data: bytes, max_bytes: int = schema.MAX_MESSAGE_BYTES) -> ParsedBundle:
    raw = schema.loads(data, max_bytes)
    bundle = schema.decode(Bundle, raw, "bundle")
    return ParsedBundle(bundle, schema.canonical(raw["manifest"]))


def manifest_hash(manifest: Manifest) -> bytes:
    return hashlib.sha256(dump(manifest)).digest()


# -- hub -> kiosk: audit countersignatures ------------------------------------------------------------------
@dataclass(frozen=True)
class Countersignature:
    v: int
    kind: MessageKind
    device_id: str
    size: int
    head: Hex32
    key_id: str
    signature: B64Sig  # hub's Ed25519 over COUNTERSIGN_DOMAIN + audit.checkpoint_message(device, cp)

    def __post_init__(self) -> None:
        _check_version(self.v, "countersignature")
        if self.kind != MessageKind.COUNTERSIGNATURE:
            raise SchemaError(f"countersignature.kind: expected {MessageKind.COUNTERSIGNATURE}")
        check_device_id(self.device_id, "countersignature.device_id")


def checkpoint_bytes(device_id: str, size: int, head: bytes) -> bytes:
    return audit.checkpoint_message(device_id, audit.Checkpoint(size, head))


# -- kiosk -> hub: signed messages --------------------------------------------------------------------------
@dataclass(frozen=True)
class PullBody:
    KIND: ClassVar[MessageKind] = MessageKind.PULL
    manifest_seq: int
    manifest_hash: Hex32


@dataclass(frozen=True)
class HealthReport:
    """The station's state for the fleet view (counts and measurements only, nothing personal)."""

    clock: int  # the kiosk's time when it sent the heartbeat
    compartments: int
    free: int
    occupied: int
    faulty: int
    disabled: int
    doors_open: int  # compartments in a door cycle (loading, opening)
    outbox_depth: int  # events not yet delivered
    alarms: tuple[str, ...]  # kinds of the open alarms
    disk_free_mb: int
    temperature_mc: int | None = None  # SoC temperature in milli-degrees Celsius (integers only: signed JSON)
    pin_failures_total: int = 0  # wrong manual codes entered at this kiosk, ever (a counter)


@dataclass(frozen=True)
class HeartbeatBody:
    KIND: ClassVar[MessageKind] = MessageKind.HEARTBEAT
    manifest_seq: int
    manifest_hash: Hex32
    audit_size: int
    audit_head: Hex32
    time_floor: int
    open_alarms: int
    software: str
    health: HealthReport | None = None


@dataclass(frozen=True)
class EventItem:
    id: str  # the outbox event id: the hub processes each id once
    seq: int
    kind: str
    body: str  # the outbox body, canonical JSON as stored


@dataclass(frozen=True)
class EventsBody:
    KIND: ClassVar[MessageKind] = MessageKind.EVENTS
    events: tuple[EventItem, ...]


@dataclass(frozen=True)
class CheckpointBody:
    KIND: ClassVar[MessageKind] = MessageKind.CHECKPOINT
    size: int
    head: Hex32
    signature: B64Sig  # kiosk's Ed25519 over CHECKPOINT_DOMAIN + audit.checkpoint_message(device, cp)
    # The audit entries since the last checkpoint the hub countersigned for this enrollment (``since``; 0 and the
    # genesis head before the first): ``entries[i]`` is the stored event text of entry ``since + 1 + i``, so the hub
    # re-chains from the head it witnessed to ``head`` and countersigns only a log that extends it.
    since: int = 0
    entries: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.since < 0 or self.size < 0:
            raise SchemaError("checkpoint: size and since must not be negative")
        if len(self.entries) > MAX_CHECKPOINT_ENTRIES:
            raise SchemaError(f"checkpoint.entries: at most {MAX_CHECKPOINT_ENTRIES} per message")


@dataclass(frozen=True)
class KeyAnnounceBody:
    """Enrollment: signed by the new key itself. Rotation: signed by the current key, naming the next keys."""

    KIND: ClassVar[MessageKind] = MessageKind.KEY_ANNOUNCE
    sign_public: B64Key
    enc_public: B64Key


KioskBody = PullBody | HeartbeatBody | EventsBody | CheckpointBody | KeyAnnounceBody
BODY_TYPES: dict[MessageKind, type[KioskBody]] = {
    b.KIND: b for b in (PullBody, HeartbeatBody, EventsBody, CheckpointBody, KeyAnnounceBody)
}


@dataclass(frozen=True)
class MessageHeader:
    kind: MessageKind
    device_id: str
    msg_id: str  # 32 hex digits, unique per message: the hub drops repeats
    sent_at: int

    def __post_init__(self) -> None:
        if self.kind not in BODY_TYPES:
            raise SchemaError(f"message.kind: {self.kind} is not a kiosk message")
        check_device_id(self.device_id, "message.device_id")
        if not _MSG_ID_RE.fullmatch(self.msg_id):
            raise SchemaError("message.msg_id: expected 32 lowercase hex digits")


@dataclass(frozen=True)
class KioskEnvelope:
    v: int
    message: dict[str, Any]  # {kind, device_id, msg_id, sent_at, body}: integers only, so canonical JSON is exact
    key_id: str
    signature: B64Sig  # kiosk's Ed25519 over KIOSK_MESSAGE_DOMAIN + canonical(message)

    def __post_init__(self) -> None:
        _check_version(self.v, "envelope")
        _check_key_id(self.key_id, "envelope.key_id")


@dataclass(frozen=True)
class KioskMessage:
    header: MessageHeader
    body: KioskBody
    key_id: str


def sign_kiosk_message(signer: Signer, device_id: str, body: KioskBody, sent_at: int) -> bytes:
    """A kiosk message as wire bytes, signed with the kiosk's Ed25519 key."""
    header = MessageHeader(body.KIND, device_id, uuid.uuid4().hex, sent_at)
    message = schema.encode(header) | {"body": schema.encode(body)}
    signature = signer.sign(KIOSK_MESSAGE_DOMAIN + schema.canonical(message))
    return dump(KioskEnvelope(PROTOCOL_VERSION, message, signer.key_id, signature))


def verify_kiosk_message(data: bytes, device_id: str, device_keys: dict[str, Ed25519PublicKey]) -> KioskMessage:
    """Hub side: check the signature with the device's registered keys, then decode the typed body."""
    env = schema.decode(KioskEnvelope, schema.loads(data), "envelope")
    verify_signature(device_keys, env.key_id, env.signature, KIOSK_MESSAGE_DOMAIN + schema.canonical(env.message))
    raw = dict(env.message)
    if "body" not in raw:
        raise SchemaError("message.body: missing")
    body_raw = raw.pop("body")
    header = schema.decode(MessageHeader, raw, "message")
    if header.device_id != device_id:
        raise WrongDeviceError(f"message from {header.device_id!r} signed with a key of {device_id!r}")
    body = schema.decode(BODY_TYPES[header.kind], body_raw, "message.body")
    return KioskMessage(header, body, env.key_id)


def verify_self_signed(data: bytes) -> KioskMessage:
    """Hub side, enrollment: a ``key_announce`` signed by the signing key it announces (proof of possession)."""
    env = schema.decode(KioskEnvelope, schema.loads(data), "envelope")
    body_raw = env.message.get("body")
    if env.message.get("kind") != MessageKind.KEY_ANNOUNCE or not isinstance(body_raw, dict):
        raise SchemaError(f"message.kind: expected {MessageKind.KEY_ANNOUNCE}")
    announced = schema.decode(KeyAnnounceBody, body_raw, "message.body")
    device = env.message.get("device_id")
    if not isinstance(device, str):
        raise SchemaError("message.device_id: missing")
    own = load_ed25519_public(announced.sign_public)
    return verify_kiosk_message(data, device, {key_id(announced.sign_public): own})


def sign_checkpoint(
    signer: Signer, device_id: str, size: int, head: bytes, *, since: int = 0, entries: tuple[str, ...] = ()
) -> CheckpointBody:
    """Kiosk side: the body of a CHECKPOINT message for the audit log at (size, head), with the entries after
    ``since`` (the signature covers device, size and head; the entries are checked by re-chaining them)."""
    sig = signer.sign(CHECKPOINT_DOMAIN + checkpoint_bytes(device_id, size, head))
    return CheckpointBody(size, head, sig, since, entries)


def verify_checkpoint(device_id: str, body: CheckpointBody, sign_public: Ed25519PublicKey) -> None:
    """Hub side: the kiosk's own signature over its checkpoint (kept as evidence with the countersignature)."""
    kid = key_id(raw_public(sign_public))
    message = CHECKPOINT_DOMAIN + checkpoint_bytes(device_id, body.size, body.head)
    verify_signature({kid: sign_public}, kid, body.signature, message)
