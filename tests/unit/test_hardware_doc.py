"""docs/hardware.md cannot drift: frame tables and bus keys re-derived from the code, every driver documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmware_bridge.hardware_doc import bus_keys, frame_tables
from firmware_bridge.registry import DRIVERS

DOC = Path(__file__).resolve().parents[2] / "docs" / "hardware.md"


def test_frame_tables_are_in_the_doc_verbatim() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert frame_tables() in text, "regenerate with: .venv/bin/python -m firmware_bridge.hardware_doc"


def test_bus_keys_are_in_the_doc_verbatim() -> None:
    assert bus_keys() in DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("driver", DRIVERS)
def test_every_driver_is_documented_and_buildable(driver: str) -> None:
    text = DOC.read_text(encoding="utf-8")
    assert f"| `{driver}` |" in text, f"{driver} is missing from the supported-boards table"
    spec = DRIVERS[driver]
    assert spec.name == driver and callable(spec.build) and callable(spec.simulate)


def test_commissioning_commands_are_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for cmd in ("scan", "status [BOARD]", "open BOARD:LOCK"):
        assert cmd in text
    assert "wibox sim board" in text
