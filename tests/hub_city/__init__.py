"""Tests of the hub's city-facing side: orders in, notices, fleet view, metrics, open data, isolation."""
