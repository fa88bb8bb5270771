"""When the camera loop lets the decoder chain's expensive fallbacks run on a frame."""

from __future__ import annotations

from firmware_bridge.scanners.chain import Fallbacks


class FallbackGate:
    """Fallbacks run on a candidate (the chain sees to that); while the scene is active, also on a probe frame.

    Probes: the first frame of an active stretch, then one frame in every ``probe_every``; an idle scene (no
    motion, no code) gets none, so an empty view costs the first decoder alone.
    """

    def __init__(self, probe_every: int) -> None:
        if probe_every < 1:
            raise ValueError("probe_every must be at least 1")
        self._probe_every = probe_every
        self._active_frames = 0

    def fallbacks(self, active: bool) -> Fallbacks:
        if not active:
            self._active_frames = 0
            return Fallbacks.ON_CANDIDATE
        probe = self._active_frames % self._probe_every == 0
        self._active_frames += 1
        return Fallbacks.ALWAYS if probe else Fallbacks.ON_CANDIDATE
