"""Code formats and verifiers."""

from __future__ import annotations

import pytest

from locker import codes
from locker.errors import BadInput


def test_qr_roundtrip_and_token_size() -> None:
    issued = codes.issue_codes("ORD-1234", "12345678")
    assert len(issued.qr.token) == 16
    parsed = codes.parse_qr(issued.qr.payload)
    assert parsed == issued.qr
    assert codes.check_qr("ORD-1234", parsed.token, "", issued.qr_verifier)
    assert not codes.check_qr("ORD-1234", bytes(16), "", issued.qr_verifier)
    assert not codes.check_qr("ORD-1235", parsed.token, "", issued.qr_verifier)


def test_non_canonical_token_spelling_refused() -> None:
    issued = codes.issue_codes("ORD-1234", "12345678")
    payload = issued.qr.payload
    # The 26th base32 character carries 3 token bits and 2 unused bits: setting an unused bit must not be a
    # second spelling of the same token.
    last = payload[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    twin = alphabet[alphabet.index(last) ^ 1]
    with pytest.raises(BadInput):
        codes.parse_qr(payload[:-1] + twin)
    assert codes.parse_qr(payload) == issued.qr


@pytest.mark.parametrize(
    "text",
    [
        "",
        "WIBOX1",
        "WIBOX1:ORD-1234",
        "WIBOX2:ORD-1234:" + "A" * 26,
        "WIBOX1:ord-1234:" + "A" * 26,
        "WIBOX1:ORD-1234:" + "A" * 25,
        "WIBOX1:ORD-1234:" + "1" * 26,
        "https://example.org",
        "\x00\xff",
    ],
)
def test_malformed_qr(text: str) -> None:
    with pytest.raises(BadInput):
        codes.parse_qr(text)


def test_pin_verifier_with_and_without_dob() -> None:
    v = codes.pin_verifier("ORD-1", "123456")
    assert codes.verifier_strength_ok(v)
    assert codes.check_pin("ORD-1", "123456", "", v)
    assert not codes.check_pin("ORD-1", "123457", "", v)
    assert not codes.check_pin("ORD-2", "123456", "", v)  # bound to the order
    v2 = codes.pin_verifier("ORD-1", "123456", "1990-05-17")
    assert codes.check_pin("ORD-1", "123456", "1990-05-17", v2)
    assert not codes.check_pin("ORD-1", "123456", "1990-05-18", v2)
    assert not codes.check_pin("ORD-1", "123456", "", v2)


def test_weak_verifier_refused() -> None:
    weak = "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$" + "A" * 43
    assert not codes.verifier_strength_ok(weak)
    assert not codes.check_pin("ORD-1", "123456", "", weak)


def test_pin_and_number_formats() -> None:
    assert codes.normalize_pickup_number("1234 5678") == "12345678"
    for bad in ("1234567", "123456789", "1234567a", "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18"):
        with pytest.raises(BadInput):
            codes.normalize_pickup_number(bad)
    assert codes.normalize_pin("000000", 6) == "000000"
    for bad_pin in ("12345", "1234567", "12345a", "\u0661\u0662\u0663\u0664\u0665\u0666"):
        with pytest.raises(BadInput):
            codes.normalize_pin(bad_pin, 6)
    with pytest.raises(BadInput):
        codes.new_pin(5)
    assert len(codes.new_pin(8)) == 8


def test_dob_forms() -> None:
    assert codes.normalize_dob("17051990") == "1990-05-17"
    assert codes.normalize_dob("1990-05-17") == "1990-05-17"
    for bad in ("31021990", "1990-13-01", "17.05.1990", "01011800", "01019999"):
        with pytest.raises(BadInput):
            codes.normalize_dob(bad)


def test_label_and_badge() -> None:
    assert codes.parse_label(codes.label_payload("ORD-9")) == "ORD-9"
    with pytest.raises(BadInput):
        codes.parse_label("WIBOX1:ORD-9")
    b = codes.Badge("ANNA-01", codes.new_token())
    assert codes.parse_badge(b.payload) == b
    with pytest.raises(BadInput):
        codes.parse_badge("WIBOXS1:ANNA-01")
