"""The outbox's HTTP client refuses destinations that would turn Assay against its own network (SSRF)."""

from __future__ import annotations

import pytest

from app.core.config import Settings
from app.outbox.http import UnsafeDestination, check_url, resolve_safely


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://localhost:8000/x",
        "http://api.localhost/x",
        "http://localhost./x",
        "http://10.1.2.3/x",
        "http://192.168.0.10/x",
        "http://172.16.5.4/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/x",
        "http://0.0.0.0/x",
        "http://[::1]/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://[fd00::1]/x",
        "http://224.0.0.1/x",
        "ftp://example.com/x",
        "http://user:pw@example.com/x",
        "not a url",
    ],
)
def test_private_local_and_odd_destinations_are_refused(settings: Settings, url: str) -> None:
    with pytest.raises(UnsafeDestination):
        check_url(url, settings)


def test_names_resolving_to_private_addresses_are_refused_at_send_time(settings: Settings) -> None:
    for url in ("http://127.1/x", "http://2130706433/x", "http://0x7f.0.0.1/x"):
        with pytest.raises(UnsafeDestination, match="private or local"):
            resolve_safely(url, settings)


def test_production_sends_only_https_and_the_allow_list_opens_named_hosts(settings: Settings) -> None:
    production = settings.model_copy(update={"environment": "production"})
    with pytest.raises(UnsafeDestination, match="https://"):
        check_url("http://hooks.example.com/x", production)
    assert check_url("https://hooks.example.com/x", production) == ("hooks.example.com", 443)
    internal = settings.model_copy(update={"outbound_allow_list": ["10.0.0.0/8", "*.corp.internal"]})
    assert check_url("http://10.2.3.4:9000/x", internal) == ("10.2.3.4", 9000)
    assert check_url("http://hooks.corp.internal/x", internal)[0] == "hooks.corp.internal"
    with pytest.raises(UnsafeDestination):
        check_url("http://192.168.1.1/x", internal)
