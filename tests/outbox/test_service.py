"""The outbox's one retry policy and its table of kinds."""

from __future__ import annotations

import itertools
from datetime import timedelta

from app.outbox.service import RETRY_SCHEDULE


def test_the_schedule_spans_about_three_days() -> None:
    total = sum(RETRY_SCHEDULE, timedelta())
    assert timedelta(days=2.5) < total < timedelta(days=3.5)
    steps = RETRY_SCHEDULE
    assert all(a <= b for a, b in itertools.pairwise(steps)), "each wait at least as long as the last"
