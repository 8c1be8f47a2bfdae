"""The tests' clock. Every test runs at an instant it controls, never at
whatever day CI happens to run on:

- by default at PINNED (conftest's autouse `test_clock`), with time flowing
  from there so timeouts and waits behave;
- the date-sensitive checks (tests/project/test_any_instant.py) at each of INSTANTS:
  the instants that historically break date code, plus the real "now";
- browser journeys and real-worker runs read the machine's clock, as
  production does (other processes cannot share a travelled clock); they
  derive their expectations from the data clock the run stored.

Run the whole suite at another instant with faketime, e.g.
`TZ=UTC faketime '2027-01-31 23:30:00' ./dev test` (README).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import time_machine

# An ordinary Wednesday morning: no month end, no daylight-saving change near it.
PINNED = datetime(2026, 11, 18, 10, 17, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Instant:
    """A moment to run at, and the site time zone (TIME_ZONE) to run it in."""

    name: str
    at: datetime | None  # None: the real now
    time_zone: str = "UTC"

    def moment(self) -> datetime:
        # The real now even while a test travels (the autouse clock is at PINNED).
        return self.at or datetime.fromtimestamp(time_machine.escape_hatch.time.time(), UTC)


def wall_clock(year, month, day, hour, minute, zone) -> datetime:
    """The UTC instant a wall clock in `zone` shows; for a time a spring change skips
    (02:30), the instant it would have been on the old offset (Python's fold=0)."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).astimezone(UTC)


INSTANTS = (
    Instant("month-end", datetime(2027, 1, 31, 23, 59, tzinfo=UTC)),
    Instant("month-end-30", datetime(2027, 4, 30, 23, 59, tzinfo=UTC), "Europe/London"),
    Instant("leap-day", datetime(2028, 2, 29, 12, 0, tzinfo=UTC)),
    Instant("eu-dst-spring", wall_clock(2027, 3, 28, 2, 30, "Europe/Berlin"), "Europe/Berlin"),
    Instant("us-dst-spring", wall_clock(2027, 3, 14, 2, 30, "America/New_York"), "America/New_York"),
    Instant("eu-dst-autumn", wall_clock(2027, 10, 31, 2, 30, "Europe/Berlin"), "Europe/Berlin"),
    Instant("us-dst-autumn", wall_clock(2027, 11, 7, 1, 30, "America/New_York"), "America/New_York"),
    Instant("new-year-eve", datetime(2026, 12, 31, 23, 59, tzinfo=UTC)),
    Instant("now", None),
)
