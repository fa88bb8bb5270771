"""The contract every board driver keeps, run against its simulator over a real pseudo-terminal."""

from __future__ import annotations

import time

import pytest

from firmware_bridge.errors import BoardOffline, NoReply
from firmware_bridge.link import LinkPolicy
from firmware_bridge.sim.wall import SimEvent
from locker.clock import ManualClock
from locker.config import Polarity
from locker.model import DoorState
from tests.contract.contract_rigs import WAIT_S, Capability, MakeRig, Rig, RigRequest, wait_door

OPEN, CLOSED = DoorState.OPEN, DoorState.CLOSED


@pytest.mark.parametrize("polarity", list(Polarity))
def test_status_reads_every_lock_closed(make_rig: MakeRig, polarity: Polarity) -> None:
    rig = make_rig(RigRequest(polarity=polarity))
    (board,) = rig.boards
    st = rig.driver.status(board)
    assert st.board == board
    assert sorted(st.doors) == list(range(1, rig.locks + 1))
    assert set(st.doors.values()) == {CLOSED}


@pytest.mark.parametrize("polarity", list(Polarity))
def test_unlock_then_confirm_by_status(make_rig: MakeRig, polarity: Polarity) -> None:
    rig = make_rig(RigRequest(polarity=polarity))
    (board,) = rig.boards
    lock = rig.locks  # the highest channel exercises the last status byte
    rig.driver.pulse(board, lock)
    assert wait_door(rig.driver, board, lock, OPEN)
    assert rig.wall.is_open(rig.bus, board, lock)
    st = rig.driver.status(board)
    assert [n for n, d in st.doors.items() if d is OPEN] == [lock]
    rig.wall.close_door(rig.bus, board, lock)
    assert wait_door(rig.driver, board, lock, CLOSED)
    unlocks = rig.wall.recorder.records(SimEvent.UNLOCK)
    assert [r.where for r in unlocks] == [f"{rig.bus}/{board}/{lock}"]  # exactly one pulse went out


def test_polarity_mismatch_reads_inverted(make_rig: MakeRig) -> None:
    """Polarity is honoured: a driver configured the other way round than the wiring sees every door open."""
    rig = make_rig(RigRequest(polarity=Polarity.OPEN_LOW, sim_polarity=Polarity.OPEN_HIGH))
    (board,) = rig.boards
    assert set(rig.driver.status(board).doors.values()) == {OPEN}


def test_several_boards_on_one_bus(make_rig: MakeRig) -> None:
    rig = make_rig(RigRequest(boards=3))
    rig.require(Capability.MULTI_BOARD)
    assert len(rig.boards) == 3
    target = rig.boards[1]
    rig.driver.pulse(target, 2)
    assert wait_door(rig.driver, target, 2, OPEN)
    for b in rig.boards:
        opened = [n for n, d in rig.driver.status(b).doors.items() if d is OPEN]
        assert opened == ([2] if b == target else [])
    assert rig.driver.scan([*rig.boards, 9]) == list(rig.boards)


def test_item_sensors(rig: Rig) -> None:
    (board,) = rig.boards
    rig.wall.set_item(rig.bus, board, 3, True)
    items = rig.driver.status(board).items
    if rig.item_sensors:
        assert items[3] is True
        assert items[4] is False
        rig.wall.set_item(rig.bus, board, 3, False)
        assert rig.driver.status(board).items[3] is False
    else:
        assert all(v is None for v in items.values())


def test_forced_door_reads_open(rig: Rig) -> None:
    (board,) = rig.boards
    rig.wall.force_open(rig.bus, board, 1)
    assert rig.driver.status(board).doors[1] is OPEN


def test_jammed_lock_never_reads_open(make_rig: MakeRig) -> None:
    clock = ManualClock()
    rig = make_rig(RigRequest(wall_clock=clock.now))
    (board,) = rig.boards
    rig.wall.jam(rig.bus, board, 1)
    rig.driver.pulse(board, 1)
    deadline = time.monotonic() + WAIT_S  # the gpio simulator sees the relay from its own thread
    while not rig.wall.recorder.records(SimEvent.UNLOCK_JAMMED):
        assert time.monotonic() < deadline, "the pulse never reached the lock"
        time.sleep(0.002)
    clock.advance(10.0)  # far past the spring delay and any board-timed pulse
    assert rig.driver.status(board).doors[1] is CLOSED
    assert not rig.wall.is_open(rig.bus, board, 1)
    assert [r.where for r in rig.wall.recorder.records(SimEvent.UNLOCK_JAMMED)] == [f"{rig.bus}/{board}/1"]


def test_stuck_sensor_is_what_the_driver_sees(rig: Rig) -> None:
    (board,) = rig.boards
    rig.wall.stick_sensor(rig.bus, board, 1, True)
    assert rig.driver.status(board).doors[1] is OPEN
    assert not rig.wall.is_open(rig.bus, board, 1)


def test_invalid_lock_is_refused_before_anything_is_sent(rig: Rig) -> None:
    (board,) = rig.boards
    with pytest.raises(ValueError, match="lock"):
        rig.driver.pulse(board, 0)
    with pytest.raises(ValueError, match="lock"):
        rig.driver.pulse(board, rig.locks + 1)
    assert not rig.wall.recorder.records(SimEvent.RX)


# Every silent attempt waits out the reply timeout (1 s): no read retries, offline after two failures. The probe
# interval exceeds one timeout plus any scheduling delay, so the calls right after going offline fail fast.
OFFLINE_LINK = LinkPolicy(read_retries=0, backoff_s=0.002, offline_after=2, probe_interval_s=2.5)


def test_board_offline_and_recovery(make_rig: MakeRig) -> None:
    """Silent board -> NoReply, then BoardOffline (fail fast) -> board answers again -> driver recovers."""
    rig = make_rig(RigRequest(link=OFFLINE_LINK))
    rig.require(Capability.CAN_GO_SILENT)
    (board,) = rig.boards
    rig.driver.status(board)
    rig.sim.set_silent(board)
    with pytest.raises(NoReply):
        rig.driver.status(board)
    seen_offline = False
    for _ in range(10):
        try:
            rig.driver.status(board)
        except BoardOffline:
            seen_offline = True
            break
        except NoReply:
            continue
    assert seen_offline
    received = len(rig.wall.recorder.records(SimEvent.RX))
    with pytest.raises(BoardOffline):
        rig.driver.pulse(board, 1)  # fails fast: nothing is sent
    assert len(rig.wall.recorder.records(SimEvent.RX)) == received
    rig.sim.set_silent(board, False)
    deadline = time.monotonic() + WAIT_S  # the next probe goes out once the probe interval has passed
    while True:
        try:
            st = rig.driver.status(board)
            break
        except (BoardOffline, NoReply):
            assert time.monotonic() < deadline, "driver did not recover by itself"
            time.sleep(0.01)
    assert set(st.doors.values()) == {CLOSED}
    rig.driver.pulse(board, 1)
    assert wait_door(rig.driver, board, 1, OPEN)


def test_safe_state_and_close_are_harmless(rig: Rig) -> None:
    (board,) = rig.boards
    rig.driver.safe_state()
    assert set(rig.driver.status(board).doors.values()) == {CLOSED}
    assert not rig.wall.recorder.records(SimEvent.UNLOCK)
