"""A station's alarm that clears is cleared at the hub too (the outbox carries `raised` as a JSON boolean), over
real HTTP: before, the kiosk wrote 0 and the hub stored a second open alarm instead."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from backend_sync.hub import tables as hubdb
from locker.model import AlarmKind
from tests.hub.enrolled import enrolled_on_sqlite_hub


def test_a_cleared_alarm_is_cleared_at_the_hub(tmp_path: Path) -> None:
    with enrolled_on_sqlite_hub(tmp_path) as (st, client, store):
        with st.store.change("door") as tx:
            tx.raise_alarm(AlarmKind.DOOR_LEFT_OPEN, 3)
        client.push_events()
        with st.store.change("door") as tx:
            tx.clear_alarm(AlarmKind.DOOR_LEFT_OPEN, 3)
        client.push_events()
        a = hubdb.alarms
        with store.read() as conn:
            rows = conn.execute(sa.select(a.c.kind, a.c.compartment, a.c.cleared_at)).all()
        assert len(rows) == 1 and rows[0].kind == "door_left_open" and rows[0].compartment == 3
        assert rows[0].cleared_at is not None
