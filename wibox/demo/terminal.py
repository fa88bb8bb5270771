"""The interactive `wibox demo`: hub, kiosk and locker wall with printed codes, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
from pathlib import Path
from typing import Any, TextIO

from locker import codes
from locker.errors import LockerError
from locker.model import OrderState, Size
from wibox.demo.common import CITY_ADMIN, PLATFORM_ADMIN, STAFF, wait_for, write_private
from wibox.demo.compose import DemoSystem
from wibox.demo.hub import DemoOrder

# reference number, size, reachable, old-ID return, loaded by the demo staff at start
PLAN = (
    (1, Size.S, False, False, True),
    (2, Size.S, True, True, True),
    (3, Size.M, False, False, True),
    (4, Size.S, True, False, True),
    (5, Size.S, False, True, False),
    (6, Size.M, True, False, False),
)


def populate(s: DemoSystem) -> list[DemoOrder]:
    """Blocking (a worker thread): wait for the enrollment, create the orders at the hub, let the sync bring
    them, load the first ones as the demo staff, and wait for the hub's notices."""
    wait_for(lambda: s.sync.enrolled, 30, "the kiosk's enrollment at the hub")
    orders = [s.hub.new_order(n, size=size, reachable=r, old_id=old) for n, size, r, old, _load in PLAN]
    count = s.daemon.store.database.query_one

    def arrived() -> bool:
        staff = count("SELECT count(*) AS n FROM staff")
        return all(s.state(o.order) == OrderState.ANNOUNCED for o in orders) and bool(staff and staff["n"] == 2)

    wait_for(arrived, 30, "the orders and staff accounts to reach the kiosk")
    sid = s.staff_session()
    loaded = [o for o, plan in zip(orders, PLAN, strict=True) if plan[4]]
    for o in loaded:
        s.load(sid, o)
    s.daemon.station.call(lambda f: f.staff.close(sid))
    wait_for(lambda: all(s.hub.order_row(o.order).notice_sent_at for o in loaded), 30, "the hub's notices")
    return orders


def _qr_ascii(payload: str, out: TextIO) -> None:
    import qrcode  # type: ignore[import-untyped]

    q = qrcode.QRCode(border=1)
    q.add_data(payload)
    q.print_ascii(out=out, invert=True)


def print_intro(s: DemoSystem, orders: list[DemoOrder], out: TextIO) -> None:
    kiosk = f"http://127.0.0.1:{s.kiosk_port}/"
    hub = f"{s.hub.url}/"
    buses = ", ".join(f"{b.name} {b.driver} on {b.port or 'the GPIO header'}" for b in s.config.buses)
    lines = [
        "WI-Box demo: hub, kiosk and a simulated locker wall on this machine, no hardware",
        f"  kiosk        {kiosk}",
        f"  locker wall  {kiosk}sim   (doors, items, jams; paste a QR payload or badge to 'scan' it)",
        f"  hub          {hub}   platform admin {PLATFORM_ADMIN[0]} / {PLATFORM_ADMIN[1]}",
        f"               city admin (city 'demo') {CITY_ADMIN[0]} / {CITY_ADMIN[1]}",
        f"  boards       {buses}",
        f"  data         {s.folder}: hub/hub.db, kiosk/wibox.db; the hub's notices in {s.hub.mailer.folder}/*.eml",
        "",
        "staff badges (four-eyes rule: both log in to load; scan the badge at /sim, then type the PIN):",
    ]
    lines += [f"  {staff_id}  PIN {pin}  badge {s.hub.badges[staff_id]}" for staff_id, pin in STAFF]
    lines += ["", f"{'order':16} {'reference':10} {'compartment':>11}  {'pickup number':13} {'PIN':8} QR payload"]
    for o in orders:
        where = str(o.compartment) if o.compartment else "not loaded"
        lines.append(f"{o.order:16} {o.reference:10} {where:>11}  {o.pickup_number:13} {o.code:8} {o.qr}")
    notes = "reachable: " + ", ".join(o.reference for o in orders if o.reachable)
    notes += "; old ID card returned at pickup: " + ", ".join(o.reference for o in orders if o.return_old_id)
    lines.append(notes)
    waiting = [o for o in orders if o.compartment is None]
    if waiting:
        lines.append("envelope labels for staff to load at the kiosk (log in with both badges, then scan at /sim):")
        lines += [f"  {o.reference}  {codes.label_payload(o.order)}" for o in waiting]
    print("\n".join(lines), file=out)
    first = next(o for o in orders if o.compartment)
    print(f"\nQR code of {first.reference} (compartment {first.compartment}):", file=out)
    _qr_ascii(first.qr, out)
    print("Ctrl-C stops the demo.", file=out, flush=True)


def write_codes(path: Path, orders: list[DemoOrder]) -> None:
    """The ``--codes-file``: the orders already stored, with their codes and compartment."""
    stored = [o.codes_entry() for o in orders if o.compartment is not None]
    write_private(path, (json.dumps(stored, indent=2) + "\n").encode())


async def run_interactive(
    data_dir: Path, codes_file: Path | None, kiosk_port: int, hub_port: int, out: TextIO, *, boards: str = "serial"
) -> int:
    """Start everything, print the codes, run until SIGTERM/SIGINT; then stop the kiosk UI, the station (doors
    to their safe state) and the hub, in that order. Exit 0 after a clean stop."""
    s = DemoSystem(data_dir, hub_port=hub_port, kiosk_port=kiosk_port, ui=True, background_sync=True, boards=boards)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def take_signals() -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)

    take_signals()
    stopped = asyncio.create_task(stop.wait())
    try:
        starting = asyncio.create_task(s.start())
        await asyncio.wait([starting, stopped], return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            await starting  # a stop during the start: finish starting, then stop everything cleanly
        starting.result()
        take_signals()  # the station's run() took them over; the demo stops the UI first, then the station
        assert s.daemon_task is not None
        setup = asyncio.create_task(asyncio.to_thread(populate, s))
        setup.add_done_callback(lambda t: t.cancelled() or t.exception())  # a stop during the setup: not an error
        waiting: set[asyncio.Future[Any]] = {setup, stopped, s.daemon_task}
        while not stop.is_set() and not s.daemon_task.done():
            done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if setup in done:
                orders = setup.result()
                print_intro(s, orders, out)
                if codes_file is not None:
                    write_codes(codes_file, orders)
        return 0 if stop.is_set() else 1  # the station ending on its own is a failure
    except LockerError as exc:
        print(f"wibox demo: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        stopped.cancel()
        rc = await s.stop()
        print("demo stopped" if rc == 0 else f"demo stopped (station exit {rc})", file=out, flush=True)
