"""Citizen notices after the ``stored`` event: e-mail with the QR image and manual code, printable letter, reminders."""

from __future__ import annotations

import base64
import datetime as dt
import io
import logging
import smtplib
import zoneinfo
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any

import qrcode  # type: ignore[import-untyped]
import qrcode.constants  # type: ignore[import-untyped]
import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from backend_sync.hub import tables as hubdb
from backend_sync.hub.city_policy import city_settings, document_policy
from backend_sync.hub.config import SmtpConfig
from backend_sync.hub.db import HubStore
from backend_sync.hub.errors import Conflict, NotFound
from backend_sync.hub.notice_texts import KEYS, RTL, Language, document_name, document_values, text
from backend_sync.hub.ports import Mailer
from backend_sync.hub.smtp import SmtpMailer
from backend_sync.hub.tables import HubOrderState, NoticeKind
from locker.doctypes import DocumentType
from locker.ports import Clock

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates" / "city" / "notices"
REMINDER_BEFORE_S = 2 * 86400
MAX_ATTEMPTS = 12


def qr_png(payload: str) -> bytes:
    """The QR code as a PNG (error correction M, 8 px modules, 4-module quiet zone)."""
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=8, border=4)
    qr.add_data(payload)
    qr.make(fit=True)
    buf = io.BytesIO()
    qr.make_image().save(buf)  # PIL image, PNG by default
    return buf.getvalue()


_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class NoticeData:
    """Everything a notice needs about one order (read in one transaction)."""

    order_id: str
    city_id: str
    state: str
    language: Language
    email: str | None
    postal_address: str | None
    document: str
    kind: str  # the document type (its value), for the grammar of the texts that name it
    station: str
    location: str
    opening_hours: str
    office_contact: str
    until: str
    dob_note: bool
    return_old_id: bool
    pickup_number: str
    qr_payload: str | None
    pin: str | None
    notice_sent_at: float | None


def _date(ts: float, tz: str) -> str:
    return dt.datetime.fromtimestamp(ts, zoneinfo.ZoneInfo(tz)).strftime("%Y-%m-%d")


def load_notice_data(conn: sa.Connection, order_id: str) -> NoticeData:
    o, k, s = hubdb.orders, hubdb.kiosks, hubdb.kiosk_sites
    row = conn.execute(
        sa.select(o, k.c.name.label("kiosk_name"), s.c.location, s.c.opening_hours)
        .join(k, k.c.device_id == o.c.kiosk_id)
        .outerjoin(s, s.c.device_id == o.c.kiosk_id)
        .where(o.c.id == order_id)
    ).first()
    if row is None:
        raise NotFound(f"order {order_id!r} not found")
    settings = city_settings(conn, row.city_id)
    policy = document_policy(conn, row.city_id, DocumentType(row.document_kind))
    tz_row = conn.execute(sa.select(hubdb.city_settings.c.timezone).where(hubdb.city_settings.c.city_id == row.city_id))
    tz = tz_row.scalar() or "Europe/Berlin"
    lang = Language(row.language)
    return NoticeData(
        order_id=row.id,
        city_id=row.city_id,
        state=row.state,
        language=lang,
        email=row.email,
        postal_address=row.postal_address,
        document=document_name(lang, row.document_kind),
        kind=row.document_kind,
        station=row.kiosk_name or row.kiosk_id,
        location=row.location or "",
        opening_hours=row.opening_hours or "24/7",
        office_contact=settings.office_contact,
        until=_date(row.valid_until, tz),
        dob_note=policy.asks_date_of_birth,
        return_old_id=bool(row.return_old_id) and policy.asks_old_document,
        pickup_number=row.pickup_number,
        qr_payload=row.qr_payload_clear,
        pin=row.pin_clear,
        notice_sent_at=row.notice_sent_at,
    )


def _texts(data: NoticeData) -> dict[str, str]:
    values = {**document_values(data.language, data.kind), "station": data.station, "until": data.until}
    return {key.replace(".", "_"): text(data.language, key, **values) for key in KEYS}


def _context(data: NoticeData) -> dict[str, Any]:
    return {
        "t": _texts(data),
        "lang": data.language.value,
        "dir": "rtl" if data.language in RTL else "ltr",
        "order_id": data.order_id,
        "station": data.station,
        "location": data.location,
        "opening_hours": data.opening_hours,
        "office_contact": data.office_contact,
        "dob_note": data.dob_note,
        "return_old_id": data.return_old_id,
        "pickup_number": f"{data.pickup_number[:4]} {data.pickup_number[4:]}",
        "pin": data.pin,
        "postal_address": data.postal_address or "",
    }


