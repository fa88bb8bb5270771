"""The camera loop's budget: rate policy, fallback gate, motion test and the live decoder on generated frames."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from firmware_bridge.scanners.chain import DEFAULT_CHAIN, DecoderChain, Fallbacks
from firmware_bridge.scanners.gate import FallbackGate
from firmware_bridge.scanners.live import LiveDecoder
from firmware_bridge.scanners.motion import MotionDetector
from firmware_bridge.scanners.rate import RateMode, RatePolicy
from tests.scanners.scanner_images import Image, blurred, empty_wall, located_not_decoded, not_located, on_canvas, qr
from tests.scanners.test_scanners_decoding import IMPAIRMENTS, PAYLOAD


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _mode(policy: RatePolicy) -> RateMode:
    """The policy's mode read afresh (a function call: the type checker keeps no narrowed value of it)."""
    return policy.mode


def _live(clock: FakeClock, probe_every: int = 10, hold_s: float = 3.0) -> LiveDecoder:
    policy = RatePolicy(full_fps=30, idle_fps=5, hold_s=hold_s, now=clock)
    return LiveDecoder(DecoderChain.from_spec(DEFAULT_CHAIN), policy, FallbackGate(probe_every), MotionDetector())


# -- rate policy ------------------------------------------------------------------------------------------------


def test_the_rate_policy_is_idle_until_activity_and_falls_back_after_the_hold_time() -> None:
    clock = FakeClock()
    policy = RatePolicy(full_fps=30, idle_fps=5, hold_s=3.0, now=clock)
    assert _mode(policy) is RateMode.IDLE
    assert policy.period == pytest.approx(1 / 5)
    policy.note_activity()
    assert _mode(policy) is RateMode.ACTIVE
    assert policy.period == pytest.approx(1 / 30)
    clock.t += 2.9
    assert _mode(policy) is RateMode.ACTIVE
    policy.note_activity()  # renewed: the hold counts from the latest activity
    clock.t += 2.9
    assert _mode(policy) is RateMode.ACTIVE
    clock.t += 0.1
    assert _mode(policy) is RateMode.IDLE
    assert policy.period == pytest.approx(1 / 5)


def test_an_idle_rate_above_the_full_rate_is_capped_at_the_full_rate() -> None:
    policy = RatePolicy(full_fps=2, idle_fps=5, hold_s=1.0, now=FakeClock())
    assert policy.period == pytest.approx(1 / 2)


@pytest.mark.parametrize(("full", "idle", "hold"), [(0, 5, 1), (30, 0, 1), (30, 5, -1)])
def test_the_rate_policy_refuses_impossible_settings(full: float, idle: float, hold: float) -> None:
    with pytest.raises(ValueError):
        RatePolicy(full_fps=full, idle_fps=idle, hold_s=hold, now=FakeClock())


# -- fallback gate ----------------------------------------------------------------------------------------------


def test_the_gate_probes_the_first_active_frame_then_one_in_n_and_never_while_idle() -> None:
    gate = FallbackGate(probe_every=3)
    idle = [gate.fallbacks(active=False) for _ in range(5)]
    assert idle == [Fallbacks.ON_CANDIDATE] * 5
    active = [gate.fallbacks(active=True) for _ in range(7)]
    always, cand = Fallbacks.ALWAYS, Fallbacks.ON_CANDIDATE
    assert active == [always, cand, cand, always, cand, cand, always]
    gate.fallbacks(active=False)  # a new active stretch starts with a probe again
    assert gate.fallbacks(active=True) is always


def test_the_gate_refuses_a_zero_probe_interval() -> None:
    with pytest.raises(ValueError):
        FallbackGate(probe_every=0)


# -- motion -----------------------------------------------------------------------------------------------------


