"""Contract-suite fixtures: every registered driver x its simulator over a real pseudo-terminal.

To add a driver, write a ``RigFactory`` (a context manager yielding a ``contract_rigs.Rig``, see
``contract_rigs.py``) and add it to ``RIGS`` below; every contract test then runs against it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from tests.contract.contract_rigs import (
    MakeRig,
    Rig,
    RigFactory,
    RigRequest,
    cu16_rig,
    cu48_rig,
    gpio_rig,
    modbus_relay_rig,
    xor_8a_rig,
)

# Register more drivers here: name -> factory yielding a Rig (declare its capabilities on the Rig).
RIGS: dict[str, RigFactory] = {
    "gpio": gpio_rig,
    "kerong-cu16": cu16_rig,
    "kerong-cu48": cu48_rig,
    "xor-8a": xor_8a_rig,
    "modbus-relay": modbus_relay_rig,
}


@pytest.fixture(params=sorted(RIGS))
def make_rig(request: pytest.FixtureRequest) -> Iterator[MakeRig]:
    """A function building this driver's rig from a RigRequest; everything is torn down after the test."""
    factory = RIGS[request.param]
    with contextlib.ExitStack() as stack:

        def make(req: RigRequest | None = None) -> Rig:
            return stack.enter_context(factory(req or RigRequest()))

        yield make


@pytest.fixture
def rig(make_rig: MakeRig) -> Rig:
    """The default rig: one board, open-high."""
    return make_rig()
