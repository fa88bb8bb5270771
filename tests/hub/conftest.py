"""Fixtures for the hub tests: one PostgreSQL cluster per test session (worker), hub databases per test."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.hub.servers import PgCluster, find_initdb


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    if find_initdb() is None or os.geteuid() != 0:
        pytest.skip("needs PostgreSQL (Debian package postgresql) and root to run it as the postgres user")
    cluster = PgCluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('hubdb') / 'hub.db'}"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database()
