"""The hub's schema: its states as enums and its tables as one SQLAlchemy Core metadata (SQLite and PostgreSQL)."""

from __future__ import annotations

import enum

from sqlalchemy import (
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)


# -- states ---------------------------------------------------------------------------------------------------
class KioskStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REVOKED = "revoked"


class HubOrderState(enum.StrEnum):
    ANNOUNCED = "announced"
    STORED = "stored"
    COLLECTED = "collected"
    EXPIRED = "expired"
    RETURNED = "returned"
    CANCELLED = "cancelled"


class CommandStatus(enum.StrEnum):
    PENDING = "pending"  # not yet handed to the kiosk
    SENT = "sent"  # in a poll response (commands are delivered at most once: a door never opens twice)
    DONE = "done"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # the kiosk stopped between starting it and recording its outcome; not repeated
    EXPIRED = "expired"


class NoticeKind(enum.StrEnum):
    NOTICE = "notice"
    REMINDER = "reminder"
    LETTER = "letter"


# -- schema ---------------------------------------------------------------------------------------------------
# Times are epoch seconds (double precision), JSON is text, binary values are lowercase hex text.
metadata = MetaData()

migrations_table = Table(
    "hub_migrations",
    metadata,
    Column("name", Text, primary_key=True),
    Column("applied_at", Double, nullable=False),
)

cities = Table(
    "cities",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
)

admins = Table(
    "admins",
    metadata,
    Column("id", Text, primary_key=True),  # "adm-<hex>"
    Column("city_id", Text, ForeignKey("cities.id"), nullable=True),  # NULL: platform operator
    Column("username", Text, nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),  # argon2id PHC string
    Column("role", Text, nullable=False),  # auth.Role: platform | admin | office | monitor
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", Double, nullable=False),
)

