"""A station with 200 live orders keeps no token, PIN or date of birth in its database files, WAL included."""

from __future__ import annotations

import base64
import datetime as dt
import random
import re
import secrets
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from locker import codes
from locker.errors import WrongCode
from locker.flows import VerifiedPickup
from locker.model import OrderState
from tests.harness import STATEMENT, Station, make_station

N_ORDERS = 200
N_LOADED = 40
SEED = 4711
UNKNOWN_NUMBER = "99999999"
FILES = ("wibox.db", "wibox.db-wal", "wibox.db-shm")

# -- the search ----------------------------------------------------------------------------------------------

_HEX = frozenset(b"0123456789abcdef")
# Random 128- and 256-bit values the station legitimately writes as lowercase hex (outbox event ids are uuid4
# hex, the audit head and handover proofs are SHA-256 hex). Any 6-digit string occurs inside such a value by
# chance: with a few hundred of them in the WAL and 200 PINs that happens in several percent of runs. A digit
# needle found inside a lowercase hex run of at least this length is that coincidence, not a leak.
_RANDOM_HEX_RUN = 32
_STANDALONE_DIGITS = re.compile(rb"(?<![0-9])[0-9]{%d,12}(?![0-9])" % codes.MIN_PIN_LENGTH)


@dataclass
class Secrets:
    """What must never reach the disk: QR/badge tokens, full QR payloads, PINs and dates of birth."""

    tokens: dict[str, bytes] = field(default_factory=dict)  # label -> 16 random bytes
    payloads: dict[str, str] = field(default_factory=dict)
    pins: dict[str, str] = field(default_factory=dict)
    dobs: dict[str, str] = field(default_factory=dict)  # label -> ISO date


def token_forms(token: bytes) -> dict[str, bytes]:
    return {
        "raw": token,
        "base32": base64.b32encode(token).rstrip(b"="),  # as in the QR payload
        "hex": token.hex().encode(),
        "HEX": token.hex().upper().encode(),
        "base64": base64.b64encode(token).rstrip(b"="),
        "base64url": base64.urlsafe_b64encode(token).rstrip(b"="),
    }


def dob_forms(iso: str) -> dict[str, bytes]:
    d = dt.date.fromisoformat(iso)
    return {
        "YYYY-MM-DD": d.strftime("%Y-%m-%d").encode(),
        "DDMMYYYY": d.strftime("%d%m%Y").encode(),
        "DD.MM.YYYY": d.strftime("%d.%m.%Y").encode(),
        "YYYYMMDD": d.strftime("%Y%m%d").encode(),
    }


def _in_random_hex(data: bytes, start: int, end: int) -> bool:
    while start > 0 and data[start - 1] in _HEX:
        start -= 1
    while end < len(data) and data[end] in _HEX:
        end += 1
    return end - start >= _RANDOM_HEX_RUN


def _alphabet_hits(data: bytes, needles: dict[bytes, str]) -> Iterator[tuple[int, bytes, str]]:
    """Every occurrence of every needle, as (position, needle, label); exact, and fast for many needles.

    An occurrence lies inside a maximal run of bytes drawn from the needles' own alphabet, so it is one of
    the fixed-length windows of such a run: scan the runs once instead of the whole file once per needle.
    """
    by_len: dict[int, dict[bytes, str]] = {}
    for needle, label in needles.items():
        by_len.setdefault(len(needle), {})[needle] = label
    alphabet = b"".join(re.escape(bytes([b])) for b in sorted(set(b"".join(needles))))
    for m in re.finditer(b"[" + alphabet + b"]{%d,}" % min(by_len), data):
        run = m.group()
        for length, group in by_len.items():
            for j in range(len(run) - length + 1):
                hit = group.get(run[j : j + length])
                if hit is not None:
                    yield m.start() + j, run[j : j + length], hit


def find_secrets(files: dict[str, bytes], s: Secrets) -> list[str]:
    """Every place a secret occurs in the given file contents, as ``"<file>: <what> of <label> at <pos>"``."""
    kinds: dict[str, dict[bytes, str]] = {}
    for label, token in s.tokens.items():
        for form, value in token_forms(token).items():
            kinds.setdefault(f"token ({form})", {})[value] = label
    kinds["QR payload"] = {p.encode(): label for label, p in s.payloads.items()}
    for label, iso in s.dobs.items():
        for form, value in dob_forms(iso).items():
            kinds.setdefault(f"date of birth ({form})", {})[value] = label
    pins: dict[bytes, list[str]] = {}
    for label, pin in s.pins.items():
        pins.setdefault(pin.encode(), []).append(label)

    found: list[str] = []
    for name, data in files.items():
        for what, needles in kinds.items():
            if not needles:
                continue
            if what == "token (raw)":  # random bytes have no alphabet: plain search
                hits = [(data.find(n), n, label) for n, label in needles.items()]
                hits = [h for h in hits if h[0] >= 0]
            else:
                hits = list(_alphabet_hits(data, needles))
            for i, needle, label in hits:
                if needle.isdigit() and _in_random_hex(data, i, i + len(needle)):
                    continue
                found.append(f"{name}: {what} of {label} at {i}")
        # A PIN counts only as a standalone digit run, (?<![0-9])PIN(?![0-9]): six digits occur all the time
        # inside longer numbers (pickup numbers, timestamps, sequence numbers) without being the PIN. Matching
        # every standalone run of 6-12 digits once and looking it up is the same as one such regex per PIN.
        for m in _STANDALONE_DIGITS.finditer(data):
            for label in pins.get(m.group(), []):
                if not _in_random_hex(data, m.start(), m.end()):
                    found.append(f"{name}: PIN of {label} at {m.start()}")
    return found


