"""Request rate limits: moving windows kept in Redis when the broker is Redis (every replica counts against
the same window) and in memory on one machine.

Limits: each API key (`ASSAY_API_RATE_LIMIT_PER_MINUTE`), sign-in attempts per client address
(`ASSAY_SIGN_INS_PER_MINUTE`; each account also locks after `ASSAY_LOGIN_MAX_FAILURES` wrong passwords), and
password-reset requests per client address and per email address (`ASSAY_PASSWORD_RESETS_PER_HOUR`). A
candidate's sample-test runs are limited per attempt in the database (`ASSAY_SAMPLE_RUNS_PER_MINUTE`), a
recruiter's preview runs per user here (the same setting).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.core.config import Settings
from app.core.errors import RateLimited

log = logging.getLogger("assay.rate_limits")
WARN_EVERY_S = 60


@dataclass(frozen=True)
class Window:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int


class RateLimits:
    """Windows shared by every replica in Redis when there is a broker. While Redis cannot be reached, each
    process counts on its own in memory (fail open to a local limit, never a 500): an ATS can still create
    invitations and recruiters sign in during a Redis blip, each replica still refusing floods."""

    def __init__(self, settings: Settings) -> None:
        self._local = MovingWindowRateLimiter(storage_from_string("memory://"))
        # Short timeouts: a Redis that does not answer must not hold every request up.
        self._shared = (
            MovingWindowRateLimiter(
                storage_from_string(settings.broker_url, socket_connect_timeout=0.5, socket_timeout=0.5)
            )
            if settings.broker_url
            else None
        )
        self._warned_at = 0.0
        self.api_key = RateLimitItemPerMinute(settings.api_rate_limit_per_minute)
        self.sign_in = RateLimitItemPerMinute(settings.sign_ins_per_minute)
        self.password_reset = RateLimitItemPerHour(settings.password_resets_per_hour)
        # A recruiter's sample runs in a preview: graded at once, so counted per user like a candidate's.
        self.preview_run = RateLimitItemPerMinute(settings.sample_runs_per_minute)

    def hit(self, item: RateLimitItem, identity: str) -> Window:
        """Count one request of `identity` against `item`, unless its window is already full."""
        if self._shared is not None:
            try:
                return self._count(self._shared, item, identity)
            except Exception as exc:  # whatever the shared store raises when Redis is away
                if time.monotonic() - self._warned_at > WARN_EVERY_S:
                    self._warned_at = time.monotonic()
                    log.warning(
                        "rate limits: Redis unreachable (%s); counting in each process meanwhile", exc
                    )
        return self._count(self._local, item, identity)

    @staticmethod
    def _count(limiter: MovingWindowRateLimiter, item: RateLimitItem, identity: str) -> Window:
        allowed = limiter.hit(item, identity)
        reset_at, remaining = limiter.get_window_stats(item, identity)
        return Window(allowed, item.amount, remaining, max(1, math.ceil(reset_at - time.time())))

    def require(self, item: RateLimitItem, identity: str, refusal: str) -> None:
        """Count one request, or refuse it with `refusal` and how long to wait (429, Retry-After)."""
        window = self.hit(item, identity)
        if not window.allowed:
            seconds = window.reset_seconds
            wait = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
            raise RateLimited(f"{refusal} Wait {wait} and try again.", retry_after=seconds)
