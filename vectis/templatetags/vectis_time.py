"""Times as people say them: "1:47pm" today, "Wed 25 Nov, 11:22am" otherwise (in the viewer's zone)."""

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format

register = template.Library()


@register.filter
def when_short(moment):
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    clock = date_format(local, "g:iA").lower()
    if local.date() == timezone.localdate():
        return clock
    if local.year == timezone.localdate().year:
        return f"{date_format(local, 'D j M')}, {clock}"
    return f"{date_format(local, 'j M Y')}, {clock}"
