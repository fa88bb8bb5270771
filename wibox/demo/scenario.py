"""`wibox demo --scenario`: the whole life cycle headless over hub, sync and simulated boards, one line per step."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import sqlalchemy as sa

from backend_sync.commands import CommandKind
from backend_sync.hub import tables as hubdb
from locker import audit
from locker.errors import CodeError, DoorDidNotOpen, LockerError, ManualPathLocked, WrongCode
from locker.flows import Flows
from locker.flows.pickup import VerifiedPickup
from locker.model import AlarmKind, CompartmentState, OrderState, Size
from wibox.demo.common import DemoError, poll
from wibox.demo.compose import DemoSystem
from wibox.demo.scenario_kit import (
    DAY,
    Ctx,
    StepFailed,
    alarms,
    check,
    decode_png,
    hub_state,
    manual_code,
    notice,
    notice_qr,
    notice_text,
    pick_up,
    sync,
    take_out,
)
from wibox.demo.statement import STATEMENT


def enroll(s: DemoSystem, ctx: Ctx) -> str:
    check(s.sync.enroll_step(), f"enrollment failed: {s.client.stats.last_error or 'not approved'}")
    pinned = s.daemon.flows.bundle.hub_keys()
    check(len(pinned) == 1 and pinned[0].key_id == s.hub.keys.signer.key_id, "the hub key is not pinned")
    check(s.hub.kiosk_row().status == "approved", "the hub does not list the kiosk as approved")
    return f"kiosk {s.config.station_id} showed a code, the hub approved it, hub key {pinned[0].key_id} pinned"


PLAN = (  # reference number, size, reachable, old-ID return, days
    (1, Size.S, False, False, 7),
    (2, Size.S, True, True, 7),
    (3, Size.M, False, False, 7),
    (4, Size.S, False, False, 7),
    (5, Size.S, False, False, 7),
    (6, Size.S, False, False, 30),
)


def announce(s: DemoSystem, ctx: Ctx) -> str:
    for n, size, reachable, old_id, days in PLAN:
        o = s.hub.new_order(n, size=size, reachable=reachable, old_id=old_id, days=days)
        ctx.orders[o.reference] = o
    sync(s)
    states = {s.state(o.order) for o in ctx.orders.values()}
    check(states == {OrderState.ANNOUNCED}, f"orders at the kiosk: {states}")
    staff = s.daemon.store.database.query("SELECT id FROM staff ORDER BY id")
    check(len(staff) == 2, "the staff accounts did not arrive")
    return f"{len(ctx.orders)} orders created at the hub arrived encrypted in a signed bundle, with 2 staff accounts"


def load(s: DemoSystem, ctx: Ctx) -> str:
    sid = s.staff_session()
    for o in ctx.orders.values():
        s.load(sid, o)
    stored = [e for e in s.daemon.store.pending(100) if e.kind == "stored"]
    check(len(stored) == len(ctx.orders), f"{len(stored)} 'stored' events queued")
    check(s.config.is_reachable(ctx["DEMO-0002"].compartment or 0), "DEMO-0002 is not in a reachable compartment")
    where = ", ".join(f"{o.reference}→{o.compartment}" for o in ctx.orders.values())
    return f"two staff (four eyes) loaded {where}; {len(stored)} 'stored' events queued"


def notify(s: DemoSystem, ctx: Ctx) -> str:
    sync(s)
    for o in ctx.orders.values():
        check(hub_state(s, o) == "stored", f"{o.reference} is {hub_state(s, o)} at the hub")
        msg = notice(s, o)
        check(notice_qr(msg), f"{o.reference}: no QR image")
        check(manual_code(notice_text(msg)) == (o.pickup_number, o.code), f"{o.reference}: wrong manual code")
        row = s.hub.order_row(o.order)
        check(row.qr_payload_clear is None and row.notice_sent_at, f"{o.reference}: codes kept in clear")
    return f"hub wrote {len(ctx.orders)} notices (QR image + pickup number + PIN) to {s.hub.mailer.folder}; codes wiped"


def pickup_qr(s: DemoSystem, ctx: Ctx) -> str:
    o = ctx["DEMO-0001"]
    payload, decoder = decode_png(notice_qr(notice(s, o)))
    check(payload == o.qr, "the notice's QR code is not the order's")
    n = pick_up(s, lambda f: f.pickup.verify(f.pickup.scan_qr(payload)))
    check(n == o.compartment, f"compartment {n} opened, expected {o.compartment}")
    check(poll(lambda: s.state(o.order) == OrderState.COLLECTED, 5), f"{o.reference} not collected")
    try:
        s.daemon.station.call(lambda f: f.pickup.verify(f.pickup.scan_qr(payload)))
    except CodeError:
        pass
    else:
        raise StepFailed("a used QR code was accepted again")
    return f"QR decoded from the notice's image ({decoder}) opened compartment {n}; collected; the code is spent"


def pickup_manual(s: DemoSystem, ctx: Ctx) -> str:
    o = ctx["DEMO-0002"]
    number, pin = manual_code(notice_text(notice(s, o)))
    n = pick_up(
        s,
        lambda f: f.pickup.verify(f.pickup.enter_manual(number, pin)),
        old_id=True,
    )
    check(n == o.compartment, f"compartment {n} opened, expected {o.compartment}")
    check(poll(lambda: s.state(o.order) == OrderState.COLLECTED, 5), f"{o.reference} not collected")
    comp = s.daemon.store.compartment(n)
    check(comp.state == CompartmentState.OCCUPIED and comp.content == "old_id", "the old ID card is not recorded")
    return f"pickup number {number} + PIN from the notice opened reachable compartment {n}; old ID card left inside"


def hub_collected(s: DemoSystem, ctx: Ctx) -> str:
    sync(s)
    for ref, method in (("DEMO-0001", "qr"), ("DEMO-0002", "manual")):
        row = s.hub.order_row(ctx[ref].order)
        check(row.state == "collected" and row.handover_proof, f"{ref} is {row.state} at the hub")
        proof = json.loads(row.handover_proof)
        check(proof["method"] == method, f"{ref}: proof method {proof['method']}, expected {method}")
        check(proof["statement"] == STATEMENT.as_dict(), f"{ref}: proof statement {proof['statement']}")
    ho = hubdb.orders.c
    old_ids = s.hub.scalars(
        sa.select(ho.old_id_compartment).where(ho.old_id_returned_at.is_not(None), ho.old_id_taken_at.is_(None))
    )
    check(old_ids == [ctx["DEMO-0002"].compartment], f"old ID cards at the hub: {old_ids}")
    return (
        "hub: DEMO-0001 (QR) and DEMO-0002 (manual) collected, each with its handover proof (audit seq + hash, "
        f"method, statement {STATEMENT.id} v{STATEMENT.version}); the hub lists DEMO-0002's old ID card in "
        f"compartment {ctx['DEMO-0002'].compartment}"
    )


def wrong_codes(s: DemoSystem, ctx: Ctx) -> str:
    o = ctx["DEMO-0003"]
    wrong = "000000" if o.code != "000000" else "111111"
    refused = 0

    def attempt(who: str) -> Callable[[Flows], VerifiedPickup]:
        return lambda f: f.pickup.verify(f.pickup.enter_manual(o.pickup_number, wrong), identity=who)

    for visit in range(s.config.policy.manual_max_failures):  # five people in turn: no visit is held up
        try:
            s.daemon.station.call(attempt(f"visit-{visit}"))
        except WrongCode:
            refused += 1
    check(refused == s.config.policy.manual_max_failures, f"only {refused} wrong PINs were refused as wrong")
    try:
        s.daemon.station.call(
            lambda f: f.pickup.verify(f.pickup.enter_manual(o.pickup_number, o.code), identity="the-citizen")
        )
    except ManualPathLocked as exc:
        locked = str(exc)
    else:
        raise StepFailed("the manual path stayed open after too many wrong PINs")
    n = pick_up(s, lambda f: f.pickup.verify(f.pickup.scan_qr(o.qr)))
    check(poll(lambda: s.state(o.order) == OrderState.COLLECTED, 5), f"{o.reference} not collected")
    return f"{refused} wrong PINs refused, then the manual path is off ({locked}); the QR code still opened {n}"


def jammed_door(s: DemoSystem, ctx: Ctx) -> str:
    o = ctx["DEMO-0004"]
    n = o.compartment
    assert n is not None
    s.hardware.jam(n)
    try:
        s.daemon.station.call(lambda f: f.pickup.confirm_receipt(f.pickup.verify(f.pickup.scan_qr(o.qr)), STATEMENT))
    except DoorDidNotOpen:
        pass
    else:
        raise StepFailed("a jammed door was reported open")
    check(s.daemon.store.compartment(n).state == CompartmentState.FAULTY, f"compartment {n} is not faulty")
    check(alarms(s, AlarmKind.DOOR_DID_NOT_OPEN, n), "no door_did_not_open alarm")
    s.hardware.jam(n, False)
    sid = s.staff_session()
    s.daemon.station.call(lambda f: f.staffwork.enable(sid, n))
    again = pick_up(s, lambda f: f.pickup.verify(f.pickup.scan_qr(o.qr)))
    check(again == n, f"the retry opened compartment {again}, expected {n}")
    check(poll(lambda: s.state(o.order) == OrderState.COLLECTED, 5), f"{o.reference} not collected on the retry")
    return (
        f"jammed lock {n}: did not open, compartment faulty + alarm, the code not spent; staff freed the lock and "
        "enabled the compartment, and the citizen's retry with the same QR code collected the document"
    )


def forced_door(s: DemoSystem, ctx: Ctx) -> str:
    free = [c.number for c in s.daemon.store.compartments() if c.state == CompartmentState.FREE]
    n = free[-1]
    s.hardware.force(n)
    check(poll(lambda: s.daemon.store.compartment(n).state == CompartmentState.FAULTY, 5), f"{n} not faulty")
    check(alarms(s, AlarmKind.DOOR_FORCED, n), "no door_forced alarm")
    s.hardware.close(n)
    sync(s)
    at_hub = s.hub.scalars(sa.select(hubdb.alarms.c.kind).where(hubdb.alarms.c.compartment == n))
    check(AlarmKind.DOOR_FORCED.value in at_hub, f"the hub has no door_forced alarm for {n}: {at_hub}")
    return f"door {n} forced open: compartment faulty, alarm raised at the kiosk and shown at the hub"


def left_behind(s: DemoSystem, ctx: Ctx) -> str:
    o = ctx["DEMO-0006"]
    n = pick_up(s, lambda f: f.pickup.verify(f.pickup.scan_qr(o.qr)), leave=True)
    check(poll(lambda: s.state(o.order) == OrderState.STORED, 5), f"{o.reference} is {s.state(o.order)}, not stored")
    comp = s.daemon.store.compartment(n)
    check(comp.state == CompartmentState.OCCUPIED and comp.order_id == o.order, f"compartment {n} is {comp.state}")
    check(alarms(s, AlarmKind.DOCUMENT_LEFT_BEHIND, n), "no document_left_behind alarm")
    sync(s)
    at_hub = s.hub.scalars(
        sa.select(hubdb.alarms.c.kind).where(hubdb.alarms.c.compartment == n, hubdb.alarms.c.cleared_at.is_(None))
    )
    check(AlarmKind.DOCUMENT_LEFT_BEHIND.value in at_hub, f"the hub has no open document_left_behind alarm: {at_hub}")
    check(hub_state(s, o) == "stored", f"{o.reference} is {hub_state(s, o)} at the hub")
    last = [e.event for e in audit.entries(s.daemon.store.database) if e.event["type"] == "pickup.left_behind"][-1]
    how = "the item sensor saw it" if last["by"] == "sensor" else "the citizen left without saying it was taken"
    return (
        f"{o.reference}: door {n} closed with the document still inside ({how}): still stored and collectable "
        "with the same code, compartment occupied, alarm at the kiosk and the hub"
    )


def expiry_return(s: DemoSystem, ctx: Ctx) -> str:
    o = ctx["DEMO-0005"]
    s.clock.advance(8 * DAY)
    s.daemon.station.call(lambda f: f.orders.expire_due())
    check(s.state(o.order) == OrderState.EXPIRED, f"{o.reference} is {s.state(o.order)} 8 days later")
    check(s.state(ctx["DEMO-0006"].order) == OrderState.STORED, "DEMO-0006 (30 days) expired too")
    assert o.compartment is not None
    take_out(s, o.compartment)
    check(poll(lambda: s.state(o.order) == OrderState.RETURNED, 5), f"{o.reference} not returned")
    sync(s)
    check(hub_state(s, o) == "returned", f"{o.reference} is {hub_state(s, o)} at the hub")
    return f"8 days later {o.reference} expired; staff took it out of {o.compartment}; the hub has it returned"


def hub_offline(s: DemoSystem, ctx: Ctx) -> str:
    o = ctx["DEMO-0006"]
    s.in_loop(s.hub.stop())
    n = pick_up(s, lambda f: f.pickup.verify(f.pickup.scan_qr(o.qr)))  # the same code as the left-behind visit
    check(poll(lambda: s.state(o.order) == OrderState.COLLECTED, 5), f"{o.reference} not collected offline")
    check(not alarms(s, AlarmKind.DOCUMENT_LEFT_BEHIND, n), "the document_left_behind alarm did not clear")
    old = ctx["DEMO-0002"].compartment
    assert old is not None
    take_out(s, old)  # staff take the old ID card that DEMO-0002's citizen left
    check(poll(lambda: s.daemon.store.compartment(old).state == CompartmentState.FREE, 5), f"{old} not free")
    check(not s.client.step(), "a sync succeeded with the hub stopped")
    ctx.queued = {e.id for e in s.daemon.store.pending(1000)}
    kinds = sorted(e.kind for e in s.daemon.store.pending(1000))
    check({"collected", "old_id_taken"} <= set(kinds), f"queued while offline: {kinds}")
    return (
        f"hub stopped; {o.reference} collected from {n} on the second visit, staff took the old ID card out of {old}; "
        f"sync failed, {len(ctx.queued)} events queued ({', '.join(kinds)})"
    )


def hub_back(s: DemoSystem, ctx: Ctx) -> str:
    s.in_loop(s.hub.start())
    sync(s)
    check(not s.daemon.store.pending(1000), "events still queued at the kiosk")
    ev = hubdb.events.c
    got = s.hub.scalars(sa.select(ev.event_id).where(ev.event_id.in_(ctx.queued)))
    check(sorted(got) == sorted(ctx.queued), f"{len(got)} of {len(ctx.queued)} queued events at the hub")
    delivered = s.daemon.store.database.query_one("SELECT count(*) AS n FROM outbox WHERE delivered_at IS NOT NULL")
    total = s.hub.scalars(
        sa.select(sa.func.count()).select_from(hubdb.events).where(ev.device_id == s.config.station_id)
    )
    if delivered is None or total != [delivered["n"]]:
        raise StepFailed(f"the hub has {total} events, the kiosk delivered {delivered and delivered['n']}")
    check(hub_state(s, ctx["DEMO-0006"]) == "collected", "DEMO-0006 is not collected at the hub")
    cp = s.daemon.store.database.query_one(
        "SELECT size, countersignature FROM audit_checkpoints ORDER BY size DESC LIMIT 1"
    )
    check(cp is not None and cp["countersignature"], "the last audit checkpoint is not countersigned")
    assert cp is not None
    check(s.hub.kiosk_row().checkpoint_size == cp["size"], "the hub's checkpoint differs from the kiosk's")
    return (
        f"hub back: {len(ctx.queued)} queued events delivered, each once ({total[0]} at the hub = {delivered['n']} "
        f"delivered by the kiosk); checkpoint {cp['size']} countersigned"
    )


def remote_screen(s: DemoSystem, ctx: Ctx) -> str:
    """Remote maintenance and reload reach the kiosk's screen: the demo is wired by the same builder as `wibox run`."""
    ui = s.built.app.state.ui
    epoch = ui.reload_epoch
    on = s.hub.command(CommandKind.MAINTENANCE_MODE, on=True)
    sync(s)
    check(ui.station.maintenance, "remote maintenance mode did not reach the kiosk's screen")
    off = s.hub.command(CommandKind.MAINTENANCE_MODE, on=False)
    sync(s)
    check(not ui.station.maintenance, "remote maintenance mode did not end on the kiosk's screen")
    reload = s.hub.command(CommandKind.RELOAD_UI)
    sync(s)
    check(ui.reload_epoch == epoch + 1, f"reload epoch {ui.reload_epoch}, expected {epoch + 1}")
    sync(s)  # the last result goes back
    statuses = [s.hub.command_status(c) for c in (on, off, reload)]
    check(statuses == ["done"] * 3, f"command results at the hub: {statuses}")
    return "maintenance on, off and a reload reached the kiosk's screen; the hub has each result"


