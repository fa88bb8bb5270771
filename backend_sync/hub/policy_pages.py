"""The admin page of the city's handover policy per document type (the same rules as the REST API)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from backend_sync.hub.auth import Role
from backend_sync.hub.city_policy import document_policies
from backend_sync.hub.deps import Hub
from backend_sync.hub.pages import CityAdmin, Reader, render
from backend_sync.hub.policy_api import TYPE_PATTERN, put_policy
from locker.doctypes import DocumentPolicy, DocumentType, SecondFactor


def build_router() -> APIRouter:
    router = APIRouter()

    @router.get("/admin/policy")
    def policy_page(request: Request, hub: Hub, principal: Reader) -> HTMLResponse:
        with hub.store.read() as conn:
            rows = list(document_policies(conn, principal.city()).values())
        return render(
            request,
            "policy.html",
            principal,
            policies=rows,
            factors=[f.value for f in SecondFactor],
            can_manage=principal.allows(Role.ADMIN),
        )

    @router.post("/admin/policy/{document_type}")
    def set_policy(
        hub: Hub,
        *,
        principal: CityAdmin,
        document_type: Annotated[str, Path(pattern=TYPE_PATTERN)],
        second_factor: Annotated[SecondFactor, Form()],
        statement: Annotated[str, Form(min_length=1, max_length=64)],
        old_document_return: Annotated[str, Form(max_length=1)] = "",
    ) -> RedirectResponse:
        doc = DocumentType.exact(document_type)
        policy = DocumentPolicy(doc, second_factor, old_document_return == "1", statement)
        with hub.store.write() as conn:
            put_policy(conn, principal, policy, hub.clock.now())
        return RedirectResponse("/admin/policy", status_code=303)

    return router
