"""The sync protocol, the kiosk's backend client, and the reference city hub."""
