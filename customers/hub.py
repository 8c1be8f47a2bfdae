"""The data each section of the customer hub needs, collected so the hub view stays thin."""

from functools import partial

from django.core.paginator import Paginator
from django.utils import timezone
from django.utils.functional import cached_property

from . import hub_registry
from .matching import customer_matcher_for
from .selectors import (
    copies_visible,
    customer_events,
    customer_latest_message,
    customer_recent_message_count,
    customer_recent_messages,
    user_address,
)
from .windows import yesterday_start

MESSAGES_PER_PAGE = 20
# Meetings shown at first: from the start of yesterday (the viewer's day) on,
# the soonest first. The page is
# read in seconds; the past week and the rest of the window are one click away
# (?meetings=all), so a busy customer's 200 meetings are not all rendered.
MEETINGS_SHOWN = 12


def customer_address_rule(customer, domains, contacts):
    """A predicate: is this address one of this customer's (domain, subdomain or listed contact)?"""
    matcher = customer_matcher_for(customer, domains, contacts)
    return lambda address: matcher.customer_for_attendee(address) == customer.pk


def _people(copies):
    """Participants of the given copies, once each, in role order then as Graph listed them."""
    seen, people = set(), []
    for copy in copies:
        for person in copy.people:
            if (person.role, person.address) not in seen:
                seen.add((person.role, person.address))
                people.append(person)
    return people


ROLE_LABELS = (("from", "From"), ("to", "To"), ("cc", "Cc"), ("bcc", "Bcc"))


class CountedPaginator(Paginator):
    """A Paginator whose total comes from a cheaper count than object_list.count()."""

    def __init__(self, object_list, per_page, *, count):
        super().__init__(object_list, per_page)
        self._count = count

    @cached_property
    def count(self):
        return self._count()


def _other_party(message, is_customer):
    """Who the copy was with, for the row and the "last email" line: the sender
    of received mail, else the first customer recipient (or first recipient)."""
    if message.copy is None:
        return ""
    if message.copy.direction == "received":
        return message.from_name or message.from_address
    recipients = [p for p in _people([message.copy]) if p.role in ("to", "cc", "bcc")]
    chosen = next((p for p in recipients if is_customer(p.address)), recipients[0] if recipients else None)
    return (chosen.name or chosen.address) if chosen else ""


def _conversations(messages):
    """The page's messages as conversations, newest first: each conversation's
    newest message leads and carries the older ones of this page in `earlier`."""
    leads, by_conversation = [], {}
    for message in messages:
        lead = by_conversation.get(message.conversation_id) if message.conversation_id else None
        if lead is None:
            message.earlier = []
            leads.append(message)
            if message.conversation_id:
                by_conversation[message.conversation_id] = message
        else:
            lead.earlier.append(message)
    return leads


def communications_section(request, customer, *, domains, contacts):
    now = timezone.now()
    messages = customer_recent_messages(request.user, customer, now=now)
    count = partial(customer_recent_message_count, request.user, customer, now=now)
    page = CountedPaginator(messages, MESSAGES_PER_PAGE, count=count).get_page(request.GET.get("page"))
    is_customer = customer_address_rule(customer, domains, contacts)
    me = user_address(request.user)
    for message in page:
        # Only the copies this user may see: their preview, direction, people and mailboxes.
        message.copies = copies_visible(request.user, message)
        message.copy = message.copies[0] if message.copies else None
        participants = _people(message.copies)
        message.people = [(label, [p for p in participants if p.role == role]) for role, label in ROLE_LABELS]
        message.people = [(label, people) for label, people in message.people if people]
        message.other_party = _other_party(message, is_customer)
        message.yours = any(copy.mailbox == me for copy in message.copies) or message.from_address == me
    all_meetings = request.GET.get("meetings") == "all"
    events = customer_events(request.user, customer, now=now)
    if all_meetings:
        events, more_meetings = list(events[:200]), False
    else:
        # The link stays: the past week is behind it either way.
        events, more_meetings = list(events.filter(starts_at__gte=yesterday_start(now))[:MEETINGS_SHOWN]), True
    for event in events:
        copies = copies_visible(request.user, event)
        event.customer_attendees = [p for p in _people(copies) if p.role != "organizer" and is_customer(p.address)]
        event.copy = copies[0] if copies else None
    upcoming = [e for e in events if e.ends_at > now and not e.is_cancelled]
    return {"message_page": page, "conversations": _conversations(page), "events": events, "now": now,
            "next_event": upcoming[0] if upcoming else None, "all_meetings": all_meetings,
            "more_meetings": more_meetings}


def communications_context(page: hub_registry.HubPage):
    return communications_section(page.request, page.customer, domains=page.domains, contacts=page.contacts)


def hub_sections(request, customer, *, domains, contacts):
    """The context of every registered section, and the sections themselves (`hub_sections`) for hub.html."""
    page = hub_registry.HubPage(request=request, customer=customer, domains=domains, contacts=contacts)
    context = {"hub_sections": hub_registry.sections()}
    for section in context["hub_sections"]:
        context.update(section.context(page))
    messages = context["message_page"]
    # The newest visible message leads page 1 of the same ordering: no second query for the "last email" line.
    if messages.number == 1 and messages.object_list:
        context["latest_message"] = messages.object_list[0]
    else:
        context["latest_message"] = customer_latest_message(request.user, customer)
    return context
