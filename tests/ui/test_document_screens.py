"""The citizen's screens name the order's document type: its receipt statement and "please take your passport"."""

from __future__ import annotations

import hashlib
import html
import warnings
from pathlib import Path

from kiosk_ui.i18n import Catalogs
from locker import audit
from locker.doctypes import DocumentType
from tests.ui.rig import build

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def test_a_passport_pickup_shows_and_records_the_passport_statement(tmp_path: Path) -> None:
    kiosk = build(tmp_path)
    try:
        st = kiosk.station
        c = st.announce("ORD-PASS", document_type=DocumentType.PASSPORT)
        st.load(st.staff_session(), c)
        catalogs = Catalogs.load()
        statement = catalogs.raw("de", "statement.passport")
        with TestClient(kiosk.app, base_url="http://127.0.0.1") as client:
            client.get("/")
            client.post("/act", data={"op": "manual:"})
            for d in c.pickup_number + c.pin:
                client.post("/act", data={"op": f"key:{d}"})
            confirm = html.unescape(client.post("/act", data={"op": "ok:"}).text)
            assert statement in confirm and catalogs.raw("de", "confirm.statement") not in confirm
            opened = html.unescape(client.post("/act", data={"op": "confirm:"}).text)
            assert "Bitte entnehmen Sie Ihren Reisepass." in opened, opened
        entry = next(e.event for e in audit.entries(st.database) if e.event["type"] == "pickup.receipt_confirmed")
        version = hashlib.sha256(statement.encode()).hexdigest()[:16]
        assert entry["statement"] == {"id": "statement.passport", "version": version, "language": "de"}
    finally:
        kiosk.close()
