"""The touchscreen kiosk UI and its local HTTP API."""
