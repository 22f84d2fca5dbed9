"""The organization's time zone, named beside every time a person reads."""

from __future__ import annotations

from datetime import UTC, datetime

from app.core.timezones import clock_time, local_time, zone_names


def test_times_carry_the_zones_own_name_through_summer_time() -> None:
    winter = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)
    summer = datetime(2026, 7, 7, 8, 30, tzinfo=UTC)
    assert local_time(winter, "Europe/Paris") == "2026-12-07 09:30 CET"
    assert local_time(summer, "Europe/Paris") == "2026-07-07 10:30 CEST"
    assert local_time(winter, "America/New_York", seconds=True) == "2026-12-07 03:30:00 EST"
    assert local_time(winter, "UTC") == "2026-12-07 08:30 UTC"
    assert clock_time(winter, "Asia/Kolkata") == "14:00:00"


def test_a_zone_the_host_no_longer_knows_reads_as_utc() -> None:
    assert local_time(datetime(2026, 1, 1, tzinfo=UTC), "Atlantis/Capital") == "2026-01-01 00:00 UTC"
    assert "UTC" in zone_names() and "Europe/Paris" in zone_names()
