"""The full cycle over real HTTP between processes: REST order → bundle → staff load → e-mail → pickup → collected.

The hub (`wibox hub run`, on SQLite and on a real PostgreSQL server) and the kiosk (``tests.hub.kiosk_proc``) are
separate processes; the test process drives both and runs the SMTP server (aiosmtpd) the hub sends its notices to.
One order is collected with the QR code read from the PNG in its e-mail by the kiosk's own decoders, the other with
the pickup number and PIN from the text of its e-mail.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
import sqlalchemy as sa

from backend_sync.hub import tables as hubdb
from backend_sync.hub.db import HubStore
from backend_sync.hub.notice_texts import TEXTS, Language
from firmware_bridge.scanners.chain import DecoderChain
from tests.hub.kiosk_proc import KioskProcess
from tests.hub.servers import ADMIN_PASSWORD, HubProcess
from tests.hub.smtp_sink import SmtpSink

DEVICE = "test-1"  # the harness station's id
CITY = "wiesbaden"
CITY_ADMIN = "wi-admin"
CITY_PASSWORD = "another correct horse battery"


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpSink]:
    sink = SmtpSink(security="starttls", tls_dir=tmp_path / "relay")  # the hub's default: STARTTLS, checked
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def hub(tmp_path: Path, database_url: str, smtp: SmtpSink) -> Iterator[HubProcess]:
    with HubProcess.create(tmp_path, database_url, smtp=smtp).running() as h:
        yield h


@pytest.fixture
def kiosk(tmp_path: Path, hub: HubProcess) -> Iterator[KioskProcess]:
    k = KioskProcess(tmp_path / "kiosk", hub.url, DEVICE)
    try:
        yield k
    finally:
        k.stop()


def login(hub: HubProcess, username: str, password: str) -> httpx.Client:
    c = httpx.Client(base_url=hub.url, timeout=10)
    r = c.post("/admin/login", data={"username": username, "password": password}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/admin/", r.text
    return c


def create_order(api: httpx.Client, reference: str, email: str, language: Language) -> str:
    body = {
        "reference": reference,
        "kiosk": DEVICE,
        "document_kind": "id_card",
        "size": "S",
        "language": language.value,
        "email": email,
        "valid_days": 7,
    }
    r = api.post("/api/v1/orders", json=body)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["state"] == "announced" and out["has_email"] and "pin" not in out and "qr_payload" not in out
    assert api.post("/api/v1/orders", json=body).status_code == 200  # the same reference again: idempotent
    return str(out["id"])


def hub_order(api: httpx.Client, order_id: str) -> dict[str, Any]:
    r = api.get(f"/api/v1/orders/{order_id}")
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def hub_row(store: HubStore, order_id: str) -> Any:
    with store.read() as conn:
        return conn.execute(sa.select(hubdb.orders).where(hubdb.orders.c.id == order_id)).one()


def plain_text(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def qr_from_email(msg: EmailMessage) -> str:
    """The QR image of the notice, decoded by the kiosk's scanner chain (the same decoders as at the kiosk)."""
    pngs = [part for part in msg.walk() if part.get_content_type() == "image/png"]
    assert len(pngs) == 1
    assert isinstance(pngs[0], EmailMessage)
    data = pngs[0].get_content()
    assert isinstance(data, bytes)
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    result = DecoderChain.from_spec(["zxing", "pyzbar"]).decode(image)
    assert result is not None
    return result.text


def manual_code_from_email(msg: EmailMessage, language: Language) -> tuple[str, str]:
    """Pickup number and PIN as the citizen reads them in the text of the notice."""
    text = plain_text(msg)
    number = re.search(rf"^\s*{re.escape(TEXTS[language]['pickup_number'])}: ([0-9]{{4}} [0-9]{{4}})\s*$", text, re.M)
    pin = re.search(rf"^\s*{re.escape(TEXTS[language]['pin'])}: ([0-9]+)\s*$", text, re.M)
    assert number is not None and pin is not None, text
    return number.group(1), pin.group(1)


