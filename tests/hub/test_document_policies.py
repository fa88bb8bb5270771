"""Document types over real HTTP: orders of two types, the city's policy per type set at the hub, carried in the
signed bundle and applied by the station per order — against a station TOML that says otherwise."""

from __future__ import annotations

from pathlib import Path

import httpx
import sqlalchemy as sa

from backend_sync.hub import tables as hubdb
from backend_sync.hub.db import HubStore
from locker import audit
from locker.doctypes import DocumentType
from locker.model import Statement
from tests.harness import Codes, Station
from tests.hub.enrolled import enrolled_kiosk, sqlite_url
from tests.hub.servers import ADMIN_PASSWORD, HubProcess
from tests.hub.test_end_to_end import DEVICE

CITY_ADMIN, CITY_PASSWORD = "wi-admin", "another correct horse battery"
DOB = "1988-02-29"


def _login(url: str, username: str, password: str) -> httpx.Client:
    c = httpx.Client(base_url=url, timeout=10)
    r = c.post("/admin/login", data={"username": username, "password": password}, follow_redirects=False)
    assert r.status_code == 303, r.text
    return c


def _codes(store: HubStore, order_id: str) -> Codes:
    o = hubdb.orders
    with store.read() as conn:
        row = conn.execute(sa.select(o).where(o.c.id == order_id)).one()
    return Codes(row.id, row.qr_payload_clear, row.pickup_number, row.pin_clear)


def _orders(store: HubStore) -> int:
    with store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(hubdb.orders)).scalar_one())


def test_policy_per_type_reaches_the_station_and_is_applied_per_order(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path)
    with HubProcess.create(tmp_path, url).running() as hub, enrolled_kiosk(tmp_path, hub, url) as enrolled:
        st, client, store = enrolled
        assert st.config.policy.second_factor is False  # the station TOML: no second factor for anything
        hub_url = hub.url
        root = _login(hub_url, "root", ADMIN_PASSWORD)
        r = root.post(
            "/admin/admins",
            data={"city_id": "wiesbaden", "username": CITY_ADMIN, "password": CITY_PASSWORD, "role": "admin"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        admin = _login(hub_url, CITY_ADMIN, CITY_PASSWORD)
        # -- the city: passports with the date of birth and without old document; ID cards without -------------
        policy = {"second_factor": "date_of_birth", "old_document_return": False, "statement": "statement.passport"}
        r = admin.post("/api/v1/document-policies/passport", json=policy)
        assert r.status_code == 200, r.text
        bad = admin.post("/api/v1/document-policies/eat", json={**policy, "old_document_return": True})
        assert bad.status_code == 422 and "no old document" in bad.json()["error"], bad.text
        assert admin.post("/api/v1/document-policies/visa", json=policy).status_code == 422
        listed = {p["document_type"]: p for p in admin.get("/api/v1/document-policies").json()}
        assert listed["passport"]["second_factor"] == "date_of_birth"
        assert listed["id_card"]["second_factor"] == "none" and listed["eat"]["old_document_return"] is False

        # -- orders of two types; a bad type or a missing date of birth is refused, nothing stored ------------
        base = {"kiosk": DEVICE, "size": "S", "email": "citizen@example.org"}
        before = _orders(store)
        r = admin.post("/api/v1/orders", json={**base, "reference": "BAD-1", "document_kind": "visa"})
        assert r.status_code == 422 and "document type 'visa' is not one of" in r.json()["error"], r.text
        r = admin.post("/api/v1/orders", json={**base, "reference": "BAD-2", "document_kind": "passport"})
        assert r.status_code == 422 and "required by this city for a passport" in r.json()["error"], r.text
        assert _orders(store) == before
        r = admin.post(
            "/api/v1/orders",
            json={**base, "reference": "PASS-1", "document_kind": "passport", "date_of_birth": DOB},
        )
        assert r.status_code == 201 and r.json()["document_kind"] == "passport", r.text
        passport = _codes(store, r.json()["id"])
        r = admin.post("/api/v1/orders", json={**base, "reference": "CARD-1"})  # document_kind defaults to id_card
        assert r.status_code == 201 and r.json()["document_kind"] == "id_card", r.text
        card = _codes(store, r.json()["id"])

        # -- the signed bundle brings orders and policies; the station applies the city's, not its TOML ---------
        assert client.sync_once().bundles >= 1
        got = st.store.order(passport.order_id)
        assert got is not None and got.document_kind == DocumentType.PASSPORT
        _pick_up(st, passport, card)
        admin.close()
        root.close()


def _pick_up(st: Station, passport: Codes, card: Codes) -> None:
    sid = st.staff_session()
    st.load(sid, passport)
    st.load(sid, card)
    pickup = st.flows.pickup
    assert pickup.scan_qr(passport.qr).needs_second_factor is True
    assert pickup.enter_manual(card.pickup_number, card.pin).needs_second_factor is False
    vp = pickup.verify(pickup.enter_manual(passport.pickup_number, passport.pin), DOB)
    vc = pickup.verify(pickup.scan_qr(card.qr))
    assert (vp.statement, vc.statement) == ("statement.passport", "statement.id_card")
    for v in (vp, vc):
        n = pickup.confirm_receipt(v, Statement(v.statement, "v1", "de"))
        st.pump()
        st.bank.take_item(n)
        st.bank.close(n)
        st.pump()
    recorded = [
        e.event["statement"] for e in audit.entries(st.database) if e.event["type"] == "pickup.receipt_confirmed"
    ]
    assert [s["id"] for s in recorded] == ["statement.passport", "statement.id_card"]
