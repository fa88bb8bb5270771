"""Fixtures of the core tests: a station with item sensors (``st``) and one without (``bare``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import Station, make_station


@pytest.fixture
def st(tmp_path: Path) -> Station:
    return make_station(tmp_path)


@pytest.fixture
def bare(tmp_path: Path) -> Station:
    """A station whose boards have no item sensors (xor-8a, Modbus relays, GPIO)."""
    return make_station(tmp_path, item_sensors=False)
