"""Runs verified remote commands at most once: a ledger row per command id, written with the change it causes.

The kiosk's ``remote_commands`` table (``locker/remote.py``) holds one row per command id; "already run?" is a
primary-key lookup. When the row and the answer are written depends on where the command's effect lives:

* **In the database** (``disable_compartment``, ``enable_compartment``): the flow's one transaction holds the state
  change, the row (``answered``) and the answer in the outbox. A crash leaves all of them or none; with none,
  nothing happened and a later delivery runs the command for the first time.
* **Outside the database** (``open_compartment``: a lock pulse; ``maintenance_mode``, ``reload_ui``: the screen;
  ``resync``: a request in memory): a pulse cannot be rolled back with a transaction, so the row is committed as
  ``started`` *before* the effect — for ``open_compartment`` in the transaction that commits the door cycle, before
  the pulse — and the answer in the transaction that records the outcome (for ``open_compartment`` the confirmed
  opening, or the fault when the door did not open).

A row found ``started`` while no command runs is one whose run stopped between its effect and its answer (a crash,
a power cut, a bug): the runner answers it ``interrupted`` ("not repeated") and never runs it again, because the
door may already have opened. The start-up recovery has by then reconciled the compartment with its door, and the
answer says what state it is in. A command delivered again after it was answered is not run again either: its
stored answer is sent again (or is still queued).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from backend_sync import schema
from backend_sync.commands import RESULT_EVENT, Command, CommandKind, CommandOutcome, CommandResult
from locker import remote
from locker.errors import BadInput, FlowError, LockerError, StoreError
from locker.flows import Flows
from locker.ports import Clock
from locker.remote import CommandState, RemoteCommand, Ticket
from locker.store import Store, Tx

log = logging.getLogger(__name__)

INTERRUPTED_DETAIL = "interrupted before its outcome was recorded; not repeated"
_OUTSIDE_DB = frozenset({CommandKind.RESYNC, CommandKind.MAINTENANCE_MODE, CommandKind.RELOAD_UI})


class UiControl(Protocol):
    """What remote commands may ask of the kiosk screen (the kiosk UI implements it)."""

    def maintenance_mode(self, on: bool) -> None: ...

    def reload(self) -> None: ...


def _done_detail(cmd: Command) -> str:
    if cmd.kind == CommandKind.OPEN_COMPARTMENT:
        return f"compartment {cmd.compartment} opened"
    if cmd.kind == CommandKind.DISABLE_COMPARTMENT:
        return f"compartment {cmd.compartment} disabled"
    if cmd.kind == CommandKind.ENABLE_COMPARTMENT:
        return f"compartment {cmd.compartment} enabled"
    if cmd.kind == CommandKind.RESYNC:
        return "full sync requested"
    if cmd.kind == CommandKind.MAINTENANCE_MODE:
        return f"maintenance mode {'on' if cmd.on else 'off'}"
    return "screen reloaded"


def _write_answer(tx: Tx, ticket: Ticket, outcome: CommandOutcome, detail: str) -> None:
    result = CommandResult(ticket.id, CommandKind(ticket.kind), outcome, detail[:200])
    remote.answer(tx, ticket, RESULT_EVENT, schema.encode(result))
    tx.audit("remote.command", command=ticket.id, command_kind=ticket.kind, outcome=outcome.value)


@dataclass
class LedgerReceipt:
    """One command's ``locker.remote.Receipt``: the flows call it inside their transactions."""

    cmd: Command
    ticket: Ticket

    def started(self, tx: Tx) -> None:
        remote.start(tx, self.ticket)
        tx.audit("remote.command.started", command=self.cmd.id, command_kind=self.cmd.kind.value)

    def done(self, tx: Tx) -> None:
        _write_answer(tx, self.ticket, CommandOutcome.DONE, _done_detail(self.cmd))

    def failed(self, tx: Tx, why: str) -> None:
        _write_answer(tx, self.ticket, CommandOutcome.FAILED, why)


