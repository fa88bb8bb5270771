"""The scan hub, deduplication, the one-slot frame handoff and the reopen backoff."""

from __future__ import annotations

import threading

import pytest

from firmware_bridge.scanners.backoff import Backoff
from firmware_bridge.scanners.dedup import Deduplicator
from firmware_bridge.scanners.frameslot import LatestSlot
from firmware_bridge.scanners.hub import HubEvent, ScanHub, ScannerState, StatusChange
from locker.ports import Scan, ScanSource


class FakeClock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def now(self) -> float:
        return self.t


def test_all_sources_feed_one_stream_in_order() -> None:
    hub = ScanHub(pull=True)
    seen: list[HubEvent] = []
    hub.subscribe(seen.append)
    events: list[HubEvent] = [
        Scan("A", ScanSource.CAMERA, 1.0),
        StatusChange(ScanSource.CAMERA, "camera", ScannerState.FAILED, 2.0, "unplugged"),
        Scan("B", ScanSource.WEDGE, 3.0),
        Scan("C", ScanSource.SERIAL, 4.0),
    ]
    for event in events:
        if isinstance(event, Scan):
            hub.publish(event)
        elif isinstance(event, StatusChange):
            hub.publish_status(event)
    assert seen == events
    assert [hub.get(timeout=0) for _ in events] == events
    assert hub.get(timeout=0.01) is None
    assert hub.state_of("camera") is ScannerState.FAILED
    assert hub.state_of("wedge") is None


def test_a_failing_subscriber_is_counted_and_the_others_still_get_events() -> None:
    hub = ScanHub()
    seen: list[HubEvent] = []

    def broken(event: HubEvent) -> None:
        raise RuntimeError("consumer bug")

    hub.subscribe(broken)
    unsubscribe = hub.subscribe(seen.append)
    hub.publish(Scan("A", ScanSource.SIMULATOR, 1.0))
    assert hub.subscriber_errors == 1
    assert len(seen) == 1
    unsubscribe()
    hub.publish(Scan("B", ScanSource.SIMULATOR, 2.0))
    assert len(seen) == 1


def test_the_pull_queue_is_bounded_and_drops_the_oldest() -> None:
    hub = ScanHub(max_queued=2)
    for text in "ABC":
        hub.publish(Scan(text, ScanSource.SIMULATOR, 0.0))
    assert hub.dropped == 1
    got = [hub.get(timeout=0), hub.get(timeout=0)]
    assert [e.text for e in got if isinstance(e, Scan)] == ["B", "C"]


def test_get_wakes_up_when_another_thread_publishes() -> None:
    hub = ScanHub()
    timer = threading.Timer(0.05, hub.publish, args=(Scan("late", ScanSource.WEDGE, 0.0),))
    timer.start()
    event = hub.get(timeout=20.0)  # returns as soon as the timer publishes
    timer.join()
    assert isinstance(event, Scan)
    assert event.text == "late"


def test_dedup_window_slides_while_the_code_stays_in_view() -> None:
    clock = FakeClock()
    dedup = Deduplicator(clock, window_s=3.0)
    assert dedup.accept("X")
    for _ in range(5):  # held up for 5 s, seen every second: reported once
        clock.t += 1.0
        assert not dedup.accept("X")
    assert dedup.accept("Y")
    clock.t += 3.5  # out of view long enough
    assert dedup.accept("X")
    assert dedup.suppressed == 5


def test_dedup_window_zero_reports_every_read() -> None:
    dedup = Deduplicator(FakeClock(), window_s=0.0)
    assert dedup.accept("X")
    assert dedup.accept("X")


def test_latest_slot_keeps_only_the_newest_item() -> None:
    slot: LatestSlot[int] = LatestSlot()
    for i in range(5):
        slot.put(i)
    assert slot.take(timeout=0) == 4
    assert slot.dropped == 4
    assert slot.take(timeout=0.01) is None
    slot.close()
    assert slot.take(timeout=None) is None  # closed: never blocks


def test_backoff_doubles_to_the_cap_and_resets() -> None:
    backoff = Backoff(0.5, 3.0)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5
    with pytest.raises(ValueError, match="backoff"):
        Backoff(0, 1)


def test_a_subscribed_hub_keeps_no_pull_queue() -> None:
    """A station's UI subscribes and nobody pulls: events are not piled up (and not reported dropped)."""
    hub = ScanHub(max_queued=2)
    seen: list[HubEvent] = []
    hub.subscribe(seen.append)
    for text in "ABCDE":
        hub.publish(Scan(text, ScanSource.SIMULATOR, 0.0))
    assert [e.text for e in seen if isinstance(e, Scan)] == list("ABCDE")
    assert hub.dropped == 0 and hub.get(timeout=0) is None
