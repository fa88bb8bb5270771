"""Every refused bundle leaves the kiosk's database byte-identical, and is refused before decryption where it can be."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from backend_sync import protocol as p
from backend_sync import schema
from backend_sync.builder import Recipient, build_bundle
from backend_sync.errors import (
    ChainError,
    ExpiredError,
    ReplayError,
    SchemaError,
    SyncError,
    TamperError,
    WrongDeviceError,
)
from backend_sync.keys import KioskKeys, Signer
from locker.errors import BadInput, LockerError
from locker.flows.bundle import StaleBundle, StaleReason
from locker.model import NewOrder
from tests.harness import DAY
from tests.sync.rig import Rig, edit, fingerprint, flip_b64, flip_hex, make_rig, order, settle


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    """A kiosk that has accepted one bundle (so replay and chain have something to refer to)."""
    r = make_rig(tmp_path)
    b = r.build(orders=[order("ORD-1", now=r.now())])
    r.receiver.receive(b.data)
    r.accepted(b)
    r.spy.calls = 0
    return r


def refused(rig: Rig, data: bytes, error: type[LockerError], *, decrypted: bool = False) -> LockerError:
    """Offer ``data``; it must raise ``error``, leave every table and file identical, and (unless ``decrypted``)
    never reach the decryptor."""
    settle(rig.st)
    before = fingerprint(rig.st)
    head = rig.flow.head()
    with pytest.raises(error) as info:
        rig.receiver.receive(data)
    assert rig.spy.calls == (1 if decrypted else 0)
    assert rig.flow.head() == head
    assert fingerprint(rig.st) == before
    return info.value


def test_flipped_bit_in_ciphertext(rig: Rig) -> None:
    good = rig.build(orders=[order("ORD-2", now=rig.now())]).data
    for bit in (0, 7, 8 * 32 + 3, 8 * 40):  # encapsulated key, sealed payload, tag region
        bad = edit(good, lambda o, b=bit: o.update(ciphertext=flip_b64(o["ciphertext"], b)))
        refused(rig, bad, TamperError)
    rig.receiver.receive(good)  # the untouched bundle still applies


def test_ciphertext_swapped_with_rehashed_manifest(rig: Rig) -> None:
    """An attacker who fixes up content_hash still cannot make the signature verify."""
    good = rig.build(orders=[order("ORD-2", now=rig.now())]).data

    def swap(o: dict[str, Any]) -> None:
        o["ciphertext"] = flip_b64(o["ciphertext"], 100)
        raw = base64.b64decode(o["ciphertext"])
        o["manifest"]["content_hash"] = hashlib.sha256(raw).hexdigest()

    refused(rig, edit(good, swap), TamperError)


ATTACKER = Signer.generate()
ATTACKER_PUB = base64.b64encode(ATTACKER.public_raw).decode()
HEADER_EDITS: dict[str, Callable[[dict[str, Any]], None]] = {
    "device_id": lambda m: m.update(device_id="test-0"),
    "seq": lambda m: m.update(seq=m["seq"] ^ 1 if m["seq"] ^ 1 else 3),
    "prev_hash": lambda m: m.update(prev_hash=flip_hex(m["prev_hash"], 5)),
    "issued_at": lambda m: m.update(issued_at=m["issued_at"] ^ 1),
    "expires_at": lambda m: m.update(expires_at=m["expires_at"] ^ 1),
    "content_hash": lambda m: m.update(content_hash=flip_hex(m["content_hash"], 255)),
    "recipient_key_id": lambda m: m.update(recipient_key_id=flip_hex(m["recipient_key_id"], 0)),
    "hub_keys": lambda m: m.update(hub_keys=[]),
    "hub_keys_injected": lambda m: m.update(hub_keys=[{"key_id": ATTACKER.key_id, "public_key": ATTACKER_PUB}]),
}


@pytest.mark.parametrize("field", sorted(HEADER_EDITS))
def test_flipped_bit_in_header(rig: Rig, field: str) -> None:
    good = rig.build(orders=[order("ORD-2", now=rig.now())]).data
    bad = edit(good, lambda o: HEADER_EDITS[field](o["manifest"]))
    err = refused(rig, bad, SyncError)
    # A structurally impossible value is a schema error; every other change breaks the signature.
    assert isinstance(err, TamperError) or (isinstance(err, SchemaError) and field == "hub_keys")


def test_header_key_id_changed_is_unknown_key(rig: Rig) -> None:
    good = rig.build().data
    bad = edit(good, lambda o: o["manifest"].update(key_id=flip_hex(o["manifest"]["key_id"], 1)))
    assert "not pinned" in str(refused(rig, bad, TamperError))


@pytest.mark.parametrize("bit", [0, 200, 511])
def test_flipped_bit_in_signature(rig: Rig, bit: int) -> None:
    good = rig.build().data
    refused(rig, edit(good, lambda o: o.update(signature=flip_b64(o["signature"], bit))), TamperError)


def test_signed_by_unpinned_key(rig: Rig) -> None:
    refused(rig, rig.build(signer=Signer.generate()).data, TamperError)


def test_replayed_older_bundle(rig: Rig) -> None:
    first = rig.build(seq=1, prev_hash=p.GENESIS_HASH, orders=[order("ORD-1", now=rig.now())])
    second = rig.build(orders=[order("ORD-2", now=rig.now())])
    rig.receiver.receive(second.data)
    rig.accepted(second)
    rig.spy.calls = 0
    refused(rig, second.data, ReplayError)  # the same bundle again
    refused(rig, first.data, ReplayError)  # an older one (rollback)


def test_other_kiosks_bundle(rig: Rig) -> None:
    other = KioskKeys.generate()
    for_other = rig.build(recipient=Recipient("test-2", other.public().enc_public))
    assert "test-2" in str(refused(rig, for_other.data, WrongDeviceError))
    # Our device id, but encrypted to another kiosk's key (e.g. a key that was rotated away).
    wrong_key = rig.build(recipient=Recipient(rig.device_id, other.public().enc_public))
    refused(rig, wrong_key.data, WrongDeviceError)


def test_expired_manifest(rig: Rig) -> None:
    now = rig.now()
    refused(rig, rig.build(issued_at=now - 15 * 86400, lifetime_s=14 * 86400).data, ExpiredError)


def test_issued_too_far_in_the_future(rig: Rig) -> None:
    refused(rig, rig.build(issued_at=rig.now() + 3600).data, ExpiredError)


def test_lifetime_too_long(rig: Rig) -> None:
    refused(rig, rig.build(lifetime_s=365 * 86400).data, ExpiredError)


def test_broken_chain(rig: Rig) -> None:
    refused(rig, rig.build(prev_hash=hashlib.sha256(b"fork").digest()).data, ChainError)
    refused(rig, rig.build(seq=rig.head_seq + 2).data, ChainError)  # a gap


def test_ciphertext_bound_to_another_context(rig: Rig) -> None:
    """Validly signed, but sealed with another device's/seq's info: decryption itself refuses it."""
    built = rig.build(seq=rig.head_seq + 5)  # sealed under info ...|seq+5

    def relabel(o: dict[str, Any]) -> None:
        m = dict(o["manifest"], seq=rig.head_seq + 1)
        o["manifest"] = m
        o["signature"] = base64.b64encode(rig.hub.sign(p.MANIFEST_DOMAIN + schema.canonical(m))).decode()

    refused(rig, edit(built.data, relabel), TamperError, decrypted=True)


def test_content_refused_by_core(rig: Rig) -> None:
    weak = order("ORD-9", now=rig.now(), pin_verifier="$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g")
    refused(rig, rig.build(orders=[weak]).data, BadInput, decrypted=True)


def test_pickup_number_clash_rolls_back_whole_bundle(rig: Rig) -> None:
    clash = order("ORD-7", now=rig.now())
    clash = NewOrder(**{**clash.__dict__, "pickup_number": order("ORD-1", now=0).pickup_number})
    refused(rig, rig.build(orders=[order("ORD-8", now=rig.now()), clash]).data, BadInput, decrypted=True)


def test_garbage_and_schema_errors(rig: Rig) -> None:
    good = rig.build().data
    refused(rig, b"not json", SchemaError)
    refused(rig, edit(good, lambda o: o.update(extra=1)), SchemaError)
    err = refused(rig, edit(good, lambda o: o["manifest"].update(seq="2")), SchemaError)
    assert "manifest.seq" in str(err)


def test_refused_before_first_pin(tmp_path: Path) -> None:
    """A kiosk without pinned hub keys accepts nothing."""
    r = make_rig(tmp_path / "a")
    r.st.database.conn.execute("DELETE FROM sync_hub_keys")
    settle(r.st)
    with pytest.raises(TamperError, match="enroll"):
        r.receiver.receive(r.build().data)


def test_concurrent_applies_only_one_wins(rig: Rig) -> None:
    """Both pass the checks against the same head; the transaction's re-check refuses the second."""
    a = rig.build(orders=[order("ORD-A", now=rig.now())])
    b = rig.build(orders=[order("ORD-B", now=rig.now())])
    content_a = rig.receiver.open(a.data)
    content_b = rig.receiver.open(b.data)
    rig.flow.apply(content_a)
    settle(rig.st)
    before = fingerprint(rig.st)
    with pytest.raises(StaleBundle) as info:
        rig.flow.apply(content_b)
    assert info.value.reason == StaleReason.REPLAY
    assert fingerprint(rig.st) == before
    assert rig.st.store.order("ORD-B") is None


def test_build_helper_sanity() -> None:
    """The builder refuses a bad device id before encrypting anything."""
    with pytest.raises(SchemaError):
        build_bundle(
            Signer.generate(),
            Recipient("bad|id", KioskKeys.generate().public().enc_public),
            seq=1,
            prev_hash=p.GENESIS_HASH,
            issued_at=int(DAY),
        )
