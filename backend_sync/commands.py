"""Remote commands (hub -> kiosk): one schema, signed by the hub key, bound to one device, expiring."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend_sync import protocol as p
from backend_sync import schema
from backend_sync.errors import ExpiredError, SchemaError, WrongDeviceError
from backend_sync.keys import Signer, verify_signature
from backend_sync.schema import B64Sig

COMMAND_DOMAIN = b"wibox-command-v1\n"
RESULT_EVENT = "command_result"  # the outbox event kind a kiosk answers with
_ID_RE = re.compile(r"^[0-9a-f]{32}$")


class CommandKind(enum.StrEnum):
    OPEN_COMPARTMENT = "open_compartment"  # maintenance opening with a reason ("remote: ...")
    DISABLE_COMPARTMENT = "disable_compartment"
    ENABLE_COMPARTMENT = "enable_compartment"
    RESYNC = "resync"  # pull now; the hub's next bundle is a full sync
    MAINTENANCE_MODE = "maintenance_mode"  # the citizen screen shows "out of service" (on) or is back (off)
    RELOAD_UI = "reload_ui"


NEEDS_COMPARTMENT = frozenset(
    {CommandKind.OPEN_COMPARTMENT, CommandKind.DISABLE_COMPARTMENT, CommandKind.ENABLE_COMPARTMENT}
)


class CommandOutcome(enum.StrEnum):
    DONE = "done"
    FAILED = "failed"
    # The kiosk had started the command (for open_compartment: committed the door cycle, then pulsed the lock) and
    # stopped before recording its outcome; it does not run it again. The detail says where the compartment is now.
    INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class Command:
    """What the kiosk is told to do. Times are integer seconds; ``reason`` is audited on the kiosk."""

    id: str  # 32 hex, unique: the kiosk executes each id at most once (its remote_commands ledger)
    device_id: str
    kind: CommandKind
    reason: str
    issued_by: str
    issued_at: int
    expires_at: int
    compartment: int | None = None
    on: bool | None = None  # maintenance_mode only

    def __post_init__(self) -> None:
        if not _ID_RE.fullmatch(self.id):
            raise SchemaError("command.id: expected 32 lowercase hex digits")
        p.check_device_id(self.device_id, "command.device_id")
        if not 3 <= len(self.reason) <= 200:
            raise SchemaError("command.reason: 3 to 200 characters")
        if self.expires_at <= self.issued_at:
            raise SchemaError("command.expires_at: must be after issued_at")
        if (self.compartment is not None) != (self.kind in NEEDS_COMPARTMENT):
            raise SchemaError(f"command.compartment: required for and only for {', '.join(sorted(NEEDS_COMPARTMENT))}")
        if self.compartment is not None and not 1 <= self.compartment <= 9999:
            raise SchemaError("command.compartment: 1 to 9999")
        if (self.on is not None) != (self.kind == CommandKind.MAINTENANCE_MODE):
            raise SchemaError("command.on: required for and only for maintenance_mode")


@dataclass(frozen=True)
class SignedCommand:
    v: int
    command: Command
    key_id: str
    signature: B64Sig  # hub's Ed25519 over COMMAND_DOMAIN + canonical(command)

    def __post_init__(self) -> None:
        if self.v != p.PROTOCOL_VERSION:
            raise SchemaError(f"command.v: protocol version {self.v} is not supported")


@dataclass(frozen=True)
class CommandResult:
    """The body of a ``command_result`` outbox event."""

    command: str
    command_kind: CommandKind
    outcome: CommandOutcome
    detail: str


def sign_command(signer: Signer, command: Command) -> dict[str, Any]:
    """The command as a JSON object (it travels inside a poll response), signed with the hub key."""
    sig = signer.sign(COMMAND_DOMAIN + schema.canonical(schema.encode(command)))
    return schema.encode(SignedCommand(p.PROTOCOL_VERSION, command, signer.key_id, sig))


def verify_command(obj: Any, device_id: str, pinned: dict[str, Ed25519PublicKey], now: float) -> Command:
    """Kiosk side: signature by a pinned hub key (over the command exactly as received), device, expiry."""
    if not isinstance(obj, dict) or not isinstance(obj.get("command"), dict):
        raise SchemaError("command: expected an object with a command")
    signed = schema.decode(SignedCommand, obj, "command")
    verify_signature(pinned, signed.key_id, signed.signature, COMMAND_DOMAIN + schema.canonical(obj["command"]))
    cmd = signed.command
    if cmd.device_id != device_id:
        raise WrongDeviceError(f"command {cmd.id} is for device {cmd.device_id!r}")
    if cmd.expires_at < now:
        raise ExpiredError(f"command {cmd.id} expired")
    return cmd
