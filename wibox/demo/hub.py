"""The city hub of the demo: SQLite in the data folder, demo city, admins and staff, notices as .eml files."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from backend_sync.commands import CommandKind
from backend_sync.hub import tables as hubdb
from backend_sync.hub.auth import Role, create_admin
from backend_sync.hub.bundles import next_staff_rev
from backend_sync.hub.config import HubConfig, ServerConfig
from backend_sync.hub.db import HubStore
from backend_sync.hub.enrollment import approve_kiosk
from backend_sync.hub.keys import HubKeys, load_hub_keys, record_hub_keys
from backend_sync.hub.notices import CityNotifier
from backend_sync.hub.orders import NewHubOrder, create_order
from backend_sync.hub.remote import issue_command
from locker import codes
from locker.model import Size
from wibox.demo.common import CITY, CITY_ADMIN, DEVICE, PLATFORM_ADMIN, STAFF, DemoClock, listen, write_private
from wibox.serve import Server


class FileMailer:
    """The hub's Mailer in the demo: every e-mail becomes an ``.eml`` file in a folder (no SMTP server needed)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock = threading.Lock()
        self._count = 0

    def send(self, message: EmailMessage) -> None:
        with self._lock:
            self._count += 1
            to = "".join(ch if ch.isalnum() or ch in "-." else "_" for ch in str(message["To"]))
            path = self.folder / f"{self._count:03d}-{to}.eml"
        write_private(path, bytes(message))  # a notice holds the citizen's PIN and QR code

    def sent_to(self, address: str) -> list[Path]:
        """The e-mails written for ``address``, oldest first."""
        return [p for p in sorted(self.folder.glob("*.eml")) if f"To: {address}" in p.read_text(errors="replace")]


@dataclass
class DemoOrder:
    """A demo order as the citizen's notice has it (the hub keeps the codes in clear only until it is sent)."""

    order: str
    reference: str
    qr: str
    pickup_number: str
    code: str
    email: str
    reachable: bool = False
    return_old_id: bool = False
    compartment: int | None = None

    def codes_entry(self) -> dict[str, object]:
        """The ``--codes-file`` entry (exactly the documented keys)."""
        return {
            "order": self.order,
            "qr": self.qr,
            "pickup_number": self.pickup_number,
            "code": self.code,
            "compartment": self.compartment,
        }


@dataclass
class DemoHub:
    """The city hub on SQLite in ``folder``: keys, the demo city and accounts, notices written as .eml files."""

    folder: Path
    clock: DemoClock
    port: int
    store: HubStore = field(init=False)
    keys: HubKeys = field(init=False)
    config: HubConfig = field(init=False)
    mailer: FileMailer = field(init=False)
    app: Any = field(init=False)
    badges: dict[str, str] = field(init=False, default_factory=dict)
    _server: Server | None = field(init=False, default=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def open(self) -> None:
        """Create the database, the signing key, city ``demo``, two admins and the demo staff (blocking)."""
        from backend_sync.hub.app import create_app

        self.config = HubConfig(
            data_dir=str(self.folder), server=ServerConfig(port=self.port, public_base_url=self.url)
        )
        self.store = HubStore.open(self.config.database_url, pool_size=4)
        self.keys = load_hub_keys(self.config.key_dir)
        record_hub_keys(self.store, self.keys)
        self.mailer = FileMailer(self.folder / "mail")
        notifier = CityNotifier(self.store, self.clock, self.mailer, "wibox-demo@localhost")
        self.app = create_app(self.store, self.config, self.keys, self.clock, mailer=self.mailer, notifier=notifier)
        now = self.clock.now()
        with self.store.write() as conn:
            self.store.add_city(conn, CITY, "Demo City")
            conn.execute(sa.insert(hubdb.city_settings).values(city_id=CITY, dob_factor=False))
            create_admin(conn, PLATFORM_ADMIN[0], PLATFORM_ADMIN[1], role=Role.PLATFORM, city_id=None, now=now)
            create_admin(conn, CITY_ADMIN[0], CITY_ADMIN[1], role=Role.ADMIN, city_id=CITY, now=now)
            for staff_id, pin in STAFF:
                badge = codes.Badge(staff_id, codes.new_token())
                conn.execute(
                    sa.insert(hubdb.staff).values(
                        id=staff_id,
                        city_id=CITY,
                        badge_hash=codes.badge_hash(badge).hex(),
                        pin_verifier=codes.staff_pin_verifier(staff_id, pin),
                        roles="loader,maintenance",
                        active=True,
                        updated_at=now,
                        rev=next_staff_rev(conn, CITY),
                    )
                )
                self.badges[staff_id] = badge.payload
            self.store.audit(conn, CITY, "demo", "demo.seed", CITY, at=now)

    def bind(self) -> socket.socket:
        """The listening socket (port 0 picks a free port, kept for restarts)."""
        sock = listen(self.port)
        self.port = int(sock.getsockname()[1])
        return sock

    async def start(self, sock: socket.socket | None = None) -> None:
        """Serve the hub on 127.0.0.1:``port`` in the running loop (again after ``stop``, on the same port)."""
        self._server = Server(self.app, sock or self.bind(), "hub")
        await self._server.started()

    async def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await server.stop()

    @property
    def serving(self) -> bool:
        return self._server is not None

    def approve(self, code: str) -> None:
        """What a city admin does with the code the kiosk shows: here the demo approves it at once."""
        approve_kiosk(self.store, DEVICE, code, CITY, "demo", self.clock.now())

    def new_order(
        self, n: int, *, size: Size = Size.S, reachable: bool = False, old_id: bool = False, days: float = 7
    ) -> DemoOrder:
        now = self.clock.now()
        ref = f"DEMO-{n:04d}"
        email = f"citizen-{n}@example.org"
        new = NewHubOrder(
            city_id=CITY,
            kiosk_id=DEVICE,
            reference=ref,
            document_kind="id_card",
            size=size,
            valid_from=now,
            valid_until=now + days * 86400,
            reachable=reachable,
            return_old_id=old_id,
            email=email,
        )
        with self.store.write() as conn:
            c = create_order(conn, new, now)
        return DemoOrder(c.id, ref, c.qr_payload, c.pickup_number, c.pin, email, reachable, old_id)

    def command(self, kind: CommandKind, *, on: bool | None = None, compartment: int | None = None) -> str:
        """Queue a remote command for the demo kiosk, as the city admin would from the kiosk's page."""
        with self.store.write() as conn:
            return issue_command(
                conn,
                device_id=DEVICE,
                city_id=CITY,
                kind=kind,
                reason="demo scenario",
                issued_by=CITY_ADMIN[0],
                now=self.clock.now(),
                lifetime_s=600,
                compartment=compartment,
                on=on,
            )

    def command_status(self, cmd_id: str) -> str:
        with self.store.read() as conn:
            row = conn.execute(sa.select(hubdb.commands.c.status).where(hubdb.commands.c.id == cmd_id)).one()
        return str(row.status)

    def order_row(self, order_id: str) -> Any:
        with self.store.read() as conn:
            return conn.execute(sa.select(hubdb.orders).where(hubdb.orders.c.id == order_id)).one()

    def kiosk_row(self) -> Any:
        with self.store.read() as conn:
            return conn.execute(sa.select(hubdb.kiosks).where(hubdb.kiosks.c.device_id == DEVICE)).one()

    def scalars(self, query: Any) -> list[Any]:
        with self.store.read() as conn:
            return list(conn.execute(query).scalars().all())