def build_notice_email(data: NoticeData, from_address: str) -> EmailMessage:
    """The 'ready for pickup' e-mail: text and HTML with the QR code as an inline PNG (also an attachment)."""
    if data.email is None or data.qr_payload is None or data.pin is None:
        raise Conflict(f"order {data.order_id}: no e-mail address or the codes are gone")
    png = qr_png(data.qr_payload)
    cid = make_msgid(domain="wibox.invalid")
    ctx = _context(data) | {"qr_cid": cid[1:-1]}
    msg = EmailMessage()
    msg["Subject"] = ctx["t"]["subject_ready"]
    msg["From"] = from_address
    msg["To"] = data.email
    msg["Content-Language"] = data.language.value
    msg.set_content(_env.get_template("mail.txt").render(ctx))
    msg.add_alternative(_env.get_template("mail.html").render(ctx), subtype="html")
    html_part = msg.get_body(("html",))
    if not isinstance(html_part, EmailMessage):
        raise TypeError("the HTML part is missing")
    html_part.add_related(png, maintype="image", subtype="png", cid=cid, filename="qr.png")
    return msg


def build_reminder_email(data: NoticeData, from_address: str) -> EmailMessage:
    """The reminder before expiry: no codes (they were deleted), a pointer to the first notice and the office."""
    if data.email is None:
        raise Conflict(f"order {data.order_id}: no e-mail address")
    ctx = _context(data) | {"pin": None}
    msg = EmailMessage()
    msg["Subject"] = ctx["t"]["subject_reminder"]
    msg["From"] = from_address
    msg["To"] = data.email
    msg["Content-Language"] = data.language.value
    msg.set_content(_env.get_template("reminder.txt").render(ctx))
    return msg


def render_letter(data: NoticeData) -> str:
    """The printable letter (HTML with print CSS and the QR as an inline PNG)."""
    if data.qr_payload is None or data.pin is None:
        raise Conflict(f"order {data.order_id}: the letter was already printed; the codes are deleted")
    png = base64.b64encode(qr_png(data.qr_payload)).decode()
    return _env.get_template("letter.html").render(_context(data) | {"qr_png_b64": png})


class CityNotifier:
    """The hub's Notifier: e-mail and/or letter after ``stored``, codes wiped once every channel delivered."""

    def __init__(self, store: HubStore, clock: Clock, mailer: Mailer, from_address: str) -> None:
        self._store = store
        self._clock = clock
        self._mailer = mailer
        self._from = from_address

    # -- the Notifier protocol ------------------------------------------------------------------------
    def notify_stored(self, order_id: str) -> None:
        """Called after the commit of the kiosk's ``stored`` event; anything else is refused."""
        now = self._clock.now()
        with self._store.write() as conn:
            data = load_notice_data(conn, order_id)
            if data.state != HubOrderState.STORED.value:
                raise Conflict(f"order {order_id} is {data.state}: notices go out only after 'stored'")
            existing = conn.execute(
                sa.select(hubdb.notices.c.kind).where(
                    hubdb.notices.c.order_id == order_id,
                    hubdb.notices.c.kind.in_([NoticeKind.NOTICE.value, NoticeKind.LETTER.value]),
                )
            ).all()
            if existing:
                return  # already handled (a repeated call)
            if data.email:
                _new_notice(conn, order_id, NoticeKind.NOTICE, now)
            if data.postal_address:
                _new_notice(conn, order_id, NoticeKind.LETTER, now)
        if data.email:
            self._deliver(order_id, NoticeKind.NOTICE)

    def notify_reissued(self, order_id: str) -> None:
        """A stored order got new codes: a new notice (e-mail and/or letter) with them; one still waiting to go out
        is not doubled (it carries the new codes when it goes)."""
        now = self._clock.now()
        with self._store.write() as conn:
            data = load_notice_data(conn, order_id)
            if data.state != HubOrderState.STORED.value:
                raise Conflict(f"order {order_id} is {data.state}: new codes are told only for a stored order")
            kinds = ([NoticeKind.NOTICE] if data.email else []) + ([NoticeKind.LETTER] if data.postal_address else [])
            for kind in kinds:
                if _open_notice(conn, order_id, kind) is None:
                    _new_notice(conn, order_id, kind, now)
        if data.email:
            self._deliver(order_id, NoticeKind.NOTICE)

    # -- periodic work ----------------------------------------------------------------------------------
    def send_reminders(self, now: float) -> int:
        """Remind citizens (e-mail) whose pickup window ends within two days; returns the reminders sent."""
        o = hubdb.orders
        with self._store.read() as conn:
            due = (
                conn.execute(
                    sa.select(o.c.id).where(
                        o.c.state == HubOrderState.STORED.value,
                        o.c.reminder_sent_at.is_(None),
                        o.c.email.is_not(None),
                        o.c.valid_until > now,
                        o.c.valid_until <= now + REMINDER_BEFORE_S,
                    )
                )
                .scalars()
                .all()
            )
        sent = 0
        for order_id in due:
            with self._store.write() as conn:
                pending = _open_notice(conn, order_id, NoticeKind.REMINDER)
                if pending is None:
                    _new_notice(conn, order_id, NoticeKind.REMINDER, now)
            sent += self._deliver(order_id, NoticeKind.REMINDER)
        return sent

    def retry_failed(self) -> int:
        """Send again every e-mail notice that failed (bounded by MAX_ATTEMPTS); returns how many went out."""
        n = hubdb.notices
        with self._store.read() as conn:
            rows = conn.execute(
                sa.select(n.c.order_id, n.c.kind).where(
                    n.c.sent_at.is_(None), n.c.kind == NoticeKind.NOTICE.value, n.c.attempts < MAX_ATTEMPTS
                )
            ).all()
        return sum(self._deliver(r.order_id, NoticeKind(r.kind)) for r in rows)

    def run_periodic(self) -> tuple[int, int]:
        """What the hub's periodic task calls: retries, then reminders."""
        return self.retry_failed(), self.send_reminders(self._clock.now())

    # -- internals ----------------------------------------------------------------------------------------
    def _deliver(self, order_id: str, kind: NoticeKind) -> int:
        now = self._clock.now()
        with self._store.read() as conn:
            data = load_notice_data(conn, order_id)
        message = (
            build_notice_email(data, self._from)
            if kind is NoticeKind.NOTICE
            else build_reminder_email(data, self._from)
        )
        error: str | None = None
        try:
            self._mailer.send(message)
        except (OSError, smtplib.SMTPException) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("notice %s for order %s not sent (will retry): %s", kind, order_id, error)
        with self._store.write() as conn:
            notice = _open_notice(conn, order_id, kind)
            if notice is None:
                raise Conflict(f"order {order_id}: no open {kind} notice")  # another process delivered it
            conn.execute(
                sa.update(hubdb.notices)
                .where(hubdb.notices.c.id == notice)
                .values(attempts=hubdb.notices.c.attempts + 1, error=error, sent_at=None if error else now)
            )
            if error is None and kind is NoticeKind.NOTICE:
                _wipe_if_done(conn, order_id, now)
            if error is None and kind is NoticeKind.REMINDER:
                conn.execute(sa.update(hubdb.orders).where(hubdb.orders.c.id == order_id).values(reminder_sent_at=now))
        return 0 if error else 1


