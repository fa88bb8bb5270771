"""Notices: a real SMTP server on loopback, the QR read back by the kiosk's decoders, letters, reminders, retries."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import sqlalchemy as sa

from backend_sync.hub import tables as hubdb
from backend_sync.hub.config import SmtpConfig
from backend_sync.hub.errors import Conflict
from backend_sync.hub.notice_texts import KEYS, TEXTS, Language
from backend_sync.hub.notices import CityNotifier
from backend_sync.hub.smtp import SmtpMailer
from firmware_bridge.scanners.chain import DecoderChain
from tests.hub.smtp_sink import SmtpSink
from tests.hub_city.conftest import Hub, order_body


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpSink]:
    sink = SmtpSink(security="starttls", tls_dir=tmp_path / "relay")
    sink.start()
    try:
        yield sink
    finally:
        sink.stop()


def _order(hub: Hub, **over: Any) -> str:
    r = hub.client.post("/api/v1/orders", json=order_body(hub.a, **over), headers=hub.a.headers)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def _store_event(hub: Hub, order_id: str) -> None:
    with hub.store.write() as conn:
        conn.execute(
            sa.update(hubdb.orders)
            .where(hubdb.orders.c.id == order_id)
            .values(state="stored", stored_at=hub.clock.now())
        )


def _row(hub: Hub, order_id: str) -> Any:
    with hub.store.read() as conn:
        return conn.execute(sa.select(hubdb.orders).where(hubdb.orders.c.id == order_id)).one()


def _decode_png(data: bytes) -> str:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    result = DecoderChain.from_spec(["zxing", "pyzbar"]).decode(image)
    assert result is not None
    return result.text


def test_email_over_smtp_only_after_stored(hub: Hub, smtp: SmtpSink) -> None:
    inbox = smtp
    relay = SmtpConfig(host="127.0.0.1", port=smtp.port, ca_file=str(smtp.ca_file))  # STARTTLS by default
    notifier = CityNotifier(hub.store, hub.clock, SmtpMailer(relay), "wibox@a.example")
    oid = _order(hub, language="uk")
    row = _row(hub, oid)
    payload, pin = row.qr_payload_clear, row.pin_clear
    with pytest.raises(Conflict):
        notifier.notify_stored(oid)  # not stored yet: nothing is sent
    assert inbox.messages == []
    _store_event(hub, oid)
    notifier.notify_stored(oid)
    msg = inbox.wait_for(1)[0]
    assert inbox.over_tls == [True]
    assert msg["To"] == "citizen@example.org"
    assert msg["Subject"] == TEXTS[Language.UK]["subject_ready"]
    body = msg.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert row.pickup_number[:4] in text and row.pickup_number[4:] in text and pin in text
    assert "Marktplatz 1" in text and "24/7" in text
    pngs = [p for p in msg.walk() if p.get_content_type() == "image/png"]
    assert len(pngs) == 1
    assert _decode_png(pngs[0].get_content()) == payload
    after = _row(hub, oid)
    assert after.qr_payload_clear is None and after.pin_clear is None and after.notice_sent_at is not None
    notifier.notify_stored(oid)  # a repeated call sends nothing more
    time.sleep(0.2)
    assert len(inbox.messages) == 1


def test_smtp_failure_is_recorded_and_retried(hub: Hub) -> None:
    oid = _order(hub)
    _store_event(hub, oid)
    hub.mailer.fail = True
    hub.notifier.notify_stored(oid)
    with hub.store.read() as conn:
        n = conn.execute(sa.select(hubdb.notices).where(hubdb.notices.c.order_id == oid)).one()
    assert n.sent_at is None and "smtp down" in n.error and n.attempts == 1
    assert _row(hub, oid).pin_clear is not None  # kept for the retry
    hub.mailer.fail = False
    assert hub.notifier.retry_failed() == 1
    assert len(hub.mailer.sent) == 1
    assert _row(hub, oid).pin_clear is None
    assert hub.notifier.retry_failed() == 0


def test_letter_page_then_codes_wiped(hub: Hub) -> None:
    oid = _order(hub, email=None, postal_address="Erika Mustermann\nHauptstr. 1\n10115 Alpha", language="ar")
    office = hub.login(hub.a.office_user)
    assert office.get(f"/admin/orders/{oid}/letter").status_code == 409  # not stored yet
    _store_event(hub, oid)
    hub.notifier.notify_stored(oid)
    assert hub.mailer.sent == []
    page = office.get(f"/admin/orders/{oid}/letter")
    assert page.status_code == 200
    assert 'dir="rtl"' in page.text and "data:image/png;base64," in page.text and "@media print" in page.text
    assert "Erika Mustermann" in page.text and _row(hub, oid).pin_clear in page.text
    other = hub.login(hub.b.office_user)
    assert other.get(f"/admin/orders/{oid}/letter").status_code == 404
    done = office.post(f"/admin/orders/{oid}/letter/printed", follow_redirects=False)
    assert done.status_code == 303
    assert _row(hub, oid).pin_clear is None
    assert office.get(f"/admin/orders/{oid}/letter").status_code == 409


def test_reminder_has_no_codes(hub: Hub) -> None:
    oid = _order(hub, language="pl", valid_days=3)
    _store_event(hub, oid)
    hub.notifier.notify_stored(oid)
    pin = hub.mailer.sent[0].get_body(("plain",))
    assert pin is not None
    assert hub.notifier.send_reminders(hub.clock.now()) == 0  # 3 days left: not yet
    hub.clock.advance(1.5 * 86400)
    assert hub.notifier.send_reminders(hub.clock.now()) == 1
    reminder = hub.mailer.sent[1]
    assert reminder["Subject"] == TEXTS[Language.PL]["subject_reminder"]
    body = reminder.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert TEXTS[Language.PL]["reminder_codes"] in text
    assert not [p for p in reminder.walk() if p.get_content_type() == "image/png"]
    row = _row(hub, oid)
    assert row.pickup_number not in text.replace(" ", "")
    assert hub.notifier.send_reminders(hub.clock.now()) == 0  # once


def test_every_language_has_every_text() -> None:
    for lang in Language:
        assert set(TEXTS[lang]) == set(KEYS), lang
        others = [TEXTS[x]["ready"] for x in Language if x is not lang]
        assert TEXTS[lang]["ready"] not in others  # a real translation, not a copy
