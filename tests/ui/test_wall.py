"""The wall picture: every configured wall is drawn to scale without two compartments overlapping."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_bridge.registry import DRIVERS
from kiosk_ui.wall import WALL_HEIGHT_MM, Box, layout
from locker.config import CompartmentConfig, load_config
from locker.model import Size
from tests.harness import station_config
from wibox.demo.compose import BOARDS, demo_config

ROOT = Path(__file__).resolve().parents[2]


def assert_no_overlap(boxes: list[Box]) -> None:
    for i, a in enumerate(boxes):
        assert a.y_mm >= 0 and a.y_mm + a.h_mm <= WALL_HEIGHT_MM, a
        for b in boxes[i + 1 :]:
            apart = a.x_mm + a.w_mm <= b.x_mm or b.x_mm + b.w_mm <= a.x_mm
            apart = apart or a.y_mm + a.h_mm <= b.y_mm or b.y_mm + b.h_mm <= a.y_mm
            assert apart, (a, b)


@pytest.mark.parametrize("boards", sorted(BOARDS))
def test_the_demo_walls_do_not_overlap(tmp_path: Path, boards: str) -> None:
    cfg = demo_config(tmp_path, "", 8080, boards)
    boxes = layout(cfg.compartments)
    assert_no_overlap(boxes)
    # drawn at the handle heights where there is room: the top row stays above the bottom row
    by = {b.number: b for b in boxes}
    assert by[1].y_mm < by[6].y_mm and by[7].y_mm < by[12].y_mm


def test_the_example_and_test_walls_do_not_overlap(tmp_path: Path) -> None:
    assert_no_overlap(layout(load_config(ROOT / "examples" / "station.toml", DRIVERS).compartments))
    for n in (4, 6, 12, 24):
        assert_no_overlap(layout(station_config(tmp_path / "x.db", n).compartments))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(list(Size)), st.integers(0, 2500), st.integers(1, 4)), min_size=1, max_size=40)
)
def test_any_wall_is_drawn_without_overlap(specs: list[tuple[Size, int, int]]) -> None:
    comps = tuple(
        CompartmentConfig(number=i + 1, bus="b", board=0, lock=i + 1, size=size, height_mm=h, column=col)
        for i, (size, h, col) in enumerate(specs)
    )
    assert_no_overlap(layout(comps))