def test_rest_order_to_collected(hub: HubProcess, kiosk: KioskProcess, smtp: SmtpSink, database_url: str) -> None:
    started = time.monotonic()
    store = HubStore.open(database_url, pool_size=2)
    root = login(hub, "root", ADMIN_PASSWORD)
    try:
        # -- the platform operator adds the city's admin; the city admin creates the API key -------------------
        r = root.post(
            "/admin/admins",
            data={"city_id": CITY, "username": CITY_ADMIN, "password": CITY_PASSWORD, "role": "admin"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        admin = login(hub, CITY_ADMIN, CITY_PASSWORD)
        r = admin.post("/api/v1/keys", json={"name": "case management"})
        assert r.status_code == 201, r.text
        api_key = r.json()["key"]
        assert api_key.startswith("whk_")
        api = httpx.Client(base_url=hub.url, timeout=10, headers={"Authorization": f"Bearer {api_key}"})
        assert httpx.post(hub.url + "/api/v1/orders", json={}).status_code == 401  # no key, no orders

        # -- the kiosk enrolls and the city admin approves it with the code it shows ---------------------------
        code = kiosk.call("enroll")
        assert kiosk.call("poll") == "pending"
        r = admin.post(f"/admin/api/kiosks/{DEVICE}/approve", json={"code": code, "city_id": CITY})
        assert r.status_code == 200, r.text
        assert kiosk.call("poll") == "approved"

        # -- two orders through the REST API; the bundle carries them to the kiosk -----------------------------
        by_qr = create_order(api, "BA-2026-000001", "anna@example.org", Language.DE)
        by_pin = create_order(api, "BA-2026-000002", "ben@example.org", Language.EN)
        assert kiosk.call("sync")["bundles"] >= 1
        for oid in (by_qr, by_pin):
            assert kiosk.call("order", order_id=oid)["state"] == "announced"
            assert hub_row(store, oid).pin_clear is not None  # the hub keeps the codes until the notice is out
        assert smtp.messages == []  # no notice before the document is in the kiosk

        # -- staff load both through the flows; `stored` reaches the hub, the notices go out --------------------
        sid = kiosk.call("staff_session")
        compartment = {oid: kiosk.call("load", sid=sid, order_id=oid) for oid in (by_qr, by_pin)}
        assert kiosk.call("sync")["events"] >= 2
        assert kiosk.call("pending") == 0
        for oid in (by_qr, by_pin):
            o = hub_order(api, oid)
            assert o["state"] == "stored" and o["stored_at"] is not None and o["notice_sent_at"] is not None
            row = hub_row(store, oid)
            assert row.qr_payload_clear is None and row.pin_clear is None  # gone once the relay accepted the mail
        mails = {m["To"]: m for m in smtp.wait_for(2)}
        assert set(mails) == {"anna@example.org", "ben@example.org"}
        assert mails["anna@example.org"]["Subject"] == TEXTS[Language.DE]["subject_ready"]
        assert mails["ben@example.org"]["Subject"] == TEXTS[Language.EN]["subject_ready"]

        # -- order 1: the QR image from the e-mail, decoded by the scanner chain, opens its compartment ---------
        payload = qr_from_email(mails["anna@example.org"])
        assert payload not in plain_text(mails["anna@example.org"])  # the QR payload is only in the image
        n = kiosk.call("pickup_qr", payload=payload)
        assert n == compartment[by_qr] and kiosk.call("door_open", compartment=n)
        kiosk.call("take_and_close", compartment=n)

        # -- order 2: the pickup number and PIN from the e-mail text, typed in, open the other one ---------------
        number, pin = manual_code_from_email(mails["ben@example.org"], Language.EN)
        assert number.replace(" ", "") == hub_order(api, by_pin)["pickup_number"]
        n = kiosk.call("pickup_manual", pickup_number=number, pin=pin)
        assert n == compartment[by_pin] and kiosk.call("door_open", compartment=n)
        kiosk.call("take_and_close", compartment=n)
        for oid in (by_qr, by_pin):
            assert kiosk.call("order", order_id=oid)["state"] == "collected"

        # -- sync: both collected at the hub, each with a handover proof pointing into the kiosk's audit log -----
        kiosk.call("sync")
        assert kiosk.call("pending") == 0
        for oid, method in ((by_qr, "qr"), (by_pin, "manual")):
            o = hub_order(api, oid)
            assert o["state"] == "collected" and o["collected_at"] is not None, o
            row = hub_row(store, oid)
            proof = json.loads(row.handover_proof)
            assert proof["audit_hash"] == kiosk.call("audit_hash", seq=proof["audit_seq"])
            # the proof through the API: when, where, how, which statement, its audit position, and the
            # countersigned checkpoint of the same sync that covers it
            shown = o["proof"]
            assert shown["at"] == o["collected_at"] and shown["kiosk"] == o["kiosk"]
            assert shown["compartment"] == compartment[oid] and shown["method"] == method
            assert shown["taken"] == "sensor" and shown["staff"] == []
            assert shown["statement"] == {"id": "confirm.statement", "version": "test-1", "language": "de"}
            assert (shown["audit_seq"], shown["audit_hash"]) == (proof["audit_seq"], proof["audit_hash"])
            assert shown["check"] == "match", shown
            assert shown["checkpoint"]["size"] >= shown["audit_seq"], shown
            assert row.qr_payload_clear is None and row.pin_clear is None
        assert len(smtp.messages) == 2  # exactly one notice per order
        assert smtp.over_tls == [True, True]
        api.close()
        admin.close()
    finally:
        root.close()
        store.close()
    print(f"the full cycle took {time.monotonic() - started:.1f} s")  # measured, not asserted
