"""Request rate limits: moving windows kept in Redis when the broker is Redis (every replica counts against
the same window) and in memory on one machine.

Limits: each API key (`ASSAY_API_RATE_LIMIT_PER_MINUTE`), sign-in attempts per client address
(`ASSAY_SIGN_INS_PER_MINUTE`; each account also locks after `ASSAY_LOGIN_MAX_FAILURES` wrong passwords), and
password-reset requests per client address and per email address (`ASSAY_PASSWORD_RESETS_PER_HOUR`). A
candidate's sample-test runs are limited per attempt in the database (`ASSAY_SAMPLE_RUNS_PER_MINUTE`), a
recruiter's preview runs per user here (the same setting).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from app.core.config import Settings
from app.core.errors import RateLimited


@dataclass(frozen=True)
class Window:
    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int


class RateLimits:
    def __init__(self, settings: Settings) -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(settings.broker_url or "memory://"))
        self.api_key = RateLimitItemPerMinute(settings.api_rate_limit_per_minute)
        self.sign_in = RateLimitItemPerMinute(settings.sign_ins_per_minute)
        self.password_reset = RateLimitItemPerHour(settings.password_resets_per_hour)
        # A recruiter's sample runs in a preview: graded at once, so counted per user like a candidate's.
        self.preview_run = RateLimitItemPerMinute(settings.sample_runs_per_minute)

    def hit(self, item: RateLimitItem, identity: str) -> Window:
        """Count one request of `identity` against `item`, unless its window is already full."""
        allowed = self._limiter.hit(item, identity)
        reset_at, remaining = self._limiter.get_window_stats(item, identity)
        return Window(allowed, item.amount, remaining, max(1, math.ceil(reset_at - time.time())))

    def require(self, item: RateLimitItem, identity: str, refusal: str) -> None:
        """Count one request, or refuse it with `refusal` and how long to wait (429, Retry-After)."""
        window = self.hit(item, identity)
        if not window.allowed:
            seconds = window.reset_seconds
            wait = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
            raise RateLimited(f"{refusal} Wait {wait} and try again.", retry_after=seconds)
