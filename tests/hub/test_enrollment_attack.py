"""Enrollment attacks over real HTTP: someone who reads the code on the kiosk's screen and can send the hub any
number of unauthenticated requests gets no keys but the real kiosk's approved, and cannot block its enrollment."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from backend_sync import protocol as p
from backend_sync.client import SyncClient
from backend_sync.keys import KioskKeys, b64, fingerprint
from backend_sync.service import SyncService
from tests.hub.servers import HubProcess
from tests.hub.test_end_to_end import admin_client, kiosk_station

DEVICE = "hall-7"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    h = HubProcess.create(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}")
    h.start()
    try:
        yield h
    finally:
        h.stop()


class Attacker:
    """Its own key pairs and a plain HTTP client: nothing but the public API."""

    def __init__(self, url: str) -> None:
        self.keys = KioskKeys.generate()
        self.http = httpx.Client(base_url=url, timeout=10)

    def signed(self, path: str, body: p.KioskBody, device: str = DEVICE) -> httpx.Response:
        return self.http.post(path, content=p.sign_kiosk_message(self.keys.signer, device, body, int(time.time())))

    def announce(self, path: str, device: str = DEVICE) -> httpx.Response:
        pub = self.keys.public()
        return self.signed(path, p.KeyAnnounceBody(pub.sign_public, pub.enc_public), device)


def approve(admin: httpx.Client, code: str, device: str = DEVICE) -> httpx.Response:
    """What the admin does with the code the kiosk shows (the platform admin names the city)."""
    return admin.post(f"/admin/api/kiosks/{device}/approve", json={"code": code, "city_id": "wiesbaden"})


def screen_code(shown: list[str]) -> str:
    assert shown, "the kiosk shows no enrollment code"
    return shown[-1]


def test_reading_the_screen_gets_the_attacker_nothing(tmp_path: Path, hub: HubProcess) -> None:
    st = kiosk_station(tmp_path)
    keys = KioskKeys.generate()
    client = SyncClient(hub.url, DEVICE, keys, st.flows, st.store, st.clock)
    shown: list[str] = []
    service = SyncService(client, on_code=shown.append)
    attacker = Attacker(hub.url)
    admin = admin_client(hub)
    try:
        assert service.enroll_step() is False
        code = screen_code(shown)  # what the start screen shows

        # The attacker re-enrolls the same device id with its own keys, many times, and copies the code.
        answers = [attacker.announce("/api/v1/enroll") for _ in range(20)]
        assert {a.status_code for a in answers} == {200}
        assert {a.json()["code"] for a in answers} != {code}  # its request holds a code of its own
        # The old unsigned request, and a request naming the kiosk's keys but signed by the attacker, fail.
        pub = keys.public()
        plain = {"device_id": DEVICE, "sign_public": b64(pub.sign_public), "enc_public": b64(pub.enc_public)}
        assert attacker.http.post("/api/v1/enroll", content=json.dumps(plain)).status_code == 400
        forged = attacker.signed(
            "/api/v1/enroll", p.KeyAnnounceBody(pub.sign_public, attacker.keys.public().enc_public)
        )
        assert forged.status_code == 401

        # The kiosk is still waiting with the same code; asking again gives the same code.
        assert client.poll_enrollment() == "pending"
        assert client.enroll().code == code

        # The admin approves the code the kiosk shows: the kiosk's keys are approved, not the attacker's.
        r = approve(admin, code)
        assert r.status_code == 200, r.text
        assert r.json()["key_fingerprint"] == fingerprint(pub.sign_public)
        assert service.enroll_step() is True
        assert client.sync_once().bundles >= 1

        # The attacker's keys get nothing: no status, no bundle, no events.
        assert attacker.announce("/api/v1/enroll/status").json() == {"status": "unknown"}
        pull = attacker.signed("/api/v1/kiosk/pull", p.PullBody(0, p.GENESIS_HASH))
        assert pull.status_code == 401
        events = attacker.signed("/api/v1/kiosk/events", p.EventsBody(()))
        assert events.status_code == 401

        # Asking for an enrolled id answers like any other request; approving it needs a revocation first.
        again = attacker.announce("/api/v1/enroll")
        assert again.status_code == 200 and again.json()["status"] == "pending"
        r = approve(admin, again.json()["code"])
        assert r.status_code == 409
        assert client.sync_once().bundles == 0  # the real kiosk still syncs

        # A revoked kiosk stays revoked whatever anyone asks.
        assert admin.post(f"/admin/api/kiosks/{DEVICE}/revoke").status_code == 200
        assert attacker.announce("/api/v1/enroll").status_code == 200
        assert attacker.announce("/api/v1/enroll/status").json() == {"status": "pending"}
        refused = attacker.http.post(
            "/api/v1/kiosk/pull",
            content=p.sign_kiosk_message(keys.signer, DEVICE, p.PullBody(0, p.GENESIS_HASH), int(time.time())),
        )
        assert refused.status_code == 403  # the kiosk's own key, revoked
    finally:
        client.close()
        st.database.close()


def test_wrong_codes_are_limited_and_answer_alike(hub: HubProcess) -> None:
    admin = admin_client(hub)
    attacker = Attacker(hub.url)
    real = attacker.announce("/api/v1/enroll").json()["code"]
    wrong = "00000000" if real != "00000000" else "11111111"
    unknown = approve(admin, wrong, "nobody-here")
    pending = approve(admin, wrong)
    assert unknown.status_code == pending.status_code == 403
    assert unknown.json()["kind"] == pending.json()["kind"] == "Forbidden"
    for _ in range(8):
        assert approve(admin, wrong).status_code == 403
    # The admin's tenth wrong code within the hour: from now on even the right code waits.
    limited = approve(admin, real)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) > 0
    assert attacker.announce("/api/v1/enroll/status").json() == {"status": "pending"}


def test_a_dropped_request_is_asked_again(tmp_path: Path, hub: HubProcess) -> None:
    """The kiosk recovers by itself: a request the hub no longer holds is asked again, with a new code."""
    st = kiosk_station(tmp_path)
    client = SyncClient(hub.url, DEVICE, KioskKeys.generate(), st.flows, st.store, st.clock)
    shown: list[str] = []
    service = SyncService(client, on_code=shown.append)
    admin = admin_client(hub)
    try:
        assert service.enroll_step() is False
        first = screen_code(shown)
        other = Attacker(hub.url)
        assert other.announce("/api/v1/enroll").status_code == 200
        r = approve(admin, other.announce("/api/v1/enroll").json()["code"])
        assert r.status_code == 200  # an admin approved the wrong kiosk: this one's request is gone
        assert service.enroll_step() is False and client.poll_enrollment() == "unknown"
        assert service.enroll_step() is False  # asked again
        assert len(shown) == 2 and shown[-1] != first
        assert admin.post(f"/admin/api/kiosks/{DEVICE}/revoke").status_code == 200
        assert approve(admin, shown[-1]).status_code == 200
        assert service.enroll_step() is True
    finally:
        client.close()
        st.database.close()
