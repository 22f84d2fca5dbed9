"""The API client fixtures, for tests that invite through the REST API beside the other doors."""

from tests.api.conftest import api, org  # noqa: F401 - the API client fixtures