def mark_letter_printed(conn: sa.Connection, order_id: str, now: float) -> None:
    """An admin confirmed the letter was printed and sent: mark it, and wipe the codes if nothing else waits."""
    notice = _open_notice(conn, order_id, NoticeKind.LETTER)
    if notice is None:
        raise Conflict(f"order {order_id}: no letter is waiting to be printed")
    conn.execute(sa.update(hubdb.notices).where(hubdb.notices.c.id == notice).values(sent_at=now, error=None))
    _wipe_if_done(conn, order_id, now)


def _new_notice(conn: sa.Connection, order_id: str, kind: NoticeKind, now: float) -> None:
    conn.execute(sa.insert(hubdb.notices).values(order_id=order_id, kind=kind.value, attempts=0, created_at=now))


def _open_notice(conn: sa.Connection, order_id: str, kind: NoticeKind) -> int | None:
    n = hubdb.notices
    row = conn.execute(
        sa.select(n.c.id).where(n.c.order_id == order_id, n.c.kind == kind.value, n.c.sent_at.is_(None))
    ).first()
    return None if row is None else int(row.id)


def _wipe_if_done(conn: sa.Connection, order_id: str, now: float) -> None:
    """Delete the clear codes once no notice that needs them is still waiting (e-mail and letter both done)."""
    n = hubdb.notices
    waiting = conn.execute(
        sa.select(n.c.id).where(
            n.c.order_id == order_id,
            n.c.sent_at.is_(None),
            n.c.kind.in_([NoticeKind.NOTICE.value, NoticeKind.LETTER.value]),
        )
    ).first()
    if waiting is None:
        conn.execute(
            sa.update(hubdb.orders)
            .where(hubdb.orders.c.id == order_id)
            .values(qr_payload_clear=None, pin_clear=None, notice_sent_at=now)
        )


def build_notifier(store: HubStore, smtp: SmtpConfig, clock: Clock) -> CityNotifier:
    """The production notifier: SMTP with the hub configuration's settings (pass it to ``create_app``)."""
    return CityNotifier(store, clock, SmtpMailer(smtp), smtp.from_address)
