"""Simulated lock boards: a protocol-independent wall model plus pty simulators that speak the real bytes."""
