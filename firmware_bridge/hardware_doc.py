"""Renders the frame tables of every lock-board protocol as Markdown for docs/hardware.md (run as a module)."""

from __future__ import annotations

from firmware_bridge import modbus_relay
from firmware_bridge.protocols import kerong_cu16, kerong_cu48, xor_8a
from firmware_bridge.protocols.frames import FrameTable
from locker.config import BusConfig, describe_keys

XOR_DOC_CHANNELS = 16  # the query-all reply length depends on the channel count; documented for 16


def frame_table_markdown(table: FrameTable) -> str:
    """One protocol's frames: name, command byte, direction, layout and length."""
    frames = {f.name: f for f in table.frames}
    lines = [
        f"#### `{table.protocol}` frames",
        "",
        "| frame | CMD | direction | layout | bytes | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for name, cmd, direction, layout, length in table.rows():
        lines.append(f"| `{name}` | `{cmd}` | {direction} | `{layout}` | {length} | {frames[name].doc} |")
    return "\n".join(lines)


def modbus_markdown() -> str:
    """The Modbus relay board's address map (standard Modbus RTU framing, CRC-16)."""
    m = modbus_relay
    return "\n".join(
        [
            "#### `modbus-relay` addresses",
            "",
            "| what | function | address | value |",
            "|---|---|---|---|",
            f"| door switches (discrete inputs), lock n | FC 02 read | `0x{m.INPUT_BASE:04X}` + n-1 | bit |",
            f"| relays (coils), lock n | FC 01 read / FC 15 write | `0x{m.RELAY_BASE:04X}` + n-1 | bit |",
            f"| flash-on (board-timed pulse), lock n | FC 05 | `0x{m.FLASH_ON_BASE:04X}` + n-1 "
            f"| on-time in {m.FLASH_UNIT_MS} ms |",
            f"| flash-off, lock n | FC 05 | `0x{m.FLASH_OFF_BASE:04X}` + n-1 | off-time in {m.FLASH_UNIT_MS} ms |",
        ]
    )


def frame_tables() -> str:
    """Every protocol's table, in the order of docs/hardware.md."""
    parts = [
        frame_table_markdown(kerong_cu16.TABLE),
        frame_table_markdown(kerong_cu48.TABLE),
        frame_table_markdown(xor_8a.table(XOR_DOC_CHANNELS)),
        modbus_markdown(),
    ]
    return "\n\n".join(parts)


def bus_keys() -> str:
    """The configuration keys of a bus ([[buses]]) with their descriptions."""
    lines = ["| key | type | meaning |", "|---|---|---|"]
    for key, tname, doc in describe_keys(BusConfig, "buses[]."):
        lines.append(f"| `{key}` | {tname} | {doc} |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(bus_keys())
    print()
    print(frame_tables())
