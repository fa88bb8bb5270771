"""docs/hub.md names every city-facing route (methods and path, parameters written as ``{}``)."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.routing import APIRoute

from backend_sync.hub import auth, csv_import, metrics, opendata, orders_api, pages, policy_api, policy_pages

DOC = Path(__file__).resolve().parents[2] / "docs" / "hub.md"


def test_every_route_is_documented() -> None:
    doc = DOC.read_text()
    for module in (auth, csv_import, orders_api, policy_api, policy_pages, pages, metrics, opendata):
        for route in module.build_router().routes:
            if isinstance(route, APIRoute):
                path = re.sub(r"{\w+}", "{}", route.path)
                entry = "`" + "/".join(sorted(route.methods or ())) + " " + path + "`"
                assert entry in doc, f"{entry} is missing in docs/hub.md"
