"""All hardware: lock-board drivers, serial transport, lock bank, door sensors, scanners and simulators."""
