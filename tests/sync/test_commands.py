"""Remote commands run at most once per id: the ledger, the answer in the transaction of the change, crashes."""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend_sync.client import SyncClient
from backend_sync.commands import RESULT_EVENT, Command, CommandKind, sign_command
from backend_sync.keys import KioskKeys, Signer
from backend_sync.runner import INTERRUPTED_DETAIL
from locker import audit, remote
from locker.db import Database
from locker.flows.bundle import HubKey
from locker.migrations import MIGRATIONS, migrate
from locker.model import CompartmentState
from locker.ports import UnlockResult
from locker.remote import CommandState
from tests.harness import Station, make_station

DEVICE = "test-1"  # the harness station's id


class _Crash(BaseException):
    """The process dies right here: nothing after this line runs, no transaction open now commits."""


@dataclass
class FakeHub:
    """The hub's side of heartbeats and events over httpx.MockTransport: hands out ``commands`` on every heartbeat
    (a hub that delivers again) and keeps the command results it is sent."""

    signer: Signer = field(default_factory=Signer.generate)
    commands: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/kiosk/heartbeat":
            return httpx.Response(200, json={"commands": self.commands, "time": 0})
        if request.url.path == "/api/v1/kiosk/events":
            events = json.loads(request.content)["message"]["body"]["events"]
            self.results += [json.loads(e["body"]) for e in events if e["kind"] == RESULT_EVENT]
            return httpx.Response(200, json={"accepted": [e["id"] for e in events], "refused": {}})
        return httpx.Response(404, json={"error": "not served here"})


@dataclass
class Screen:
    """The kiosk screen's remote controls (backend_sync.runner.UiControl)."""

    calls: list[str] = field(default_factory=list)

    def maintenance_mode(self, on: bool) -> None:
        self.calls.append(f"maintenance {on}")

    def reload(self) -> None:
        self.calls.append("reload")


@dataclass
class Kiosk:
    st: Station
    hub: FakeHub
    screen: Screen
    client: SyncClient

    def send(self, kind: CommandKind, cmd_id: str | None = None, **args: Any) -> Command:
        now = int(self.st.clock.now())
        cmd = Command(cmd_id or uuid.uuid4().hex, DEVICE, kind, "check it", "adm-1", now, now + 3600, **args)
        self.hub.commands = [sign_command(self.hub.signer, cmd)]
        return cmd

    def reconnect(self) -> None:
        """A new client over the station as it is now (the kiosk process started again)."""
        self.client.close()
        self.client = _client(self.st, self.hub, self.screen)

    def answers(self, cmd_id: str) -> list[dict[str, Any]]:
        rows = self.st.database.query("SELECT body FROM outbox WHERE kind = ? ORDER BY seq", (RESULT_EVENT,))
        return [b for b in (json.loads(r["body"]) for r in rows) if b["command"] == cmd_id]

    def door_open(self, n: int) -> bool:
        return self.st.bank.is_open(n)

    def ledger(self, cmd_id: str) -> remote.RemoteCommand | None:
        with self.st.database.read() as conn:
            return remote.find(conn, cmd_id)


def _client(st: Station, hub: FakeHub, screen: Screen) -> SyncClient:
    transport = httpx.MockTransport(hub.handle)
    return SyncClient(
        "http://hub.test", DEVICE, KioskKeys.generate(), st.flows, st.store, st.clock, transport, ui=screen
    )


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Kiosk]:
    st = make_station(tmp_path)
    hub = FakeHub()
    st.flows.bundle.pin_hub_keys([HubKey(hub.signer.key_id, hub.signer.public_raw)])
    screen = Screen()
    k = Kiosk(st, hub, screen, _client(st, hub, screen))
    yield k
    k.client.close()
    st.database.close()


def fields(answer: dict[str, Any]) -> tuple[str, str, str, str]:
    return answer["command"], answer["command_kind"], answer["outcome"], answer["detail"]


