"""Device keys: Ed25519 signing and X25519 encryption key pairs, key ids, and 0600 key files on disk."""

from __future__ import annotations

import base64
import hashlib
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from backend_sync.errors import KeyStoreError, TamperError
from locker.files import write_atomic

KEY_ID_BYTES = 8
_RAW = serialization.Encoding.Raw
_RAW_PUB = serialization.PublicFormat.Raw


def key_id(raw_public_key: bytes) -> str:
    """A key's id: the first 8 bytes of SHA-256 over the raw 32-byte public key, as 16 lowercase hex digits."""
    return hashlib.sha256(raw_public_key).digest()[:KEY_ID_BYTES].hex()


def fingerprint(raw_public_key: bytes) -> str:
    """A key's id in groups of four ("1a2b 3c4d 5e6f 7a8b"): what the kiosk logs and the hub shows at approval."""
    kid = key_id(raw_public_key)
    return " ".join(kid[i : i + 4] for i in range(0, len(kid), 4))


def raw_public(key: Ed25519PublicKey | X25519PublicKey) -> bytes:
    return key.public_bytes(_RAW, _RAW_PUB)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class Signer:
    """An Ed25519 private key with its key id (the hub's manifest key or a kiosk's message key)."""

    private_key: Ed25519PrivateKey

    @property
    def public_raw(self) -> bytes:
        return raw_public(self.private_key.public_key())

    @property
    def key_id(self) -> str:
        return key_id(self.public_raw)

    def sign(self, message: bytes) -> bytes:
        return self.private_key.sign(message)

    @classmethod
    def generate(cls) -> Signer:
        return cls(Ed25519PrivateKey.generate())


def verify_signature(pinned: dict[str, Ed25519PublicKey], kid: str, signature: bytes, message: bytes) -> None:
    """Raise TamperError unless ``kid`` is pinned and its key signed ``message``."""
    public = pinned.get(kid)
    if public is None:
        raise TamperError(f"signing key {kid!r} is not pinned")
    try:
        public.verify(signature, message)
    except InvalidSignature as exc:
        raise TamperError(f"signature by key {kid} does not verify") from exc


def load_ed25519_public(raw: bytes) -> Ed25519PublicKey:
    try:
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise TamperError("not an Ed25519 public key") from exc


def load_x25519_public(raw: bytes) -> X25519PublicKey:
    try:
        return X25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise TamperError("not an X25519 public key") from exc


@dataclass(frozen=True)
class PublicKeys:
    """What a kiosk hands the hub at enrollment (and announces on rotation): both public keys and their ids."""

    sign_public: bytes
    enc_public: bytes

    @property
    def sign_key_id(self) -> str:
        return key_id(self.sign_public)

    @property
    def enc_key_id(self) -> str:
        return key_id(self.enc_public)

    def export(self) -> dict[str, str]:
        """Base64 public keys with their ids, e.g. for the enrollment screen or an admin's approval."""
        return {
            "sign_key_id": self.sign_key_id,
            "sign_public": b64(self.sign_public),
            "enc_key_id": self.enc_key_id,
            "enc_public": b64(self.enc_public),
        }


@dataclass(frozen=True)
class KioskKeys:
    """A kiosk's two key pairs: Ed25519 to sign its messages, X25519 to receive HPKE-encrypted bundles."""

    signer: Signer
    enc_private: X25519PrivateKey

    @property
    def enc_key_id(self) -> str:
        return key_id(raw_public(self.enc_private.public_key()))

    def public(self) -> PublicKeys:
        return PublicKeys(self.signer.public_raw, raw_public(self.enc_private.public_key()))

    @classmethod
    def generate(cls) -> KioskKeys:
        return cls(Signer.generate(), X25519PrivateKey.generate())


class KeyStore:
    """Private keys as PKCS#8 PEM files with mode 0600 in one directory; refuses files others can read."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, name: str) -> Path:
        if not name.replace("-", "").isalnum():
            raise KeyStoreError(f"bad key name {name!r}")
        return self.directory / f"{name}.pem"

    def _write(self, path: Path, pem: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            write_atomic(path, pem, 0o600)
        except OSError as exc:
            raise KeyStoreError(f"cannot write key {path}: {exc}") from exc

    def _read(self, path: Path) -> bytes | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise KeyStoreError(f"cannot read key {path}: {exc}") from exc
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyStoreError(f"key {path} is accessible by group or others (mode {stat.S_IMODE(st.st_mode):o})")
        try:
            return path.read_bytes()
        except OSError as exc:
            raise KeyStoreError(f"cannot read key {path}: {exc}") from exc

    def _load_or_create(self, name: str, new: Callable[[], Ed25519PrivateKey | X25519PrivateKey]) -> bytes:
        path = self._path(name)
        pem = self._read(path)
        if pem is None:
            pem = new().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            self._write(path, pem)
        return pem

    def ed25519(self, name: str) -> Signer:
        """Load the named Ed25519 key, creating it on first use."""
        pem = self._load_or_create(name, Ed25519PrivateKey.generate)
        key = self._parse(name, pem)
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyStoreError(f"key {name} is not an Ed25519 private key")
        return Signer(key)

    def x25519(self, name: str) -> X25519PrivateKey:
        """Load the named X25519 key, creating it on first use."""
        pem = self._load_or_create(name, X25519PrivateKey.generate)
        key = self._parse(name, pem)
        if not isinstance(key, X25519PrivateKey):
            raise KeyStoreError(f"key {name} is not an X25519 private key")
        return key

    def kiosk_keys(self) -> KioskKeys:
        """The kiosk's key pairs (``kiosk-sign``, ``kiosk-enc``), generated on first start."""
        return KioskKeys(self.ed25519("kiosk-sign"), self.x25519("kiosk-enc"))

    def _parse(self, name: str, pem: bytes) -> object:
        try:
            return serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as exc:
            raise KeyStoreError(f"key {name} is malformed: {exc}") from exc