def read_files(directory: Path) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in FILES if (directory / name).exists()}


# -- the station -----------------------------------------------------------------------------------------------


@dataclass
class World:
    station: Station
    secrets: Secrets
    open_files: dict[str, bytes]  # read while the connection was open (nothing checkpointed by the test)
    closed_files: dict[str, bytes]  # read after the connection was closed
    collected: int
    pickup_numbers: dict[str, str]  # stored on purpose (not secret): a positive control on the real files


def _random_dobs(rng: random.Random, n: int) -> list[str]:
    first, last = dt.date(1930, 1, 1), dt.date(2008, 12, 31)
    days = rng.sample(range((last - first).days + 1), n)
    return [(first + dt.timedelta(days=d)).isoformat() for d in days]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    rng = random.Random(SEED)
    d = tmp_path_factory.mktemp("no-secrets")
    st = make_station(d, n=N_LOADED + 5, second_factor=True)
    s = Secrets()
    dobs = _random_dobs(rng, N_ORDERS)
    dob_digits = {f for iso in dobs for f in dob_forms(iso).values() if f.isdigit()}
    # Pickup numbers are not secret and are stored; keep them apart from the date-of-birth digit forms
    # and from the unknown number used for a wrong attempt below.
    candidates = (f"{x:08d}" for x in rng.sample(range(10**8), N_ORDERS + 50))
    numbers = [n for n in candidates if n.encode() not in dob_digits and n != UNKNOWN_NUMBER]
    orders = []
    for i in range(N_ORDERS):
        oid = f"NS{i:04d}X"  # no trailing digits: nothing numeric runs on into the pickup number stored next to it
        c = st.announce(oid, dob=dobs[i], pickup_number=numbers[i])
        s.tokens[oid] = codes.parse_qr(c.qr).token
        s.payloads[oid] = c.qr
        s.pins[oid] = c.pin
        s.dobs[oid] = c.dob
        orders.append(c)
    # A staff member with a random PIN: badge token and PIN are secrets too.
    staff_pin = "".join(str(secrets.randbelow(10)) for _ in range(8))
    badge = st.flows.staff.add("NS-STAFF", staff_pin, ("loader",))
    s.tokens["staff badge"] = badge.token
    s.pins["staff PIN"] = staff_pin
    sid = st.flows.staff.open_session(st.flows.staff.authenticate(badge.payload, staff_pin)).id
    for c in orders[:N_LOADED]:
        a = st.flows.loading.scan_label(sid, codes.label_payload(c.order_id))
        st.pump()
        st.bank.put_item(a.compartment)
        st.bank.close(a.compartment)
        st.pump()

    pickup = st.flows.pickup
    for c in orders[:3]:  # QR + date of birth typed on the keypad (DDMMYYYY)
        v = pickup.verify(pickup.scan_qr(c.qr), dob_forms(c.dob)["DDMMYYYY"].decode())
        n = pickup.confirm_receipt(v, STATEMENT)
        st.bank.take_item(n)
        st.bank.close(n)
        st.pump()
    for c in orders[3:6]:  # pickup number + PIN + ISO date of birth
        v = pickup.verify(pickup.enter_manual(c.pickup_number, c.pin), c.dob)
        n = pickup.confirm_receipt(v, STATEMENT)
        st.bank.take_item(n)
        st.bank.close(n)
        st.pump()
    wrong_pin = f"{(int(orders[6].pin) + 1) % 10**6:06d}"
    attempts: list[Callable[[], VerifiedPickup]] = [
        lambda: pickup.verify(pickup.enter_manual(orders[6].pickup_number, wrong_pin), orders[6].dob),
        lambda: pickup.verify(pickup.enter_manual(orders[7].pickup_number, orders[7].pin), orders[8].dob),
        lambda: pickup.verify(pickup.enter_manual(UNKNOWN_NUMBER, orders[9].pin), orders[9].dob),
        lambda: pickup.verify(pickup.scan_qr(orders[10].qr), orders[11].dob),  # right token, wrong birthday
        lambda: pickup.verify(
            pickup.scan_qr(orders[12].qr[:-5] + ("A" if orders[12].qr[-5] != "A" else "B") + orders[12].qr[-4:]),
            orders[12].dob,
        ),
    ]
    for attempt in attempts:
        st.clock.advance(st.config.throttle.max_delay_s)  # each attempt by a visit that is not held up
        with pytest.raises(WrongCode):
            attempt()

    database = st.database

    def count(table: str, where: str = "1") -> int:
        return len(database.query(f"SELECT 1 FROM {table} WHERE {where}"))

    # Every table that could carry a secret has content: orders, staff, audit, outbox, failures.
    # five wrong codes (three manual, two QR with the second factor), each a row for the station and one for the visit
    assert count("orders") == N_ORDERS and count("staff") == 1 and count("failures") == 10
    assert count("outbox", "kind = 'stored'") == N_LOADED and count("outbox", "kind = 'collected'") == 6
    assert count("audit", "event LIKE '%pickup.qr_refused%'") == 2
    assert count("orders", "manual_failures > 0") == 2
    collected = len(st.store.orders([OrderState.COLLECTED]))
    assert collected == 6
    open_files = read_files(d)
    database.close()
    closed_files = read_files(d)
    return World(st, s, open_files, closed_files, collected, {c.order_id: c.pickup_number for c in orders})


