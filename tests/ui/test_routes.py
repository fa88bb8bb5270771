"""Fast route tests without a browser: error mapping, staff auth (401/403), catalogs, health and simulator API."""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

from kiosk_ui.errors import ErrorKind, citizen_error, http_status
from kiosk_ui.i18n import LANGUAGES, Catalogs
from kiosk_ui.speech import spell_secret
from locker import codes
from locker.config import OfficeConfig
from locker.errors import (
    BadInput,
    DoorDidNotOpen,
    FlowError,
    ManualPathLocked,
    NotCollectable,
    SessionError,
    Throttled,
    WrongCode,
)
from tests.ui.rig import Kiosk, build


@pytest.fixture
def kiosk(tmp_path: Path) -> Iterator[Kiosk]:
    k = build(tmp_path)
    yield k
    k.close()


@pytest.fixture
def client(kiosk: Kiosk) -> Iterator[TestClient]:
    with TestClient(kiosk.app, base_url="http://127.0.0.1") as c:
        yield c


def test_catalogs_are_complete_and_translated() -> None:
    assert Catalogs.load().problems() == []


def test_every_keyed_refusal_has_its_catalog_entry() -> None:
    """Each ``LockerError.keyed(...)`` key in the core names an entry of every catalog (checked by problems())."""
    core = Path(__file__).resolve().parents[2] / "locker"
    keys = {k for f in core.rglob("*.py") for k in re.findall(r'\.keyed\(\s*"([a-z_.]+)"', f.read_text())}
    assert len(keys) >= 10
    cats = Catalogs.load()
    for key in sorted(keys):
        assert cats.raw("de", key) != cats.raw("en", key), key


def test_a_missing_or_untranslated_key_is_reported() -> None:
    cats = Catalogs.load()
    cats._catalogs["pl"] = dict(cats._catalogs["pl"])
    del cats._catalogs["pl"]["done.title"]
    cats._catalogs["tr"] = dict(cats._catalogs["tr"], **{"done.body": cats.raw("en", "done.body")})
    assert sorted(cats.problems()) == ["pl: missing done.title", "tr: done.body is not translated"]


def test_domain_errors_map_in_one_table() -> None:
    assert citizen_error(WrongCode("x")) == ErrorKind.WRONG_CODE
    assert citizen_error(ManualPathLocked("x")) == ErrorKind.MANUAL_LOCKED
    assert citizen_error(Throttled(3)) == ErrorKind.THROTTLED
    assert citizen_error(NotCollectable("x")) == ErrorKind.NOT_COLLECTABLE
    assert citizen_error(DoorDidNotOpen(2)) == ErrorKind.DOOR
    assert citizen_error(BadInput("x")) == ErrorKind.BAD_INPUT
    assert [http_status(e) for e in (BadInput("x"), Throttled(1), WrongCode("x"), SessionError("x"))] == [
        400,
        429,
        403,
        403,
    ]
    assert http_status(DoorDidNotOpen(1)) == 503 and http_status(FlowError("x")) == 409


@pytest.mark.parametrize("lang", [lang.code for lang in LANGUAGES])
def test_lang_query_sets_html_lang_and_dir(client: TestClient, lang: str) -> None:
    r = client.get(f"/?lang={lang}")
    assert r.status_code == 200
    d = "rtl" if lang == "ar" else "ltr"
    assert f'<html lang="{lang}" dir="{d}"' in r.text
    for other in LANGUAGES:
        assert f'lang="{other.code}"' in r.text


def test_unknown_language_and_action_are_refused(client: TestClient) -> None:
    assert client.get("/?lang=xx").status_code == 400
    assert client.post("/act", data={"op": "explode:"}).status_code == 400


def test_session_cookie_is_httponly_and_strict(client: TestClient) -> None:
    cookie = client.get("/").headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie


def test_wrong_manual_code_shows_no_hint_and_keeps_no_pin(client: TestClient, kiosk: Kiosk) -> None:
    client.get("/")
    client.post("/act", data={"op": "manual:"})
    for d in "12345678" + "654321":
        client.post("/act", data={"op": f"key:{d}"})
    r = client.post("/act", data={"op": "ok:"})
    assert 'data-screen="error-wrong_code"' in r.text
    assert "654321" not in r.text
    s = kiosk.session()
    assert s.pin == "" and s.pending is None


def _manual(client: TestClient, number: str, pin: str) -> str:
    """Type a code: from the start screen, or "try again" on an error screen (the same visit)."""
    client.post("/act", data={"op": "manual:"})
    for d in number + pin:
        client.post("/act", data={"op": f"key:{d}"})
    text: str = client.post("/act", data={"op": "ok:"}).text
    return text


