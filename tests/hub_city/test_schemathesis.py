"""schemathesis against the hub's OpenAPI schema, in process: no generated request causes a server error.

The operations are driven through hypothesis directly (schemathesis' pytest plugin does not run under pytest 9).
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.hub_city.conftest import Hub

EXAMPLES = 8


def test_no_server_error(hub: Hub) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", hub.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 15
    for headers in (hub.a.headers, {}):  # city A's machine client (reaches the handlers), and anonymous
        for operation in operations:
            _fuzz(operation, headers)


def _fuzz(operation: Any, headers: dict[str, str]) -> None:

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=[not_a_server_error])

    run()
