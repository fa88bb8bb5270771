"""Wire schemas are strict, kiosk messages and checkpoints are signed, key files are private and stable."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from backend_sync import protocol as p
from backend_sync import schema
from backend_sync.builder import countersign
from backend_sync.errors import KeyStoreError, SchemaError, TamperError, WrongDeviceError
from backend_sync.keys import KeyStore, KioskKeys, Signer, key_id, load_ed25519_public
from backend_sync.receiver import verify_countersignature
from locker.model import NewOrder, Size

ORDER: dict[str, Any] = {
    "id": "ORD-1",
    "pickup_number": "12345678",
    "document_kind": "id_card",
    "size": "S",
    "reachable": False,
    "return_old_id": True,
    "valid_from": 1_800_000_000,
    "valid_until": 1_800_600_000.5,
    "qr_verifier": "00" * 32,
    "pin_verifier": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
}


def test_order_item_round_trip() -> None:
    item = schema.decode(NewOrder, ORDER)
    assert item.size == Size.S and item.valid_from == 1_800_000_000.0 and item.qr_verifier == bytes(32)
    again = schema.decode(NewOrder, json.loads(p.dump(item)))
    assert again == item


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"surname": "Muster"}, "unknown field NewOrder.surname"),
        ({"reachable": 0}, "NewOrder.reachable: expected bool, got int"),
        ({"valid_from": True}, "NewOrder.valid_from: expected number, got bool"),
        ({"valid_until": "tomorrow"}, "NewOrder.valid_until: expected number, got str"),
        ({"size": "XL"}, "NewOrder.size: 'XL' is not one of S, M, L"),
        ({"qr_verifier": "00" * 31}, "NewOrder.qr_verifier: expected 32 bytes, got 31"),
        ({"qr_verifier": "AB" * 32}, "NewOrder.qr_verifier: not valid hex"),
        ({"qr_verifier": None}, "NewOrder.qr_verifier: expected hex string, got null"),
        ({"id": 7}, "NewOrder.id: expected string, got int"),
    ],
)
def test_schema_errors_name_the_field(change: dict[str, Any], message: str) -> None:
    with pytest.raises(SchemaError) as info:
        schema.decode(NewOrder, ORDER | change)
    assert message in str(info.value)


def test_missing_field_and_nested_paths() -> None:
    raw = {k: v for k, v in ORDER.items() if k != "pin_verifier"}
    with pytest.raises(SchemaError, match=r"NewOrder\.pin_verifier: missing"):
        schema.decode(NewOrder, raw)
    payload = {"device_id": "k1", "seq": 1, "full_sync": False, "orders": [ORDER, ORDER | {"size": 1}]}
    payload |= {"cancellations": [], "staff": []}
    with pytest.raises(SchemaError, match=r"payload\.orders\[1\]\.size"):
        schema.decode(p.BundlePayload, payload, "payload")


@pytest.mark.parametrize("text", [b'{"a": NaN}', b'{"a": 1, "a": 2}', b"\xff\xfe", b"[" * 100_000, b'{"a": Infinity}'])
def test_strict_json(text: bytes) -> None:
    with pytest.raises(SchemaError):
        schema.loads(text)


def test_size_limit() -> None:
    with pytest.raises(SchemaError, match="larger"):
        schema.loads(b"[" + b"1," * 100 + b"1]", max_bytes=50)


def test_base64_strict() -> None:
    with pytest.raises(SchemaError, match="not valid b64"):
        schema.decode(p.HubKeyItem, {"key_id": "00" * 8, "public_key": "not base64!"})


def test_manifest_invariants() -> None:
    good: dict[str, Any] = {
        "device_id": "kiosk-7",
        "seq": 1,
        "prev_hash": "00" * 32,
        "issued_at": 100,
        "expires_at": 200,
        "content_hash": "11" * 32,
        "key_id": "ab" * 8,
        "recipient_key_id": "cd" * 8,
        "hub_keys": None,
    }
    schema.decode(p.Manifest, good)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"seq": 0}, "manifest.seq"),
        ({"expires_at": 100}, "manifest.expires_at"),
        ({"device_id": "a|b"}, "manifest.device_id"),
        ({"key_id": "AB" * 8}, "manifest.key_id"),
        ({"issued_at": 100.5}, "Manifest.issued_at"),  # times in signed objects are integers
    ]
    for bad, field in cases:
        with pytest.raises(SchemaError, match=field.replace(".", r"\.")):
            schema.decode(p.Manifest, good | bad)


# -- kiosk messages -----------------------------------------------------------------------------------------
def kiosk_bodies() -> list[p.KioskBody]:
    keys = KioskKeys.generate().public()
    return [
        p.PullBody(3, b"\x01" * 32),
        p.HeartbeatBody(3, b"\x01" * 32, 120, b"\x02" * 32, 1_800_000_000, 1, "0.1.0"),
        p.EventsBody((p.EventItem("ab" * 16, 1, "stored", '{"kind":"stored"}'),)),
        p.CheckpointBody(120, b"\x02" * 32, b"\x03" * 64),
        p.KeyAnnounceBody(keys.sign_public, keys.enc_public),
    ]


@pytest.mark.parametrize("body", kiosk_bodies(), ids=lambda b: b.KIND.value)
def test_kiosk_message_round_trip(body: p.KioskBody) -> None:
    kiosk = Signer.generate()
    data = p.sign_kiosk_message(kiosk, "kiosk-7", body, 1_800_000_000)
    msg = p.verify_kiosk_message(data, "kiosk-7", {kiosk.key_id: load_ed25519_public(kiosk.public_raw)})
    assert msg.body == body and msg.header.kind == body.KIND and msg.key_id == kiosk.key_id
    assert len(msg.header.msg_id) == 32


def test_kiosk_message_refusals() -> None:
    kiosk, other = Signer.generate(), Signer.generate()
    keys = {kiosk.key_id: load_ed25519_public(kiosk.public_raw)}
    data = p.sign_kiosk_message(kiosk, "kiosk-7", p.PullBody(0, bytes(32)), 1_800_000_000)
    obj = json.loads(data)
    obj["message"]["body"]["manifest_seq"] = 1
    with pytest.raises(TamperError, match="does not verify"):
        p.verify_kiosk_message(json.dumps(obj).encode(), "kiosk-7", keys)
    with pytest.raises(TamperError, match="not pinned"):
        p.verify_kiosk_message(p.sign_kiosk_message(other, "kiosk-7", p.PullBody(0, bytes(32)), 1), "kiosk-7", keys)
    with pytest.raises(WrongDeviceError):
        p.verify_kiosk_message(data, "kiosk-8", keys)
    obj = json.loads(data)
    obj["message"]["body"]["extra"] = 1
    obj["signature"] = base64.b64encode(kiosk.sign(p.KIOSK_MESSAGE_DOMAIN + schema.canonical(obj["message"]))).decode()
    with pytest.raises(SchemaError, match=r"message\.body\.extra"):
        p.verify_kiosk_message(json.dumps(obj).encode(), "kiosk-7", keys)


def test_checkpoint_and_countersignature() -> None:
    kiosk, hub = Signer.generate(), Signer.generate()
    body = p.sign_checkpoint(kiosk, "kiosk-7", 120, b"\x05" * 32)
    p.verify_checkpoint("kiosk-7", body, load_ed25519_public(kiosk.public_raw))
    with pytest.raises(TamperError):
        p.verify_checkpoint("kiosk-8", body, load_ed25519_public(kiosk.public_raw))
    pinned = {hub.key_id: load_ed25519_public(hub.public_raw)}
    cs = verify_countersignature(countersign(hub, "kiosk-7", body), "kiosk-7", pinned)
    assert (cs.size, cs.head) == (120, b"\x05" * 32)
    with pytest.raises(WrongDeviceError):
        verify_countersignature(countersign(hub, "kiosk-8", body), "kiosk-7", pinned)
    with pytest.raises(TamperError):
        verify_countersignature(countersign(Signer.generate(), "kiosk-7", body), "kiosk-7", pinned)


# -- keys ---------------------------------------------------------------------------------------------------
def test_keystore_creates_private_files_and_reloads(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    keys = store.kiosk_keys()
    for name in ("kiosk-sign.pem", "kiosk-enc.pem"):
        assert stat.S_IMODE((tmp_path / "keys" / name).stat().st_mode) == 0o600
    again = KeyStore(tmp_path / "keys").kiosk_keys()
    assert again.public() == keys.public()
    exported = keys.public().export()
    assert exported["sign_key_id"] == key_id(base64.b64decode(exported["sign_public"]))
    assert len(exported["enc_key_id"]) == 16 and exported["enc_key_id"] == keys.enc_key_id


def test_keystore_refuses_readable_or_wrong_keys(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.kiosk_keys()
    (tmp_path / "kiosk-sign.pem").chmod(0o644)
    with pytest.raises(KeyStoreError, match="group or others"):
        store.kiosk_keys()
    (tmp_path / "kiosk-sign.pem").chmod(0o600)
    with pytest.raises(KeyStoreError, match="not an X25519"):
        store.x25519("kiosk-sign")
    (tmp_path / "broken.pem").write_bytes(b"garbage")
    (tmp_path / "broken.pem").chmod(0o600)
    with pytest.raises(KeyStoreError, match="malformed"):
        store.ed25519("broken")


def test_key_id_is_sha256_prefix() -> None:
    assert key_id(bytes(32)) == "66687aadf862bd77"
