"""The decoder chain: decoders and image variants tried in order until one finds a payload."""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from firmware_bridge.scanners.decoders import CandidateDecoder, Decoder, DecodeResult, Gray, Reading, make_decoder
from firmware_bridge.scanners.defaults import DEFAULT_CHAIN
from firmware_bridge.scanners.errors import ScannerConfigError
from firmware_bridge.scanners.variants import TRANSFORMS, Variant, to_gray

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_CHAIN", "Attempt", "ChainStep", "DecoderChain", "Fallbacks", "parse_steps"]


class Fallbacks(enum.Enum):
    """When the steps after the first (the fallbacks) run on an image the first step did not decode."""

    ALWAYS = "always"  # every step in turn (image files, and the camera's probe frames)
    ON_CANDIDATE = "on-candidate"  # only if the first step located a code it could not decode


@dataclass(frozen=True)
class Attempt:
    """One image through the chain: the payload found (if any), and what the first step saw."""

    result: DecodeResult | None
    candidate: bool  # the first step located a code it could not decode
    fallbacks_ran: bool


@dataclass(frozen=True)
class ChainStep:
    """One attempt: a decoder on one variant of the image."""

    decoder: Decoder
    variant: Variant

    @property
    def label(self) -> str:
        return self.decoder.name if self.variant is Variant.PLAIN else f"{self.decoder.name}:{self.variant}"


def parse_steps(spec: Sequence[str], factory: Callable[[str], Decoder] = make_decoder) -> list[ChainStep]:
    """Turn ``["zxing", "pyzbar", "zxing:otsu"]`` into chain steps; one decoder object per name."""
    if not spec:
        raise ScannerConfigError("the decoder chain is empty")
    decoders: dict[str, Decoder] = {}
    steps: list[ChainStep] = []
    for item in spec:
        name, _, variant_name = item.partition(":")
        try:
            variant = Variant(variant_name or Variant.PLAIN.value)
        except ValueError as exc:
            choices = ", ".join(v.value for v in Variant)
            raise ScannerConfigError(f"unknown image variant {variant_name!r} in {item!r} ({choices})") from exc
        if name not in decoders:
            decoders[name] = factory(name)
        steps.append(ChainStep(decoders[name], variant))
    return steps


class DecoderChain:
    """Tries each step in order and returns the first payload; decoder exceptions are counted, never raised.

    Thread-safe: the counters are guarded; decoders are only called from one thread at a time per chain.
    """

    def __init__(self, steps: Sequence[ChainStep]) -> None:
        if not steps:
            raise ScannerConfigError("the decoder chain is empty")
        self._steps = tuple(steps)
        self._lock = threading.Lock()
        self._decode_lock = threading.Lock()
        self._errors: dict[str, int] = {}
        self._hits: dict[str, int] = {}
        self._frames = 0

    @classmethod
    def from_spec(
        cls, spec: Sequence[str] = DEFAULT_CHAIN, factory: Callable[[str], Decoder] = make_decoder
    ) -> DecoderChain:
        return cls(parse_steps(spec, factory))

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(step.label for step in self._steps)

    def decode(self, image: np.ndarray) -> DecodeResult | None:
        """Decode a BGR or grayscale image with every step; None if no step found a payload."""
        return self.attempt(image, Fallbacks.ALWAYS).result

    def attempt(self, image: np.ndarray, fallbacks: Fallbacks) -> Attempt:
        """Run the first step, then the others as ``fallbacks`` says, until one finds a payload."""
        gray = to_gray(image)
        cache: dict[Variant, Gray] = {Variant.PLAIN: gray}
        first, rest = self._steps[0], self._steps[1:]
        with self._decode_lock:
            with self._lock:
                self._frames += 1
            reading = self._attempt(first, self._variant(first, cache))
            if reading.text:
                return Attempt(self._hit(first, reading.text), reading.candidate, fallbacks_ran=False)
            if fallbacks is Fallbacks.ON_CANDIDATE and not reading.candidate:
                return Attempt(None, candidate=False, fallbacks_ran=False)
            for step in rest:
                text = self._attempt(step, self._variant(step, cache)).text
                if text:
                    return Attempt(self._hit(step, text), reading.candidate, fallbacks_ran=True)
        return Attempt(None, reading.candidate, fallbacks_ran=bool(rest))

    @staticmethod
    def _variant(step: ChainStep, cache: dict[Variant, Gray]) -> Gray:
        if step.variant not in cache:
            cache[step.variant] = TRANSFORMS[step.variant](cache[Variant.PLAIN])
        return cache[step.variant]

    def _hit(self, step: ChainStep, text: str) -> DecodeResult:
        with self._lock:
            self._hits[step.label] = self._hits.get(step.label, 0) + 1
        return DecodeResult(text=text, decoder=step.decoder.name, variant=step.variant.value)

    def _attempt(self, step: ChainStep, gray: Gray) -> Reading:
        try:
            if isinstance(step.decoder, CandidateDecoder):
                return step.decoder.read(gray)
            return Reading(step.decoder.decode(gray))
        except Exception as exc:  # noqa: BLE001 - any decoder failure (cv2.error, UnicodeDecodeError, ctypes) is counted
            with self._lock:
                count = self._errors.get(step.decoder.name, 0) + 1
                self._errors[step.decoder.name] = count
            level = logging.WARNING if _is_power_of_ten(count) else logging.DEBUG
            log.log(
                level, "decoder %s failed on a %s image (%d errors so far): %r", step.label, step.variant, count, exc
            )
            return Reading(None)

    def error_counts(self) -> Mapping[str, int]:
        """Exceptions caught per decoder name since start (for health and metrics)."""
        with self._lock:
            return dict(self._errors)

    def hit_counts(self) -> Mapping[str, int]:
        """Payloads found per step label since start."""
        with self._lock:
            return dict(self._hits)

    @property
    def frames(self) -> int:
        with self._lock:
            return self._frames


def _is_power_of_ten(n: int) -> bool:
    while n >= 10 and n % 10 == 0:
        n //= 10
    return n == 1
