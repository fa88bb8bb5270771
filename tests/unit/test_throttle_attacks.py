"""Attacks on the station's codes, on a manual clock: one person at the screen keeps the manual path available to
the others, the codes stay unguessable within a year, second factors are counted per order on every path, and a
fake staff badge slows down only itself (security.md, "Throttle")."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from locker import codes, throttle
from locker.config import ThrottleConfig
from locker.errors import SecondFactorLocked, Throttled, WrongCode
from locker.model import AlarmKind
from tests.harness import STATEMENT, Station, make_station

LIVE_CODES = 200
PICKUP_NUMBERS = 10**8
PINS = 10**6
YEAR_H = 24 * 365


def open_alarms(st: Station) -> set[tuple[AlarmKind, int | None]]:
    return {(k, c) for k, c, _b, _t in st.store.open_alarms()}


def failures_table() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE failures (id INTEGER PRIMARY KEY, scope TEXT NOT NULL, at REAL NOT NULL)")
    conn.execute("CREATE INDEX failures_scope_at ON failures(scope, at)")
    return conn


def test_one_attacker_at_the_screen_leaves_the_manual_path_to_the_others() -> None:
    """One wrong entry every 3 s for 4 h, starting a new visit whenever its own is slowed down: a citizen who
    arrives at any moment can try at once at least 90 % of the time (here: always)."""
    cfg, conn = ThrottleConfig(), failures_table()
    t, visit, free, samples = 0.0, 0, 0, 0
    while t < 4 * 3600:
        if throttle.state(conn, throttle.SCOPE_MANUAL, f"attacker-{visit}", t, cfg).wait_s > 0:
            visit += 1  # cancel: back to the start screen, a new visit
        throttle.record_failure(conn, throttle.SCOPE_MANUAL, f"attacker-{visit}", t, cfg)
        if int(t) % 30 == 0:  # a citizen arriving now, with a visit of their own
            samples += 1
            free += throttle.state(conn, throttle.SCOPE_MANUAL, f"citizen-{t}", t, cfg).wait_s == 0
        t += 3.0
    assert samples >= 400 and free / samples >= 0.9


def test_the_fastest_attacker_cannot_guess_a_live_code_within_a_year() -> None:
    """An attacker who tries whenever the throttle lets any identity try (a new visit for every entry, 10 entries
    per second otherwise) is held to the device budget; at that rate a year of guessing finds one of 200 live
    codes with a chance of at most 1e-4."""
    cfg, conn = ThrottleConfig(), failures_table()
    t, tries, visit = 0.0, 0, 0
    hours = 2
    while t < hours * 3600:
        wait = throttle.state(conn, throttle.SCOPE_MANUAL, f"v{visit}", t, cfg).wait_s
        if wait > 0:
            t += wait
            continue
        throttle.record_failure(conn, throttle.SCOPE_MANUAL, f"v{visit}", t, cfg)
        tries += 1
        visit += 1
        t += 0.1
    per_hour = tries / hours
    assert per_hour <= cfg.device_budget_per_hour + 1
    chance = per_hour * YEAR_H * LIVE_CODES / (PICKUP_NUMBERS * PINS)
    assert chance <= 1e-4, chance  # 2400/h: 2.1e7 tries a year, chance 4.2e-5


@pytest.fixture
def dob_station(tmp_path: Path) -> Station:
    return make_station(tmp_path, second_factor=True)


def test_a_stolen_qr_letter_does_not_reveal_the_date_of_birth(dob_station: Station) -> None:
    st = dob_station
    c = st.announce("ORD-0001", dob="1990-05-17")
    n = st.load(st.staff_session(), c)
    max_failures = st.config.policy.manual_max_failures
    day = dt.date(1990, 1, 1)
    refused = 0
    for visit in range(40):  # a new visit each time: the order's own counter still stops the guessing
        guess = (day + dt.timedelta(days=visit)).strftime("%d%m%Y")
        try:
            st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr), guess, identity=f"thief-{visit}")
        except WrongCode:
            refused += 1
        except SecondFactorLocked:
            break
        except Throttled as exc:
            st.clock.advance(exc.wait_s)
    assert refused == max_failures
    with pytest.raises(SecondFactorLocked):  # even the right date of birth now
        st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr), "17051990", identity="thief-x")
    assert st.bank.pulses(n) == 1  # only the loading: the door never opened
    order = st.store.order(c.order_id)
    assert order is not None and order.factor_failures == max_failures and not order.code_used
    # Staff reset the order's counters (the citizen came to the counter with an ID); the QR code works again.
    st.flows.staffwork.reset_manual_path(st.staff_session(), c.order_id)
    v = st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr), "17051990", identity="citizen")
    assert st.flows.pickup.confirm_receipt(v, STATEMENT) == n


def test_wrong_second_factors_are_throttled_and_raise_the_alarm(dob_station: Station) -> None:
    st = dob_station
    orders = [st.announce(f"ORD-{i:04d}", dob="1990-05-17") for i in range(4)]
    sid = st.staff_session()
    for c in orders:
        st.load(sid, c)
    cfg = st.config.throttle
    waits = 0
    for i in range(cfg.alarm_failures):
        c = orders[i % len(orders)]
        try:
            st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr), "01011980", identity="same-visit")
        except WrongCode:
            pass
        except Throttled as exc:
            waits += 1
            st.clock.advance(exc.wait_s)
            with pytest.raises(WrongCode):
                st.flows.pickup.verify(st.flows.pickup.scan_qr(c.qr), "01011980", identity="same-visit")
    assert waits > 0  # the same visit is slowed down on the QR path too
    assert (AlarmKind.BRUTE_FORCE, None) in open_alarms(st)


def test_a_fake_staff_badge_slows_down_only_itself(tmp_path: Path) -> None:
    st = make_station(tmp_path)
    badge = st.add_staff("ANNA-01", "246810", ("loader",))
    fake = codes.Badge("MALLORY-1", bytes(16)).payload  # printed: the format is public, the token is made up
    failures = 0
    while failures < st.config.throttle.alarm_failures:
        try:
            st.flows.staff.authenticate(fake, "000000")
        except WrongCode:
            failures += 1
        except Throttled as exc:
            st.clock.advance(exc.wait_s)
    with pytest.raises(Throttled):
        st.flows.staff.authenticate(fake, "000000")
    assert st.flows.staff.authenticate(badge.payload, "246810") == "ANNA-01"  # the real badge is not held up
    assert (AlarmKind.STAFF_BRUTE_FORCE, None) in open_alarms(st)