def audit_check(s: DemoSystem, ctx: Ctx) -> str:
    report = audit.verify(s.daemon.database)
    check(report.ok, f"audit chain: {report.problem}")
    check(s.daemon.database.integrity_check() == ["ok"], "database integrity check failed")
    return f"audit chain verifies ({report.size} entries), database integrity ok"


Step = Callable[[DemoSystem, Ctx], str]
SCENARIO: tuple[tuple[str, Step], ...] = (
    ("enroll", enroll),
    ("announce", announce),
    ("load", load),
    ("notify", notify),
    ("pickup-qr", pickup_qr),
    ("pickup-manual", pickup_manual),
    ("hub-collected", hub_collected),
    ("wrong-codes", wrong_codes),
    ("jammed-door", jammed_door),
    ("left-behind", left_behind),
    ("forced-door", forced_door),
    ("expiry-return", expiry_return),
    ("hub-offline", hub_offline),
    ("hub-back", hub_back),
    ("remote-screen", remote_screen),
    ("audit", audit_check),
)


def _line(out: TextIO, ok: bool, name: str, detail: str) -> None:
    print(f"{'ok' if ok else 'FAIL':4} {name:14} {detail}", file=out, flush=True)


async def _run(data_dir: Path, out: TextIO, hub_port: int, boards: str) -> bool:
    s = DemoSystem(data_dir, hub_port=hub_port, ui=False, background_sync=False, boards=boards)
    ctx = Ctx()
    ok = True
    t0 = time.monotonic()
    try:
        try:
            await s.start()
        except LockerError as exc:
            _line(out, False, "start", f"{type(exc).__name__}: {exc}")
            return False
        buses = ", ".join(f"{b.name} ({b.driver})" for b in s.config.buses)
        _line(out, True, "start", f"hub on {s.hub.url}, station {s.config.station_id} on simulated {buses}")
        for name, step in SCENARIO:
            t = time.monotonic()
            try:
                detail = await asyncio.to_thread(step, s, ctx)
            except (StepFailed, LockerError, AssertionError) as exc:
                _line(out, False, name, f"{type(exc).__name__}: {exc}")
                ok = False
                break
            _line(out, True, name, f"{detail} ({time.monotonic() - t:.2f} s)")
    finally:
        rc = await s.stop()
        if rc != 0:
            _line(out, False, "stop", f"the station stopped with exit {rc}")
            ok = False
    print(f"scenario {'passed' if ok else 'FAILED'} in {time.monotonic() - t0:.1f} s", file=out, flush=True)
    return ok


def run_scenario(data_dir: Path, out: TextIO, hub_port: int = 0, boards: str = "serial") -> bool:
    """Run the life cycle headless, one line per step; True only if every step behaved. ``hub_port`` 0 picks
    a free port (nothing but the scenario talks to this hub); ``boards`` names the wall (``compose.BOARDS``)."""
    try:
        return asyncio.run(_run(data_dir, out, hub_port, boards))
    except DemoError as exc:
        _line(out, False, "start", str(exc))
        return False
