"""Simulated Kerong CU48 boards on a pty: 48-bit status replies and open replies."""

from __future__ import annotations

from firmware_bridge.protocols import kerong_cu48 as proto
from firmware_bridge.protocols.frames import open_to_bit
from firmware_bridge.sim.pty_sim import PtySimulator


class KerongCu48Sim(PtySimulator):
    """Boards with up to 48 locks each; any DEVID the wall has a board for."""

    request_length = proto.TABLE["status"].length

    def board_of(self, frame: bytes) -> int:
        return proto.decode_request(frame).board

    def respond(self, frame: bytes) -> bytes | None:
        req = proto.decode_request(frame)
        n = self.wall.locks_of(self.bus, req.board)
        if req.command is proto.Command.STATUS:
            locks = tuple(
                open_to_bit(self.wall.sensed_open(self.bus, req.board, i), self.polarity) for i in range(1, n + 1)
            )
            return proto.encode_status_reply(req.board, locks)
        if req.command is proto.Command.OPEN and req.lock <= n:
            self.wall.unlock(self.bus, req.board, req.lock)
            return proto.encode_open_reply(req.board, req.lock)
        return None
