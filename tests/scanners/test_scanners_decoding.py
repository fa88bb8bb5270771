"""Decoding generated camera images through the decoder chain and each decoder alone."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from firmware_bridge.scanners.chain import DEFAULT_CHAIN, ChainStep, DecoderChain, Fallbacks, parse_steps
from firmware_bridge.scanners.decoders import Gray, make_decoder
from firmware_bridge.scanners.errors import ScannerConfigError
from firmware_bridge.scanners.variants import TRANSFORMS, Variant
from tests.scanners.scanner_images import (
    Image,
    blurred,
    empty_wall,
    inverted,
    located_not_decoded,
    low_contrast,
    noisy,
    not_located,
    on_canvas,
    phone_screen,
    qr,
    rotated,
    warped,
)

PAYLOAD = "WB1:4F7A2C19-9d3kLmQ2xZ8pT0vR5sNw7Yb"

IMPAIRMENTS: dict[str, Callable[[], Image]] = {
    "plain": lambda: on_canvas(qr(PAYLOAD)),
    "rotated-30": lambda: rotated(on_canvas(qr(PAYLOAD)), 30),
    "rotated-90": lambda: rotated(on_canvas(qr(PAYLOAD)), 90),
    "rotated-180": lambda: rotated(on_canvas(qr(PAYLOAD)), 180),
    "perspective": lambda: warped(on_canvas(qr(PAYLOAD), side=300)),
    "blurred": lambda: blurred(on_canvas(qr(PAYLOAD), side=300), 2.2),
    "noisy": lambda: noisy(on_canvas(qr(PAYLOAD))),
    "low-contrast": lambda: low_contrast(on_canvas(qr(PAYLOAD))),
    "dim-and-noisy": lambda: noisy(low_contrast(on_canvas(qr(PAYLOAD)), 30, 70), 8),
    "inverted": lambda: inverted(on_canvas(qr(PAYLOAD))),
    "phone-glare": lambda: phone_screen(qr(PAYLOAD)),
    "phone-dark-mode": lambda: phone_screen(inverted(qr(PAYLOAD)), glare=0.4),
    "small-far": lambda: on_canvas(qr(PAYLOAD), side=110),
}


@pytest.fixture(scope="module")
def chain() -> DecoderChain:
    return DecoderChain.from_spec(DEFAULT_CHAIN)


@pytest.mark.parametrize("name", sorted(IMPAIRMENTS))
def test_chain_decodes_what_a_camera_sees(chain: DecoderChain, name: str) -> None:
    result = chain.decode(IMPAIRMENTS[name]())
    assert result is not None, f"{name}: not decoded"
    assert result.text == PAYLOAD
    assert result.decoder in {"zxing", "pyzbar"}


def test_chain_accepts_colour_frames(chain: DecoderChain) -> None:
    gray = on_canvas(qr(PAYLOAD))
    result = chain.decode(np.dstack([gray, gray, gray]))
    assert result is not None
    assert (result.text, result.decoder, result.variant) == (PAYLOAD, "zxing", "plain")


def test_chain_returns_none_for_an_empty_frame(chain: DecoderChain) -> None:
    assert chain.decode(np.full((480, 640), 128, dtype=np.uint8)) is None
    assert chain.error_counts() == {}


@pytest.mark.parametrize("decoder", ["zxing", "pyzbar", "opencv"])
def test_each_decoder_reads_a_clean_code(decoder: str) -> None:
    assert make_decoder(decoder).decode(on_canvas(qr(PAYLOAD))) == PAYLOAD


def test_payload_bytes_survive_exactly() -> None:
    text = "WB1:ABC-def_123\r\nline2 :/-"
    assert make_decoder("zxing").decode(on_canvas(qr(text))) == text


def test_pyzbar_retry_reads_what_plain_pyzbar_misses() -> None:
    # Inverted codes: zbar only reads dark-on-light, the invert variant makes it work.
    chain = DecoderChain.from_spec(["pyzbar", "pyzbar:invert"])
    result = chain.decode(inverted(on_canvas(qr(PAYLOAD))))
    assert result is not None
    assert (result.decoder, result.variant) == ("pyzbar", "invert")
    assert chain.hit_counts() == {"pyzbar:invert": 1}


class _Exploding:
    name = "exploding"

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc
        self.calls = 0

    def decode(self, gray: Gray) -> str | None:
        self.calls += 1
        raise self.exc


def test_decoder_exceptions_are_counted_per_decoder_and_the_next_step_runs() -> None:
    bad = _Exploding(UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"))
    chain = DecoderChain([ChainStep(bad, Variant.PLAIN), ChainStep(make_decoder("zxing"), Variant.PLAIN)])
    image = on_canvas(qr(PAYLOAD))
    for _ in range(3):
        result = chain.decode(image)
        assert result is not None
        assert result.text == PAYLOAD
    assert chain.error_counts() == {"exploding": 3}
    assert chain.hit_counts() == {"zxing": 3}
    assert chain.frames == 3


def test_an_exploding_decoder_alone_gives_no_result_and_no_crash() -> None:
    chain = DecoderChain([ChainStep(_Exploding(RuntimeError("cv2.error")), Variant.OTSU)])
    assert chain.decode(on_canvas(qr(PAYLOAD))) is None
    assert chain.error_counts() == {"exploding": 1}


def test_chain_spec_errors_are_clear() -> None:
    with pytest.raises(ScannerConfigError, match="unknown decoder 'zbar'"):
        parse_steps(["zbar"])
    with pytest.raises(ScannerConfigError, match="unknown image variant 'sepia'"):
        parse_steps(["zxing:sepia"])
    with pytest.raises(ScannerConfigError, match="empty"):
        parse_steps([])


def test_chain_shares_one_decoder_object_per_name() -> None:
    steps = parse_steps(["zxing", "pyzbar", "zxing:otsu"])
    assert steps[0].decoder is steps[2].decoder
    assert [s.label for s in steps] == ["zxing", "pyzbar", "zxing:otsu"]


@pytest.mark.parametrize("variant", list(Variant))
def test_every_variant_keeps_a_grayscale_image(variant: Variant) -> None:
    out = TRANSFORMS[variant](on_canvas(qr(PAYLOAD)))
    assert out.dtype == np.uint8
    assert out.ndim == 2


def test_the_fallbacks_run_when_zxing_locates_a_code_it_cannot_decode() -> None:
    image = located_not_decoded(PAYLOAD)
    assert DecoderChain.from_spec(["zxing"]).decode(image) is None  # zxing-cpp alone fails on it
    attempt = DecoderChain.from_spec(DEFAULT_CHAIN).attempt(image, Fallbacks.ON_CANDIDATE)
    assert attempt.candidate is True
    assert attempt.fallbacks_ran is True
    assert attempt.result is not None
    assert (attempt.result.text, attempt.result.decoder, attempt.result.variant) == (PAYLOAD, "zxing", "clahe")


def test_without_a_candidate_the_fallbacks_wait_for_a_probe() -> None:
    image = not_located(PAYLOAD)
    chain = DecoderChain.from_spec(DEFAULT_CHAIN)
    skipped = chain.attempt(image, Fallbacks.ON_CANDIDATE)
    assert (skipped.result, skipped.candidate, skipped.fallbacks_ran) == (None, False, False)
    probed = chain.attempt(image, Fallbacks.ALWAYS)
    assert probed.result is not None
    assert (probed.result.text, probed.result.decoder, probed.result.variant) == (PAYLOAD, "pyzbar", "downscale")


def test_an_empty_frame_runs_the_first_decoder_alone() -> None:
    chain = DecoderChain.from_spec(DEFAULT_CHAIN)
    attempt = chain.attempt(empty_wall(), Fallbacks.ON_CANDIDATE)
    assert (attempt.result, attempt.candidate, attempt.fallbacks_ran) == (None, False, False)
    assert chain.decode(empty_wall()) is None  # every step ran, none found anything
