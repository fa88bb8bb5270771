"""Document types: the city's policy per type (second factor, old document, statement) as the pickup applies it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from locker import audit
from locker.db import Database
from locker.doctypes import POLICIES_KEY, DocumentPolicy, DocumentType, SecondFactor, legacy_type
from locker.errors import BadInput, NotCollectable
from locker.flows.bundle import GENESIS_HASH, BundleContent, ManifestRecord
from locker.flows.policy import policies
from locker.migrations import MIGRATIONS, migrate
from locker.model import OrderState, Statement
from tests.harness import Codes, Station, make_station

DOB = "1990-04-17"
ID, PASS, EAT, CERT = DocumentType.ID_CARD, DocumentType.PASSPORT, DocumentType.EAT, DocumentType.CERTIFICATE
DOB_F, NO_F = SecondFactor.DATE_OF_BIRTH, SecondFactor.NONE

CITY = [
    DocumentPolicy(ID, NO_F, True, "statement.id_card"),
    DocumentPolicy(PASS, DOB_F, False, "statement.passport"),
    DocumentPolicy(CERT, NO_F, True, "statement.certificate"),  # a certificate has no old document: ignored
]


def apply_policies(st: Station, given: list[DocumentPolicy], seq: int = 1) -> None:
    head = st.flows.bundle.head()
    manifest = ManifestRecord(seq, hashlib.sha256(f"m{seq}".encode()).digest(), head.hash, st.clock.now())
    with st.lock:
        st.flows.bundle.apply(BundleContent(manifest, document_policies=given))


def statements_recorded(st: Station) -> list[object]:
    return [e.event["statement"] for e in audit.entries(st.database) if e.event["type"] == "pickup.receipt_confirmed"]


def stored(st: Station, order_id: str, doc: DocumentType, *, dob: str = "", return_old_id: bool = False) -> Codes:
    c = st.announce(order_id, dob=dob, return_old_id=return_old_id, document_type=doc)
    st.load(st.staff_session(), c)
    return c


def test_before_any_bundle_the_station_toml_decides_for_every_type(tmp_path: Path) -> None:
    st = make_station(tmp_path, second_factor=True, old_id_return=True)
    got = policies(st.flows.pickup.ctx)
    assert {d: p.second_factor for d, p in got.items()} == dict.fromkeys(DocumentType, DOB_F)
    assert {d for d, p in got.items() if p.asks_old_document} == {ID, PASS}
    assert {d: p.statement for d, p in got.items()} == {d: f"statement.{d.value}" for d in DocumentType}


def test_the_hubs_policy_wins_per_type_and_types_it_does_not_name_keep_the_toml(tmp_path: Path) -> None:
    st = make_station(tmp_path, second_factor=False, old_id_return=False)
    apply_policies(st, CITY)
    got = policies(st.flows.pickup.ctx)
    assert got[PASS].asks_date_of_birth and not got[ID].asks_date_of_birth
    assert got[EAT] == DocumentPolicy(EAT, NO_F, False, "statement.eat")  # not named: the TOML's default
    assert [e.event["type"] for e in audit.entries(st.database)].count("policy.document_types") == 1
    apply_policies(st, CITY, seq=2)  # the same policies again: nothing new to audit
    assert [e.event["type"] for e in audit.entries(st.database)].count("policy.document_types") == 1


def test_second_factor_is_asked_only_for_the_types_whose_policy_says_so(tmp_path: Path) -> None:
    st = make_station(tmp_path)
    apply_policies(st, CITY)
    passport = stored(st, "ORD-PASS", PASS, dob=DOB)
    card = stored(st, "ORD-CARD", ID)
    pickup = st.flows.pickup
    assert pickup.scan_qr(passport.qr).needs_second_factor is True
    assert pickup.enter_manual(passport.pickup_number, passport.pin).needs_second_factor is True
    assert pickup.scan_qr(card.qr).needs_second_factor is False
    assert pickup.enter_manual(card.pickup_number, card.pin).needs_second_factor is False
    with pytest.raises(BadInput, match="date of birth"):
        pickup.verify(pickup.scan_qr(passport.qr))
    v = pickup.verify(pickup.scan_qr(passport.qr), DOB)
    assert (v.document_type, v.statement) == (PASS, "statement.passport")
    w = pickup.verify(pickup.enter_manual(card.pickup_number, card.pin))
    assert (w.document_type, w.statement) == (ID, "statement.id_card")


def test_the_statement_of_the_orders_type_is_recorded(tmp_path: Path) -> None:
    st = make_station(tmp_path)
    apply_policies(st, CITY)
    passport = stored(st, "ORD-PASS", PASS, dob=DOB)
    v = st.flows.pickup.verify(st.flows.pickup.scan_qr(passport.qr), DOB)
    st.flows.pickup.confirm_receipt(v, Statement(v.statement, "abc123", "tr"))
    assert statements_recorded(st) == [{"id": "statement.passport", "version": "abc123", "language": "tr"}]
    assert st.flows.pickup.statement_id("ORD-PASS") == "statement.passport"


def test_old_document_is_asked_only_where_the_policy_of_the_type_wants_it(tmp_path: Path) -> None:
    st = make_station(tmp_path, old_id_return=True)  # the TOML would ask for every ID card and passport
    apply_policies(st, CITY)  # the city: ID cards yes, passports no, certificates (no old document) never
    card = stored(st, "ORD-CARD", ID, return_old_id=True)
    passport = stored(st, "ORD-PASS", PASS, dob=DOB, return_old_id=True)
    cert = stored(st, "ORD-CERT", CERT, return_old_id=True)
    pickup = st.flows.pickup
    vc = pickup.verify(pickup.scan_qr(card.qr))
    vp = pickup.verify(pickup.scan_qr(passport.qr), DOB)
    vz = pickup.verify(pickup.scan_qr(cert.qr))
    assert (pickup.wants_old_id(vc), pickup.wants_old_id(vp), pickup.wants_old_id(vz)) == (True, False, False)
    n = pickup.confirm_receipt(vp, Statement(vp.statement, "v1", "de"))
    st.pump()
    st.bank.take_item(n)
    st.bank.close(n)
    st.pump()
    order = st.store.order("ORD-PASS")
    assert order is not None and order.state == OrderState.COLLECTED
    with pytest.raises(NotCollectable):
        pickup.open_for_old_id(vp)


@pytest.mark.parametrize(
    ("given", "match"),
    [
        ([CITY[0], CITY[0]], "twice"),
        ([DocumentPolicy(ID, NO_F, False, "Not An Id!")], "statement id"),
    ],
)
def test_a_bad_policy_in_a_bundle_is_refused_and_changes_nothing(
    tmp_path: Path, given: list[DocumentPolicy], match: str
) -> None:
    st = make_station(tmp_path)
    before = (st.flows.bundle.head(), st.store.meta(POLICIES_KEY), audit.verify(st.database).size)
    with pytest.raises(BadInput, match=match):
        apply_policies(st, given)
    assert (st.flows.bundle.head(), st.store.meta(POLICIES_KEY), audit.verify(st.database).size) == before
    assert st.flows.bundle.head().hash == GENESIS_HASH


def test_migration_0009_turns_free_text_kinds_into_document_types(tmp_path: Path) -> None:
    d = Database(tmp_path / "x.db")
    before = tuple(m for m in MIGRATIONS if m.name < "0009")
    migrate(d, before)
    rows = [("O-1", "passport"), ("O-2", "residence_permit"), ("O-3", "fishing_licence"), ("O-4", "certificate")]
    with d.write() as conn:
        for order_id, kind in rows:
            conn.execute(
                "INSERT INTO orders (id, pickup_number, document_kind, size, state, valid_from, valid_until,"
                " qr_verifier, pin_verifier, updated_at) VALUES (?, ?, ?, 'S', 'announced', 0, 1, ?, 'x', 0)",
                (order_id, order_id[-1] * 8, kind, bytes(32)),
            )
    assert migrate(d) == ["0009_document_types"]
    got = {r["id"]: r["document_kind"] for r in d.query("SELECT id, document_kind FROM orders")}
    assert got == {"O-1": "passport", "O-2": "eat", "O-3": "id_card", "O-4": "certificate"}
    assert legacy_type("Reisepass".lower()) == PASS and DocumentType("residence_permit") == EAT
    with pytest.raises(ValueError, match="not one of"):
        DocumentType.exact("residence_permit")  # the hub's API takes only the exact names