def test_wal_holds_the_recent_writes(world: World) -> None:
    """The open-connection snapshot really includes a WAL with frames (so the WAL is searched, not skipped)."""
    wal = world.open_files.get("wibox.db-wal", b"")
    assert len(wal) > 32 + 24 + 4096, "no WAL frames to search"
    assert "wibox.db-shm" in world.open_files


def test_no_secret_in_the_database_files_while_open(world: World) -> None:
    assert find_secrets(world.open_files, world.secrets) == []


def test_no_secret_in_the_database_file_after_close(world: World) -> None:
    assert "wibox.db" in world.closed_files
    assert find_secrets(world.closed_files, world.secrets) == []


def test_search_finds_what_is_stored_in_the_real_files(world: World) -> None:
    """The same search, run over the same bytes, finds every pickup number (stored by design, not secret) when
    told to look for them as if they were PINs: the files are read and decoded for real."""
    as_pins = Secrets(pins=world.pickup_numbers)
    for files in (world.open_files, world.closed_files):
        found = find_secrets(files, as_pins)
        assert {f.split(" of ")[1].split(" at ")[0] for f in found} == set(world.pickup_numbers)
    in_wal = find_secrets({"wibox.db-wal": world.open_files["wibox.db-wal"]}, as_pins)
    assert in_wal, "the WAL holds none of the announced orders"


def test_secrets_cover_every_order(world: World) -> None:
    s = world.secrets
    assert len(s.payloads) == len(s.dobs) == N_ORDERS and len(s.pins) == len(s.tokens) == N_ORDERS + 1
    assert len(set(s.dobs.values())) == N_ORDERS


# -- positive controls: the search finds what is there ----------------------------------------------------


def _control_secrets() -> Secrets:
    return Secrets(
        tokens={"T": bytes.fromhex("00ff10e37a5b9c2d4e6f8091a2b3c4d5")},
        payloads={"T": codes.QrCode("CTRL-0001", bytes.fromhex("00ff10e37a5b9c2d4e6f8091a2b3c4d5")).payload},
        pins={"T": "402913"},
        dobs={"T": "1984-07-09"},
    )


def _control_values(s: Secrets) -> list[tuple[str, bytes | str]]:
    tok = token_forms(s.tokens["T"])
    dob = dob_forms(s.dobs["T"])
    values: list[tuple[str, bytes | str]] = [("token (raw)", tok["raw"])]
    values += [(f"token ({k})", v.decode()) for k, v in tok.items() if k != "raw"]
    values += [("QR payload", s.payloads["T"]), ("PIN", '{"x":"402913"}')]
    values += [(f"date of birth ({k})", v.decode()) for k, v in dob.items()]
    return values


def _scratch(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v)")
    return conn


@pytest.mark.parametrize(("what", "value"), _control_values(_control_secrets()))
def test_search_finds_a_planted_secret_in_the_wal(tmp_path: Path, what: str, value: bytes | str) -> None:
    conn = _scratch(tmp_path / "wibox.db")
    conn.execute("INSERT INTO t (v) VALUES (?)", (value,))
    files = read_files(tmp_path)  # still open: the row is only in the WAL
    found = find_secrets(files, _control_secrets())
    assert any(f.startswith(f"wibox.db-wal: {what} of T") for f in found), found
    conn.close()  # checkpointed into the main file now
    found = find_secrets(read_files(tmp_path), _control_secrets())
    assert any(f.startswith(f"wibox.db: {what} of T") for f in found), found


def test_search_criteria_for_digits(tmp_path: Path) -> None:
    """A PIN inside a longer number, or a digit run inside a uuid-sized hex value, is not a finding; next to
    letters, punctuation or short hex-looking words it is."""
    s = _control_secrets()
    near_misses = ["1402913", "4029130", "0f3c9a2e402913bd7a61c0de5f4e8a90"]
    for v in near_misses:
        assert find_secrets({"x": v.encode()}, s) == [], v
    for v in ["a402913b", "id=402913;", "dead402913beef", "19840709c", "0907198412"]:
        assert find_secrets({"x": v.encode()}, s) != [], v
