"""Field readers that never raise: hostile values become None; datetimes and addresses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from customers.domains import address_normalise

# ---------------------------------------------------------------- primitives


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


def _bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 -> aware UTC datetime; naive values are taken as UTC (Graph's
    own timestamps are UTC). Placeholders and garbage give None."""
    parsed = _fromiso(value)
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _fromiso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    # Python 3.11's fromisoformat reads Graph's seven fractional digits
    # ("17:00:00.0000000", cut to six) and a trailing Z: no regex per value.
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return None


# Windows zone names Graph may use when outlook.timezone was not honoured.
# Vectis asks for UTC on every calendar call, so this is a fallback only.
_WINDOWS_ZONES = {
    "utc": "UTC",
    "coordinated universal time": "UTC",
    "gmt standard time": "Europe/London",
    "greenwich standard time": "Atlantic/Reykjavik",
    "w. europe standard time": "Europe/Berlin",
    "romance standard time": "Europe/Paris",
    "central europe standard time": "Europe/Budapest",
    "e. europe standard time": "Europe/Chisinau",
    "eastern standard time": "America/New_York",
    "central standard time": "America/Chicago",
    "mountain standard time": "America/Denver",
    "us mountain standard time": "America/Phoenix",
    "pacific standard time": "America/Los_Angeles",
    "alaskan standard time": "America/Anchorage",
    "hawaiian standard time": "Pacific/Honolulu",
    "atlantic standard time": "America/Halifax",
    "aus eastern standard time": "Australia/Sydney",
    "india standard time": "Asia/Kolkata",
    "tokyo standard time": "Asia/Tokyo",
    "china standard time": "Asia/Shanghai",
    "singapore standard time": "Asia/Singapore",
}


def parse_graph_datetime(value: Any) -> datetime | None:
    """{"dateTime": ..., "timeZone": ...} -> aware UTC datetime, or None when
    the value or its zone cannot be read (never a guessed time)."""
    obj = _dict(value)
    parsed = _fromiso(obj.get("dateTime"))
    zone = _zone(_str(obj.get("timeZone")) or "UTC")
    if parsed is None or zone is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(timezone.utc)


def _zone(name: str):
    iana = _WINDOWS_ZONES.get(name.strip().lower(), name.strip())
    if iana == "UTC":
        return timezone.utc
    try:
        return ZoneInfo(iana)
    except (ZoneInfoNotFoundError, ValueError):
        return None


# ---------------------------------------------------------------- addresses


@dataclass(frozen=True)
class Address:
    address: str | None  # customers.domains.address_normalise: the form stored and matched everywhere
    name: str | None


def parse_address(value: Any) -> Address | None:
    """{"emailAddress": {"name", "address"}} (or the inner object) -> Address."""
    obj = _dict(value)
    inner = _dict(obj.get("emailAddress")) if "emailAddress" in obj else obj
    address = address_normalise(_str(inner.get("address"))) or None
    name = _str(inner.get("name"))
    if address is None and name is None:
        return None
    return Address(address=address, name=name)


def _addresses(value: Any) -> list[Address]:
    return [a for a in (parse_address(item) for item in _list(value)) if a is not None]
