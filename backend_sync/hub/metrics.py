"""Prometheus ``/metrics``: the caller's city only (city API key or session); the platform operator sees all."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from backend_sync.hub import tables as hubdb
from backend_sync.hub.auth import CITY_ROLES, AdminPrincipal, Role, require_role
from backend_sync.hub.deps import Hub
from backend_sync.hub.fleet import KioskSummary, city_kiosks
from backend_sync.hub.login_throttle import failures_by_city

COMPARTMENT_STATES = ("free", "occupied", "faulty", "disabled")
_LABELS = ["city", "kiosk"]
MetricsReader = Annotated[AdminPrincipal, Depends(require_role(*CITY_ROLES, Role.API, Role.PLATFORM))]


class FleetCollector(Collector):
    """Turns kiosk summaries into metric families (built per request, so nothing is shared between cities)."""

    def __init__(self, kiosks: Sequence[KioskSummary], now: float, login_failures: dict[str, int]) -> None:
        self._kiosks = kiosks
        self._now = now
        self._login_failures = login_failures

    def collect(self) -> Iterator[Metric]:
        ks = self._kiosks
        g = GaugeMetricFamily
        last_seen = g(
            "wibox_kiosk_last_seen_timestamp_seconds", "Last message from the kiosk (epoch s)", labels=_LABELS
        )
        up = g("wibox_kiosk_up", "1 if the kiosk was seen in the last 5 minutes", labels=_LABELS)
        doors = g("wibox_doors_open", "Compartments in a door cycle", labels=_LABELS)
        comps = g("wibox_compartments", "Compartments by state", labels=[*_LABELS, "state"])
        pickups = CounterMetricFamily("wibox_pickups", "Documents collected", labels=_LABELS)
        pin = CounterMetricFamily("wibox_pin_failures", "Wrong PINs entered at the kiosk", labels=_LABELS)
        alarms = g("wibox_alarms_open", "Open alarms by kind", labels=[*_LABELS, "kind"])
        disk = g("wibox_kiosk_disk_free_bytes", "Free disk space on the kiosk", labels=_LABELS)
        temp = g("wibox_kiosk_temperature_celsius", "SoC temperature", labels=_LABELS)
        browser = g("wibox_kiosk_browser_heartbeat_age_seconds", "Age of the kiosk page's heartbeat", labels=_LABELS)
        outbox = g("wibox_kiosk_outbox_depth", "Events not yet delivered to the hub", labels=_LABELS)
        build = g("wibox_build_info", "Software version of the kiosk", labels=[*_LABELS, "version"])
        for k in ks:
            labels = [k.city_id, k.device_id]
            if k.last_seen is not None:
                last_seen.add_metric(labels, k.last_seen)
            up.add_metric(labels, 1.0 if k.online else 0.0)
            doors.add_metric(labels, k.doors_open)
            for state in COMPARTMENT_STATES:
                if state in k.compartments:
                    comps.add_metric([*labels, state], k.compartments[state])
            pickups.add_metric(labels, k.pickups_total)
            if k.pin_failures_total is not None:
                pin.add_metric(labels, k.pin_failures_total)
            for kind, n in sorted(k.open_alarms.items()):
                alarms.add_metric([*labels, kind], n)
            if k.disk_free_bytes is not None:
                disk.add_metric(labels, k.disk_free_bytes)
            if k.temperature_celsius is not None:
                temp.add_metric(labels, k.temperature_celsius)
            if k.browser_heartbeat_age_s is not None:
                browser.add_metric(labels, k.browser_heartbeat_age_s)
            outbox.add_metric(labels, k.outbox_depth)
            build.add_metric([*labels, k.version or "unknown"], 1.0)
        logins = CounterMetricFamily(
            "wibox_hub_login_failures", "Failed admin logins, by the city of the user name tried", labels=["city"]
        )
        for city, n in sorted(self._login_failures.items()):
            logins.add_metric([city], n)
        yield from (last_seen, up, doors, comps, pickups, pin, alarms, disk, temp, browser, outbox, build, logins)


def render(kiosks: Iterable[KioskSummary], now: float, login_failures: dict[str, int] | None = None) -> bytes:
    """``login_failures``: city id ("" for the platform and unknown user names) -> failed logins."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(list(kiosks), now, login_failures or {}))
    return generate_latest(registry)


def build_router() -> APIRouter:
    router = APIRouter(tags=["monitoring"])

    @router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    def metrics_route(hub: Hub, principal: MetricsReader) -> Response:
        now = hub.clock.now()
        with hub.store.read() as conn:
            if principal.role is Role.PLATFORM:
                cities = conn.execute(sa.select(hubdb.cities.c.id).order_by(hubdb.cities.c.id)).scalars().all()
            else:
                cities = [principal.city()]
            kiosks = [k for city in cities for k in city_kiosks(conn, city, now)]
            failed = {city or "": n for city, n in failures_by_city(conn).items()}
        if principal.role is not Role.PLATFORM:
            failed = {city: n for city, n in failed.items() if city in cities}
        return Response(render(kiosks, now, failed), media_type=CONTENT_TYPE_LATEST)

    return router
