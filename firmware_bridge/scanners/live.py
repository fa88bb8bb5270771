"""A live camera's frames decoded within budget: motion test, fallback gate, decoder chain and rate policy."""

from __future__ import annotations

import numpy as np

from firmware_bridge.scanners.chain import Attempt, DecoderChain
from firmware_bridge.scanners.gate import FallbackGate
from firmware_bridge.scanners.motion import MotionDetector
from firmware_bridge.scanners.rate import RateMode, RatePolicy
from firmware_bridge.scanners.variants import to_gray


class LiveDecoder:
    """Decodes one frame after another: the chain's first decoder on every frame, its fallbacks as gated.

    Motion and a candidate nothing could read keep the rate policy active (a code that was read and is held
    still needs no full rate: a new one brings motion); while it is active, the gate lets the fallbacks run on
    probe frames. Used by one thread at a time (the camera's decoder thread).
    """

    def __init__(self, chain: DecoderChain, policy: RatePolicy, gate: FallbackGate, motion: MotionDetector) -> None:
        self.chain = chain
        self.policy = policy
        self._gate = gate
        self._motion = motion

    def decode(self, image: np.ndarray) -> Attempt:
        gray = to_gray(image)
        if self._motion.update(gray):
            self.policy.note_activity()
        attempt = self.chain.attempt(gray, self._gate.fallbacks(self.policy.mode is RateMode.ACTIVE))
        if attempt.result is None and attempt.candidate:  # part of a code: come back soon, at the full rate
            self.policy.note_activity()
        return attempt
