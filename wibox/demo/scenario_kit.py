"""The scenario's tools: failing a step, reading the hub and the notices, decoding codes, a citizen at the door."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage

from locker.model import AlarmKind
from wibox.demo.common import poll
from wibox.demo.compose import DemoSystem
from wibox.demo.hub import DemoOrder

DAY = 86400.0


class StepFailed(Exception):
    """A check of the scenario did not hold."""


def check(condition: object, message: str) -> None:
    if not condition:
        raise StepFailed(message)


@dataclass
class Ctx:
    """What the steps hand on to each other."""

    orders: dict[str, DemoOrder] = field(default_factory=dict)  # by reference
    queued: set[str] = field(default_factory=set)

    def __getitem__(self, reference: str) -> DemoOrder:
        return self.orders[reference]


# -- helpers --------------------------------------------------------------------------------------------------


def sync(s: DemoSystem) -> None:
    """One sync of the station with the hub (pull, push events, checkpoint, heartbeat); it must succeed."""
    ok = s.client.step()
    check(ok, f"sync with the hub failed: {s.client.stats.last_error}")


def hub_state(s: DemoSystem, o: DemoOrder) -> str:
    return str(s.hub.order_row(o.order).state)


def notice(s: DemoSystem, o: DemoOrder) -> EmailMessage:
    mails = s.hub.mailer.sent_to(o.email)
    check(len(mails) == 1, f"{o.reference}: expected one notice e-mail, found {len(mails)}")
    msg = email.message_from_bytes(mails[0].read_bytes(), policy=email.policy.default)
    check(isinstance(msg, EmailMessage), "the notice is not a MIME e-mail")
    assert isinstance(msg, EmailMessage)
    return msg


def notice_qr(msg: EmailMessage) -> bytes:
    pngs = [p.get_content() for p in msg.walk() if p.get_content_type() == "image/png"]
    check(len(pngs) == 1 and isinstance(pngs[0], bytes), "the notice carries no QR image")
    png: bytes = pngs[0]
    return png


def notice_text(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    check(body is not None, "the notice has no text part")
    assert body is not None
    return str(body.get_content())


def decode_png(png: bytes) -> tuple[str, str]:
    """Decode the QR image with the station's own decoder chain (zxing-cpp, then pyzbar)."""
    import cv2
    import numpy as np

    from firmware_bridge.scanners.chain import DecoderChain

    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise StepFailed("the QR image is not a readable PNG")
    result = DecoderChain.from_spec(["zxing", "pyzbar"]).decode(image)
    check(result is not None, "neither zxing-cpp nor pyzbar read the notice's QR code")
    assert result is not None
    return result.text, result.decoder


def manual_code(text: str) -> tuple[str, str]:
    """Pickup number and PIN as the notice prints them (``Abholnummer: 1234 5678`` / ``PIN: 123456``)."""
    number = re.search(r":\s*(\d{4}) (\d{4})\s*$", text, re.MULTILINE)
    pin = re.search(r"^\s*PIN:\s*(\d{6,12})\s*$", text, re.MULTILINE)
    check(number is not None and pin is not None, "the notice shows no pickup number and PIN")
    assert number is not None and pin is not None
    return number.group(1) + number.group(2), pin.group(1)


def pick_up(s: DemoSystem, opener: Callable[..., int], *, old_id: bool = False) -> int:
    """Confirm receipt (the door opens), take the document (leave the old ID card if asked), close the door."""
    n = s.daemon.station.call(opener)
    check(s.hardware.is_open(n) or poll(lambda: s.hardware.is_open(n), 2), f"door {n} did not open")
    s.close_after_opening(n, item=old_id)
    return n


def take_out(s: DemoSystem, number: int) -> None:
    sid = s.staff_session()
    s.daemon.station.call(lambda f: f.staffwork.take_out(sid, number))
    s.close_after_opening(number, item=False)


def alarms(s: DemoSystem, kind: AlarmKind, number: int) -> bool:
    return any(k == kind and c == number for k, c, *_ in s.daemon.store.open_alarms())


# -- the steps ------------------------------------------------------------------------------------------------
