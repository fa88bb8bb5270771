"""Simulated Kerong CU16-family boards on a pty: status replies with lock and IR item bits, unlock pulses."""

from __future__ import annotations

from firmware_bridge.protocols import kerong_cu16 as proto
from firmware_bridge.protocols.frames import open_to_bit
from firmware_bridge.sim.faults import Faults
from firmware_bridge.sim.pty_sim import PtySimulator
from firmware_bridge.sim.wall import Wall
from locker.config import Polarity


class KerongCu16Sim(PtySimulator):
    """Boards 0-15 with 16 locks each; ``unlock_reply`` makes an unlock answer with a status frame."""

    request_length = proto.TABLE["status"].length

    def __init__(
        self,
        wall: Wall,
        bus: str,
        *,
        polarity: Polarity = Polarity.OPEN_HIGH,
        baud: int | None = None,
        faults: Faults | None = None,
        seed: int = 0,
        unlock_reply: bool = True,
    ) -> None:
        super().__init__(wall, bus, polarity=polarity, baud=baud, faults=faults, seed=seed)
        self.unlock_reply = unlock_reply

    def board_of(self, frame: bytes) -> int:
        return proto.decode_request(frame).board

    def _status(self, board: int) -> bytes:
        n = self.wall.locks_of(self.bus, board)
        locks = tuple(open_to_bit(self.wall.sensed_open(self.bus, board, i), self.polarity) for i in range(1, n + 1))
        items = tuple(self.wall.sensed_item(self.bus, board, i) for i in range(1, n + 1))
        return proto.encode_status_reply(board, locks, items)

    def respond(self, frame: bytes) -> bytes | None:
        req = proto.decode_request(frame)
        if req.command is proto.Command.STATUS:
            return self._status(req.board)
        if req.command is proto.Command.UNLOCK and req.lock <= self.wall.locks_of(self.bus, req.board):
            self.wall.unlock(self.bus, req.board, req.lock)
            return self._status(req.board) if self.unlock_reply else None
        return None
