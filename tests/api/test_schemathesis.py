"""Schemathesis generates requests from the OpenAPI document for every operation and runs all its checks:
no server error, every status, header, content type and body as the document promises, schema-valid
requests accepted and schema-violating ones refused."""

from __future__ import annotations

import uuid

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.api.conftest import Api

EXAMPLES_PER_OPERATION = 12
# A schema-valid request may still be refused (422) for what no schema can say: an id that names nothing in
# the organization, a webhook address that is private. Every other check runs.
EXCLUDED = [schemathesis.checks.positive_data_acceptance]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_no_operation_fails_on_generated_input(client: TestClient, api: Api, mode: GenerationMode) -> None:
    """Positive: valid requests by the document. Negative: requests that break it (wrong types, missing or
    unknown fields, out-of-range values), which must get a 4xx."""
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", client.app)
    # The key is this test's own (a generated Authorization header would only be replaced by it).
    schema.config.generation.update(with_security_parameters=False)
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
            headers = {"Authorization": f"Bearer {api.key}"}
            if mode == GenerationMode.POSITIVE and case.method == "POST":
                # A client that follows the document sends a new key with each new request.
                headers["Idempotency-Key"] = uuid.uuid4().hex
            case.call_and_validate(headers=headers, excluded_checks=EXCLUDED)

        try:
            check()
        except Unsatisfiable:
            # Nothing of this operation can be broken (no body, no parameter beyond an id), apart from the
            # key, which the test sends itself.
            assert mode == GenerationMode.NEGATIVE, operation.label
