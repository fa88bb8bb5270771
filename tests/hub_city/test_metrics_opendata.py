"""/metrics (only the caller's city, parseable text) and the public open-data feed (no personal data)."""

from __future__ import annotations

import csv
import io
import json

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from tests.hub_city.conftest import Hub
from tests.hub_city.seed import seed_city

REQUIRED = {
    "wibox_kiosk_last_seen_timestamp_seconds",
    "wibox_kiosk_up",
    "wibox_doors_open",
    "wibox_compartments",
    "wibox_pickups",
    "wibox_pin_failures",
    "wibox_alarms_open",
    "wibox_kiosk_disk_free_bytes",
    "wibox_kiosk_temperature_celsius",
    "wibox_build_info",
}


def _families(text: str) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    out: dict[str, list[tuple[str, dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        out[fam.name] = [(s.name, s.labels, s.value) for s in fam.samples]
    return out


def test_metrics_only_for_the_callers_city(hub: Hub) -> None:
    seed_city(hub, hub.a)
    seed_city(hub, hub.b)
    r = hub.client.get("/metrics", headers=hub.a.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    fams = _families(r.text)
    assert set(fams) >= REQUIRED
    labels = [lab for samples in fams.values() for _, lab, _ in samples]
    assert {lab["city"] for lab in labels} == {"alpha"}
    assert "beta" not in r.text
    assert ("wibox_kiosk_up", {"city": "alpha", "kiosk": "alpha-k1"}, 1.0) in fams["wibox_kiosk_up"]
    assert ("wibox_pickups_total", {"city": "alpha", "kiosk": "alpha-k1"}, 1.0) in fams["wibox_pickups"]
    comp = {lab["state"]: v for _, lab, v in fams["wibox_compartments"]}
    assert comp == {"free": 6, "occupied": 3, "faulty": 1, "disabled": 0}
    assert fams["wibox_alarms_open"] == [
        ("wibox_alarms_open", {"city": "alpha", "kiosk": "alpha-k1", "kind": "door_forced"}, 1.0)
    ]
    assert fams["wibox_kiosk_temperature_celsius"][0][2] == 51.0
    assert fams["wibox_build_info"][0][1]["version"] == "1.2.3"
    hub.clock.advance(301)
    fams = _families(hub.client.get("/metrics", headers=hub.a.headers).text)
    assert fams["wibox_kiosk_up"][0][2] == 0.0  # silent for more than 5 minutes


def test_metrics_need_credentials_platform_sees_all(hub: Hub) -> None:
    assert TestClient(hub.client.app).get("/metrics").status_code == 401
    platform = hub.login(hub.platform_user)
    text = platform.get("/metrics").text
    assert 'city="alpha"' in text and 'city="beta"' in text


def test_open_data_feed_is_anonymous(hub: Hub) -> None:
    seeded = seed_city(hub, hub.a)
    anon = TestClient(hub.client.app)
    r = anon.get("/opendata/alpha/alpha-k1.json")
    assert r.status_code == 200
    feed = r.json()
    meta = feed["metadata"]
    for key in ("dct:title", "dct:description", "dct:publisher", "dct:license", "dcat:distribution", "dct:modified"):
        assert key in meta
    assert {d["dcat:mediaType"].rsplit("/", 2)[-2:][1] for d in meta["dcat:distribution"]} == {"json", "csv"}
    assert feed["availability"] == {"online": True, "compartments": 10, "free_at_least": 5, "out_of_service": 1}
    # the one pickup is a day with fewer than 5: published as null (JSON) and "<5" (CSV), never as 1
    assert [d["pickups"] for d in feed["pickups_per_day"]].count(None) == 1
    assert all(d["pickups"] in (0, None) for d in feed["pickups_per_day"])
    text = json.dumps(feed, ensure_ascii=False)
    for secret in (seeded.order_id, seeded.reference, seeded.pickup_number, "Erika", "citizen@", seeded.staff_id):
        assert secret not in text
    rows = list(csv.reader(io.StringIO(anon.get("/opendata/alpha/alpha-k1.csv").text)))
    assert rows[0] == ["station", "date", "pickups"] and len(rows) == 15
    assert [r[2] for r in rows[1:]].count("<5") == 1
    catalog = anon.get("/opendata/alpha/stations.json").json()
    assert [d["dct:identifier"] for d in catalog["dcat:dataset"]] == ["alpha/alpha-k1"]
    assert anon.get("/opendata/beta/alpha-k1.json").status_code == 404  # scoped per city
    assert anon.get("/opendata/nowhere/stations.json").status_code == 404
