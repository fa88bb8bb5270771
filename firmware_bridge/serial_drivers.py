"""BoardDriver implementations for the serial lock-board protocols (Kerong CU16, Kerong CU48, XOR 8A/80)."""

from __future__ import annotations

import abc
import logging
from collections.abc import Iterable

from firmware_bridge.driver import BoardStatus
from firmware_bridge.errors import BoardOffline, FrameError, NoReply
from firmware_bridge.protocols import kerong_cu16, kerong_cu48, xor_8a
from firmware_bridge.protocols.frames import bit_reads_open
from firmware_bridge.transport import Transport
from locker.config import Polarity
from locker.model import DoorState

log = logging.getLogger(__name__)


def _doors(bits: tuple[bool, ...], polarity: Polarity) -> dict[int, DoorState]:
    return {i + 1: DoorState.OPEN if bit_reads_open(b, polarity) else DoorState.CLOSED for i, b in enumerate(bits)}


def _expect_board(got: int, want: int, data: bytes) -> None:
    if got != want:
        raise FrameError(f"reply from board {got}, expected board {want}: {data.hex(' ')}")


class _SerialDriver(abc.ABC):
    """What the serial drivers share: the transport, the polarity and bus scanning by status probe."""

    name = ""

    def __init__(self, transport: Transport, *, polarity: Polarity) -> None:
        self._transport = transport
        self._polarity = polarity

    @abc.abstractmethod
    def status(self, board: int) -> BoardStatus: ...

    @abc.abstractmethod
    def pulse(self, board: int, lock: int) -> None: ...

    @abc.abstractmethod
    def _probe_status(self, board: int) -> None: ...

    def scan(self, addresses: Iterable[int]) -> list[int]:
        found = []
        for addr in addresses:
            try:
                self._probe_status(addr)
            except (NoReply, FrameError, BoardOffline) as exc:
                log.debug("%s: no board at %d: %s", self.name, addr, exc)
                continue
            found.append(addr)
        return found

    def safe_state(self) -> None:
        """Nothing to do: these boards time every lock pulse themselves and the host never holds a lock."""
        log.debug("%s: safe state (board-timed pulses, no held outputs)", self.name)

    def close(self) -> None:
        self._transport.close()


class KerongCu16Driver(_SerialDriver):
    """Kerong CU12/CU16/CU24 boards: 16 locks and 16 IR item sensors per board, boards 0-15."""

    name = kerong_cu16.NAME

    def __init__(self, transport: Transport, *, polarity: Polarity, item_sensors: bool = True) -> None:
        super().__init__(transport, polarity=polarity)
        self._item_sensors = item_sensors

    def _reader(self, board: int) -> tuple[bytes, int]:
        return kerong_cu16.encode_status(board), kerong_cu16.TABLE["status_reply"].length

    def _decode(self, board: int, data: bytes) -> kerong_cu16.StatusReply:
        reply = kerong_cu16.decode_status_reply(data)
        _expect_board(reply.board, board, data)
        return reply

    def status(self, board: int) -> BoardStatus:
        req, n = self._reader(board)
        reply = self._transport.query(board, req, n, lambda d: self._decode(board, d))
        items: dict[int, bool | None] = {
            i + 1: (bit if self._item_sensors else None) for i, bit in enumerate(reply.items)
        }
        return BoardStatus(board, _doors(reply.locks, self._polarity), items)

    def _probe_status(self, board: int) -> None:
        req, n = self._reader(board)
        self._transport.probe(board, req, n, lambda d: self._decode(board, d))

    def pulse(self, board: int, lock: int) -> None:
        """Send the unlock; some boards answer with a status frame, others stay silent (both are accepted)."""
        req = kerong_cu16.encode_unlock(board, lock)
        n = kerong_cu16.TABLE["status_reply"].length
        self._transport.command_maybe_reply(board, req, n, lambda d: self._decode(board, d))


class KerongCu48Driver(_SerialDriver):
    """Kerong CU48 boards: 48 locks per board, no item sensors."""

    name = kerong_cu48.NAME

    def _decode(self, board: int, data: bytes) -> kerong_cu48.StatusReply:
        reply = kerong_cu48.decode_status_reply(data)
        _expect_board(reply.board, board, data)
        return reply

    def status(self, board: int) -> BoardStatus:
        n = kerong_cu48.TABLE["status_reply"].length
        reply = self._transport.query(board, kerong_cu48.encode_status(board), n, lambda d: self._decode(board, d))
        return BoardStatus(board, _doors(reply.locks, self._polarity))

    def _probe_status(self, board: int) -> None:
        n = kerong_cu48.TABLE["status_reply"].length
        self._transport.probe(board, kerong_cu48.encode_status(board), n, lambda d: self._decode(board, d))

    def pulse(self, board: int, lock: int) -> None:
        req = kerong_cu48.encode_open(board, lock)

        def parse(data: bytes) -> None:
            reply = kerong_cu48.decode_open_reply(data)
            _expect_board(reply.board, board, data)
            if reply.lock != lock:
                raise FrameError(f"{self.name}: open reply for lock {reply.lock}, expected {lock}")

        self._transport.command(board, req, kerong_cu48.TABLE["open_reply"].length, parse)


class Xor8aDriver(_SerialDriver):
    """Generic 8A/80 XOR boards with ``channels`` locks each (the query-all reply length depends on it)."""

    name = xor_8a.NAME

    def __init__(self, transport: Transport, *, polarity: Polarity, channels: int = 16) -> None:
        super().__init__(transport, polarity=polarity)
        self._channels = channels
        self._table = xor_8a.table(channels)

    def _decode(self, board: int, data: bytes) -> xor_8a.QueryAllReply:
        reply = xor_8a.decode_query_all_reply(data, self._channels)
        _expect_board(reply.board, board, data)
        return reply

    def status(self, board: int) -> BoardStatus:
        req = xor_8a.encode_query_all(board, self._channels)
        n = self._table["query_all_reply"].length
        reply = self._transport.query(board, req, n, lambda d: self._decode(board, d))
        return BoardStatus(board, _doors(reply.locks, self._polarity))

    def _probe_status(self, board: int) -> None:
        req = xor_8a.encode_query_all(board, self._channels)
        n = self._table["query_all_reply"].length
        self._transport.probe(board, req, n, lambda d: self._decode(board, d))

    def pulse(self, board: int, lock: int) -> None:
        req = xor_8a.encode_open(board, lock, self._channels)

        def parse(data: bytes) -> None:
            reply = xor_8a.decode_open_reply(data, self._channels)
            _expect_board(reply.board, board, data)
            if reply.lock != lock:
                raise FrameError(f"{self.name}: open reply for lock {reply.lock}, expected {lock}")

        self._transport.command(board, req, self._table["open_reply"].length, parse)
