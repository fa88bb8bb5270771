"""What every router depends on: the hub context (store, config, keys, clock, mailer, notifier)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from backend_sync.hub.config import HubConfig
from backend_sync.hub.db import HubStore
from backend_sync.hub.keys import HubKeys
from backend_sync.hub.ports import Mailer, Notifier
from locker.ports import Clock


@dataclass(frozen=True)
class HubContext:
    store: HubStore
    config: HubConfig
    keys: HubKeys
    clock: Clock
    notifier: Notifier
    mailer: Mailer | None


def get_hub(request: Request) -> HubContext:
    hub: HubContext = request.app.state.hub
    return hub


Hub = Annotated[HubContext, Depends(get_hub)]
