"""Settings: defaults that run out of the box, and one clear line for every bad value."""

from __future__ import annotations

import pytest

from app.config import DEFAULT_SECRET_KEY, ConfigError, load_settings


def test_defaults_are_the_embedded_sqlite_setup(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("ASSAY_DATABASE_URL", "ASSAY_BROKER_URL", "ASSAY_ENVIRONMENT"):
        monkeypatch.delenv(key, raising=False)
    settings = load_settings()
    assert settings.database_url == "sqlite:///var/assay.db"
    assert settings.broker_url == ""
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)


def test_plain_postgresql_url_uses_psycopg3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_DATABASE_URL", "postgresql://postgres@db/assay")
    assert load_settings().database_url == "postgresql+psycopg://postgres@db/assay"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"ASSAY_DATABASE_URL": "mysql://root@localhost/x"},
            "ASSAY_DATABASE_URL: unsupported database URL scheme",
        ),
        ({"ASSAY_DATABASE_URL": "not a url"}, "ASSAY_DATABASE_URL: unsupported database URL scheme"),
        ({"ASSAY_BROKER_URL": "amqp://guest@localhost"}, "ASSAY_BROKER_URL: unsupported broker URL"),
        ({"ASSAY_PORT": "99999"}, "ASSAY_PORT:"),
        ({"ASSAY_ENVIRONMENT": "production"}, "ASSAY_SECRET_KEY must be set"),
    ],
)
def test_bad_settings_are_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
) -> None:
    monkeypatch.delenv("ASSAY_SECRET_KEY", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    message = str(raised.value)
    assert expected in message
    assert "\n" not in message


def test_production_accepts_a_real_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_ENVIRONMENT", "production")
    monkeypatch.setenv("ASSAY_SECRET_KEY", "x" * 40)
    settings = load_settings()
    assert settings.secret_key.get_secret_value() != DEFAULT_SECRET_KEY