OFFICE = OfficeConfig("Bürgerbüro Mitte", "Rathausplatz 1, 65183 Wiesbaden", "Mo bis Fr 8 bis 12 Uhr", "0611 31-0")


def test_tries_left_tell_nothing_about_the_number_and_a_lock_sends_to_the_office(tmp_path: Path) -> None:
    k = build(tmp_path, office=OFFICE)
    try:
        c = k.station.announce("ORDER-TRY1", pickup_number="12345678")
        k.station.load(k.station.staff_session(), c)
        with TestClient(k.app, base_url="http://127.0.0.1") as client:
            client.get("/")
            wrong = f"{(int(c.pin) + 1) % 10**6:06d}"
            existing = _manual(client, c.pickup_number, wrong)
            client.post("/act", data={"op": "cancel:"})  # a new visit
            unknown = _manual(client, "87654321", wrong)
            tries = "Sie haben noch höchstens 4 Versuche"
            assert tries in existing and tries in unknown  # the same for a number that exists and one that does not
            assert 'value="manual:"' in existing and "Bürgerbüro Mitte" not in existing
            again = _manual(client, "87654321", wrong)  # the same visit: one try fewer
            assert "höchstens 3 Versuche" in again
            # wrong PINs of earlier visits have locked this order's manual path
            with k.station.lock, k.station.store.change("test") as tx:
                tx.set_order(tx.order(c.order_id), why="test", manual_failures=5)
            client.post("/act", data={"op": "cancel:"})
            locked = _manual(client, c.pickup_number, c.pin)
            assert 'data-screen="error-manual_locked"' in locked
            assert 'value="manual:"' not in locked  # no "try again" that cannot help; back to start (the QR code)
            for line in ("Ihr Bürgerbüro: Bürgerbüro Mitte", "Rathausplatz 1", "Mo bis Fr 8 bis 12 Uhr", "0611 31-0"):
                assert line in locked, line
            spoken = client.get("/speech.txt").text
            assert "Öffnungszeiten: Mo bis Fr 8 bis 12 Uhr" in spoken and "Telefon: 0611 31-0" in spoken
    finally:
        k.close()


def test_speech_spells_the_pin_as_stars(client: TestClient) -> None:
    client.get("/?lang=en")
    client.post("/act", data={"op": "manual:"})
    for d in "12345678" + "97":
        client.post("/act", data={"op": f"key:{d}"})
    text = client.get("/speech.txt").text
    assert "1 2 3 4 5 6 7 8" in text and "star, star" in text and "97" not in text and "9" not in text
    assert spell_secret(0, "star", "empty") == "empty"
    wav = client.get("/speech.wav")
    assert wav.status_code == 200 and wav.content[:4] == b"RIFF"


def test_staff_routes_need_a_session(client: TestClient, kiosk: Kiosk) -> None:
    assert client.get("/staff/api/state").status_code == 401
    assert client.post("/staff/act", data={"op": "go:load"}).status_code == 401
    assert client.get("/staff").status_code == 401
    r = client.post("/staff/login", data={"badge": "WIBOXS1:NOBODY-1:" + "A" * 26, "pin": "123456"})
    assert r.status_code == 401


def test_staff_four_eyes_is_403_until_the_second_person(tmp_path: Path) -> None:
    k = build(tmp_path, four_eyes_loading=True)
    anna = k.station.add_staff("ANNA-01", "246810", ("loader",))
    ben = k.station.add_staff("BEN-02", "246810", ("loader",))
    c = k.station.announce("ORDER-R1")
    label = codes.label_payload(c.order_id)
    with TestClient(k.app, base_url="http://127.0.0.1") as client:
        r = client.post("/staff/login", data={"badge": anna.payload, "pin": "246810"}, follow_redirects=False)
        assert r.status_code == 303 and "HttpOnly" in r.headers["set-cookie"]
        assert "samesite=strict" in r.headers["set-cookie"].lower()
        assert client.get("/staff/api/state").json()["four_eyes_missing"] is True
        refused = client.post("/staff/act", data={"op": "label:", "label": label})
        assert refused.status_code == 403  # and said in the screen's language (German), not the English message
        assert "(Vier-Augen-Prinzip)" in refused.text and "four-eyes rule" not in refused.text
        client.post("/staff/login", data={"badge": ben.payload, "pin": "246810"})
        assert client.get("/staff/api/state").json()["staff"] == ["ANNA-01", "BEN-02"]
        assert client.post("/staff/act", data={"op": "label:", "label": label}).status_code == 200
    k.close()


