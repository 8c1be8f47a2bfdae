"""The calendar rules of customers/windows.py at their edges: the guide's
numbers, half-open windows, and local days that are 23 or 25 hours long.
Expected values are written out by hand from the calendar, not computed
with the functions under test."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from customers import windows

BERLIN, NEW_YORK, HAVANA = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York"), ZoneInfo("America/Havana")


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_the_guide_numbers():
    # "recent emails (last 14 days)", "past week and upcoming 14 days".
    now = utc(2027, 1, 31, 23, 59)
    assert windows.mail_window_start(now) == utc(2027, 1, 17, 23, 59)
    assert windows.calendar_window(now) == (utc(2027, 1, 24, 23, 59), utc(2027, 2, 14, 23, 59))


def test_elapsed_windows_keep_their_length_across_a_leap_day_and_a_dst_change():
    assert windows.mail_window_start(utc(2028, 3, 1, 12)) == utc(2028, 2, 16, 12)  # 29 February counted
    start, end = windows.calendar_window(utc(2028, 2, 29, 12))
    assert (start, end) == (utc(2028, 2, 22, 12), utc(2028, 3, 14, 12))
    # Across Europe's spring change the look-back is 14 x 24 hours of real time, not 14 wall-clock days.
    assert windows.mail_window_start(utc(2027, 3, 29, 10)) == utc(2027, 3, 15, 10)


@pytest.mark.parametrize(("now", "zone", "expected"), [
    # 09:00 in Berlin on 2 Dec: yesterday started at Berlin midnight (23:00 UTC on 30 Nov), not 24 hours ago.
    (utc(2026, 12, 2, 8), BERLIN, utc(2026, 11, 30, 23)),
    # Just after midnight UTC on 1 March of a leap year: yesterday is 29 February.
    (utc(2028, 3, 1, 0, 0, 1), ZoneInfo("UTC"), utc(2028, 2, 29)),
    # The day after Europe's spring change: "yesterday" (28 March) was 23 hours long; it began at 23:00 UTC on 27 March.
    (utc(2027, 3, 29, 7), BERLIN, utc(2027, 3, 27, 23)),
    # The day after the autumn change: yesterday (31 October) was 25 hours long; it began at 22:00 UTC on 30 October.
    (utc(2027, 11, 1, 7), BERLIN, utc(2027, 10, 30, 22)),
    # New York, the morning after the spring change (14 March 2027 had no 02:30): yesterday began at 05:00 UTC.
    (utc(2027, 3, 15, 13), NEW_YORK, utc(2027, 3, 14, 5)),
])
def test_yesterday_starts_at_the_viewers_midnight(now, zone, expected):
    assert windows.yesterday_start(now, zone) == expected


def test_a_day_whose_midnight_does_not_exist_starts_at_the_first_instant_it_has():
    # Cuba moves its clocks from 00:00 to 01:00 on the second Sunday of March: 14 March 2027 begins at 01:00 CDT.
    first = windows.day_start(date(2027, 3, 14), HAVANA)
    assert first == utc(2027, 3, 14, 5)
    assert (first.hour, first.minute) == (1, 0)


@pytest.mark.parametrize(("moment", "now", "zone", "expected"), [
    (utc(2027, 1, 31, 23, 30), utc(2027, 1, 31, 22), ZoneInfo("UTC"), 0),
    (utc(2027, 2, 1, 0, 0), utc(2027, 1, 31, 23, 59), ZoneInfo("UTC"), 1),  # a minute later, tomorrow
    (utc(2027, 2, 1, 0, 0), utc(2027, 1, 31, 23, 59), BERLIN, 0),  # already 1 February in Berlin for both
    (utc(2026, 12, 31, 23, 59), utc(2027, 1, 1, 0, 1), ZoneInfo("UTC"), -1),  # across New Year
    (utc(2027, 3, 14, 3, 0), utc(2027, 3, 14, 8, 0), NEW_YORK, -1),  # 22:00 on the 13th vs 04:00 EDT on the 14th
])
def test_today_tomorrow_yesterday_are_the_viewers_days(moment, now, zone, expected):
    assert windows.days_from_today(moment, now, zone) == expected


def test_a_snapshot_belongs_to_the_sites_day(settings):
    settings.TIME_ZONE = "Europe/Berlin"
    assert windows.snapshot_day(utc(2027, 3, 27, 23, 30)) == date(2027, 3, 28)  # 00:30 CET
    settings.TIME_ZONE = "America/New_York"
    assert windows.snapshot_day(utc(2027, 1, 1, 3, 0)) == date(2026, 12, 31)  # 22:00 EST on New Year's Eve


def test_posture_is_stale_after_two_daily_runs_not_before():
    now = utc(2028, 3, 1, 2)
    assert not windows.posture_is_stale(now - timedelta(days=2), now)
    assert windows.posture_is_stale(now - timedelta(days=2, seconds=1), now)


def test_the_trend_covers_ninety_calendar_days_ending_on_the_newest_snapshot():
    assert windows.trend_first_day(date(2028, 3, 31)) == date(2028, 1, 2)  # 29 February is one of the 90
    assert windows.trend_first_day(date(2027, 3, 31)) == date(2027, 1, 1)


def test_an_exception_applies_through_its_expiry_date_on_the_sites_calendar(settings):
    settings.TIME_ZONE = "Pacific/Auckland"
    # 11:30 UTC on 31 December is already 1 January in Auckland (UTC+13 in summer).
    today = windows.site_today(utc(2026, 12, 31, 11, 30))
    assert today == date(2027, 1, 1)
    assert windows.exception_in_force_on(date(2027, 1, 1), today)
    assert not windows.exception_in_force_on(date(2026, 12, 31), today)