class CommandRunner:
    """Executes each command id once through the flows (the caller holds the station's flows lock)."""

    def __init__(
        self,
        flows: Flows,
        store: Store,
        clock: Clock,
        ui: UiControl | None = None,
        on_resync: Callable[[], None] = lambda: None,
    ) -> None:
        self.flows = flows
        self.store = store
        self.clock = clock
        self.ui = ui
        self.on_resync = on_resync

    def _find(self, command_id: str) -> RemoteCommand | None:
        with self.store.database.read() as conn:
            return remote.find(conn, command_id)

    # -- interrupted runs --------------------------------------------------------------------------------
    def settle(self) -> list[str]:
        """Answer ``interrupted`` every command started without an answer; returns their ids. Call it only while
        no command runs (the client does, before each batch)."""
        with self.store.database.read() as conn:
            stale = remote.unanswered(conn)
        for row in stale:
            self._interrupt(row)
        return [r.id for r in stale]

    def _interrupt(self, row: RemoteCommand) -> None:
        ticket = Ticket(row.id, row.kind, row.compartment, row.received_at)
        with self.store.change("system") as tx:
            detail = INTERRUPTED_DETAIL
            if row.compartment is not None:
                try:
                    c = tx.compartment(row.compartment)
                except StoreError:  # no longer configured
                    detail = f"{detail}; compartment {row.compartment} is not configured"
                else:
                    door = " with its door open" if c.door_confirmed_at is not None else ""
                    detail = f"{detail}; compartment {c.number} is now {c.state.value}{door}"
            _write_answer(tx, ticket, CommandOutcome.INTERRUPTED, detail)
        log.warning("remote command %s (%s): %s", row.id, row.kind, detail)

    # -- one command -------------------------------------------------------------------------------------
    def run(self, cmd: Command) -> bool:
        """Execute ``cmd`` unless the ledger has its id; returns whether it was executed now."""
        known = self._find(cmd.id)
        if known is not None:
            self._repeat(known)
            return False
        receipt = LedgerReceipt(cmd, Ticket(cmd.id, cmd.kind.value, cmd.compartment, self.clock.now()))
        why = ""
        try:
            self._execute(cmd, receipt)
        except LockerError as exc:
            log.warning("remote command %s (%s) failed: %s", cmd.id, cmd.kind, exc)
            why = str(exc)
        after = self._find(cmd.id)
        if after is None or after.state == CommandState.STARTED:
            # The flow did not answer in its own transaction: it failed before changing anything, or after its
            # effect had started (then the row is `started` and this answer completes it).
            with self.store.change(f"remote:{cmd.issued_by}") as tx:
                if why:
                    receipt.failed(tx, why)
                else:
                    receipt.done(tx)
        return True

    def _repeat(self, known: RemoteCommand) -> None:
        if known.state == CommandState.STARTED:
            self._interrupt(known)
            return
        assert known.answer_event is not None
        with self.store.database.read() as conn:
            sent = remote.delivered(conn, known.answer_event)
        if not sent:
            log.info("remote command %s delivered again: its answer is still queued", known.id)
            return
        with self.store.change("system") as tx:
            event = remote.resend(tx, known, RESULT_EVENT)
            tx.audit("remote.command.resent", command=known.id, command_kind=known.kind)
        log.info("remote command %s delivered again: not run again, answer resent (%s)", known.id, event)

    def _execute(self, cmd: Command, receipt: LedgerReceipt) -> None:
        """Run the command; the flows write the receipt in their transactions. Raises LockerError on refusal."""
        if cmd.kind in _OUTSIDE_DB:
            self._outside_db(cmd, receipt)
            return
        work, n = self.flows.staffwork, cmd.compartment
        if n is None:
            raise BadInput(f"{cmd.kind}: no compartment")
        if cmd.kind == CommandKind.OPEN_COMPARTMENT:
            work.remote_open(cmd.issued_by, n, cmd.reason, receipt)
        elif cmd.kind == CommandKind.DISABLE_COMPARTMENT:
            work.remote_disable(cmd.issued_by, n, cmd.reason, receipt)
        else:
            work.remote_enable(cmd.issued_by, n, receipt)

    def _outside_db(self, cmd: Command, receipt: LedgerReceipt) -> None:
        ui = self.ui
        if ui is None and cmd.kind != CommandKind.RESYNC:
            raise FlowError("no kiosk screen attached")
        with self.store.change(f"remote:{cmd.issued_by}") as tx:
            receipt.started(tx)
        if cmd.kind == CommandKind.RESYNC:
            self.on_resync()
        elif ui is not None and cmd.kind == CommandKind.MAINTENANCE_MODE:
            ui.maintenance_mode(bool(cmd.on))
        elif ui is not None:
            ui.reload()
        with self.store.change(f"remote:{cmd.issued_by}") as tx:
            receipt.done(tx)
