"""The shape of a receipt statement reference: a text id, a wording version and a language, or BadInput."""

from __future__ import annotations

import re

from locker.errors import BadInput
from locker.model import Statement

_STATEMENT_ID = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_STATEMENT_VERSION = re.compile(r"[0-9a-z][0-9a-z_.-]{0,63}")
_LANGUAGE = re.compile(r"[a-z]{2,3}")


def check_statement(statement: Statement) -> None:
    """A receipt statement names its text, wording and language; anything else is refused (BadInput)."""
    ok = (
        _STATEMENT_ID.fullmatch(statement.id)
        and _STATEMENT_VERSION.fullmatch(statement.version)
        and _LANGUAGE.fullmatch(statement.language)
    )
    if not ok:
        raise BadInput("the receipt statement must name its text, version and language")
