"""Simulated generic 8A/80 XOR boards on a pty: query-all, single query and open (echo with switch level)."""

from __future__ import annotations

from firmware_bridge.protocols import xor_8a as proto
from firmware_bridge.protocols.frames import open_to_bit
from firmware_bridge.sim.faults import Faults
from firmware_bridge.sim.pty_sim import PtySimulator
from firmware_bridge.sim.wall import Wall
from locker.config import Polarity


class Xor8aSim(PtySimulator):
    """Boards with ``channels`` locks each (the wall's boards on this bus must have that many)."""

    request_length = 5

    def __init__(
        self,
        wall: Wall,
        bus: str,
        *,
        channels: int = 16,
        polarity: Polarity = Polarity.OPEN_HIGH,
        baud: int | None = None,
        faults: Faults | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(wall, bus, polarity=polarity, baud=baud, faults=faults, seed=seed)
        self.channels = channels

    def board_of(self, frame: bytes) -> int:
        return proto.decode_request(frame, self.channels).board

    def _level(self, board: int, lock: int) -> bool:
        return open_to_bit(self.wall.sensed_open(self.bus, board, lock), self.polarity)

    def respond(self, frame: bytes) -> bytes | None:
        req = proto.decode_request(frame, self.channels)
        n = min(self.channels, self.wall.locks_of(self.bus, req.board))
        if req.lock > n:
            return None
        if req.command is proto.Command.QUERY:
            if req.lock == 0:
                locks = tuple(self._level(req.board, i) for i in range(1, n + 1))
                return proto.encode_query_all_reply(req.board, locks, self.channels)
            return proto.encode_query_reply(req.board, req.lock, self._level(req.board, req.lock), self.channels)
        if req.command is proto.Command.OPEN:
            if req.lock == 0:
                for i in range(1, n + 1):
                    self.wall.unlock(self.bus, req.board, i)
                return proto.encode_open_reply(req.board, 0, False, self.channels)
            self.wall.unlock(self.bus, req.board, req.lock)
            return proto.encode_open_reply(req.board, req.lock, self._level(req.board, req.lock), self.channels)
        return None  # hold/release: not simulated
