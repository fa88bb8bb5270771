"""Anonymous open-data feed per station (availability, pickups per day, uptime) as JSON/CSV with DCAT-AP.de metadata."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Response

from backend_sync.hub import tables as hubdb
from backend_sync.hub.city_policy import city_settings
from backend_sync.hub.deps import Hub
from backend_sync.hub.errors import NotFound
from backend_sync.hub.fleet import city_kiosk_summary, pickups_per_day
from backend_sync.hub.tables import KioskStatus

LICENSE = "http://dcat-ap.de/def/licenses/dl-zero-de/2.0"
JSON_TYPE = "https://www.iana.org/assignments/media-types/application/json"
CSV_TYPE = "https://www.iana.org/assignments/media-types/text/csv"
CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
}
SLOT_S = 300
DAYS = 14
MIN_COUNT = 5  # k-anonymity: a day with 1 to MIN_COUNT - 1 pickups is published as null ("fewer than 5")
FREE_STEP = 5  # the live free-compartment count is rounded down to a multiple of this


def anonymous_count(n: int) -> int | None:
    """A published pickup count: 0 stays 0 (nothing to hide), 1..MIN_COUNT-1 become None, larger counts stay."""
    return None if 0 < n < MIN_COUNT else n


def coarse_free(n: int | None) -> int | None:
    """Free compartments rounded down to a multiple of FREE_STEP: one loading or pickup rarely shows."""
    return None if n is None else n - n % FREE_STEP


def _station(conn: sa.Connection, city_id: str, device_id: str) -> Any:
    """The published station, or NotFound (unknown, other city, not approved, or the city publishes nothing)."""
    k, s, c = hubdb.kiosks, hubdb.kiosk_sites, hubdb.cities
    row = conn.execute(
        sa.select(k.c.device_id, k.c.name, c.c.name.label("city_name"), s.c.location, s.c.latitude, s.c.longitude)
        .join(c, c.c.id == k.c.city_id)
        .outerjoin(s, s.c.device_id == k.c.device_id)
        .where(k.c.device_id == device_id, k.c.city_id == city_id, k.c.status == KioskStatus.APPROVED.value)
    ).first()
    if row is None or not city_settings(conn, city_id).open_data:
        raise NotFound(f"no open-data station {city_id}/{device_id}")
    return row


def uptime_percent(conn: sa.Connection, device_id: str, now: float, window_s: float = 86400) -> float | None:
    """Share of 5-minute slots in the window with at least one message from the kiosk (None: no data kept)."""
    m = hubdb.kiosk_messages
    times = conn.execute(
        sa.select(m.c.received_at).where(m.c.device_id == device_id, m.c.received_at > now - window_s)
    ).scalars()
    slots = {int((now - t) // SLOT_S) for t in times}
    if not slots:
        return None
    return round(100 * len(slots) / (window_s / SLOT_S), 1)


def _metadata(base: str, row: Any, city_id: str, modified: str) -> dict[str, Any]:
    url = f"{base}/opendata/{city_id}/{row.device_id}"
    return {
        "@context": CONTEXT,
        "@type": "dcat:Dataset",
        "dct:identifier": f"{city_id}/{row.device_id}",
        "dct:title": f"Abholstation {row.name or row.device_id}: Verfügbarkeit und Nutzung",
        "dct:description": (
            "Freie Fächer jetzt, Abholungen pro Tag und Verfügbarkeit der Abholstation für Ausweisdokumente. "
            "Anonym: keine personenbezogenen Daten, keine Auftragsnummern."
        ),
        "dct:publisher": {"@type": "foaf:Organization", "foaf:name": row.city_name},
        "dct:license": {"@id": LICENSE},
        "dct:modified": modified,
        "dcat:distribution": [
            {"@type": "dcat:Distribution", "dcat:accessURL": {"@id": f"{url}.json"}, "dcat:mediaType": JSON_TYPE},
            {"@type": "dcat:Distribution", "dcat:accessURL": {"@id": f"{url}.csv"}, "dcat:mediaType": CSV_TYPE},
        ],
    }


def station_feed(conn: sa.Connection, base: str, city_id: str, device_id: str, now: float) -> dict[str, Any]:
    row = _station(conn, city_id, device_id)
    summary = city_kiosk_summary(conn, city_id, device_id, now)
    modified = dt.datetime.fromtimestamp(now, dt.UTC).isoformat(timespec="seconds")
    return {
        "metadata": _metadata(base, row, city_id, modified),
        "station": {
            "id": row.device_id,
            "name": row.name or row.device_id,
            "location": row.location or "",
            "latitude": row.latitude,
            "longitude": row.longitude,
        },
        "availability": {
            "online": summary.online,
            "compartments": summary.compartments_total,
            "free_at_least": coarse_free(summary.compartments.get("free")),
            "out_of_service": summary.compartments.get("faulty", 0) + summary.compartments.get("disabled", 0),
        },
        "pickups_per_day": [
            {"date": d, "pickups": anonymous_count(n)}
            for d, n in pickups_per_day(conn, device_id, now, DAYS, since=summary.approved_at)
        ],
        "uptime_24h_percent": uptime_percent(conn, device_id, now),
    }


def feed_csv(feed: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["station", "date", "pickups"])
    for day in feed["pickups_per_day"]:
        n = day["pickups"]
        writer.writerow([feed["station"]["id"], day["date"], f"<{MIN_COUNT}" if n is None else n])
    return buf.getvalue()


def build_router() -> APIRouter:
    router = APIRouter(prefix="/opendata", tags=["open data"])

    @router.get("/{city_id}/stations.json")
    def stations(hub: Hub, city_id: str) -> dict[str, Any]:
        """The city's catalogue: one DCAT dataset per published station."""
        now = hub.clock.now()
        base = hub.config.server.public_base_url.rstrip("/")
        k = hubdb.kiosks
        with hub.store.read() as conn:
            if not hub.store.city_exists(conn, city_id) or not city_settings(conn, city_id).open_data:
                raise NotFound(f"no open data for {city_id!r}")
            ids = conn.execute(
                sa.select(k.c.device_id)
                .where(k.c.city_id == city_id, k.c.status == KioskStatus.APPROVED.value)
                .order_by(k.c.device_id)
            ).scalars()
            feeds = [station_feed(conn, base, city_id, d, now) for d in ids]
        return {"@context": CONTEXT, "@type": "dcat:Catalog", "dcat:dataset": [f["metadata"] for f in feeds]}

    @router.get("/{city_id}/{device_id}.json")
    def station_json(hub: Hub, city_id: str, device_id: str) -> dict[str, Any]:
        base = hub.config.server.public_base_url.rstrip("/")
        with hub.store.read() as conn:
            return station_feed(conn, base, city_id, device_id, hub.clock.now())

    @router.get("/{city_id}/{device_id}.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}})
    def station_csv(hub: Hub, city_id: str, device_id: str) -> Response:
        base = hub.config.server.public_base_url.rstrip("/")
        with hub.store.read() as conn:
            feed = station_feed(conn, base, city_id, device_id, hub.clock.now())
        return Response(feed_csv(feed), media_type="text/csv; charset=utf-8")

    return router