def test_a_command_delivered_twice_is_executed_once_and_the_same_answer_is_resent(kiosk: Kiosk) -> None:
    k = kiosk
    cmd = k.send(CommandKind.OPEN_COMPARTMENT, compartment=2)
    assert k.client.heartbeat() == [cmd.id]
    assert k.st.bank.pulses(2) == 1 and k.door_open(2)
    (first,) = k.answers(cmd.id)
    assert fields(first) == (cmd.id, "open_compartment", "done", "compartment 2 opened")
    row = k.ledger(cmd.id)
    assert row is not None and row.state == CommandState.ANSWERED and row.answer_event == first["id"]

    # Delivered again while the answer is still queued: nothing runs, nothing is added.
    assert k.client.heartbeat() == []
    assert k.st.bank.pulses(2) == 1
    assert len(k.answers(cmd.id)) == 1
    assert k.client.push_events() >= 1
    assert [fields(r) for r in k.hub.results] == [fields(first)]

    # Delivered again after the hub accepted the answer: still not run, the same answer is sent once more.
    k.st.bank.close(2)
    k.st.pump()
    assert k.client.heartbeat() == []
    assert k.st.bank.pulses(2) == 1 and not k.door_open(2)
    again = k.answers(cmd.id)
    assert len(again) == 2 and again[1]["id"] != first["id"]
    assert fields(again[1]) == fields(first)
    assert k.client.push_events() == 1
    assert [fields(r) for r in k.hub.results] == [fields(first), fields(first)]
    assert k.client.stats.commands_executed == 1 and k.client.stats.commands_repeated == 2
    assert audit.verify(k.st.database).ok


def test_a_restarted_kiosk_does_not_run_an_answered_command_again(kiosk: Kiosk) -> None:
    k = kiosk
    cmd = k.send(CommandKind.DISABLE_COMPARTMENT, compartment=3)
    assert k.client.heartbeat() == [cmd.id]
    k.st.restart()
    k.reconnect()
    k.st.flows.staffwork.remote_enable("adm-2", 3)  # enabled by another command in between
    assert k.client.heartbeat() == []
    assert k.st.store.compartment(3).state == CompartmentState.FREE
    assert [a["outcome"] for a in k.answers(cmd.id)] == ["done"]


