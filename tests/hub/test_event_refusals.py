"""Events that do not fit their kind's schema, or of a kind the hub does not know, are refused over real HTTP with
the reason, never recorded; the kiosk keeps them with that reason, stops sending them and goes on with the rest."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from backend_sync import protocol as p
from backend_sync.hub import tables as hubdb
from backend_sync.hub.db import HubStore
from locker.model import AlarmKind
from tests.hub.enrolled import Enrolled, enrolled_on_sqlite_hub


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Enrolled]:
    with enrolled_on_sqlite_hub(tmp_path) as enrolled:
        yield enrolled


def _item(seq: int, kind: str, **fields: object) -> p.EventItem:
    event_id = uuid.uuid4().hex
    body = {"id": event_id, "kind": kind, "t": 1.5, **fields}
    return p.EventItem(event_id, seq, kind, json.dumps(body, sort_keys=True, separators=(",", ":")))


def _recorded(store: HubStore) -> set[str]:
    with store.read() as conn:
        return set(conn.execute(select(hubdb.events.c.event_id)).scalars())


def test_malformed_events_are_refused_with_the_reason(kiosk: Enrolled) -> None:
    _st, client, store = kiosk
    good = _item(1, "alarm", alarm="door_left_open", compartment=2, board="", raised=True)
    bad = {
        "unknown kind": _item(2, "door_kicked", compartment=2),
        "expected bool": _item(3, "alarm", alarm="door_left_open", compartment=2, board="", raised=0),
        "missing": _item(4, "stored", order="O-1"),
        "unknown field": _item(5, "stored", order="O-1", compartment=1, pin="123456"),
    }
    other = _item(6, "stored", order="O-1", compartment=1)
    mismatched = p.EventItem(uuid.uuid4().hex, 7, "stored", other.body)  # its body is another event
    answer = client._signed("/api/v1/kiosk/events", p.EventsBody((good, *bad.values(), mismatched)))
    assert answer["accepted"] == [good.id]
    refused = answer["refused"]
    assert set(refused) == {e.id for e in bad.values()} | {mismatched.id}
    for why, e in bad.items():
        assert why in refused[e.id], refused[e.id]
    assert "its body is the event" in refused[mismatched.id]
    assert _recorded(store) == {good.id}  # nothing refused was recorded


def test_the_kiosk_keeps_a_refused_event_and_goes_on(kiosk: Enrolled) -> None:
    st, client, store = kiosk
    with st.store.change("test") as tx:
        first = tx.outbox("door_kicked", compartment=2)  # an event kind no hub knows: a kiosk bug
        tx.raise_alarm(AlarmKind.DOOR_LEFT_OPEN, 2)
    assert client.push_events() >= 1
    assert client.stats.events_refused == 1
    row = st.database.query_one("SELECT refused, delivered_at FROM outbox WHERE id = ?", (first,))
    assert row is not None and "unknown kind 'door_kicked'" in row["refused"] and row["delivered_at"] is None
    assert st.store.pending(100) == []  # not sent again; the alarm went through
    assert first not in _recorded(store)
    with store.read() as conn:
        kinds = conn.execute(select(hubdb.alarms.c.kind).where(hubdb.alarms.c.cleared_at.is_(None))).scalars().all()
    assert "door_left_open" in kinds
