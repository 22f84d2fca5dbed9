"""The API client fixtures, for the assessments' API routes."""

from tests.api.conftest import api, org, other_api  # noqa: F401 - the API client fixtures
