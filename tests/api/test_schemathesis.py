"""Schemathesis generates requests from the OpenAPI document for every operation: none may end in a
server error, and each response must match what the document promises."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.api.conftest import Api

EXAMPLES_PER_OPERATION = 12


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_no_operation_fails_on_generated_input(client: TestClient, api: Api, mode: GenerationMode) -> None:
    """Positive: valid requests by the document. Negative: requests that break it (wrong types, missing or
    unknown fields, out-of-range values), which must get a 4xx."""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {api.key}"},
                checks=[schemathesis.checks.not_a_server_error],
            )

        check()
