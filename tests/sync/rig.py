"""A hub signer, a kiosk station with its keys, and helpers to build, tamper with and fingerprint bundles."""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backend_sync import protocol as p
from backend_sync.builder import BuiltBundle, Recipient, build_bundle
from backend_sync.keys import KioskKeys, Signer
from backend_sync.receiver import BundleReceiver, HpkeDecryptor, SyncPolicy
from locker import codes
from locker.doctypes import DocumentType
from locker.flows.bundle import BundleFlow, HubKey
from locker.model import NewOrder, Size
from tests.harness import DAY, Station, make_station

# One argon2id verifier (≈30 ms to make) shared by orders whose PIN no test types.
SHARED_PIN_VERIFIER = codes.pin_verifier("SHARED", "123456")


class SpyDecryptor:
    """The kiosk's real decryptor, counting calls: refusals before decryption leave ``calls`` at 0."""

    def __init__(self, inner: HpkeDecryptor) -> None:
        self.inner = inner
        self.calls = 0

    @property
    def enc_key_id(self) -> str:
        return self.inner.enc_key_id

    def decrypt(self, ciphertext: bytes, info: bytes) -> bytes:
        self.calls += 1
        return self.inner.decrypt(ciphertext, info)


class FloorRecorder:
    def __init__(self) -> None:
        self.raised: list[float] = []

    def raise_floor(self, t: float) -> None:
        self.raised.append(t)


@dataclass
class Rig:
    st: Station
    hub: Signer
    kiosk: KioskKeys
    device_id: str
    spy: SpyDecryptor
    floor: FloorRecorder = field(default_factory=FloorRecorder)
    head_seq: int = 0
    head_hash: bytes = p.GENESIS_HASH

    @property
    def flow(self) -> BundleFlow:
        return BundleFlow(self.st.flows.ctx, self.floor)

    @property
    def receiver(self) -> BundleReceiver:
        return BundleReceiver(self.flow, self.device_id, self.spy, self.st.clock, SyncPolicy())

    @property
    def recipient(self) -> Recipient:
        return Recipient(self.device_id, self.kiosk.public().enc_public)

    def now(self) -> int:
        return int(self.st.clock.now())

    def build(self, signer: Signer | None = None, recipient: Recipient | None = None, **kw: Any) -> BuiltBundle:
        """The next bundle on the head the hub believes the kiosk has (overridable through ``kw``)."""
        args: dict[str, Any] = {"seq": self.head_seq + 1, "prev_hash": self.head_hash, "issued_at": self.now()}
        args.update(kw)
        return build_bundle(signer or self.hub, recipient or self.recipient, **args)

    def accepted(self, built: BuiltBundle) -> None:
        """Record on the hub side that the kiosk applied ``built``."""
        self.head_seq = built.manifest.seq
        self.head_hash = built.manifest_hash


def make_rig(tmp_path: Path) -> Rig:
    st = make_station(tmp_path)
    hub = Signer.generate()
    kiosk = KioskKeys.generate()
    rig = Rig(st, hub, kiosk, st.config.station_id, SpyDecryptor(HpkeDecryptor(kiosk.enc_private)))
    rig.flow.pin_hub_keys([HubKey(hub.key_id, hub.public_raw)])
    return rig


def order(
    order_id: str, *, now: float, size: Size = Size.S, days: float = 7, pin_verifier: str = SHARED_PIN_VERIFIER
) -> NewOrder:
    return NewOrder(
        id=order_id,
        pickup_number=f"{zlib.crc32(order_id.encode()) % 10**8:08d}",
        document_kind=DocumentType.ID_CARD,
        size=size,
        reachable=False,
        return_old_id=False,
        valid_from=now,
        valid_until=now + days * DAY,
        qr_verifier=hashlib.sha256(order_id.encode()).digest(),
        pin_verifier=pin_verifier,
    )


# -- tampering ----------------------------------------------------------------------------------------------
def edit(data: bytes, change: Any) -> bytes:
    """Parse wire bytes, let ``change`` edit the dict in place, and serialise again (not re-signed)."""
    obj = json.loads(data)
    change(obj)
    return json.dumps(obj).encode()


def flip_b64(text: str, bit: int) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[bit // 8] ^= 1 << (bit % 8)
    return base64.b64encode(bytes(raw)).decode()


def flip_hex(text: str, bit: int) -> str:
    raw = bytearray(bytes.fromhex(text))
    raw[bit // 8] ^= 1 << (bit % 8)
    return bytes(raw).hex()


# -- proof that nothing changed ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Fingerprint:
    logical: str  # SHA-256 over a full dump of every table
    files: dict[str, str]  # SHA-256 of each database file's raw bytes (after the connection is closed)


def _files(st: Station) -> dict[str, str]:
    db = Path(st.config.storage.database)
    out = {}
    for f in (db, db.with_name(db.name + "-wal")):
        if f.exists():
            out[f.name] = hashlib.sha256(f.read_bytes()).hexdigest()
    return out


def fingerprint(st: Station) -> Fingerprint:
    """Dump every table, then close the database and hash its files, then open the station again."""
    with st.database.read() as conn:
        logical = hashlib.sha256("\n".join(conn.iterdump()).encode()).hexdigest()
        wal = Path(st.config.storage.database + "-wal")
        live_wal = wal.read_bytes() if wal.exists() else b""
    st.database.close()
    files = _files(st)
    files["live-wal"] = hashlib.sha256(live_wal).hexdigest()
    st.open()
    return Fingerprint(logical, files)


def settle(st: Station) -> None:
    """Checkpoint and empty the WAL so a later write, even a rolled-back one, would show in its bytes."""
    with st.database.read() as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
