"""Kiosk UI tests: routes over TestClient, and the real pages in Chromium driven by Playwright."""
