"""The hub's signing keys: Ed25519 key files (0600) in the data directory; only ids and public keys in the DB."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from backend_sync.hub.db import HubStore
from backend_sync.keys import KeyStore, Signer

HUB_KEY_NAME = "hub-sign"


@dataclass(frozen=True)
class HubKeys:
    """The key that signs manifests, countersignatures and commands, and the set kiosks pin."""

    signer: Signer

    @property
    def pinned(self) -> list[tuple[str, bytes]]:
        """(key id, raw public key) of every key a kiosk should pin."""
        return [(self.signer.key_id, self.signer.public_raw)]


def load_hub_keys(key_dir: Path) -> HubKeys:
    """Load (or on first use create) the hub signing key file."""
    return HubKeys(KeyStore(key_dir).ed25519(HUB_KEY_NAME))


def record_hub_keys(store: HubStore, keys: HubKeys) -> None:
    """Register the key ids and public keys in the database (fleet pages show them; the private key stays a file)."""
    with store.write() as conn:
        for kid, public in keys.pinned:
            store.register_hub_key(conn, kid, f"keys/{HUB_KEY_NAME}.pem", public.hex())