def test_a_refusal_is_said_in_the_staff_screens_language(tmp_path: Path) -> None:
    k = build(tmp_path)
    anna = k.station.add_staff("ANNA-01", "246810", ("loader", "maintenance"))
    with TestClient(k.app, base_url="http://127.0.0.1") as client:
        client.post("/staff/login", data={"badge": anna.payload, "pin": "246810"})
        r = client.post("/staff/act", data={"op": "disable:1", "reason": "x"})
        assert r.status_code == 400, r.text
        assert "Bitte einen Grund angeben (3 bis 200 Zeichen)." in r.text
        assert "give a reason" not in r.text
    k.close()


def test_staff_pick_a_reason_instead_of_typing_one(tmp_path: Path) -> None:
    k = build(tmp_path)
    anna = k.station.add_staff("ANNA-01", "246810", ("loader", "maintenance"))
    with TestClient(k.app, base_url="http://127.0.0.1", follow_redirects=False) as client:
        client.post("/staff/login", data={"badge": anna.payload, "pin": "246810"})
        assert client.post("/staff/act", data={"op": "lang:tr"}).status_code == 303
        r = client.post("/staff/act", data={"op": "disable:1", "reason_pick": "staff.why.lock", "reason": ""})
        assert r.status_code == 303, r.text
        r = client.post("/staff/act", data={"op": "disable:2", "reason_pick": "staff.why.door", "reason": "hinge"})
        assert r.status_code == 303, r.text
        bad = client.post("/staff/act", data={"op": "disable:3", "reason_pick": "staff.nope", "reason": "x"})
        assert bad.status_code == 400
    said = Catalogs.load()
    assert k.station.store.compartment(1).reason == said.text("tr", "staff.why.lock")  # the staff screen's language
    assert k.station.store.compartment(2).reason == said.text("tr", "staff.why.door") + ": hinge"
    assert k.station.store.compartment(3).state.value == "free"
    k.close()


def test_heartbeat_is_recorded_and_exposed(client: TestClient, kiosk: Kiosk) -> None:
    before = client.get("/healthz").json()
    assert before["heartbeat_last_seen"] is None and before["page_heartbeat_age_s"] is None
    assert before["uptime_s"] >= 0
    sent = time.monotonic()
    client.post("/api/heartbeat")
    h = client.get("/healthz").json()
    asked = time.monotonic() - sent
    assert h["ok"] and h["heartbeat_last_seen"] == kiosk.station.clock.now() and h["heartbeat_age_s"] == 0
    # the contract of systemd/wibox-kiosk-watch.py: the age counts from this beat (it cannot be older than the time
    # since the test sent it, rounded to ms)
    assert 0 <= h["page_heartbeat_age_s"] <= round(asked, 3) + 0.001
    assert kiosk.ui.heartbeat.count == 1


def test_heartbeat_carries_the_page_size_and_health_says_whether_it_fills_the_screen(client: TestClient) -> None:
    assert client.get("/healthz").json()["page_fills_screen"] is None  # no beat yet
    client.post("/api/heartbeat", json={"viewport": [532, 128], "screen": [1280, 720]})
    h = client.get("/healthz").json()
    assert h["page_viewport"] == [532, 128] and h["page_screen"] == [1280, 720] and h["page_fills_screen"] is False
    client.post("/api/heartbeat")  # a beat without sizes keeps the last ones
    assert client.get("/healthz").json()["page_viewport"] == [532, 128]
    client.post("/api/heartbeat", json={"viewport": [1280, 720], "screen": [1280, 720]})
    assert client.get("/healthz").json()["page_fills_screen"] is True


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"viewport": [1280, 720]}, "together"),
        ({"viewport": [1280], "screen": [1280, 720]}, "viewport: expected [width, height]"),
        ({"viewport": [1280, 720], "screen": ["1280", 720]}, "screen: expected [width, height]"),
        ({"viewport": [1280.5, 720], "screen": [1280, 720]}, "viewport: expected"),
        ({"viewport": [True, 720], "screen": [1280, 720]}, "viewport: expected"),
        ({"viewport": [-1, 720], "screen": [1280, 720]}, "viewport: expected"),
    ],
)
def test_heartbeat_refuses_a_malformed_size_and_changes_nothing(
    client: TestClient, kiosk: Kiosk, body: dict[str, object], message: str
) -> None:
    r = client.post("/api/heartbeat", json=body)
    assert r.status_code == 400 and message in r.json()["detail"]
    assert kiosk.ui.heartbeat.count == 0 and kiosk.ui.heartbeat.viewport is None


def test_sim_api(client: TestClient, kiosk: Kiosk) -> None:
    state = client.get("/sim/api/state").json()["compartments"]
    assert [c["number"] for c in state] == [1, 2, 3, 4, 5, 6]
    assert set(state[0]) == {
        "number",
        "door_open",
        "item",
        "lock_energised",
        "jammed",
        "compartment_state",
        "order_state",
    }
    assert client.post("/sim/api/doors/99/close").status_code == 404
    assert client.post("/sim/api/doors/1/item", json={"present": "yes"}).status_code == 400
    assert client.post("/sim/api/doors/1/item", json={"present": True}).status_code == 200
    assert kiosk.station.bank.has_item(1)
    assert client.post("/sim/api/scan", json={}).status_code == 400


