"""One time-zone convention: every time a person reads (pages, emails, reports) is in the organization's own
time zone, named beside it ("2026-12-07 09:30 CET"). Stored times, the API, webhooks and exports stay UTC
(ISO 8601 with its offset), which machines read without asking."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

DEFAULT_ZONE = "UTC"


@cache
def zone_names() -> list[str]:
    """Every IANA time zone this host knows, sorted, for the organization's setting."""
    return sorted(available_timezones() | {DEFAULT_ZONE})


def zone_of(name: str) -> tzinfo:
    """The named zone; an unknown name (a zone database updated away from it) reads as UTC."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def local_time(value: datetime, zone: str, *, seconds: bool = False) -> str:
    """`value` as the organization reads it, with its zone's name (CET, EST, UTC…)."""
    local = value.astimezone(zone_of(zone))
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if seconds else "%Y-%m-%d %H:%M %Z")


def clock_time(value: datetime, zone: str) -> str:
    """Only the time of day, for a list whose day is already said (an attempt's timeline)."""
    return value.astimezone(zone_of(zone)).strftime("%H:%M:%S")
