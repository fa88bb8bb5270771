"""Apply a verified, decrypted sync bundle: orders, cancellations, staff, chain head and time floor in one commit."""

from __future__ import annotations

import enum
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from locker import codes, doctypes
from locker.doctypes import DocumentPolicy
from locker.errors import BadInput, FlowError
from locker.flows.common import FlowContext
from locker.flows.orders import OrdersFlow
from locker.model import LIVE, AlarmKind, NewOrder, OrderState, StaffAccount
from locker.staff import ROLES
from locker.store import Store, Tx

GENESIS_HASH = bytes(32)  # prev_hash of a kiosk's first bundle
TIME_FLOOR_KEY = "time_floor"
DATA_AGE_KEY = "sync.max_data_age_h"  # the city's data-age limit from the last bundle that carried one
HUB_KEY_ID_LENGTH = 16  # hex characters
HUB_KEY_LENGTH = 32  # raw Ed25519 public key

# States in which an order's fields may still be brought up to date by the backend.
_UPDATABLE = frozenset({OrderState.ANNOUNCED, OrderState.STORED})
# Fields that may change while the order is in a compartment (validity and re-issued codes only).
_ALWAYS_MUTABLE = ("valid_from", "valid_until", "qr_verifier", "pin_verifier")
# Fields that may change only while the order is announced and not yet in a compartment.
_MUTABLE_UNLOADED = ("pickup_number", "document_kind", "size", "reachable", "return_old_id")


class TimeFloor(Protocol):
    """A clock that can be held above the newest trusted time (``locker.clock.SystemClock``)."""

    def raise_floor(self, t: float) -> None: ...


class StaleReason(enum.StrEnum):
    REPLAY = "replay"  # seq at or below the stored head
    CHAIN = "chain"  # does not link to the stored head


