"""Stale offline data: a station that has had no fresh bundle for longer than sync.max_data_age_h raises
stale_data (the hub learns it as an alarm event); the next bundle clears it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend_sync.errors import SchemaError
from locker.model import AlarmKind
from tests.sync.rig import make_rig, order


def test_stale_data_is_raised_after_the_age_limit_and_cleared_by_a_bundle(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    flow = rig.flow
    assert flow.check_data_age() is False  # before the first bundle there is nothing to age
    built = rig.build(orders=[order("ORD-1", now=rig.now())])
    rig.receiver.receive(built.data)
    rig.accepted(built)
    limit_s = rig.st.config.sync.max_data_age_h * 3600
    rig.st.clock.advance(limit_s - 60)
    assert flow.check_data_age() is False
    rig.st.clock.advance(120)
    assert flow.check_data_age() is True
    assert flow.check_data_age() is True  # raised once, not again
    alarms = [k for k, _c, _b, _t in rig.st.store.open_alarms()]
    assert alarms.count(AlarmKind.STALE_DATA) == 1
    events = [json.loads(e.body) for e in rig.st.store.pending(100)]
    raised = [e for e in events if e["kind"] == "alarm" and e.get("alarm") == "stale_data"]
    assert len(raised) == 1 and raised[0]["raised"]  # the hub hears of it with the next sync
    fresh = rig.build(orders=[order("ORD-2", now=rig.now())])
    rig.receiver.receive(fresh.data)
    rig.accepted(fresh)
    assert AlarmKind.STALE_DATA not in [k for k, _c, _b, _t in rig.st.store.open_alarms()]
    assert flow.check_data_age() is False


def test_the_citys_limit_comes_with_the_bundles(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    flow = rig.flow
    assert flow.max_data_age_h() == rig.st.config.sync.max_data_age_h == 72  # the station's until a bundle says
    built = rig.build(orders=[order("ORD-1", now=rig.now())], max_data_age_h=24)
    rig.receiver.receive(built.data)
    rig.accepted(built)
    assert flow.max_data_age_h() == 24
    rig.st.clock.advance(24 * 3600 + 60)
    assert flow.check_data_age() is True  # the city's 24 h, not the station's 72 h
    quiet = rig.build()  # a bundle without the field keeps the limit in force (and clears the alarm)
    rig.receiver.receive(quiet.data)
    rig.accepted(quiet)
    assert flow.max_data_age_h() == 24 and flow.check_data_age() is False


def test_a_limit_out_of_range_is_refused(tmp_path: Path) -> None:
    rig = make_rig(tmp_path)
    for bad in (0, 24 * 120 + 1):
        with pytest.raises(SchemaError, match="max_data_age_h"):
            rig.build(max_data_age_h=bad)
