"""Finding 4: witnessed history cannot be rewritten. An attacker with the SD card edits, truncates or forks the audit
log, recomputes the chain, the head record and the checkpoints, and pads the log past the last checkpoint the hub
countersigned: the hub (over real HTTP) refuses to countersign, and ``wibox db check`` on the device says not ok."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backend_sync import protocol as p
from backend_sync.client import SyncClient
from backend_sync.errors import HubRefused
from backend_sync.hub import tables as hubdb
from backend_sync.hub.db import HubStore
from locker import audit
from tests.harness import Station
from tests.hub.enrolled import enrolled_on_sqlite_hub
from tests.hub.test_end_to_end import DEVICE, _kiosk, load, new_order, pick_up
from wibox import cli


@pytest.fixture
def witnessed(tmp_path: Path) -> Iterator[tuple[Station, SyncClient, HubStore]]:
    """A kiosk enrolled at the hub with a pickup done and its log countersigned up to its end."""
    with enrolled_on_sqlite_hub(tmp_path) as (st, client, store):
        order = new_order(store, "CASE-H", days=7)
        client.sync_once()
        load(st, st.staff_session(), order)
        pick_up(st, order)
        report = client.sync_once()  # stored and collected in one batch
        assert report.checkpoint == audit.head(st.database).size == _kiosk(store).checkpoint_size > 10
        yield st, client, store


def _alarms(store: HubStore) -> list[str]:
    with store.read() as conn:
        q = select(hubdb.alarms.c.kind).where(hubdb.alarms.c.device_id == DEVICE)
        return list(conn.execute(q).scalars())


def _rechain(conn: sqlite3.Connection, start: int) -> None:
    """What the attacker recomputes after an edit: every hash from ``start``, the head record, the checkpoints'
    heads (kept with their countersignatures: the attacker cannot make new ones)."""
    prev = audit.GENESIS
    if start > 1:
        prev = bytes(conn.execute("SELECT hash FROM audit WHERE seq = ?", (start - 1,)).fetchone()[0])
    last = start - 1
    for seq, event in conn.execute("SELECT seq, event FROM audit WHERE seq >= ? ORDER BY seq", (start,)).fetchall():
        prev = audit.chain_hash(prev, seq, str(event).encode())
        conn.execute("UPDATE audit SET hash = ? WHERE seq = ?", (prev, seq))
        last = seq
    conn.execute("UPDATE meta SET value = ? WHERE key = 'audit_head'", (f"{last}:{prev.hex()}",))
    for (size,) in conn.execute("SELECT size FROM audit_checkpoints WHERE size >= ?", (start,)).fetchall():
        head = conn.execute("SELECT hash FROM audit WHERE seq = ?", (size,)).fetchone()
        if head is None:
            conn.execute("DELETE FROM audit_checkpoints WHERE size = ?", (size,))
        else:
            conn.execute("UPDATE audit_checkpoints SET head = ? WHERE size = ?", (head[0], size))


def _edit_handover(st: Station) -> int:
    """Rewrite the handover entry (another compartment) and re-chain everything after it; returns its seq."""
    with st.database.write() as conn:
        seq, event = next(
            (s, e) for s, e in conn.execute("SELECT seq, event FROM audit ORDER BY seq") if "pickup.handover" in e
        )
        data = json.loads(event)
        data["compartment"] = int(data["compartment"]) % 6 + 1
        conn.execute("UPDATE audit SET event = ? WHERE seq = ?", (audit.canonical(data).decode(), seq))
        _rechain(conn, seq)
    return int(seq)


def _pad(st: Station, n: int) -> None:
    """Grow the log by ``n`` entries, written the way every change writes them."""
    with st.store.change("system") as tx:
        for i in range(n):
            tx.audit("test.pad", n=i)


def db_check(path: str | Path) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = cli.main(["db", "check", str(path)])
    return rc, json.loads(out.getvalue())


def test_an_edited_witnessed_entry_is_refused_by_the_hub_and_found_by_db_check(
    witnessed: tuple[Station, SyncClient, HubStore],
) -> None:
    st, client, store = witnessed
    witnessed_size = _kiosk(store).checkpoint_size
    assert db_check(st.config.storage.database)[0] == 0
    edited = _edit_handover(st)
    assert edited <= witnessed_size
    _pad(st, 5)
    assert audit.verify(st.database).ok  # chain, head record and checkpoint heads all recomputed

    rc, report = db_check(st.config.storage.database)
    assert rc == 1 and report["audit"]["ok"] is True
    assert report["witness"]["ok"] is False and "not what the hub countersigned" in report["witness"]["problem"]

    with pytest.raises(HubRefused) as refused:
        client.checkpoint()
    assert refused.value.status == 409 and refused.value.detail["kind"] == "AuditNotExtended"
    assert "audit_not_extended" in _alarms(store)
    assert _kiosk(store).checkpoint_size == witnessed_size


def test_a_log_without_its_countersignatures_still_cannot_restart_from_genesis(
    witnessed: tuple[Station, SyncClient, HubStore],
) -> None:
    st, client, store = witnessed
    witnessed_size = _kiosk(store).checkpoint_size
    _edit_handover(st)
    with st.database.write() as conn:  # hide the evidence: the device now looks never witnessed
        conn.execute("UPDATE audit_checkpoints SET countersignature = NULL")
    _pad(st, 3)
    assert db_check(st.config.storage.database)[0] == 0  # nothing local can tell (documented)

    head = audit.head(st.database)
    everything = audit.entry_texts(st.database, 0, head.size)
    body = p.sign_checkpoint(client.keys.signer, DEVICE, head.size, head.head, since=0, entries=everything)
    data = p.sign_kiosk_message(client.keys.signer, DEVICE, body, int(st.clock.now()))
    with pytest.raises(HubRefused) as base:
        client._post("/api/v1/kiosk/checkpoint", data)
    assert base.value.status == 409 and base.value.detail == {
        "error": base.value.detail["error"],
        "kind": "CheckpointBase",
        "since": witnessed_size,
    }
    with pytest.raises(HubRefused) as refused:
        client.checkpoint()  # the client follows CheckpointBase: the entries after the witnessed end
    assert refused.value.detail["kind"] == "AuditNotExtended"
    assert _kiosk(store).checkpoint_size == witnessed_size


def test_a_fork_padded_past_the_witnessed_end_is_refused(witnessed: tuple[Station, SyncClient, HubStore]) -> None:
    st, client, store = witnessed
    witnessed_size = _kiosk(store).checkpoint_size
    cut = witnessed_size // 2
    with st.database.write() as conn:  # truncate the log well before the witnessed end, then grow a new branch
        conn.execute("DELETE FROM audit WHERE seq > ?", (cut,))
        conn.execute("DELETE FROM audit_checkpoints WHERE size > ?", (cut,))
        _rechain(conn, cut)
    _pad(st, witnessed_size - cut + 4)
    assert audit.head(st.database).size > witnessed_size
    assert audit.verify(st.database).ok
    with pytest.raises(HubRefused) as refused:
        client.checkpoint()
    assert refused.value.status == 409 and refused.value.detail["kind"] == "AuditNotExtended"
    assert _kiosk(store).checkpoint_size == witnessed_size


def test_an_honest_log_is_witnessed_in_steps_and_after_a_lost_answer(
    witnessed: tuple[Station, SyncClient, HubStore],
) -> None:
    st, client, store = witnessed
    _pad(st, 2 * p.MAX_CHECKPOINT_ENTRIES + 7)  # three steps
    end = audit.head(st.database).size
    assert end - _kiosk(store).checkpoint_size > p.MAX_CHECKPOINT_ENTRIES
    with st.database.write() as conn:  # as if the last countersignature's answer had been lost on the way back
        conn.execute("UPDATE audit_checkpoints SET countersignature = NULL")
    assert client.checkpoint() == end == _kiosk(store).checkpoint_size
    rc, report = db_check(st.config.storage.database)
    assert rc == 0 and report["witness"]["ok"] is True and report["witness"]["last"] == end
    assert "audit_not_extended" not in _alarms(store)
