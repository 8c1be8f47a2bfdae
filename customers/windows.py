"""The calendar rules: every window Vectis cuts by date or time, stated once.

Two kinds of rule live here, and the difference matters on month ends, leap
days and daylight-saving nights:

- Windows measured in elapsed time from "now" (an instant): the 14-day mail
  look-back, the calendar window of 7 days back and 14 ahead, posture being
  stale after two daily runs. They are the same length whatever the date or
  the time zone, because they are computed in UTC instants.
- Rules about calendar days, which depend on a time zone: "from yesterday"
  and "today" on the hub are the viewer's days (their zone); a posture
  snapshot belongs to the site's day (TIME_ZONE). A local day can be 23 or 25
  hours long; these rules start at the day's first instant rather than
  subtracting 24 hours.

Every window is half-open, [start, end): an item exactly at `start` is in,
one exactly at `end` is out. The sync, the hub, the packs and the tests all
read these, so they can never disagree about an edge.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from django.utils import timezone

MAIL_LOOKBACK = timedelta(days=14)  # the guide: "recent emails (last 14 days)"
CALENDAR_BEFORE = timedelta(days=7)  # the guide: "past week and upcoming 14 days"
CALENDAR_AFTER = timedelta(days=14)
POSTURE_STALE_AFTER = timedelta(days=2)  # two missed daily posture runs
POSTURE_TREND_DAYS = 90  # snapshots (calendar days) drawn on the posture trend


def mail_window_start(now: datetime) -> datetime:
    """The first instant of the mail look-back: what the first sync reads and the hub lists."""
    return now - MAIL_LOOKBACK


def calendar_window(now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the meetings synced and shown: a week back, two weeks ahead."""
    return now - CALENDAR_BEFORE, now + CALENDAR_AFTER


def day_start(day: date, zone: tzinfo) -> datetime:
    """The first instant of `day` in `zone` (midnight, or the first time that
    exists if a daylight-saving change skips midnight)."""
    # Through UTC: astimezone() to the datetime's own zone returns it unchanged,
    # nonexistent wall time included.
    return datetime.combine(day, time.min).replace(tzinfo=zone).astimezone(UTC).astimezone(zone)


def local_day(moment: datetime, zone: tzinfo | None = None) -> date:
    """The calendar day `moment` falls on in `zone` (default: the active zone, the viewer's)."""
    return timezone.localtime(moment, zone or timezone.get_current_timezone()).date()


def yesterday_start(now: datetime, zone: tzinfo | None = None) -> datetime:
    """The first instant of yesterday in `zone` (the viewer's by default): where
    the hub's meeting list starts, so yesterday's 1 pm meeting is there at 9 am today."""
    zone = zone or timezone.get_current_timezone()
    return day_start(local_day(now, zone) - timedelta(days=1), zone)


def days_from_today(moment: datetime, now: datetime, zone: tzinfo | None = None) -> int:
    """0 for today, 1 for tomorrow, -1 for yesterday, in `zone` (the viewer's by default)."""
    return (local_day(moment, zone) - local_day(now, zone)).days


def snapshot_day(moment: datetime) -> date:
    """The day a posture snapshot belongs to: the calendar date in the site's time zone."""
    return local_day(moment, timezone.get_default_timezone())


def site_today(now: datetime) -> date:
    """Today on the site's calendar (TIME_ZONE): the day an MFA exception's expiry
    date and the client secret's expiry date are compared with."""
    return snapshot_day(now)


def exception_in_force_on(expires_on: date, day: date) -> bool:
    """An MFA exception applies through the whole of its expiry date (site days)."""
    return expires_on >= day


def posture_is_stale(as_of: datetime, now: datetime) -> bool:
    """Posture read longer ago than two daily runs."""
    return as_of < now - POSTURE_STALE_AFTER


def trend_first_day(last_day: date) -> date:
    """The first day of the trend that ends on `last_day` (POSTURE_TREND_DAYS days, both ends included)."""
    return last_day - timedelta(days=POSTURE_TREND_DAYS - 1)
