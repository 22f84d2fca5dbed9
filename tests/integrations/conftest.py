from tests.web.conftest import live_server  # noqa: F401 - the real server the Greenhouse flow runs against
from tests.webhooks.conftest import receiver  # noqa: F401 - plays Greenhouse's callback URL
