"""A city's policy as the hub keeps it (city_settings, document_policies): what orders, notices and bundles follow."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from backend_sync.hub import tables as hubdb
from locker import codes
from locker.doctypes import DocumentPolicy, DocumentType, SecondFactor, default_statement


@dataclass(frozen=True)
class CitySettings:
    dob_factor: bool = False
    pin_length: int = codes.MIN_PIN_LENGTH
    office_contact: str = ""
    open_data: bool = True
    max_data_age_h: int = 72


def city_settings(conn: sa.Connection, city_id: str) -> CitySettings:
    t = hubdb.city_settings
    row = conn.execute(sa.select(t).where(t.c.city_id == city_id)).first()
    if row is None:
        return CitySettings()
    return CitySettings(row.dob_factor, row.pin_length, row.office_contact, row.open_data, row.max_data_age_h)


def default_policy(settings: CitySettings, doc: DocumentType) -> DocumentPolicy:
    """A type's policy until the city sets one: the city's second factor, old document return where the type has
    one (each order still says whether its citizen brings one), the type's own receipt statement."""
    factor = SecondFactor.DATE_OF_BIRTH if settings.dob_factor else SecondFactor.NONE
    return DocumentPolicy(doc, factor, doc.has_old_document, default_statement(doc))


def document_policies(conn: sa.Connection, city_id: str) -> dict[DocumentType, DocumentPolicy]:
    """Every document type's policy in this city (all four go into every bundle, so a station never guesses)."""
    settings = city_settings(conn, city_id)
    out = {d: default_policy(settings, d) for d in DocumentType}
    t = hubdb.document_policies
    for r in conn.execute(sa.select(t).where(t.c.city_id == city_id)).all():
        doc = DocumentType.exact(r.document_type)
        out[doc] = DocumentPolicy(doc, SecondFactor(r.second_factor), bool(r.old_document_return), r.statement)
    return out


def document_policy(conn: sa.Connection, city_id: str, doc: DocumentType) -> DocumentPolicy:
    return document_policies(conn, city_id)[doc]


def set_document_policy(conn: sa.Connection, city_id: str, policy: DocumentPolicy, now: float) -> None:
    """Store one type's policy; the city's kiosks get it with their next bundle (``mark_kiosks_dirty``)."""
    t = hubdb.document_policies
    values = {
        "second_factor": policy.second_factor.value,
        "old_document_return": policy.old_document_return,
        "statement": policy.statement,
        "updated_at": now,
    }
    done = conn.execute(
        sa.update(t).where(t.c.city_id == city_id, t.c.document_type == policy.document_type.value).values(**values)
    )
    if not done.rowcount:
        conn.execute(sa.insert(t).values(city_id=city_id, document_type=policy.document_type.value, **values))
