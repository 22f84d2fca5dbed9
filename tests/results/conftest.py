from tests.api.conftest import api, org, other_api  # noqa: F401 - the results API is read with an API key
