"""Times as people say them: "1:47pm" today, "Wed 25 Nov, 11:22am" otherwise (in the viewer's zone)."""

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format

from customers.windows import days_from_today

register = template.Library()


@register.filter
def when_short(moment):
    if moment is None:
        return ""
    local, today = timezone.localtime(moment), timezone.localdate()
    clock = date_format(local, "g:iA").lower()
    if local.date() == today:
        return clock
    if local.year == today.year:
        return f"{date_format(local, 'D j M')}, {clock}"
    return f"{date_format(local, 'j M Y')}, {clock}"


@register.filter
def clock(moment):
    """"4:30pm" in the viewer's zone: the one clock format of every page."""
    return date_format(timezone.localtime(moment), "g:iA").lower() if moment else ""


@register.filter
def day_word(moment):
    """"today", "tomorrow", "yesterday", or "Wed 2 Dec" in the viewer's zone."""
    if moment is None:
        return ""
    offset = days_from_today(moment, timezone.now())
    return {0: "today", 1: "tomorrow", -1: "yesterday"}.get(offset) or date_format(timezone.localtime(moment), "D j M")


@register.simple_tag
def when_span(start, end, all_day=False):
    """A meeting's time in the same words as email times: "today 4:30pm–5:30pm", "Wed 2 Dec · all day"."""
    if start is None:
        return ""
    if all_day:
        return f"{day_word(start)} · all day"
    return f"{day_word(start)} {clock(start)}–{clock(end)}"
