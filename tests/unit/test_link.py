"""The one link policy every bus driver keeps its boards by: offline after n failures, probes, listeners."""

from __future__ import annotations

import pytest

from firmware_bridge.errors import BoardOffline
from firmware_bridge.link import BoardLinks, LinkPolicy, LinkRelay, LinkState


def test_offline_after_n_failures_then_one_probe_per_interval() -> None:
    heard: list[tuple[int, LinkState]] = []
    links = BoardLinks(
        "bus A",
        LinkPolicy(read_retries=2, offline_after=3, probe_interval_s=5.0),
        lambda board, state: heard.append((board, state)),
        boards=[2],
    )
    assert links.state(1) is LinkState.UNKNOWN and links.known() == [2]
    assert links.begin(1, 0.0, 3) == 3
    links.succeeded(1)
    for _ in range(2):
        links.failed(1)
    assert links.state(1) is LinkState.ONLINE  # two failures in a row are not yet offline
    links.failed(1)
    assert links.state(1) is LinkState.OFFLINE
    with pytest.raises(BoardOffline, match=r"bus A: board 1 is offline \(read refused\)"):
        links.begin(1, 4.9, 3, what="read")  # the last attempt began at 0.0: no probe before 5.0
    assert links.begin(1, 4.9, 3, gated=False) == 3  # a bus scan ignores the gate
    assert links.begin(1, 9.9, 3) == 1  # the probe: one attempt, counted from the scan's start at 4.9
    links.succeeded(1)
    assert heard == [(1, LinkState.ONLINE), (1, LinkState.OFFLINE), (1, LinkState.ONLINE)]
    assert [links.backoff_s(n) for n in (1, 2, 3)] == [0.05, 0.1, 0.2]


def test_a_relay_holds_changes_until_the_bank_attaches() -> None:
    relay = LinkRelay()
    relay.listener("A")(3, LinkState.OFFLINE)
    got: list[tuple[str, int, LinkState]] = []
    relay.attach(lambda bus, board, state: got.append((bus, board, state)))
    relay.listener("B")(1, LinkState.ONLINE)
    assert got == [("A", 3, LinkState.OFFLINE), ("B", 1, LinkState.ONLINE)]
