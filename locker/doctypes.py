"""Document types and the city's handover policy per type: second factor, old document return, receipt statement."""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from locker.errors import BadInput

POLICIES_KEY = "document_policies"  # meta key: the policies per document type from the last bundle that carried them
_STATEMENT_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")


class DocumentType(enum.StrEnum):
    """What an order holds; the policy, the screens and the notices follow it."""

    ID_CARD = "id_card"  # Personalausweis
    PASSPORT = "passport"  # Reisepass (also a child's passport)
    EAT = "eat"  # elektronischer Aufenthaltstitel (residence permit card)
    CERTIFICATE = "certificate"  # a certificate or other paper document (e.g. a certificate of conduct)

    @classmethod
    def _missing_(cls, value: object) -> DocumentType | None:
        """An earlier free-text kind that names a type (``residence_permit``: an older hub's orders) reads as it."""
        return LEGACY_KINDS.get(value) if isinstance(value, str) else None

    @classmethod
    def exact(cls, value: str) -> DocumentType:
        """The type named exactly by its value (no earlier aliases), or ValueError naming the allowed values."""
        if value not in cls._value2member_map_:
            raise ValueError(f"document type {value!r} is not one of {', '.join(cls)}")
        return cls(value)

    @property
    def has_old_document(self) -> bool:
        """Whether a previous document of this type can be handed back (ID card and passport only)."""
        return self in (DocumentType.ID_CARD, DocumentType.PASSPORT)


# Earlier free-text document kinds, as stored before document types existed (migrations map them).
LEGACY_KINDS: Mapping[str, DocumentType] = {  # read by DocumentType._missing_
    "personalausweis": DocumentType.ID_CARD,
    "reisepass": DocumentType.PASSPORT,
    "kinderreisepass": DocumentType.PASSPORT,
    "child_passport": DocumentType.PASSPORT,
    "residence_permit": DocumentType.EAT,
    "aufenthaltstitel": DocumentType.EAT,
    "e_at": DocumentType.EAT,
}


def legacy_type(kind: str) -> DocumentType:
    """The document type of an earlier free-text kind: a known name or alias, else an ID card (the default)."""
    try:
        return DocumentType(kind)
    except ValueError:
        return DocumentType.ID_CARD


class SecondFactor(enum.StrEnum):
    NONE = "none"
    DATE_OF_BIRTH = "date_of_birth"


def default_statement(doc: DocumentType) -> str:
    """The receipt statement id of a type unless the city names another (a kiosk catalog key)."""
    return f"statement.{doc.value}"


@dataclass(frozen=True)
class DocumentPolicy:
    """The city's rules for handing over one document type (sent by the hub in the signed bundle)."""

    document_type: DocumentType
    second_factor: SecondFactor
    old_document_return: bool  # only meaningful for ID cards and passports; ignored for the others
    statement: str  # the receipt statement id (a catalog key of the kiosk)

    @property
    def asks_date_of_birth(self) -> bool:
        return self.second_factor == SecondFactor.DATE_OF_BIRTH

    @property
    def asks_old_document(self) -> bool:
        return self.old_document_return and self.document_type.has_old_document


def check_policy(p: DocumentPolicy) -> None:
    """A policy names a type, a second factor and a well-formed statement id; anything else is BadInput."""
    if not isinstance(p.document_type, DocumentType) or not isinstance(p.second_factor, SecondFactor):
        raise BadInput("document policy: unknown document type or second factor")
    if not _STATEMENT_ID.fullmatch(p.statement):
        raise BadInput(f"document policy {p.document_type}: statement id {p.statement!r} is not valid")


def defaults(second_factor: bool, old_id_return: bool) -> dict[DocumentType, DocumentPolicy]:
    """The policies before the first bundle that carries the city's: the station TOML's ``policy`` section."""
    factor = SecondFactor.DATE_OF_BIRTH if second_factor else SecondFactor.NONE
    return {
        d: DocumentPolicy(d, factor, old_id_return and d.has_old_document, default_statement(d)) for d in DocumentType
    }


def merged(
    base: Mapping[DocumentType, DocumentPolicy], given: Iterable[DocumentPolicy]
) -> dict[DocumentType, DocumentPolicy]:
    """``base`` with the ``given`` policies in place of theirs (a type the city did not name keeps its default)."""
    out = dict(base)
    out.update({p.document_type: p for p in given})
    return out


def dumps(policies: Iterable[DocumentPolicy]) -> str:
    rows = [
        {
            "document_type": p.document_type.value,
            "second_factor": p.second_factor.value,
            "old_document_return": p.old_document_return,
            "statement": p.statement,
        }
        for p in sorted(policies, key=lambda p: p.document_type.value)
    ]
    return json.dumps(rows, sort_keys=True, separators=(",", ":"))


def loads(text: str) -> list[DocumentPolicy]:
    """The stored policies (written by ``dumps``); a row this version does not understand is skipped."""
    out: list[DocumentPolicy] = []
    for row in json.loads(text):
        try:
            p = DocumentPolicy(
                DocumentType(row["document_type"]),
                SecondFactor(row["second_factor"]),
                bool(row["old_document_return"]),
                str(row["statement"]),
            )
        except (KeyError, ValueError, TypeError):
            continue
        out.append(p)
    return out
