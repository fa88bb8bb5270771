"""Tests of the code scanners: decoding, camera loop, wedge and serial devices, hub and CLI."""
