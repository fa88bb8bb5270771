"""Notices name the order's document type, and German sentences agree with its gender (pronoun and possessive)."""

from __future__ import annotations

import pytest

from backend_sync.hub.notice_texts import Language, document_values, text
from tests.hub_city.conftest import Hub, mark_stored, order_body


@pytest.mark.parametrize(
    ("kind", "ready", "until"),
    [
        ("id_card", "Ihr Personalausweis liegt", "Bitte holen Sie ihn bis"),
        ("passport", "Ihr Reisepass liegt", "Bitte holen Sie ihn bis"),
        ("eat", "Ihr elektronischer Aufenthaltstitel liegt", "Bitte holen Sie ihn bis"),
        ("certificate", "Ihre Bescheinigung liegt", "Bitte holen Sie sie bis"),
    ],
)
def test_german_notice_agrees_with_the_document_type(hub: Hub, kind: str, ready: str, until: str) -> None:
    r = hub.client.post(
        "/api/v1/orders", json=order_body(hub.a, f"G-{kind}", document_kind=kind), headers=hub.a.headers
    )
    assert r.status_code == 201, r.text
    mark_stored(hub.store, r.json()["id"], hub.clock.now())
    hub.notifier.notify_stored(r.json()["id"])
    body = hub.mailer.sent[-1].get_body(("plain",))
    assert body is not None
    content = body.get_content()
    assert ready in content and until in content, content
    assert "holen Sie es" not in content


def test_every_language_names_every_type() -> None:
    for lang in Language:
        names = {document_values(lang, k)["document"] for k in ("id_card", "passport", "eat", "certificate")}
        assert len(names) == 4, lang  # four distinct nouns, no fallback to "document"
        values = {**document_values(lang, "passport"), "station": "S", "until": "Mo"}
        for key in ("ready", "until", "reminder"):
            assert "{" not in text(lang, key, **values)


def test_a_bad_document_type_is_refused_and_nothing_stored(hub: Hub) -> None:
    before = hub.client.get("/api/v1/orders", headers=hub.a.headers).json()
    r = hub.client.post(
        "/api/v1/orders", json=order_body(hub.a, "BAD-T", document_kind="residence_permit"), headers=hub.a.headers
    )
    assert r.status_code == 422 and "document type 'residence_permit' is not one of" in r.json()["error"], r.text
    k = hub.a.kiosk
    csv = f"reference,kiosk,document_kind,size,email\nC-1,{k},passport,S,a@b.de\nC-2,{k},visa,S,a@b.de\n"
    r = hub.client.post("/api/v1/orders/import", content=csv, headers=hub.a.headers | {"content-type": "text/csv"})
    assert r.status_code == 422 and "line 3: document_kind" in r.json()["error"], r.text
    assert hub.client.get("/api/v1/orders", headers=hub.a.headers).json() == before
