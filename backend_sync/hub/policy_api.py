"""The city's handover policy per document type over REST: read all four, set one; stations get it in the bundle."""

from __future__ import annotations

import dataclasses
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from backend_sync.hub import tables as hubdb
from backend_sync.hub.auth import CITY_ROLES, AdminPrincipal, CityAdmin, audit, require_role
from backend_sync.hub.city_policy import document_policies, set_document_policy
from backend_sync.hub.deps import Hub
from backend_sync.hub.errors import Invalid
from locker.doctypes import DocumentPolicy, DocumentType, SecondFactor, check_policy
from locker.errors import BadInput

PolicyReader = Annotated[AdminPrincipal, Depends(require_role(*CITY_ROLES))]
TYPE_PATTERN = "^(" + "|".join(d.value for d in DocumentType) + ")$"


class DocumentPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    second_factor: SecondFactor = Field(description="none | date_of_birth")
    old_document_return: bool = Field(description="ask for the old document (id_card and passport only)")
    statement: str = Field(min_length=1, max_length=64, description="receipt statement id, e.g. statement.passport")


class DocumentPolicyOut(BaseModel):
    document_type: DocumentType
    second_factor: SecondFactor
    old_document_return: bool
    statement: str


def _out(p: DocumentPolicy) -> DocumentPolicyOut:
    return DocumentPolicyOut(**dataclasses.asdict(p))


def put_policy(conn: sa.Connection, principal: AdminPrincipal, policy: DocumentPolicy, now: float) -> None:
    """Set one type's policy and have every kiosk of the city fully resynced, so the next bundle carries it."""
    try:
        check_policy(policy)
    except BadInput as exc:
        raise Invalid(str(exc)) from exc
    if policy.old_document_return and not policy.document_type.has_old_document:
        raise Invalid(f"old_document_return: a {policy.document_type} has no old document to return")
    city_id = principal.city()
    set_document_policy(conn, city_id, policy, now)
    k = hubdb.kiosks
    conn.execute(sa.update(k).where(k.c.city_id == city_id).values(resync=True))
    detail = {"second_factor": policy.second_factor.value, "old_document_return": policy.old_document_return}
    audit(conn, principal, "policy.document_type", policy.document_type.value, now, detail=detail)


def build_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/document-policies", tags=["policy"])

    @router.get("")
    def get_policies(hub: Hub, principal: PolicyReader) -> list[DocumentPolicyOut]:
        with hub.store.read() as conn:
            return [_out(p) for p in document_policies(conn, principal.city()).values()]

    @router.post("/{document_type}")
    def post_policy(
        hub: Hub,
        document_type: Annotated[str, Path(pattern=TYPE_PATTERN)],
        body: DocumentPolicyIn,
        principal: CityAdmin,
    ) -> DocumentPolicyOut:
        doc = DocumentType.exact(document_type)
        policy = DocumentPolicy(doc, body.second_factor, body.old_document_return, body.statement)
        with hub.store.write() as conn:
            put_policy(conn, principal, policy, hub.clock.now())
            return _out(document_policies(conn, principal.city())[doc])

    return router
