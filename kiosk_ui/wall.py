"""The locker wall drawn to scale from the compartment map: positions, and row/column as people count them."""

from __future__ import annotations

from dataclasses import dataclass

from locker.config import CompartmentConfig
from locker.model import Size

WALL_HEIGHT_MM = 2000
COLUMN_WIDTH_MM = 420
AUTO_PER_COLUMN = 6
BOX_HEIGHT_MM = {Size.S: 180, Size.M: 260, Size.L: 380}
GAP_MM = 10  # between two boxes of a column


@dataclass(frozen=True)
class Box:
    number: int
    x_mm: int  # left edge from the left of the wall
    y_mm: int  # top edge from the top of the wall
    w_mm: int
    h_mm: int
    row: int  # from 1 at the top
    column: int  # from 1 at the left
    size: Size


def _columns(comps: tuple[CompartmentConfig, ...]) -> dict[int, int]:
    ordered = sorted(comps, key=lambda c: c.number)
    return {c.number: c.column or (i // AUTO_PER_COLUMN + 1) for i, c in enumerate(ordered)}


def layout(comps: tuple[CompartmentConfig, ...]) -> list[Box]:
    """Boxes at each handle height, to scale, never overlapping: rows counted from the top within a column unless
    configured."""
    cols = _columns(comps)
    boxes: list[Box] = []
    for col in sorted(set(cols.values())):
        members = sorted((c for c in comps if cols[c.number] == col), key=lambda c: -c.height_mm)
        for i, (c, top, h) in enumerate(_stack(members)):
            boxes.append(
                Box(
                    c.number,
                    (col - 1) * COLUMN_WIDTH_MM + 10,
                    top,
                    COLUMN_WIDTH_MM - 20,
                    h,
                    c.row or i + 1,
                    col,
                    c.size,
                )
            )
    return sorted(boxes, key=lambda b: b.number)


def _stack(members: list[CompartmentConfig]) -> list[tuple[CompartmentConfig, int, int]]:
    """(compartment, top, height) for one column, highest handle first: each box centred on its handle where it
    can be, pushed down below the one above it (then up from the floor) where two would overlap; a column whose
    boxes cannot all stand on the wall at their size is drawn smaller, in proportion."""
    heights = [BOX_HEIGHT_MM[c.size] for c in members]
    need = sum(heights) + GAP_MM * max(0, len(members) - 1)
    if need > WALL_HEIGHT_MM:
        heights = [h * (WALL_HEIGHT_MM - GAP_MM * (len(members) - 1)) // sum(heights) for h in heights]
    tops: list[int] = []
    floor = -GAP_MM
    for c, h in zip(members, heights, strict=True):
        want = WALL_HEIGHT_MM - c.height_mm - h // 2
        top = max(0, want, floor + GAP_MM)
        tops.append(top)
        floor = top + h
    ceiling = WALL_HEIGHT_MM + GAP_MM  # from the floor up: nothing below the wall's bottom
    for i in range(len(members) - 1, -1, -1):
        tops[i] = min(tops[i], ceiling - GAP_MM - heights[i])
        ceiling = tops[i]
    return list(zip(members, tops, heights, strict=True))


def width_mm(boxes: list[Box]) -> int:
    return max((b.column for b in boxes), default=1) * COLUMN_WIDTH_MM


def box_of(boxes: list[Box], number: int) -> Box:
    for b in boxes:
        if b.number == number:
            return b
    raise KeyError(number)
