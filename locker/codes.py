"""Code formats and verifiers: QR pickup payloads, pickup number + PIN, staff badges, order labels."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from locker.errors import BadInput

QR_PREFIX = "WIBOX1"
LABEL_PREFIX = "WIBOXL1"
BADGE_PREFIX = "WIBOXS1"
TOKEN_BYTES = 16  # 128 bits
PICKUP_NUMBER_DIGITS = 8
MIN_PIN_LENGTH = 6

# argon2id parameters (OWASP minimum: m = 19 MiB, t = 2, p = 1); verifiers below this floor are refused.
ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_ITERATIONS = 2
ARGON2_LANES = 1
ARGON2_LENGTH = 32

_ID_RE = re.compile(r"^[0-9A-Z][0-9A-Z-]{3,31}$")
_TOKEN_RE = re.compile(r"^[A-Z2-7]{26}$")
_PHC_RE = re.compile(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$")


def valid_order_id(order_id: str) -> bool:
    return bool(_ID_RE.fullmatch(order_id))


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=")


def _unb32(text: str) -> bytes:
    """Decode unpadded base32, refusing non-canonical text (the last character's unused bits set): one token has
    exactly one spelling."""
    data = base64.b32decode(text + "=" * (-len(text) % 8))
    if _b32(data) != text:
        raise BadInput("not a canonical code")
    return data


def new_token() -> bytes:
    return secrets.token_bytes(TOKEN_BYTES)


@dataclass(frozen=True)
class QrCode:
    order_id: str
    token: bytes

    @property
    def payload(self) -> str:
        return f"{QR_PREFIX}:{self.order_id}:{_b32(self.token)}"


def parse_qr(text: str) -> QrCode:
    """Parse a pickup QR payload ``WIBOX1:<ORDER-ID>:<26 base32 chars>``; raise BadInput otherwise."""
    parts = text.strip().split(":")
    if len(parts) != 3 or parts[0] != QR_PREFIX:
        raise BadInput("not a pickup code")
    order_id, token = parts[1], parts[2]
    if not valid_order_id(order_id) or not _TOKEN_RE.fullmatch(token):
        raise BadInput("not a pickup code")
    return QrCode(order_id, _unb32(token))


def is_qr_payload(text: str) -> bool:
    return text.strip().startswith(QR_PREFIX + ":")


def label_payload(order_id: str) -> str:
    return f"{LABEL_PREFIX}:{order_id}"


def parse_label(text: str) -> str:
    """Parse an envelope label ``WIBOXL1:<ORDER-ID>`` and return the order id."""
    parts = text.strip().split(":")
    if len(parts) != 2 or parts[0] != LABEL_PREFIX or not valid_order_id(parts[1]):
        raise BadInput("not an order label")
    return parts[1]


@dataclass(frozen=True)
class Badge:
    staff_id: str
    token: bytes

    @property
    def payload(self) -> str:
        return f"{BADGE_PREFIX}:{self.staff_id}:{_b32(self.token)}"


def parse_badge(text: str) -> Badge:
    parts = text.strip().split(":")
    if len(parts) != 3 or parts[0] != BADGE_PREFIX:
        raise BadInput("not a staff badge")
    if not valid_order_id(parts[1]) or not _TOKEN_RE.fullmatch(parts[2]):
        raise BadInput("not a staff badge")
    return Badge(parts[1], _unb32(parts[2]))


def normalize_pickup_number(text: str) -> str:
    digits = text.replace(" ", "")
    if len(digits) != PICKUP_NUMBER_DIGITS or not digits.isascii() or not digits.isdigit():
        raise BadInput(f"a pickup number has {PICKUP_NUMBER_DIGITS} digits")
    return digits


def normalize_pin(text: str, length: int) -> str:
    if length < MIN_PIN_LENGTH:
        raise BadInput(f"PIN length must be at least {MIN_PIN_LENGTH}")
    if len(text) != length or not text.isascii() or not text.isdigit():
        raise BadInput(f"a PIN has {length} digits")
    return text


def normalize_dob(text: str) -> str:
    """Accept ``YYYY-MM-DD`` or the keypad form ``DDMMYYYY``; return ISO ``YYYY-MM-DD``."""
    t = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
            d = dt.date.fromisoformat(t)
        elif re.fullmatch(r"\d{8}", t):
            d = dt.date(int(t[4:8]), int(t[2:4]), int(t[0:2]))
        else:
            raise ValueError(t)
    except ValueError as exc:
        raise BadInput("date of birth must be DDMMYYYY") from exc
    if d.year < 1900 or d > dt.date.today():
        raise BadInput("date of birth is out of range")
    return d.isoformat()


def qr_verifier(order_id: str, token: bytes, dob: str = "") -> bytes:
    """SHA-256 over the 128-bit token (fast hash suffices), with the date of birth folded in when required."""
    return hashlib.sha256(b"wibox-qr-v1\0" + order_id.encode() + b"\0" + token + b"\0" + dob.encode()).digest()


def check_qr(order_id: str, token: bytes, dob: str, verifier: bytes) -> bool:
    return hmac.compare_digest(qr_verifier(order_id, token, dob), verifier)


def _pin_material(order_id: str, pin: str, dob: str) -> bytes:
    return b"wibox-pin-v1\0" + order_id.encode() + b"\0" + pin.encode() + b"\0" + dob.encode()


def pin_verifier(order_id: str, pin: str, dob: str = "", salt: bytes | None = None) -> str:
    """argon2id PHC string over order id + PIN (+ date of birth), with a per-order random salt."""
    kdf = Argon2id(
        salt=salt if salt is not None else secrets.token_bytes(16),
        length=ARGON2_LENGTH,
        iterations=ARGON2_ITERATIONS,
        lanes=ARGON2_LANES,
        memory_cost=ARGON2_MEMORY_KIB,
    )
    return kdf.derive_phc_encoded(_pin_material(order_id, pin, dob))


def verifier_strength_ok(phc: str) -> bool:
    m = _PHC_RE.fullmatch(phc)
    if not m:
        return False
    mem, t, _p = (int(x) for x in m.groups())
    return mem >= ARGON2_MEMORY_KIB and t >= ARGON2_ITERATIONS


def check_pin(order_id: str, pin: str, dob: str, phc: str) -> bool:
    """Constant-time argon2id verification (the library compares digests in constant time)."""
    if not verifier_strength_ok(phc):
        return False
    try:
        Argon2id.verify_phc_encoded(_pin_material(order_id, pin, dob), phc)
    except InvalidKey:
        return False
    return True


def badge_hash(badge: Badge) -> bytes:
    return hashlib.sha256(b"wibox-badge-v1\0" + badge.staff_id.encode() + b"\0" + badge.token).digest()


def staff_pin_verifier(staff_id: str, pin: str) -> str:
    return pin_verifier("staff:" + staff_id, pin)


def check_staff_pin(staff_id: str, pin: str, phc: str) -> bool:
    return check_pin("staff:" + staff_id, pin, "", phc)


@dataclass(frozen=True)
class IssuedCodes:
    """What the citizen gets (in clear, only until the notice is sent) and what the kiosk stores."""

    qr: QrCode
    pickup_number: str
    pin: str
    qr_verifier: bytes
    pin_verifier: str


def new_pickup_number() -> str:
    return f"{secrets.randbelow(10**PICKUP_NUMBER_DIGITS):0{PICKUP_NUMBER_DIGITS}d}"


def new_pin(length: int = MIN_PIN_LENGTH) -> str:
    if length < MIN_PIN_LENGTH:
        raise BadInput(f"PIN length must be at least {MIN_PIN_LENGTH}")
    return "".join(str(secrets.randbelow(10)) for _ in range(length))


def issue_codes(order_id: str, pickup_number: str, pin_length: int = 6, dob: str = "") -> IssuedCodes:
    """Create a fresh QR token and PIN for an order and their verifiers (used by the backend and tests)."""
    if not valid_order_id(order_id):
        raise BadInput(f"order id {order_id!r} is not valid")
    qr = QrCode(order_id, new_token())
    pin = new_pin(pin_length)
    return IssuedCodes(
        qr=qr,
        pickup_number=normalize_pickup_number(pickup_number),
        pin=pin,
        qr_verifier=qr_verifier(order_id, qr.token, dob),
        pin_verifier=pin_verifier(order_id, pin, dob),
    )
