"""Settings: defaults that run out of the box, and one clear line for every bad value."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from app.core.config import TEST_SECRET_KEY, ConfigError, Settings, install_secret, load_settings


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
    assert settings.secret_key.get_secret_value() == "x" * 40
    for weak in ("short-secret", TEST_SECRET_KEY):
        monkeypatch.setenv("ASSAY_SECRET_KEY", weak)
        with pytest.raises(ConfigError, match="at least 32 characters in production"):
            load_settings()


def test_an_install_makes_its_own_secret_key_on_first_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No key is shipped with the code: a development install (`make run`) makes a random one under var/,
    readable by its owner only, and keeps it; a copy of the database alone rebuilds no link."""
    monkeypatch.delenv("ASSAY_SECRET_KEY", raising=False)
    monkeypatch.delenv("ASSAY_ENVIRONMENT", raising=False)
    monkeypatch.chdir(tmp_path)
    first = load_settings().secret_key.get_secret_value()
    key_file = tmp_path / "var" / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(first) >= 64 and key_file.read_text().strip() == first
    assert load_settings().secret_key.get_secret_value() == first  # kept across starts
    other = Settings(_env_file=None, secret_key_file=tmp_path / "elsewhere.key")  # type: ignore[call-arg]
    assert other.secret_key.get_secret_value() not in (first, TEST_SECRET_KEY)  # each install its own
    assert [p.name for p in key_file.parent.iterdir()] == ["secret.key"]  # no draft left behind


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    path = tmp_path / "var" / "secret.key"
    start = threading.Barrier(8)
    keys: list[str] = []

    def start_a_process() -> None:
        start.wait()
        keys.append(install_secret(path))

    threads = [threading.Thread(target=start_a_process) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(keys) == 8 and len(set(keys)) == 1


def test_an_unwritable_key_folder_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ASSAY_SECRET_KEY", raising=False)
    monkeypatch.delenv("ASSAY_ENVIRONMENT", raising=False)
    (tmp_path / "var").write_text("a file where the folder should be")
    monkeypatch.setenv("ASSAY_SECRET_KEY_FILE", str(tmp_path / "var" / "secret.key"))
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert str(raised.value).startswith("invalid configuration: cannot read the secret key file ")
