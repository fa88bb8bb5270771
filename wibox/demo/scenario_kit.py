"""The scenario's tools: failing a step, reading the hub and the notices, decoding codes, a citizen at the door."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage

from locker.flows import Flows
from locker.flows.pickup import VerifiedPickup
from locker.model import AlarmKind, CompartmentState
from wibox.demo.common import poll
from wibox.demo.compose import DemoSystem
from wibox.demo.hub import DemoOrder
from wibox.demo.statement import STATEMENT

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


def pick_up(
    s: DemoSystem, verify: Callable[[Flows], VerifiedPickup], *, old_id: bool = False, leave: bool = False
) -> int:
    """A citizen at the screen: the code is verified, receipt confirmed (the door opens), the document taken (or
    left inside, ``leave``), the door closed and, where the board has no item sensor, "taken" said on the screen;
    then, if asked, the old ID card put in through the same door."""
    v = s.daemon.station.call(verify)
    n = s.daemon.station.call(lambda f: f.pickup.confirm_receipt(v, STATEMENT))
    check(s.hardware.is_open(n) or poll(lambda: s.hardware.is_open(n), 2), f"door {n} did not open")
    s.close_after_opening(n, item=leave)
    if leave:
        s.answer(n, lambda f: f.pickup.walked_away(v))  # no sensor: the citizen leaves without answering
        return n
    s.answer(n, lambda f: f.pickup.taken(v))
    if old_id:
        check(poll(lambda: s.daemon.store.compartment(n).state == CompartmentState.FREE, 5), f"{n} is not empty")
        s.daemon.station.call(lambda f: f.pickup.open_for_old_id(v))
        s.close_after_opening(n, item=True)
        s.answer(n, lambda f: f.pickup.old_id_inside(v, True))
    return n


def take_out(s: DemoSystem, number: int) -> None:
    sid = s.staff_session()
    s.daemon.station.call(lambda f: f.staffwork.take_out(sid, number))
    s.close_after_opening(number, item=False)
    s.answer(number, lambda f: None)  # a return's close needs no answer


def alarms(s: DemoSystem, kind: AlarmKind, number: int) -> bool:
    return any(k == kind and c == number for k, c, *_ in s.daemon.store.open_alarms())


# -- the steps ------------------------------------------------------------------------------------------------
