"""Settings read from the environment (prefix ``ASSAY_``) and an optional ``.env`` file."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The key tests use unless they set one (tests build invitation links the app must be able to rebuild).
# Never used outside ASSAY_ENVIRONMENT=test; production refuses it.
TEST_SECRET_KEY = "assay-test-secret-not-for-use"  # noqa: S105
MIN_PRODUCTION_SECRET_CHARS = 32

SUPPORTED_DATABASE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")
SUPPORTED_BROKER_SCHEMES = ("redis", "rediss")


class ConfigError(Exception):
    """A setting is missing or wrong; the message is one line meant for the operator."""


# Bind addresses that mean "every interface": links then name the loopback address. Compared, never bound.
EVERY_INTERFACE = ("0.0.0.0", "::", "")  # noqa: S104  # nosec B104 - compared, never bound


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSAY_", env_file=".env", extra="ignore")

    environment: Literal["development", "production", "test"] = "development"
    database_url: str = "sqlite:///var/assay.db"
    database_pool_size: int = Field(default=10, ge=1, description="PostgreSQL connections kept per process")
    database_pool_overflow: int = Field(default=10, ge=0, description="extra connections opened under load")
    broker_url: str = Field(default="", description="redis://… to use Redis and external workers")
    # Empty: in development the install's own key is read from `secret_key_file`, made there (random, 0600)
    # on first start; production refuses to start without one.
    secret_key: SecretStr = SecretStr("")
    secret_key_file: Path = Path("var/secret.key")
    # The address people and emails use for this install. Unset, it follows the host and port served on
    # (http://127.0.0.1:8000 by default); set it behind a proxy or on a public name.
    base_url: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    admin_email: str = "owner@example.com"
    admin_password: SecretStr | None = None
    admin_org: str = "My Company"

    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = True
    mail_from: str = "Assay <no-reply@example.com>"

    session_ttl_hours: int = Field(default=12, ge=1)
    invitation_ttl_days: int = Field(default=14, ge=1)
    autosave_grace_seconds: int = Field(default=30, ge=0)
    sample_runs_per_minute: int = Field(default=6, ge=1, description="code runs per attempt per minute")
    gradings_per_attempt: int = Field(
        default=1, ge=1, description="gradings of one attempt running at once (its share of the sandboxes)"
    )
    # Background jobs in the app process when there is no broker URL (with one, `assay worker` runs them).
    # Tests switch it off and run queued jobs themselves.
    run_jobs_in_process: bool = True
    worker_threads: int = Field(
        default=2, ge=1, description="jobs at once per process; as many sandboxes are kept warm"
    )
    deadline_sweep_seconds: float = Field(default=10, gt=0, description="how often overdue attempts close")
    grading_lease_seconds: int = Field(
        default=120, ge=1, description="a grading not finished (or not started) this long is handed on"
    )
    header_timeout_seconds: float = Field(
        default=10, gt=0, description="a request's headers must arrive within this; the connection closes"
    )
    max_connections: int = Field(
        default=2000, ge=1, description="open connections and requests per server process; past it, 503"
    )
    reconcile_seconds: float = Field(default=30, gt=0, description="how often lapsed jobs are re-sent")
    metrics_token: SecretStr | None = Field(default=None, description="bearer token /metrics requires")
    log_format: Literal["json", "text"] = Field(default="json", description="json: one object a line")
    login_max_failures: int = Field(default=5, ge=1)
    sign_ins_per_minute: int = Field(default=20, ge=1, description="sign-in attempts per client address")
    password_resets_per_hour: int = Field(
        default=5, ge=1, description="reset emails per client address and per email address"
    )
    password_reset_minutes: int = Field(default=60, ge=5, description="how long a reset link works")
    team_invite_days: int = Field(default=7, ge=1, description="how long a teammate invitation works")
    reminder_hours_before_expiry: int = Field(
        default=48, ge=0, description="remind candidates who have not started; 0 turns reminders off"
    )
    reminder_sweep_seconds: float = Field(default=300, gt=0, description="how often reminders are sent")
    item_stats_min_attempts: int = Field(
        default=5, ge=2, description="completed attempts an item needs before its statistics are shown"
    )
    irt_min_attempts: int = Field(
        default=30, ge=10, description="fully scored attempts before the item response model (2PL) is fitted"
    )
    api_rate_limit_per_minute: int = Field(default=300, ge=1, description="requests per API key per minute")
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=60, description="per webhook request")
    outbox_sweep_seconds: float = Field(
        default=15, gt=0, description="how often due webhooks, partner callbacks and emails are sent"
    )
    # Comma-separated hosts (`hooks.example.com`, `*.example.com`) or networks (`10.1.0.0/16`) that webhooks
    # and partner callbacks may reach even though they are private or local; empty: public addresses only.
    outbound_allow_list: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Hosts a Greenhouse completion callback may go to (`*.` matches any subdomain).
    greenhouse_callback_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["greenhouse.io", "*.greenhouse.io"]
    )

    # The DejaVu fonts a report's PDF is set in (Debian's fonts-dejavu-core, which `make run` installs).
    report_font_dir: Path = Path("/usr/share/fonts/truetype/dejavu")

    @field_validator("outbound_allow_list", "greenhouse_callback_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in SUPPORTED_DATABASE_SCHEMES:
            raise ValueError(
                f"unsupported database URL scheme {scheme or value!r}; "
                "use sqlite:///path/to/file.db or postgresql+psycopg://user@host/db"
            )
        if scheme == "postgresql":
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator("broker_url")
    @classmethod
    def _known_broker(cls, value: str) -> str:
        if value and value.split("://", 1)[0] not in SUPPORTED_BROKER_SCHEMES:
            raise ValueError(f"unsupported broker URL {value!r}; leave it empty or use redis://host:6379/0")
        return value

    @field_validator("base_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _base_url_follows_the_port(self) -> Settings:
        if not self.base_url:
            shown = "127.0.0.1" if self.host in EVERY_INTERFACE else self.host
            self.base_url = f"http://{shown}:{self.port}"
        return self

    @model_validator(mode="after")
    def _a_secret_of_our_own(self) -> Settings:
        """Links, sessions and CSRF tokens are derived from the secret key: a key shipped with the code (the
        same on every install) would let anyone with a copy of the database rebuild every candidate link."""
        given = self.secret_key.get_secret_value()
        if self.environment == "production":
            if len(given) < MIN_PRODUCTION_SECRET_CHARS or given == TEST_SECRET_KEY:
                raise ValueError(
                    "ASSAY_SECRET_KEY must be set to a random value of at least"
                    f" {MIN_PRODUCTION_SECRET_CHARS} characters in production"
                )
        elif not given:
            key = TEST_SECRET_KEY if self.environment == "test" else install_secret(self.secret_key_file)
            self.secret_key = SecretStr(key)
        return self

    @property
    def autosave_grace(self) -> timedelta:
        """How long after the deadline saves in flight are still accepted."""
        return timedelta(seconds=self.autosave_grace_seconds)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def uses_external_broker(self) -> bool:
        return bool(self.broker_url)

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        path = self.database_url.split(":///", 1)[1] if ":///" in self.database_url else ""
        return Path(path) if path and path != ":memory:" else None


def install_secret(path: Path) -> str:
    """This install's secret key, kept in `path` (readable by its owner only); made on first use. Two
    processes starting together (the app and a worker) end with the same key: the first to link its file
    into place wins and the other reads it."""
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        key = ""
    except OSError as exc:
        raise ValueError(f"cannot read the secret key file {path}: {exc.strerror}") from None
    if key:
        return key
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(48) + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: its key is the install's
        finally:
            draft.unlink()
        return path.read_text().strip()
    except OSError as exc:
        raise ValueError(f"cannot create the secret key file {path}: {exc.strerror}") from None


def load_settings() -> Settings:
    """Build settings, turning pydantic's report into one clear line."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            (f"ASSAY_{'_'.join(str(p) for p in err['loc']).upper()}: " if err["loc"] else "")
            + err["msg"].removeprefix("Value error, ")
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
