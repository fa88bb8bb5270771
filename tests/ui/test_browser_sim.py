"""The /sim panel in Chromium: its table is updated in place, so a button pressed between two refreshes works."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.ui.rig import Kiosk


def test_sim_rows_are_updated_in_place_and_clicks_land(kiosk: Kiosk, page: Page) -> None:
    page.goto(kiosk.url + "/sim")
    row = page.locator('#sim-table tr[data-n="2"]')
    expect(row).to_be_visible()
    row.evaluate("el => { el.dataset.seen = 'first' }")  # marks this element, not a later copy of it
    page.wait_for_timeout(1200)  # more than two refreshes (every 500 ms)
    expect(page.locator('#sim-table tr[data-seen="first"]')).to_have_count(1)
    for _ in range(5):  # press while the panel keeps refreshing: every press lands
        button = row.get_by_role("button", name="jam lock #2")
        button.click()
        expect(row.get_by_role("button", name="free lock #2")).to_be_visible()
        row.get_by_role("button", name="free lock #2").click()
        expect(row.get_by_role("button", name="jam lock #2")).to_be_visible()
    state = page.request.get(kiosk.url + "/sim/api/state").json()["compartments"][1]
    assert state["jammed"] is False
    expect(page.locator('#sim-table tr[data-seen="first"]')).to_have_count(1)