def test_headset_plug_switches_speech_on(client: TestClient, kiosk: Kiosk) -> None:
    client.get("/")
    assert client.post("/api/headset", json={"plugged": True}).json() == {"speech": True}
    assert kiosk.session().speech is True


def test_the_headset_jacks_switch_events_turn_speech_on_and_off_for_the_screen(
    client: TestClient, kiosk: Kiosk
) -> None:
    """Switch events as the kernel writes them, read by the real watch, through the scan hub to the screen."""
    from firmware_bridge.headset import HeadsetWatch
    from firmware_bridge.linux_input.codes import EV_SW, SW_HEADPHONE_INSERT
    from locker.clock import SystemClock
    from tests.scanners.test_headset import Jack

    client.get("/")
    jack = Jack(plugged_at_open=False)
    watch = HeadsetWatch("/dev/input/jack", kiosk.hub, SystemClock(), device_factory=jack.open, query=lambda _d: False)
    watch.start()
    try:
        deadline = time.monotonic() + 10
        while watch.plugged is None and time.monotonic() < deadline:  # opened and its state at open told
            time.sleep(0.01)
        for plugged in (True, False, True):
            jack.send((EV_SW, SW_HEADPHONE_INSERT, int(plugged)))
            deadline = time.monotonic() + 10
            while kiosk.session().speech is not plugged and time.monotonic() < deadline:
                time.sleep(0.01)
            assert kiosk.session().speech is plugged
    finally:
        watch.stop()
        jack.close()


def test_no_sim_routes_without_a_sim(tmp_path: Path) -> None:
    from firmware_bridge.scanners.hub import ScanHub
    from kiosk_ui.app import create_app

    k = build(tmp_path)
    app = create_app(k.station.flows, scan_hub=ScanHub(), sim=None, config=k.station.config, clock=k.station.clock)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert client.get("/sim/api/state").status_code == 404
    k.close()


def test_out_of_service_when_every_compartment_is_disabled(client: TestClient, kiosk: Kiosk) -> None:
    sid = kiosk.station.staff_session()
    with kiosk.station.lock:
        for c in kiosk.station.config.compartments:
            kiosk.station.flows.staffwork.disable(sid, c.number, "test disable")
    assert 'data-screen="out_of_service"' in client.get("/").text


def test_remote_commands_reach_the_screen(client: TestClient, kiosk: Kiosk) -> None:
    """backend_sync.client.UiControl: maintenance mode shows "out of service"; reload makes pages load again."""
    assert client.get("/healthz").json()["out_of_service"] is False
    kiosk.ui.maintenance_mode(True)
    assert client.get("/healthz").json()["out_of_service"] is True
    assert 'data-screen="out_of_service"' in client.get("/").text
    kiosk.ui.maintenance_mode(False)
    assert client.get("/healthz").json()["out_of_service"] is False
    before = kiosk.ui.reload_epoch
    kiosk.ui.reload()
    assert kiosk.ui.reload_epoch == before + 1


def test_camera_out_of_order_keeps_the_manual_path(client: TestClient, kiosk: Kiosk) -> None:
    """A failed camera (reported by the scanners to the flows) shows a notice; the keypad entry stays offered."""
    page = client.get("/?lang=de").text
    assert "Der Scanner ist außer Betrieb" not in page
    kiosk.station.flows.health.report("camera", False, "unplugged")
    page = client.get("/?lang=de").text
    assert "Der Scanner ist außer Betrieb. Bitte geben Sie Abholnummer und PIN ein." in page
    assert "Abholnummer und PIN eingeben" in page  # the button to the keypad
    assert 'data-screen="start"' in page  # not out of service: pickups by manual code go on
    kiosk.station.flows.health.report("camera", True)
    assert "Der Scanner ist außer Betrieb" not in client.get("/?lang=de").text


def test_enrollment_code_shown_until_approved(client: TestClient, kiosk: Kiosk) -> None:
    """The kiosk shows the one-time code an admin enters at the hub; it goes away once the hub approved it."""
    assert "Code für die Verwaltung" not in client.get("/?lang=de").text
    kiosk.ui.station.enrollment_code = "1234 5678"
    page = client.get("/?lang=de").text
    assert "Code für die Verwaltung: 1234 5678" in page
    assert "1234 5678" in client.get("/?lang=ar").text
    kiosk.ui.station.enrollment_code = None
    assert "1234 5678" not in client.get("/?lang=de").text