class StaleBundle(FlowError):
    """The bundle does not extend the stored manifest chain (checked again inside the transaction)."""

    def __init__(self, reason: StaleReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class SyncHead:
    """The last accepted manifest (seq 0 and the zero hash before the first bundle)."""

    seq: int
    hash: bytes
    issued_at: float


@dataclass(frozen=True)
class ManifestRecord:
    """What the kiosk keeps of an accepted manifest."""

    seq: int
    hash: bytes
    prev_hash: bytes
    issued_at: float


@dataclass(frozen=True)
class HubKey:
    """A hub signing key the kiosk pins (raw Ed25519 public key; the id is computed by the sync layer)."""

    key_id: str
    public_key: bytes


@dataclass(frozen=True)
class BundleContent:
    """A bundle after signature, chain, expiry and decryption checks: typed, core-side, no crypto left."""

    manifest: ManifestRecord
    orders: Sequence[NewOrder] = ()
    cancellations: Sequence[str] = ()
    staff: Sequence[StaffAccount] = ()
    full_sync: bool = False
    hub_keys: Sequence[HubKey] | None = None  # when set: the new set of pinned hub keys (rotation)
    max_data_age_h: int | None = None  # the city's data-age limit; None: keep the one in force
    # The city's handover policy per document type; None: keep the ones in force (a type not named: station TOML).
    document_policies: Sequence[DocumentPolicy] | None = None


@dataclass
class ApplyResult:
    seq: int
    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # known orders with nothing to change or past updating
    cancelled: list[str] = field(default_factory=list)
    cancel_deferred: list[str] = field(default_factory=list)  # in a door cycle: reported for the hub to re-send
    cancel_unknown: list[str] = field(default_factory=list)
    staff_changed: list[str] = field(default_factory=list)
    time_floor: float = 0.0


def _validate_staff(s: StaffAccount) -> None:
    if not codes.valid_order_id(s.id):
        raise BadInput(f"staff id {s.id!r} is not valid")
    if len(s.badge_hash) != 32:
        raise BadInput(f"staff {s.id}: badge hash must be 32 bytes")
    if not codes.verifier_strength_ok(s.pin_verifier):
        raise BadInput(f"staff {s.id}: PIN verifier is not argon2id with the required strength")
    if not s.roles:
        raise BadInput(f"staff {s.id}: no roles")
    for r in s.roles:
        if r not in ROLES:
            raise BadInput(f"staff {s.id}: unknown role {r!r}")


def _validate(content: BundleContent) -> None:
    m = content.manifest
    if m.seq < 1 or len(m.hash) != 32 or len(m.prev_hash) != 32:
        raise BadInput("manifest record is malformed")
    for o in content.orders:
        OrdersFlow.validate(o)
    for s in content.staff:
        _validate_staff(s)
    for what, ids in (
        ("order", [o.id for o in content.orders]),
        ("pickup number", [o.pickup_number for o in content.orders]),
        ("cancellation", list(content.cancellations)),
        ("staff", [s.id for s in content.staff]),
        ("badge", [s.badge_hash.hex() for s in content.staff]),
    ):
        if len(set(ids)) != len(ids):
            raise BadInput(f"bundle lists the same {what} twice")
    if content.document_policies is not None:
        for p in content.document_policies:
            doctypes.check_policy(p)
        kinds = [p.document_type for p in content.document_policies]
        if len(set(kinds)) != len(kinds):
            raise BadInput("bundle lists the policy of one document type twice")
    if content.hub_keys is not None:
        if not content.hub_keys:
            raise BadInput("a key rotation must leave at least one hub key pinned")
        for k in content.hub_keys:
            if len(k.key_id) != HUB_KEY_ID_LENGTH or len(k.public_key) != HUB_KEY_LENGTH:
                raise BadInput(f"hub key {k.key_id!r} is malformed")


def _put_meta(tx: Tx, key: str, value: str) -> None:
    tx.conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def read_head(conn: sqlite3.Connection) -> SyncHead:
    row = conn.execute("SELECT seq, hash, issued_at FROM sync_manifests ORDER BY seq DESC LIMIT 1").fetchone()
    return SyncHead(int(row[0]), bytes(row[1]), float(row[2])) if row else SyncHead(0, GENESIS_HASH, 0.0)


def load_time_floor(store: Store) -> float:
    """The persisted time floor (0.0 before the first bundle); the daemon seeds its SystemClock with it."""
    v = store.meta(TIME_FLOOR_KEY)
    return float(v) if v is not None else 0.0


class BundleFlow:
    """Applies verified bundles and keeps the manifest chain head, the pinned hub keys and the time floor."""

    def __init__(self, ctx: FlowContext, floor: TimeFloor | None = None) -> None:
        self.ctx = ctx
        self.floor = floor

    # -- reads ----------------------------------------------------------------------------------------------
    def head(self) -> SyncHead:
        with self.ctx.store.database.read() as conn:
            return read_head(conn)

    def hub_keys(self) -> tuple[HubKey, ...]:
        rows = self.ctx.store.database.query("SELECT key_id, public_key FROM sync_hub_keys ORDER BY key_id")
        return tuple(HubKey(str(r["key_id"]), bytes(r["public_key"])) for r in rows)

    def time_floor(self) -> float:
        return load_time_floor(self.ctx.store)

    def max_data_age_h(self) -> int:
        """The data-age limit in force: the city's, from the last bundle that carried one, else the station's
        ``sync.max_data_age_h``."""
        v = self.ctx.store.meta(DATA_AGE_KEY)
        return int(v) if v is not None else self.ctx.config.sync.max_data_age_h

    def check_data_age(self) -> bool:
        """Raise ``stale_data`` when the newest accepted bundle was issued more than ``max_data_age_h()`` hours ago
        (cancellations and staff deactivations since then are unknown here); returns whether the data is stale.
        Before the first bundle there is nothing to age. A fresh bundle clears the alarm (``apply``)."""
        head = self.head()
        if head.seq == 0:
            return False
        stale = self.ctx.clock.now() - head.issued_at > self.max_data_age_h() * 3600
        if stale:
            with self.ctx.store.change("system") as tx:
                tx.raise_alarm(AlarmKind.STALE_DATA)
        return stale

    # -- enrollment -----------------------------------------------------------------------------------------
    def pin_hub_keys(self, keys: Sequence[HubKey], actor: str = "enrollment") -> None:
        """Pin the hub's signing keys at enrollment; afterwards only a signed rotation in a bundle changes them."""
        if not keys:
            raise BadInput("pin at least one hub key")
        for k in keys:
            if len(k.key_id) != HUB_KEY_ID_LENGTH or len(k.public_key) != HUB_KEY_LENGTH:
                raise BadInput(f"hub key {k.key_id!r} is malformed")
        with self.ctx.store.change(actor) as tx:
            if read_head(tx.conn).seq:
                raise FlowError("hub keys are already in use; rotate them through a signed bundle")
            self._replace_keys(tx, keys, 0)

    # -- apply ----------------------------------------------------------------------------------------------
    def apply(self, content: BundleContent, actor: str = "backend") -> ApplyResult:
        """Apply one bundle in one transaction, or raise and change nothing (StaleBundle, BadInput, FlowError)."""
        _validate(content)
        m = content.manifest
        result = ApplyResult(m.seq)
        try:
            with self.ctx.store.change(actor) as tx:
                head = read_head(tx.conn)
                if m.seq <= head.seq:
                    raise StaleBundle(StaleReason.REPLAY, f"bundle {m.seq} is not newer than {head.seq}")
                if m.seq != head.seq + 1 or m.prev_hash != head.hash:
                    raise StaleBundle(StaleReason.CHAIN, f"bundle {m.seq} does not link to manifest {head.seq}")
                for o in content.orders:
                    self._order(tx, o, result)
                for order_id in content.cancellations:
                    self._cancel(tx, order_id, result)
                for s in content.staff:
                    self._staff(tx, s, result)
                if content.full_sync:
                    self._full_sync(tx, content, result)
                if content.hub_keys is not None:
                    self._replace_keys(tx, content.hub_keys, m.seq)
                tx.conn.execute(
                    "INSERT INTO sync_manifests (seq, hash, prev_hash, issued_at, accepted_at) VALUES (?, ?, ?, ?, ?)",
                    (m.seq, m.hash, m.prev_hash, m.issued_at, tx.now),
                )
                result.time_floor = max(self._stored_floor(tx), m.issued_at)
                _put_meta(tx, TIME_FLOOR_KEY, repr(result.time_floor))
                if content.max_data_age_h is not None:
                    _put_meta(tx, DATA_AGE_KEY, str(content.max_data_age_h))
                if content.document_policies is not None:
                    self._policies(tx, content.document_policies)
                tx.audit(
                    "sync.bundle_applied",
                    seq=m.seq,
                    manifest=m.hash.hex(),
                    inserted=len(result.inserted),
                    updated=len(result.updated),
                    cancelled=len(result.cancelled),
                    staff=len(result.staff_changed),
                    full_sync=content.full_sync,
                )
                tx.outbox("bundle_applied", seq=m.seq, manifest=m.hash.hex())
                tx.clear_alarm(AlarmKind.STALE_DATA)  # the data is fresh again
        except sqlite3.IntegrityError as exc:
            raise BadInput(f"bundle {m.seq} conflicts with the station's data: {exc}") from exc
        if self.floor is not None:
            self.floor.raise_floor(result.time_floor)
        return result

    # -- parts (all inside the caller's transaction) --------------------------------------------------------
    @staticmethod
    def _stored_floor(tx: Tx) -> float:
        row = tx.conn.execute("SELECT value FROM meta WHERE key = ?", (TIME_FLOOR_KEY,)).fetchone()
        return float(row[0]) if row else 0.0

    @staticmethod
    def _pickup_number_clash(tx: Tx, o: NewOrder) -> bool:
        states = tuple(s.value for s in LIVE)
        marks = ",".join("?" * len(states))
        row = tx.conn.execute(
            f"SELECT 1 FROM orders WHERE pickup_number = ? AND id != ? AND state IN ({marks}) LIMIT 1",
            (o.pickup_number, o.id, *states),
        ).fetchone()
        return row is not None

    def _order(self, tx: Tx, o: NewOrder, result: ApplyResult) -> None:
        exists = tx.conn.execute("SELECT 1 FROM orders WHERE id = ?", (o.id,)).fetchone()
        if not exists:
            if self._pickup_number_clash(tx, o):
                raise BadInput(f"order {o.id}: pickup number is in use by a live order")
            tx.insert_order(o)
            result.inserted.append(o.id)
            return
        cur = tx.order(o.id)
        if cur.state not in _UPDATABLE or cur.code_used:
            result.skipped.append(o.id)
            return
        names: tuple[str, ...] = _ALWAYS_MUTABLE
        if cur.state == OrderState.ANNOUNCED and cur.compartment is None:
            names = _ALWAYS_MUTABLE + _MUTABLE_UNLOADED
        changes = {n: getattr(o, n) for n in names if getattr(o, n) != getattr(cur, n)}
        if not changes:
            result.skipped.append(o.id)
            return
        if "pickup_number" in changes and self._pickup_number_clash(tx, o):
            raise BadInput(f"order {o.id}: pickup number is in use by a live order")
        cols = {k: (v.value if k == "size" else int(v) if isinstance(v, bool) else v) for k, v in changes.items()}
        codes_reissued = "pin_verifier" in changes or "qr_verifier" in changes
        if "pin_verifier" in changes:
            cols["manual_failures"] = 0  # a new PIN starts a new count
        if "qr_verifier" in changes:
            cols["factor_failures"] = 0  # so does a new QR code
        cols["updated_at"] = tx.now
        sets = ", ".join(f"{k} = ?" for k in cols)
        tx.conn.execute(f"UPDATE orders SET {sets} WHERE id = ?", (*cols.values(), o.id))
        # Audit which fields changed and the new validity; never the verifiers themselves.
        shown = {k: changes[k] for k in ("valid_from", "valid_until") if k in changes}
        tx.audit(
            "order.update",
            order=o.id,
            why="synced",
            fields=",".join(sorted(changes)),
            codes_reissued=codes_reissued,
            **shown,
        )
        result.updated.append(o.id)

    @staticmethod
    def _cancel(tx: Tx, order_id: str, result: ApplyResult) -> None:
        if not tx.conn.execute("SELECT 1 FROM orders WHERE id = ?", (order_id,)).fetchone():
            result.cancel_unknown.append(order_id)
            return
        o = tx.order(order_id)
        if o.state in (OrderState.CANCELLED, OrderState.COLLECTED, OrderState.RETURNED):
            return
        if o.state == OrderState.COLLECTING or (o.state == OrderState.ANNOUNCED and o.compartment is not None):
            # A door cycle is running: cancelling now would race the door. Tell the hub; it sends it again.
            tx.audit("order.cancel_deferred", order=order_id, state=o.state)
            tx.outbox("cancel_deferred", order=order_id, state=o.state)
            result.cancel_deferred.append(order_id)
            return
        if o.state not in (OrderState.ANNOUNCED, OrderState.STORED):
            return  # expired: staff take it back anyway
        tx.set_order(o, OrderState.CANCELLED, why="cancelled")
        result.cancelled.append(order_id)

    @staticmethod
    def _staff(tx: Tx, s: StaffAccount, result: ApplyResult) -> None:
        roles = ",".join(s.roles)
        row = tx.conn.execute("SELECT badge_hash, pin_verifier, roles, active FROM staff WHERE id = ?", (s.id,))
        old = row.fetchone()
        if old is not None and (bytes(old[0]), old[1], old[2], bool(old[3])) == (
            s.badge_hash,
            s.pin_verifier,
            roles,
            s.active,
        ):
            return
        tx.conn.execute(
            "INSERT INTO staff (id, badge_hash, pin_verifier, roles, active, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET badge_hash = excluded.badge_hash, pin_verifier = excluded.pin_verifier,"
            " roles = excluded.roles, active = excluded.active, updated_at = excluded.updated_at",
            (s.id, s.badge_hash, s.pin_verifier, roles, int(s.active), tx.now),
        )
        tx.audit("staff.synced", staff=s.id, roles=roles, active=s.active, new=old is None)
        result.staff_changed.append(s.id)

    @staticmethod
    def _full_sync(tx: Tx, content: BundleContent, result: ApplyResult) -> None:
        """The bundle lists everything: deactivate unlisted staff, cancel unlisted orders not yet in a box."""
        listed_staff = {s.id for s in content.staff}
        for (staff_id,) in tx.conn.execute("SELECT id FROM staff WHERE active = 1 ORDER BY id").fetchall():
            if staff_id not in listed_staff:
                tx.conn.execute("UPDATE staff SET active = 0, updated_at = ? WHERE id = ?", (tx.now, staff_id))
                tx.audit("staff.synced", staff=staff_id, active=False, why="full_sync")
                result.staff_changed.append(staff_id)
        listed = {o.id for o in content.orders}
        rows = tx.conn.execute(
            "SELECT id FROM orders WHERE state = ? AND compartment IS NULL ORDER BY id",
            (OrderState.ANNOUNCED.value,),
        ).fetchall()
        for (order_id,) in rows:
            if order_id not in listed:
                tx.set_order(tx.order(order_id), OrderState.CANCELLED, why="full_sync_absent")
                result.cancelled.append(order_id)

    @staticmethod
    def _policies(tx: Tx, given: Sequence[DocumentPolicy]) -> None:
        text = doctypes.dumps(given)
        row = tx.conn.execute("SELECT value FROM meta WHERE key = ?", (doctypes.POLICIES_KEY,)).fetchone()
        if row is not None and row[0] == text:
            return
        _put_meta(tx, doctypes.POLICIES_KEY, text)
        tx.audit("policy.document_types", policies=text)

    @staticmethod
    def _replace_keys(tx: Tx, keys: Sequence[HubKey], seq: int) -> None:
        tx.conn.execute("DELETE FROM sync_hub_keys")
        tx.conn.executemany(
            "INSERT INTO sync_hub_keys (key_id, public_key, pinned_at, pinned_by_seq) VALUES (?, ?, ?, ?)",
            [(k.key_id, k.public_key, tx.now, seq) for k in keys],
        )
        tx.audit("sync.hub_keys_pinned", keys=",".join(sorted(k.key_id for k in keys)), seq=seq)