admin_sessions = Table(
    "admin_sessions",
    metadata,
    Column("id", Text, primary_key=True),  # SHA-256 hex of the session token; the token is never stored
    Column("admin_id", Text, ForeignKey("admins.id"), nullable=False),
    Column("created_at", Double, nullable=False),
    Column("last_seen_at", Double, nullable=False),
    Column("expires_at", Double, nullable=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Text, primary_key=True),
    Column("city_id", Text, ForeignKey("cities.id"), nullable=False),
    Column("key_hash", Text, nullable=False, unique=True),
    Column("name", Text, nullable=False),
    Column("created_by", Text, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("revoked_at", Double, nullable=True),
)

kiosks = Table(
    "kiosks",
    metadata,
    Column("device_id", Text, primary_key=True),
    Column("city_id", Text, ForeignKey("cities.id"), nullable=True),  # set on approval
    Column("name", Text, nullable=False, default=""),
    Column("status", Text, nullable=False),
    Column("sign_public", Text, nullable=False),  # hex, raw Ed25519
    Column("enc_public", Text, nullable=False),  # hex, raw X25519
    Column("version", Text, nullable=False, default=""),
    Column("created_at", Double, nullable=False),
    Column("approved_at", Double, nullable=True),
    Column("last_seen", Double, nullable=True),
    Column("last_health", Text, nullable=True),  # JSON
    Column("bundle_seq", Integer, nullable=False, default=0),  # head the kiosk last reported applied
    Column("bundle_head", Text, nullable=False, default="00" * 32),
    Column("checkpoint_size", Integer, nullable=False, default=0),  # last countersigned audit checkpoint
    Column("checkpoint_head", Text, nullable=False, default="00" * 32),
    Column("staff_rev_acked", Integer, nullable=False, default=0),  # staff changes the kiosk has applied
    Column("resync", Boolean, nullable=False, default=True),  # next bundle is a full sync
)

orders = Table(
    "orders",
    metadata,
    Column("id", Text, primary_key=True),
    Column("city_id", Text, ForeignKey("cities.id"), nullable=False),
    Column("kiosk_id", Text, ForeignKey("kiosks.device_id"), nullable=False),
    Column("reference", Text, nullable=False),  # the case-management system's id
    Column("pickup_number", Text, nullable=False),
    Column("document_kind", Text, nullable=False),
    Column("size", Text, nullable=False),
    Column("reachable", Boolean, nullable=False),
    Column("return_old_id", Boolean, nullable=False),
    Column("language", Text, nullable=False, default="de"),
    Column("email", Text, nullable=True),
    Column("postal_address", Text, nullable=True),
    Column("valid_from", Double, nullable=False),
    Column("valid_until", Double, nullable=False),
    Column("state", Text, nullable=False),
    Column("qr_verifier", Text, nullable=False),  # hex
    Column("pin_verifier", Text, nullable=False),  # argon2id PHC
    Column("qr_payload_clear", Text, nullable=True),  # only until the notice is sent
    Column("pin_clear", Text, nullable=True),  # only until the notice is sent
    Column("dirty", Boolean, nullable=False, default=True),  # the kiosk must learn of a change
    Column("version", Integer, nullable=False, default=1),  # bumped with every change the kiosk must learn
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("stored_at", Double, nullable=True),
    Column("collected_at", Double, nullable=True),
    Column("handover_proof", Text, nullable=True),  # JSON {audit_seq, audit_hash, method, statement, taken, check}
    Column("compartment", Integer, nullable=True),  # where the document lies at the kiosk (stored, moved)
    Column("moved_at", Double, nullable=True),  # staff last moved it to another compartment (kiosk time)
    Column("old_id_compartment", Integer, nullable=True),  # where the returned old ID card lies
    Column("old_id_returned_at", Double, nullable=True),
    Column("old_id_taken_at", Double, nullable=True),  # staff took the old ID card out
    Column("manual_locked_at", Double, nullable=True),  # the kiosk locked the manual path (too many wrong PINs)
    Column("notice_sent_at", Double, nullable=True),
    Column("reminder_sent_at", Double, nullable=True),
    UniqueConstraint("city_id", "reference", name="uq_orders_city_reference"),
)
Index("ix_orders_kiosk_dirty", orders.c.kiosk_id, orders.c.dirty)
Index("ix_orders_pickup_number", orders.c.kiosk_id, orders.c.pickup_number)

staff = Table(
    "staff",
    metadata,
    Column("id", Text, nullable=False),
    Column("city_id", Text, ForeignKey("cities.id"), nullable=False),
    Column("badge_hash", Text, nullable=False),  # hex
    Column("pin_verifier", Text, nullable=False),
    Column("roles", Text, nullable=False),  # comma-separated
    Column("active", Boolean, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("rev", Integer, nullable=False),  # per-city change counter: kiosks acknowledge up to a rev
    PrimaryKeyConstraint("city_id", "id"),
)

events = Table(
    "events",
    metadata,
    Column("event_id", Text, primary_key=True),  # the kiosk outbox id: processed exactly once
    Column("device_id", Text, ForeignKey("kiosks.device_id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("received_at", Double, nullable=False),
    Column("outcome", Text, nullable=False, default="applied"),  # applied | recorded | ignored: <why>
)
Index("ix_events_device", events.c.device_id, events.c.received_at)

commands = Table(
    "commands",
    metadata,
    Column("id", Text, primary_key=True),  # 32 hex
    Column("device_id", Text, ForeignKey("kiosks.device_id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("args", Text, nullable=False),  # JSON
    Column("reason", Text, nullable=False),
    Column("issued_by", Text, nullable=False),
    Column("issued_at", Double, nullable=False),
    Column("expires_at", Double, nullable=False),
    Column("status", Text, nullable=False),
    Column("result", Text, nullable=True),  # JSON
)
Index("ix_commands_device_status", commands.c.device_id, commands.c.status)

alarms = Table(
    "alarms",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", Text, ForeignKey("kiosks.device_id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("compartment", Integer, nullable=True),
    Column("raised_at", Double, nullable=False),
    Column("cleared_at", Double, nullable=True),
    Column("cleared_by", Text, nullable=True),  # null: the station cleared it; else the admin who resolved it
)
Index("ix_alarms_device_open", alarms.c.device_id, alarms.c.cleared_at)

admin_audit = Table(
    "admin_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("city_id", Text, nullable=True),
    Column("admin_id", Text, nullable=False),  # the actor: an admin id, "apikey:<id>", "kiosk:<id>", "system"
    Column("action", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("detail", Text, nullable=False, default="{}"),  # JSON, ids and outcomes only
    Column("at", Double, nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("device_id", Text, ForeignKey("kiosks.device_id"), nullable=False),
    Column("size", Integer, nullable=False),
    Column("head", Text, nullable=False),
    Column("kiosk_signature", Text, nullable=False),  # base64: the kiosk's own signature, kept as evidence
    Column("countersignature", Text, nullable=False),  # the JSON answered to the kiosk
    Column("at", Double, nullable=False),
    PrimaryKeyConstraint("device_id", "size"),
)

notices = Table(
    "notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("order_id", Text, ForeignKey("orders.id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("sent_at", Double, nullable=True),
    Column("error", Text, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),  # SMTP attempts; failures are retried (notices.py)
    Column("created_at", Double, nullable=True),
)

hub_keys = Table(
    "hub_keys",
    metadata,
    Column("key_id", Text, primary_key=True),
    Column("private_key", Text, nullable=False),  # a file reference (keys/<name>.pem, mode 0600), never the key
    Column("public_key", Text, nullable=False),  # hex, raw Ed25519
    Column("active", Boolean, nullable=False),
)

# -- sync bookkeeping (kiosk API) --
bundles = Table(
    "bundles",
    metadata,
    Column("device_id", Text, ForeignKey("kiosks.device_id"), nullable=False),
    Column("manifest_hash", Text, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("issued_at", Double, nullable=False),
    Column("full_sync", Boolean, nullable=False),
    Column("staff_rev", Integer, nullable=False),  # staff changes included up to this rev
    Column("orders", Text, nullable=False),  # JSON {order_id: version} included
    Column("acked_at", Double, nullable=True),
    PrimaryKeyConstraint("device_id", "manifest_hash"),
)

# A kiosk asking to be enrolled (enrollment.py): one row per (device id, signing key), each with the code the hub
# chose for it; an admin's code picks exactly one. Approval turns it into the kiosks row and drops the device's rows.
enrollment_requests = Table(
    "enrollment_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", Text, nullable=False),
    Column("sign_public", Text, nullable=False),  # hex, raw Ed25519 (the request was signed by it)
    Column("enc_public", Text, nullable=False),  # hex, raw X25519
    Column("code", Text, nullable=False),  # the 8 digits the kiosk shows; unique among the device's requests
    Column("created_at", Double, nullable=False),
    Column("last_seen", Double, nullable=False),  # the request or the kiosk's latest status poll
    UniqueConstraint("device_id", "sign_public"),
)
Index("ix_enrollment_requests_seen", enrollment_requests.c.last_seen)

# Failed admin logins (login_throttle.py), per user name and per client address; pruned after the window.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", Text, nullable=False),
    Column("client", Text, nullable=False),
    Column("at", Double, nullable=False),
)
Index("ix_login_failures_user", login_failures.c.username, login_failures.c.at)
Index("ix_login_failures_client", login_failures.c.client, login_failures.c.at)

kiosk_messages = Table(
    "kiosk_messages",
    metadata,
    Column("msg_id", Text, primary_key=True),  # replayed message ids are refused
    Column("device_id", Text, nullable=False),
    Column("sent_at", Double, nullable=False),
    Column("received_at", Double, nullable=False),
)
Index("ix_kiosk_messages_sent", kiosk_messages.c.sent_at)

# -- city-facing settings (orders_api.py, notices.py, opendata.py) --
city_settings = Table(
    "city_settings",
    metadata,
    Column("city_id", Text, ForeignKey("cities.id"), primary_key=True),
    Column("dob_factor", Boolean, nullable=False, default=False),  # date of birth folded into the verifiers
    Column("pin_length", Integer, nullable=False, default=6),
    Column("office_contact", Text, nullable=False, default=""),  # shown in notices and reminders
    Column("open_data", Boolean, nullable=False, default=True),  # publish the anonymous station feed
    Column("timezone", Text, nullable=False, default="Europe/Berlin"),  # dates in notices
    # hours without a fresh bundle before the city's stations raise stale_data (sent in every bundle)
    Column("max_data_age_h", Integer, nullable=False, default=72, server_default="72"),
)

# The city's handover policy per document type (locker.doctypes); a type without a row has the defaults of
# city_policy.document_policies. Every bundle carries all four types.
document_policies = Table(
    "document_policies",
    metadata,
    Column("city_id", Text, ForeignKey("cities.id"), primary_key=True),
    Column("document_type", Text, primary_key=True),  # id_card | passport | eat | certificate
    Column("second_factor", Text, nullable=False),  # none | date_of_birth
    Column("old_document_return", Boolean, nullable=False),
    Column("statement", Text, nullable=False),  # receipt statement id (a kiosk catalog key)
    Column("updated_at", Double, nullable=False),
)

kiosk_sites = Table(
    "kiosk_sites",
    metadata,
    Column("device_id", Text, ForeignKey("kiosks.device_id"), primary_key=True),
    Column("location", Text, nullable=False, default=""),  # address shown in notices and open data
    Column("opening_hours", Text, nullable=False, default="24/7"),
    Column("latitude", Double, nullable=True),
    Column("longitude", Double, nullable=True),
)
