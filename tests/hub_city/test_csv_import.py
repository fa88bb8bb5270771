"""CSV import: all or nothing, errors name the line."""

# ruff: noqa: RUF001  (Turkish names in the sample data)

from __future__ import annotations

import sqlalchemy as sa

from backend_sync.hub import tables as hubdb
from backend_sync.hub.csv_import import CsvInvalid, parse_csv
from tests.hub_city.conftest import Hub

HEADER = "reference,kiosk,document_kind,size,reachable,language,email,postal_address,valid_days\n"


def _count(hub: Hub) -> int:
    with hub.store.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(hubdb.orders)).scalar_one())


def test_import_good_file(hub: Hub) -> None:
    k = hub.a.kiosk
    text = (
        HEADER
        + f"C-1,{k},id_card,S,true,de,a@example.org,,7\n"
        + f'C-2,{k},passport,M,no,tr,,"Ayşe Yılmaz\nRingstr. 2\n12345 Alpha",10\n'
        + "\n"
    )
    r = hub.client.post(
        "/api/v1/orders/import", content=text.encode(), headers=hub.a.headers | {"content-type": "text/csv"}
    )
    assert r.status_code == 200, r.text
    assert len(r.json()["created"]) == 2
    again = hub.client.post("/api/v1/orders/import", content=text.encode(), headers=hub.a.headers)
    assert again.status_code == 200 and again.json()["created"] == [] and len(again.json()["existing"]) == 2
    assert _count(hub) == 2


def test_bad_line_imports_nothing_and_names_the_line(hub: Hub) -> None:
    k = hub.a.kiosk
    text = HEADER + f"C-1,{k},id_card,S,true,de,a@example.org,,7\n" + f"C-2,{k},id_card,XL,true,de,b@example.org,,7\n"
    r = hub.client.post("/api/v1/orders/import", content=text.encode(), headers=hub.a.headers)
    assert r.status_code == 422
    assert "line 3" in r.json()["error"] and "size" in r.json()["error"]
    assert _count(hub) == 0


def test_line_refused_by_the_database_rolls_back_earlier_lines(hub: Hub) -> None:
    text = (
        HEADER
        + f"C-1,{hub.a.kiosk},id_card,S,true,de,a@example.org,,7\n"
        + f"C-2,{hub.b.kiosk},id_card,S,true,de,b@example.org,,7\n"  # the other city's kiosk
    )
    r = hub.client.post("/api/v1/orders/import", content=text.encode(), headers=hub.a.headers)
    assert r.status_code == 404 or r.status_code == 422
    assert "line 3" in r.json()["error"]
    assert _count(hub) == 0


def test_parse_errors() -> None:
    cases = {
        "": "empty",
        "reference,kiosk,colour\n": "unknown columns colour",
        "reference,kiosk\n": "missing columns",
        HEADER + "C-1,k,id_card,S,true,de,a@example.org,,7,extra\n": "line 2: more values than columns",
        HEADER
        + "C-1,k,id_card,S,true,de,a@example.org,,7\nC-1,k,id_card,S,true,de,a@example.org,,7\n": "repeats line 2",
        HEADER + "C-1,k,id_card,S,true,de,,,7\n": "line 2",
    }
    for text, expected in cases.items():
        try:
            parse_csv(text)
        except CsvInvalid as exc:
            assert expected in str(exc), (text, str(exc))
        else:
            raise AssertionError(f"accepted {text!r}")


def test_not_utf8(hub: Hub) -> None:
    r = hub.client.post("/api/v1/orders/import", content=b"\xff\xfe\x00", headers=hub.a.headers)
    assert r.status_code == 422
