"""Mail an attacker can send: ids reused from another technician's mail.

Internet-Message-ID and iCalUId are chosen by the sender. These items reuse
the ids of a customer message and a customer meeting that only the second
technician holds, and land in the first technician's mailbox with a
customer address on them, so they pass the domain filter. Vectis must keep
them apart from the originals: the first technician never sees the second's
item, and neither item's stored metadata is changed by the other.
"""

from __future__ import annotations

from datetime import timedelta

from .mailboxes import _event_record, _message_record
from .tenant import Tenant, address_at

ATTACKER = ("IT Support", "it-support@attacker-mail.example")
COLLISION_SUBJECT = "Re: your ticket (collision test)"
COLLISION_MEETING = "Quick sync (collision test)"


def add_collisions(tenant: Tenant) -> None:
    techs = [u for u in tenant.users if u.kind == "technician" and u.has_mailbox]
    if len(techs) < 2:
        return
    me, victim = techs[0], techs[1]
    domains = tenant.spec.customer_domains
    target = _only_held_by(tenant, victim, "mail", domains)
    if target is not None:
        customer = next(a for a in target.participants() if address_at(a, domains))
        when = tenant.spec.anchor - timedelta(hours=2)
        record = _message_record(
            tenant, me, "inbox", key="collision-message", subject=COLLISION_SUBJECT, sender=ATTACKER, to=[me],
            cc=[customer], when=when, conversation_id=target.graph["conversationId"],
            internet_id=target.graph["internetMessageId"], paragraph="Reply to this mail to reset your password.",
        )
        tenant.insert(tenant.mail_collection(me, "inbox"), record)
    meeting = _only_held_by(tenant, victim, "calendar", domains)
    if meeting is not None:
        customer = next(a for a in meeting.participants() if address_at(a, domains))
        start = tenant.spec.anchor + timedelta(days=1, hours=2)
        record = _event_record(
            tenant, me, key="collision-event", subject=COLLISION_MEETING, organizer=ATTACKER,
            attendees=[me, customer], start=start, end=start + timedelta(minutes=30),
            ical_uid=meeting.graph["iCalUId"], paragraph="Join from the link below.",
        )
        tenant.insert(tenant.calendar_collection(me), record)


def _only_held_by(tenant: Tenant, owner, kind: str, domains):
    """The newest customer item in `owner`'s mailbox whose id no other mailbox holds."""
    key = "internetMessageId" if kind == "mail" else "iCalUId"
    others = tenant.all_messages() if kind == "mail" else tenant.all_events()
    held_elsewhere = {r.graph.get(key) for r in others if r.mailbox_id != owner.id}
    mine = tenant.messages(owner.upn, "inbox") if kind == "mail" else tenant.events(owner.upn, include_masters=False)
    candidates = [
        r for r in mine
        if r.graph.get(key) not in held_elsewhere and any(address_at(a, domains) for a in r.participants())
        and (kind == "mail" or (r.graph.get("type") == "singleInstance" and not r.graph.get("isCancelled")))
    ]
    if kind == "mail":
        return max(candidates, key=lambda r: r.graph["receivedDateTime"], default=None)
    start = tenant.spec.anchor
    upcoming = [r for r in candidates if r.graph["start"]["dateTime"] >= start.strftime("%Y-%m-%dT%H:%M:%S")]
    return min(upcoming, key=lambda r: r.graph["start"]["dateTime"], default=None)
