"""The hands of the people in front of a simulated wall, by compartment number: shut, force, fill, jam, cut power."""

from __future__ import annotations

import abc

from firmware_bridge.sim.wall import LockKey, LockView, SimEvent, Wall

_PULSES = (SimEvent.UNLOCK, SimEvent.UNLOCK_JAMMED)


class Hands(abc.ABC):
    """What a test, the demo's terminal or the /sim panel does to the one physics model (``Wall``).

    Subclasses say where a compartment's lock is; the actions and what they do to doors and sensors are the
    wall's, so the in-process memory bank and the simulated boards behave alike.
    """

    wall: Wall

    @abc.abstractmethod
    def key(self, number: int) -> LockKey:
        """The wall's lock behind compartment ``number`` (raises for a number the station does not have)."""

    def close(self, number: int) -> None:
        """Push the door shut (it latches)."""
        self.wall.close_door(*self.key(number))

    def force(self, number: int) -> None:
        """Force the door open without any command."""
        self.wall.force_open(*self.key(number))

    def set_item(self, number: int, present: bool) -> None:
        self.wall.set_item(*self.key(number), present)

    def put_item(self, number: int) -> None:
        self.set_item(number, True)

    def take_item(self, number: int) -> None:
        self.set_item(number, False)

    def jam(self, number: int, jammed: bool = True) -> None:
        self.wall.jam(*self.key(number), jammed)

    def stick_sensor(self, number: int, value: bool | None, *, item: bool = False) -> None:
        self.wall.stick_sensor(*self.key(number), value, item=item)

    def silence(self, silent: bool) -> None:
        """Every board of the wall stops answering (power or cable gone), or answers again."""
        for bus, board in self.wall.boards():
            self.wall.set_powered(bus, board, not silent)

    def is_open(self, number: int) -> bool:
        return self.wall.is_open(*self.key(number))

    def has_item(self, number: int) -> bool:
        return self.wall.has_item(*self.key(number))

    def view(self, number: int) -> LockView:
        return self.wall.view(*self.key(number))

    def pulses(self, number: int) -> int:
        """How many lock pulses reached the compartment's lock (a jammed lock's included)."""
        where = str(self.key(number))
        return sum(1 for r in self.wall.recorder.records() if r.where == where and r.event in _PULSES)
