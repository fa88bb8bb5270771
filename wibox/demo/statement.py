"""The receipt statement the demo's citizens confirm: the German screen's text, cited as the kiosk UI cites it."""

from __future__ import annotations

from kiosk_ui.i18n import DEFAULT_LANGUAGE, Catalogs

STATEMENT = Catalogs.load().statement(DEFAULT_LANGUAGE)
