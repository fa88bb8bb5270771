"""The simulator panel (/sim): the wall drawn to scale with each door's state, and its small JSON API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from kiosk_ui.forms import json_object
from kiosk_ui.runtime import KioskUI
from kiosk_ui.sim import SimControl
from kiosk_ui.views import common
from kiosk_ui.wall import WALL_HEIGHT_MM, layout, width_mm


def sim_router(ui: KioskUI, sim: SimControl) -> APIRouter:
    r = APIRouter(prefix="/sim")

    def known(n: int) -> None:
        if n not in {c.number for c in ui.station.config.compartments}:
            raise HTTPException(404, f"no compartment {n}")

    @r.get("")
    def panel(request: Request) -> Response:
        boxes = layout(ui.station.config.compartments)
        ctx = common("en", ui.catalogs, ui.sizing, False, False)
        ctx.update(boxes=boxes, wall_w=width_mm(boxes), wall_h=WALL_HEIGHT_MM)
        return ui.templates.TemplateResponse(request, "sim.html", ctx)

    @r.get("/api/state")
    def state() -> dict[str, Any]:
        return {"compartments": [c.as_dict() for c in sim.state()]}

    @r.post("/api/scan")
    async def scan(request: Request) -> dict[str, bool]:
        text = (await json_object(request)).get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > 512:
            raise HTTPException(400, 'expected {"text": "<payload>"}')
        # the scan hub hands the scan to the kiosk's scan queue, like a real scanner's thread
        await run_in_threadpool(sim.present_scan, text)
        return {"ok": True}

    @r.post("/api/doors/{compartment}/close")
    def close(compartment: int) -> dict[str, bool]:
        known(compartment)
        sim.close_door(compartment)
        return {"ok": True}

    @r.post("/api/doors/{compartment}/item")
    async def item(compartment: int, request: Request) -> dict[str, bool]:
        known(compartment)
        present = (await json_object(request)).get("present")
        if not isinstance(present, bool):
            raise HTTPException(400, 'expected {"present": true|false}')
        await run_in_threadpool(sim.set_item, compartment, present)
        return {"ok": True}

    @r.post("/api/doors/{compartment}/jam")
    async def jam(compartment: int, request: Request) -> dict[str, bool]:
        known(compartment)
        jammed = (await json_object(request)).get("jammed", True)
        if not isinstance(jammed, bool):
            raise HTTPException(400, 'expected {"jammed": true|false}')
        await run_in_threadpool(sim.jam, compartment, jammed)
        return {"ok": True}

    @r.post("/api/boards/silence")
    async def silence(request: Request) -> dict[str, bool]:
        silent = (await json_object(request)).get("silent", True)
        if not isinstance(silent, bool):
            raise HTTPException(400, 'expected {"silent": true|false}')
        await run_in_threadpool(sim.silence, silent)
        return {"ok": True}

    return r
