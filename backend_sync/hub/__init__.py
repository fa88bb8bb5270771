"""The reference city hub: storage, kiosk API, enrollment, and (city-facing) orders, admin and fleet pages."""