def test_disable_is_answered_in_the_transaction_of_its_change(kiosk: Kiosk, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash while the answer is written takes the state change with it: all or nothing."""
    k = kiosk
    cmd = k.send(CommandKind.DISABLE_COMPARTMENT, compartment=3)
    real = remote.answer

    def die(*args: Any, **kw: Any) -> str:
        raise _Crash

    monkeypatch.setattr(remote, "answer", die)
    with pytest.raises(_Crash):
        k.client.heartbeat()
    assert k.st.store.compartment(3).state == CompartmentState.FREE
    assert k.ledger(cmd.id) is None and k.answers(cmd.id) == []

    monkeypatch.setattr(remote, "answer", real)
    k.st.restart()
    k.reconnect()
    assert k.client.heartbeat() == [cmd.id]  # nothing had happened: now it runs, once
    assert k.st.store.compartment(3).state == CompartmentState.DISABLED
    assert [fields(a) for a in k.answers(cmd.id)] == [(cmd.id, "disable_compartment", "done", "compartment 3 disabled")]


def test_a_crash_after_the_pulse_is_answered_interrupted_and_the_door_is_not_opened_again(kiosk: Kiosk) -> None:
    k = kiosk
    cmd = k.send(CommandKind.OPEN_COMPARTMENT, compartment=2)
    pulse = k.st.bank.unlock

    def pulse_then_die(number: int, confirm_s: float) -> UnlockResult:
        pulse(number, confirm_s)
        raise _Crash

    k.st.bank.unlock = pulse_then_die  # type: ignore[method-assign,assignment]
    with pytest.raises(_Crash):
        k.client.heartbeat()
    k.st.bank.unlock = pulse  # type: ignore[method-assign]
    row = k.ledger(cmd.id)
    assert row is not None and row.state == CommandState.STARTED  # committed with the door cycle, before the pulse
    assert k.st.store.compartment(2).state == CompartmentState.OPENING
    assert k.answers(cmd.id) == []

    k.st.restart()  # recovery: the door reads open, the cycle continues
    k.reconnect()
    assert k.client.heartbeat() == []  # delivered again: not run
    assert k.st.bank.pulses(2) == 1
    (answer,) = k.answers(cmd.id)
    assert answer["outcome"] == "interrupted"
    assert answer["detail"] == f"{INTERRUPTED_DETAIL}; compartment 2 is now opening with its door open"
    assert "not repeated" in answer["detail"]
    k.st.bank.close(2)
    k.st.pump()
    assert k.st.store.compartment(2).state == CompartmentState.FREE  # the close ends the maintenance cycle
    assert k.client.heartbeat() == [] and k.st.bank.pulses(2) == 1


def test_an_interrupted_command_is_answered_at_the_next_response_without_being_delivered_again(kiosk: Kiosk) -> None:
    k = kiosk
    cmd = k.send(CommandKind.MAINTENANCE_MODE, on=True)

    def die(on: bool) -> None:
        raise _Crash

    k.screen.maintenance_mode = die  # type: ignore[method-assign]
    with pytest.raises(_Crash):
        k.client.heartbeat()
    row = k.ledger(cmd.id)
    assert row is not None and row.state == CommandState.STARTED  # committed before the screen was touched
    k.hub.commands = []
    k.st.restart()
    k.reconnect()
    assert k.client.heartbeat() == []
    assert [fields(a) for a in k.answers(cmd.id)] == [(cmd.id, "maintenance_mode", "interrupted", INTERRUPTED_DETAIL)]
    assert k.screen.calls == []


def test_a_door_that_did_not_open_is_answered_failed_with_its_fault(kiosk: Kiosk) -> None:
    k = kiosk
    k.st.bank.jam(4)
    cmd = k.send(CommandKind.OPEN_COMPARTMENT, compartment=4)
    assert k.client.heartbeat() == [cmd.id]
    assert k.st.store.compartment(4).state == CompartmentState.FAULTY
    assert [fields(a) for a in k.answers(cmd.id)] == [
        (cmd.id, "open_compartment", "failed", "compartment 4 did not open")
    ]
    row = k.ledger(cmd.id)
    assert row is not None and row.state == CommandState.ANSWERED
    assert row.result is not None and row.result["outcome"] == "failed"


def test_a_refused_command_changes_nothing_and_is_answered_failed(kiosk: Kiosk) -> None:
    k = kiosk
    k.st.flows.staffwork.remote_open("adm-2", 5, "first opening")
    cmd = k.send(CommandKind.OPEN_COMPARTMENT, compartment=5)  # the door is still in its cycle
    assert k.client.heartbeat() == [cmd.id]
    assert k.st.bank.pulses(5) == 1
    assert [fields(a) for a in k.answers(cmd.id)] == [
        (cmd.id, "open_compartment", "failed", "compartment 5 is in a door cycle")
    ]
    assert k.client.heartbeat() == []  # answered: not tried again when the door is free


def test_screen_commands_are_done_once(kiosk: Kiosk) -> None:
    k = kiosk
    on = k.send(CommandKind.MAINTENANCE_MODE, on=True)
    assert k.client.heartbeat() == [on.id]
    reload = k.send(CommandKind.RELOAD_UI)
    assert k.client.heartbeat() == [reload.id]
    assert k.client.heartbeat() == []
    assert k.screen.calls == ["maintenance True", "reload"]
    assert [a["outcome"] for a in k.answers(on.id) + k.answers(reload.id)] == ["done", "done"]


def test_migration_0004_records_the_commands_answered_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    d = Database(path)
    migrate(d, MIGRATIONS[:3])
    old_id = uuid.uuid4().hex
    body = {"id": "e1", "kind": RESULT_EVENT, "t": 5.0, "command": old_id, "command_kind": "open_compartment"}
    body |= {"outcome": "done", "detail": "compartment 1 opened"}
    with d.write() as conn:
        conn.execute(
            "INSERT INTO outbox (id, kind, body, created_at) VALUES ('e1', ?, ?, 5.0)", (RESULT_EVENT, json.dumps(body))
        )
        conn.execute("INSERT INTO outbox (id, kind, body, created_at) VALUES ('e2', 'stored', '{}', 6.0)")
    assert migrate(d)[0] == "0004_remote_commands"  # and any later ones
    with d.read() as conn:
        row = remote.find(conn, old_id)
        assert remote.unanswered(conn) == []
        assert conn.execute("SELECT count(*) FROM remote_commands").fetchone()[0] == 1
    assert row is not None and (row.state, row.kind) == (CommandState.ANSWERED, "open_compartment")
    assert row.answer_event == "e1"
    assert row.result == {k: body[k] for k in ("command", "command_kind", "outcome", "detail")}
    with pytest.raises(sqlite3.IntegrityError):  # an answered row always names its answer
        d.conn.execute("UPDATE remote_commands SET answer_event = NULL")
    d.close()