def test_sensor_noise_is_no_motion_but_a_code_held_up_is() -> None:
    detector = MotionDetector()
    assert detector.update(empty_wall(0)) is True  # the first frame: nothing to compare with
    assert [detector.update(empty_wall(seed)) for seed in range(1, 20)] == [False] * 19
    assert detector.update(on_canvas(qr(PAYLOAD), side=140, bg=150)) is True
    assert detector.update(on_canvas(qr(PAYLOAD), side=140, bg=150)) is False  # held still


def test_the_motion_detector_refuses_impossible_thresholds() -> None:
    with pytest.raises(ValueError):
        MotionDetector(cell_delta=0)


# -- the live decoder: what the camera loop runs per frame ------------------------------------------------------


def test_an_empty_scene_goes_idle_and_stops_running_the_fallbacks() -> None:
    clock = FakeClock()
    live = _live(clock, hold_s=3.0)
    ran = []
    for seed in range(40):  # 8 s at the idle rate
        ran.append(live.decode(empty_wall(seed)).fallbacks_ran)
        clock.t += 0.2
    assert _mode(live.policy) is RateMode.IDLE
    assert ran[0] is True  # the first frame counts as motion: one probe
    assert not any(ran[16:])  # after the hold time no frame runs the fallbacks


@pytest.mark.parametrize("name", sorted(IMPAIRMENTS))
def test_a_code_held_up_in_front_of_an_idle_camera_is_read_on_its_first_frame(name: str) -> None:
    clock = FakeClock()
    live = _live(clock)
    for seed in range(20):
        live.decode(empty_wall(seed))
        clock.t += 0.2
    assert _mode(live.policy) is RateMode.IDLE
    attempt = live.decode(IMPAIRMENTS[name]())
    assert attempt.result is not None, f"{name}: not decoded"
    assert attempt.result.text == PAYLOAD
    assert _mode(live.policy) is RateMode.ACTIVE


@pytest.mark.parametrize("image", [located_not_decoded, not_located], ids=["located", "not-located"])
def test_a_code_only_a_fallback_reads_is_read_on_its_first_frame(image: Callable[[str], Image]) -> None:
    clock = FakeClock()
    live = _live(clock)
    for seed in range(20):
        live.decode(empty_wall(seed))
        clock.t += 0.2
    attempt = live.decode(image(PAYLOAD))
    assert attempt.result is not None
    assert attempt.result.text == PAYLOAD


def test_a_candidate_is_read_by_a_fallback_without_motion_or_probe() -> None:
    clock = FakeClock()
    live = _live(clock, probe_every=1000, hold_s=1.0)
    image = located_not_decoded(PAYLOAD)
    live.decode(image)  # first frame: motion and a probe
    clock.t += 5.0  # long past the hold time: only the candidate can trigger the fallbacks now
    attempt = live.decode(image)
    assert attempt.fallbacks_ran is True
    assert attempt.result is not None
    assert attempt.result.text == PAYLOAD
    assert _mode(live.policy) is RateMode.IDLE  # read: no full rate needed for it


def test_a_candidate_nothing_reads_keeps_the_camera_at_full_rate() -> None:
    clock = FakeClock()
    live = _live(clock, probe_every=1000, hold_s=1.0)
    image = blurred(on_canvas(qr(PAYLOAD), side=140), 1.8)  # located by zxing-cpp, read by no step
    live.decode(image)
    for _ in range(5):
        clock.t += 0.9  # no motion (the same image) but a candidate in every frame
        attempt = live.decode(image)
        assert (attempt.result, attempt.candidate) == (None, True)
        assert _mode(live.policy) is RateMode.ACTIVE


def test_a_code_read_and_held_still_lets_the_camera_go_idle() -> None:
    clock = FakeClock()
    live = _live(clock, hold_s=1.0)
    image = on_canvas(qr(PAYLOAD))
    for _ in range(10):
        attempt = live.decode(image)
        assert attempt.result is not None
        clock.t += 0.2
    assert _mode(live.policy) is RateMode.IDLE  # a new code brings motion; this one needs no full rate
