"""Calendar: the window from 7 days ago to 14 days ahead, read whole on every run.

calendarView (not calendarView/delta, whose window is fixed at its first
request) returns the window as it is now, so the window rolls forward by
construction; whatever this mailbox held in the window and Graph no longer
returns is reconciled away at the end.
"""


from django.db import transaction

from customers import ingest
from customers.communications import EventParticipant
from customers.windows import calendar_window

from ..graph import parse
from .mail_sync import clean_text, clean_url

PAGE_SIZE = 100  # $top for calendarView; three weeks of meetings rarely need a second page
ATTENDEE_ROLES = {"required", "optional", "resource"}


def calendar_round(*, client, upn, ctx, run, on_page):
    start, end = calendar_window(ctx.now)
    pages = client.calendar_view(upn, start, end, page_size=PAGE_SIZE)
    kept_ids = set()
    for items in pages:
        page = parse.event_page(items)
        rows = [row for row in (event_row(record, mailbox=upn, ctx=ctx) for record in page.changed) if row is not None]
        run.seen += len(page.changed) + page.skipped
        run.kept += len(rows)
        run.dropped += len(page.changed) + page.skipped - len(rows)
        with transaction.atomic():
            ingest.events_upsert(rows=rows, matcher=ctx.matcher)
            on_page()
        kept_ids.update(row.graph_id for row in rows)
    with transaction.atomic():
        run.removed += ingest.event_holders_reconcile(
            mailbox=upn, window_start=start, window_end=end, keep_graph_ids=kept_ids
        )


def event_row(record, *, mailbox, ctx):
    """The row to store, or None unless the organizer or an attendee is a
    customer contact (an address at a customer domain, or a listed contact)."""
    people = []
    if record.organizer is not None and record.organizer.address:
        people.append((EventParticipant.Role.ORGANIZER, record.organizer.address, record.organizer.name, ""))
    for attendee in record.attendees:
        if attendee.address:
            role = (attendee.type or "").lower()
            role = role if role in ATTENDEE_ROLES else "required"
            people.append((role, attendee.address, attendee.name, attendee.response))
    customers = frozenset(
        customer_id
        for customer_id in (ctx.matcher.customer_for_attendee(address) for _role, address, _name, _response in people)
        if customer_id is not None
    )
    if not customers or record.start is None or record.end is None:
        return None
    return ingest.EventRow(
        mailbox=mailbox,
        graph_id=record.id,
        ical_uid=_event_key(record, mailbox),
        starts_at=record.start,
        ends_at=record.end,
        subject=clean_text(record.subject, 1000),
        preview=clean_text(record.body_preview, 300),
        is_all_day=bool(record.is_all_day),
        is_cancelled=bool(record.is_cancelled),
        location=clean_text(record.location, 500),
        organizer_name=clean_text(record.organizer.name if record.organizer else None, 320),
        organizer_address=clean_text(record.organizer.address if record.organizer else None, 320),
        online_meeting_url=clean_url(record.join_url),
        series_master_id=clean_text(record.series_master_id, 512),
        web_link=clean_url(record.web_link),
        participants=[
            (role, clean_text(address, 320), clean_text(name, 320), clean_text(response, 32))
            for role, address, name, response in people
        ],
        customer_ids=customers,
    )


def _event_key(record, mailbox):
    """One Event per meeting across mailboxes: iCalUId. Graph documents a
    distinct iCalUId per occurrence of a series, but some sources repeat the
    series' uid on every occurrence, so occurrences are also told apart by
    their start. Without iCalUId the copy is its own event."""
    if not record.ical_uid:
        return f"{mailbox}:{record.id}"[:900]
    key = record.ical_uid
    if (record.type or "").lower() in ("occurrence", "exception"):
        key = f"{key}@{record.start:%Y%m%dT%H%M%SZ}"
    return key[:900]
