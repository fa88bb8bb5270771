"""Languages and JSON message catalogs; a missing key is an error, never a silent fallback."""

from __future__ import annotations

import hashlib
import json
import string
from dataclasses import dataclass
from importlib import resources
from typing import Any

from kiosk_ui.errors import CatalogError
from locker.model import Statement


@dataclass(frozen=True)
class Language:
    code: str  # BCP 47 code used in <html lang>
    name: str  # the language's own name (endonym), shown on its button
    dir: str  # "ltr" or "rtl"
    voice: str  # espeak-ng voice


LANGUAGES: tuple[Language, ...] = (
    Language("de", "Deutsch", "ltr", "de"),
    Language("en", "English", "ltr", "en"),
    Language("tr", "Türkçe", "ltr", "tr"),
    Language("uk", "Українська", "ltr", "uk"),
    Language("ar", "العربية", "rtl", "ar"),
    Language("ru", "Русский", "ltr", "ru"),
    Language("pl", "Polski", "ltr", "pl"),
)
DEFAULT_LANGUAGE = "de"
RECEIPT_STATEMENT = "confirm.statement"  # the catalog key of the text a citizen confirms before the door opens
REFERENCE_LANGUAGE = "en"
# Keys whose text may legitimately be the same as in English (international words).
SAME_AS_ENGLISH: dict[str, frozenset[str]] = {
    "key.ok": frozenset({"de", "tr", "pl"}),
    "app.pin": frozenset({"de", "tr", "pl"}),
}


def language(code: str) -> Language:
    for lang in LANGUAGES:
        if lang.code == code:
            return lang
    raise CatalogError(f"unknown language {code!r}")


def is_language(code: str) -> bool:
    return any(lang.code == code for lang in LANGUAGES)


def _fields(text: str) -> set[str]:
    return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name}


class Catalogs:
    """All catalogs, loaded once. ``text`` raises CatalogError for a missing key or placeholder."""

    def __init__(self, catalogs: dict[str, dict[str, str]]) -> None:
        self._catalogs = catalogs

    @classmethod
    def load(cls) -> Catalogs:
        out: dict[str, dict[str, str]] = {}
        base = resources.files("kiosk_ui") / "catalogs"
        for lang in LANGUAGES:
            data = json.loads((base / f"{lang.code}.json").read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
                raise CatalogError(f"catalog {lang.code}: expected an object of strings")
            out[lang.code] = data
        return cls(out)

    def keys(self, code: str) -> set[str]:
        return set(self._catalogs[code])

    def raw(self, code: str, key: str) -> str:
        try:
            return self._catalogs[code][key]
        except KeyError:
            raise CatalogError(f"catalog {code}: no text for {key!r}") from None

    def text(self, code: str, key: str, **params: Any) -> str:
        try:
            return self.raw(code, key).format(**params)
        except (KeyError, IndexError) as exc:
            raise CatalogError(f"catalog {code}: {key!r} needs a parameter: {exc}") from exc

    def statement(self, code: str, statement_id: str = RECEIPT_STATEMENT) -> Statement:
        """The receipt statement ``statement_id`` (the policy of the order's document type names it) as this
        language's screen shows it: its version is the wording's own digest, so a changed text is a new version in
        every proof that cites it. An id this kiosk has no text for falls back to the generic statement, which is
        then the one shown and recorded (a city's unknown id never stops a pickup)."""
        key = statement_id if statement_id in self._catalogs[code] else RECEIPT_STATEMENT
        text = self.raw(code, key)
        return Statement(key, hashlib.sha256(text.encode()).hexdigest()[:16], code)

    def problems(self) -> list[str]:
        """Every missing, extra, untranslated or placeholder-mismatched entry across all languages."""
        ref = self._catalogs[REFERENCE_LANGUAGE]
        out: list[str] = []
        for lang in LANGUAGES:
            cat = self._catalogs[lang.code]
            out += [f"{lang.code}: missing {k}" for k in sorted(set(ref) - set(cat))]
            out += [f"{lang.code}: extra {k}" for k in sorted(set(cat) - set(ref))]
            for k in sorted(set(ref) & set(cat)):
                if not cat[k].strip():
                    out.append(f"{lang.code}: empty {k}")
                if _fields(cat[k]) != _fields(ref[k]):
                    out.append(f"{lang.code}: placeholders of {k} differ from English")
                same_ok = lang.code == REFERENCE_LANGUAGE or lang.code in SAME_AS_ENGLISH.get(k, frozenset())
                if cat[k] == ref[k] and not same_ok:
                    out.append(f"{lang.code}: {k} is not translated")
        return out
