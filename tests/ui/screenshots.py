"""`make screenshots`: PNGs of every citizen and staff screen in German and Arabic, into docs/screenshots/."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.ui.gallery import citizen_screens, staff_screens
from tests.ui.rig import CHROMIUM, CHROMIUM_ARGS, VIEWPORT, build, serve

LANGS = ("de", "ar")


def main(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, serve(build(Path(tmp))) as kiosk, sync_playwright() as p:
        c = kiosk.station.announce("ORDER-SHOT")
        kiosk.station.load(kiosk.station.staff_session(), c)
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for lang in LANGS:
            context = browser.new_context(has_touch=True, viewport=VIEWPORT)
            page = context.new_page()
            for name in citizen_screens(page, kiosk, lang):
                page.screenshot(path=str(out / f"{lang}-{name}.png"))
            for name in staff_screens(page, kiosk, lang):
                page.screenshot(path=str(out / f"{lang}-{name}.png"))
            context.close()
        context = browser.new_context(viewport=VIEWPORT)
        page = context.new_page()
        page.goto(kiosk.url + "/sim")
        page.wait_for_selector("#sim-table tbody tr")
        page.screenshot(path=str(out / "sim.png"))
        context.close()
        browser.close()
    print(f"screenshots written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")))
