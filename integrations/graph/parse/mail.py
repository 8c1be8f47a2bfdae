"""Messages and calendar events: metadata records only (never bodies, except parse_message_body
for the on-demand view)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .values import Address, _addresses, _bool, _dict, _list, _str, parse_address, parse_datetime, parse_graph_datetime

# ---------------------------------------------------------------- mail


@dataclass(frozen=True)
class MessageRecord:
    id: str
    internet_message_id: str | None
    conversation_id: str | None
    subject: str | None
    body_preview: str | None
    from_: Address | None
    sender: Address | None
    to: list[Address]
    cc: list[Address]
    bcc: list[Address]
    received_at: datetime | None
    sent_at: datetime | None
    is_draft: bool | None
    is_read: bool | None
    web_link: str | None
    parent_folder_id: str | None

    def participant_roles(self) -> list[tuple[str, Address]]:
        """The participant list Vectis keeps, as (role, address): from (or, with
        no from, the sender), to, cc and bcc. The domain filter, the access rule
        and forget-unmatched all read this one list."""
        return _participant_roles(self.from_ or self.sender, self.to, self.cc, self.bcc)

    def participants(self) -> set[str]:
        """The lowercased addresses of participant_roles()."""
        return {person.address for _, person in self.participant_roles()}


@dataclass(frozen=True)
class RemovedRecord:
    id: str
    reason: str | None  # "deleted" or "changed" (moved out of the folder)


def _participant_roles(from_, to, cc, bcc) -> list[tuple[str, Address]]:
    people = [("from", from_)] + [("to", a) for a in to] + [("cc", a) for a in cc] + [("bcc", a) for a in bcc]
    return [(role, person) for role, person in people if person is not None and person.address]


def _message_people(obj: dict):
    """from, sender, to, cc, bcc of one message; sender is usually the same
    object as from, and is then read once."""
    from_ = parse_address(obj.get("from"))
    sender_value = obj.get("sender")
    sender = from_ if sender_value == obj.get("from") else parse_address(sender_value)
    return (from_, sender, _addresses(obj.get("toRecipients")), _addresses(obj.get("ccRecipients")),
            _addresses(obj.get("bccRecipients")))


def parse_message(value: Any, *, people=None) -> MessageRecord | None:
    obj = _dict(value)
    message_id = _str(obj.get("id"))
    if message_id is None:
        return None
    from_, sender, to, cc, bcc = people or _message_people(obj)
    return MessageRecord(
        id=message_id,
        internet_message_id=_str(obj.get("internetMessageId")),
        conversation_id=_str(obj.get("conversationId")),
        subject=_str(obj.get("subject")),
        body_preview=_str(obj.get("bodyPreview")),
        from_=from_,
        sender=sender,
        to=to,
        cc=cc,
        bcc=bcc,
        received_at=parse_datetime(obj.get("receivedDateTime")),
        sent_at=parse_datetime(obj.get("sentDateTime")),
        is_draft=_bool(obj.get("isDraft")),
        is_read=_bool(obj.get("isRead")),
        web_link=_str(obj.get("webLink")),
        parent_folder_id=_str(obj.get("parentFolderId")),
    )


def parse_removed(value: Any) -> RemovedRecord | None:
    obj = _dict(value)
    item_id = _str(obj.get("id"))
    if item_id is None or "@removed" not in obj:
        return None
    return RemovedRecord(id=item_id, reason=_str(_dict(obj.get("@removed")).get("reason")))


@dataclass
class DeltaPage:
    changed: list = field(default_factory=list)  # MessageRecord or EventRecord
    removed: list[RemovedRecord] = field(default_factory=list)
    skipped: int = 0  # items without a usable id
    dropped: list[str] = field(default_factory=list)  # ids of items `keep` refused, never parsed further


def message_page(items: Any, *, keep=None) -> DeltaPage:
    """One page of message delta items -> changed messages and removals.

    keep(participant_roles) -> bool, when given, sees each message's
    participant list before anything else is parsed: a message it refuses is
    only its id in page.dropped (most of a mailbox touches no customer)."""
    if keep is None:
        return _page(items, parse_message)

    def parse_kept(value):
        obj = _dict(value)
        message_id = _str(obj.get("id"))
        if message_id is None:
            return None
        people = _message_people(obj)
        from_, sender, to, cc, bcc = people
        if not keep(_participant_roles(from_ or sender, to, cc, bcc)):
            return message_id
        return parse_message(obj, people=people)

    page = _page(items, parse_kept)
    page.dropped = [record for record in page.changed if isinstance(record, str)]
    if page.dropped:
        page.changed = [record for record in page.changed if not isinstance(record, str)]
    return page


@dataclass(frozen=True)
class MessageBody:
    content_type: str  # "html" or "text"
    content: str


def parse_message_body(value: Any) -> MessageBody | None:
    """{"body": {"contentType", "content"}} -> MessageBody (untrusted HTML)."""
    body = _dict(_dict(value).get("body"))
    content = body.get("content")
    if not isinstance(content, str):
        return None
    content_type = (_str(body.get("contentType")) or "text").lower()
    return MessageBody(content_type="html" if content_type == "html" else "text", content=content)


# ---------------------------------------------------------------- calendar


@dataclass(frozen=True)
class Attendee:
    address: str | None
    name: str | None
    type: str | None  # required / optional / resource
    response: str | None  # none / accepted / declined / tentativelyAccepted / ...


@dataclass(frozen=True)
class EventRecord:
    id: str
    ical_uid: str | None
    subject: str | None
    body_preview: str | None
    start: datetime | None
    end: datetime | None
    is_all_day: bool | None
    is_cancelled: bool | None
    organizer: Address | None
    attendees: list[Attendee]
    location: str | None
    is_online_meeting: bool | None
    join_url: str | None
    web_link: str | None
    type: str | None  # singleInstance / occurrence / exception / seriesMaster
    series_master_id: str | None

    def participants(self) -> set[str]:
        people = [a.address for a in self.attendees]
        if self.organizer is not None:
            people.append(self.organizer.address)
        return {p for p in people if p}


def parse_event(value: Any) -> EventRecord | None:
    obj = _dict(value)
    event_id = _str(obj.get("id"))
    if event_id is None:
        return None
    attendees = []
    for item in _list(obj.get("attendees")):
        item = _dict(item)
        address = parse_address(item.get("emailAddress"))
        attendees.append(
            Attendee(
                address=address.address if address else None,
                name=address.name if address else None,
                type=_str(item.get("type")),
                response=_str(_dict(item.get("status")).get("response")),
            )
        )
    return EventRecord(
        id=event_id,
        ical_uid=_str(obj.get("iCalUId")),
        subject=_str(obj.get("subject")),
        body_preview=_str(obj.get("bodyPreview")),
        start=parse_graph_datetime(obj.get("start")),
        end=parse_graph_datetime(obj.get("end")),
        is_all_day=_bool(obj.get("isAllDay")),
        is_cancelled=_bool(obj.get("isCancelled")),
        organizer=parse_address(obj.get("organizer")),
        attendees=attendees,
        location=_str(_dict(obj.get("location")).get("displayName")),
        is_online_meeting=_bool(obj.get("isOnlineMeeting")),
        join_url=_str(_dict(obj.get("onlineMeeting")).get("joinUrl")),
        web_link=_str(obj.get("webLink")),
        type=_str(obj.get("type")),
        series_master_id=_str(obj.get("seriesMasterId")),
    )


def event_page(items: Any) -> DeltaPage:
    return _page(items, parse_event)


def _page(items: Any, parse_one) -> DeltaPage:
    page = DeltaPage()
    for item in _list(items):
        removed = parse_removed(item)
        if removed is not None:
            page.removed.append(removed)
            continue
        record = parse_one(item)
        if record is None:
            page.skipped += 1
        else:
            page.changed.append(record)
    return page
