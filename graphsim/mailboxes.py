"""The fake tenant's mailboxes: messages (inbox, sentitems) and calendar events
for the technicians, plus the builders behind Tenant.add_message/add_event.

Deterministic like directory.py; "now" is `spec.anchor`.
"""

from __future__ import annotations

import base64
import html
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from .directory import COMPANY_NAMES, FIRST_NAMES, HOSTILE_PAYLOADS, pick_share, rng_for
from .tenant import MAIL_FOLDERS, SHOWCASE_HOSTILE_DOMAIN, ItemRecord, Tenant, UserRecord, email_address, graph_id, iso_z, parse_iso, stable_hash

# Senders of mail that touches no customer. Some are near misses that a
# substring or "endswith without a dot" filter would wrongly accept.
OFF_CUSTOMER_CONTACTS = (
    ("Licensing Desk", "licensing@vendor-portal.example"),
    ("Security Advisories", "advisories@cert-feed.example"),
    ("Weekly Digest", "digest@newsletter.example"),
    ("Ops Alerts", "alerts@monitoring-saas.example"),
    ("Ana Brooks", "ana.brooks@notnorthwind.example"),
    ("Billing", "billing@fabrikam.example.invoices.example"),
    ("Lee Park", "lee.park@northwind-example.example"),
    # Free mail under a public suffix: kept only if co.uk were a customer domain, which Vectis refuses.
    ("Jo Smith", "jo.smith@hotmail.co.uk"),
)
CUSTOMER_SUBJECTS = (
    "VPN down at the {site} office",
    "Printer offline on the 3rd floor",
    "New starter: laptop for {person}",
    "Invoice {number} query",
    "Backup failed last night",
    "MFA reset request for {person}",
    "Outlook keeps asking for a password",
    "Ticket #{number}: slow Wi-Fi in the warehouse",
    "Firewall renewal quote",
    "Shared mailbox access for {person}",
    "Leaver: please disable {person}",
    "Phishing email reported by {person}",
)
OFF_CUSTOMER_SUBJECTS = (
    "Your weekly digest",
    "Licence renewal notice",
    "Team lunch on Friday",
    "Vendor webinar invitation",
    "Security advisory: patch Tuesday",
    "On-call rota for next week",
    "Expense report reminder",
)
CUSTOMER_MEETINGS = (
    "{company} quarterly business review",
    "{company} onboarding call",
    "Site visit: {company}",
    "{company} firewall migration planning",
    "{company} Microsoft 365 licensing review",
)
INTERNAL_MEETINGS = ("Team stand-up", "1:1", "Change advisory board", "Sales pipeline review", "Training: Intune basics")
PARAGRAPHS = (
    "Could you take a look when you get a chance? Several people have reported the same problem since this morning "
    "and it is starting to affect the team's work. We restarted the equipment but nothing changed.",
    "Following up on our call, here are the details we discussed. Let me know if anything is missing and I will "
    "send it over. We would like to get this resolved before the end of the week if possible.",
    "Thanks for the quick turnaround yesterday. There is one more thing: the new starter begins on Monday and will "
    "need an account, a laptop and access to the shared drives. Their manager will confirm the groups.",
    "Please find the summary below. The renewal is due at the end of the month and the quote includes the "
    "additional licences we talked about. Happy to jump on a call to go through the options.",
)


def attacked(spec, picked: bool, customer_domain: str | None) -> bool:
    """Does this item carry an attack string? Where the share picked it, or in
    a showcase tenant only (and always) at the hostile test customer."""
    if spec.showcase:
        return customer_domain == SHOWCASE_HOSTILE_DOMAIN
    return picked


def populate_mailboxes(tenant: Tenant) -> None:
    for user in tenant.users:
        if user.has_mailbox:  # every mailbox exists, even if empty
            for folder in MAIL_FOLDERS:
                tenant.mail_collection(user, folder)
            tenant.calendar_collection(user)
    _mail(tenant)
    _events(tenant)


# --------------------------------------------------------------------------- mail


def _recipient(user_or_pair) -> dict:
    if isinstance(user_or_pair, UserRecord):
        return email_address((user_or_pair.graph["displayName"], user_or_pair.graph["mail"]))
    return email_address(user_or_pair)


def html_body(greeting: str, paragraph: str, signature: str, sentinel: str | None, extra_html: str = "") -> str:
    # The sentinel sits after the text so it never reaches bodyPreview.
    tail = f'<p style="color:#888">Ref: {sentinel}</p>' if sentinel else ""
    return (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body>'
        f"<p>{greeting}</p><p>{paragraph}</p>{extra_html}<p>Regards,<br>{signature}</p>{tail}</body></html>"
    )


def html_to_text(content: str) -> str:
    """Roughly what Exchange does for Prefer: outlook.body-content-type="text"."""
    text = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", "", content)
    text = re.sub(r"(?i)<br\s*/?>|</p>", "\r\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text).strip() + "\r\n"


def preview_of(greeting: str, paragraph: str) -> str:
    return f"{greeting}\r\n\r\n{paragraph}"[:255]


def _message_record(
    tenant: Tenant, user: UserRecord, folder: str, *, key, subject, sender, to, cc=(), bcc=(), when: datetime,
    conversation_id, internet_id, paragraph, hostile_html="", sentinel=None, greeting="Hi,", sent: datetime | None = None,
) -> ItemRecord:
    mid = graph_id("AAMkAG", tenant.spec.seed, "msg", user.id, folder, key, length=140)
    sentinel = sentinel or tenant.next_sentinel()
    sender_r = _recipient(sender)
    signature = sender_r["emailAddress"]["name"]
    content = html_body(greeting, paragraph, html.escape(signature), None if tenant.spec.showcase else sentinel, hostile_html)
    sent = sent or when - timedelta(seconds=7)  # copies of one message share its sent time (the Date header)
    change_key = base64.b64encode(stable_hash("ck", mid, 0)[:18]).decode()
    graph = {
        "id": mid,
        "createdDateTime": iso_z(when),
        "lastModifiedDateTime": iso_z(when),
        "changeKey": change_key,
        "categories": [],
        "receivedDateTime": iso_z(when),
        "sentDateTime": iso_z(sent),
        "hasAttachments": False,
        "internetMessageId": internet_id,
        "subject": subject,
        "bodyPreview": preview_of(greeting, paragraph),
        "importance": "normal",
        "parentFolderId": tenant.folder_id(user, folder),
        "conversationId": conversation_id,
        "conversationIndex": base64.b64encode(stable_hash("ci", conversation_id)[:22]).decode(),
        "isDeliveryReceiptRequested": False,
        "isReadReceiptRequested": False,
        "isRead": folder == "sentitems" or stable_hash("read", mid)[0] % 3 != 0,
        "isDraft": False,
        "webLink": f"https://outlook.office365.com/owa/?ItemID={quote(mid, safe='')}&exvsurl=1&viewmodel=ReadMessageItem",
        "inferenceClassification": "focused",
        "sender": sender_r,
        "from": sender_r,
        "toRecipients": [_recipient(r) for r in to],
        "ccRecipients": [_recipient(r) for r in cc],
        "bccRecipients": [_recipient(r) for r in bcc],
        "replyTo": [],
        "flag": {"flagStatus": "notFlagged"},
    }
    return ItemRecord(
        mailbox_id=user.id, mailbox_upn=user.upn, folder=folder, graph=graph,
        body={"contentType": "html", "content": content}, sentinel=sentinel,
    )


def _mail(tenant: Tenant) -> None:
    spec = tenant.spec
    techs = [u for u in tenant.users if u.kind == "technician"]
    staff = [u for u in tenant.users if u.kind in ("technician", "msp")]
    contacts: dict[str, list[UserRecord]] = {}
    for u in tenant.users:
        if u.kind == "customer" and u.graph["accountEnabled"]:
            contacts.setdefault(u.customer_domain, []).append(u)
    domains = [d for d in spec.customer_domains if contacts.get(d)]
    # Collected first, inserted in time order, so the change sequence follows
    # receivedDateTime like a real mailbox filling up.
    pending: list[tuple[datetime, str, UserRecord, str, ItemRecord]] = []

    for t_index, tech in enumerate(techs):
        if not tech.has_mailbox:
            continue
        rng = rng_for(tenant, f"mail:{tech.upn}")
        hostile = pick_share(rng, spec.messages_per_mailbox, spec.hostile_share)
        threads: list[tuple[str, str, UserRecord]] = []  # (conversationId, subject, contact)
        for n in range(spec.messages_per_mailbox):
            folder = "inbox" if rng.random() < 0.6 else "sentitems"
            minutes = rng.randint(5, spec.mail_history_days * 24 * 60)
            when = spec.anchor - timedelta(minutes=minutes)
            off_customer = rng.random() < spec.off_customer_share or not domains
            colleague = rng.choice([s for s in staff if s is not tech]) if len(staff) > 1 else None
            paragraph = rng.choice(PARAGRAPHS)
            hostile_html = ""
            key = f"{t_index}-{n}"
            conv = graph_id("AAQkAG", spec.seed, "conv", tech.id, n, length=60)
            cc_tech = None
            to, cc, bcc = [], [], []
            if off_customer:
                subject = rng.choice(OFF_CUSTOMER_SUBJECTS)
                if folder == "inbox":
                    sender = rng.choice(OFF_CUSTOMER_CONTACTS) if rng.random() < 0.7 or not colleague else colleague
                    to = [tech]
                else:
                    sender = tech
                    to = [colleague] if colleague and rng.random() < 0.6 else [rng.choice(OFF_CUSTOMER_CONTACTS)]
            else:
                domain = rng.choice(domains)
                contact = rng.choice(contacts[domain])
                others = [c for c in contacts[domain] if c is not contact]
                if threads and rng.random() < 0.3:
                    conv, base_subject, contact = rng.choice(threads)
                    subject = "RE: " + base_subject
                    others = [c for c in contacts[contact.customer_domain] if c is not contact]
                else:
                    subject = rng.choice(CUSTOMER_SUBJECTS).format(
                        site=rng.choice(("Leeds", "Bristol", "head", "Dublin")),
                        person=rng.choice(FIRST_NAMES), number=rng.randint(1000, 9999),
                    )
                    threads.append((conv, subject, contact))
                shape = rng.random()
                if folder == "inbox":
                    sender, to = contact, [tech]
                    if others and shape < 0.3:
                        cc = [rng.choice(others)]
                    if shape > 0.9 and colleague:  # customer only in cc: sent by a colleague
                        sender, to, cc = colleague, [tech], [contact]
                else:
                    sender, to = tech, [contact]
                    if shape < 0.1 and colleague:  # customer only in bcc
                        to, bcc = [colleague], [contact]
                if rng.random() < spec.cc_technician_share:
                    peers = [p for p in techs if p is not tech and p.has_mailbox]
                    if peers:
                        cc_tech = rng.choice(peers)
                        cc = cc + [cc_tech]
            if attacked(spec, n in hostile, None if off_customer else contact.customer_domain):
                payload = HOSTILE_PAYLOADS[n % len(HOSTILE_PAYLOADS)]
                subject = f"{subject} {payload}"
                hostile_html = f"<div>{payload}</div>"
                if not isinstance(sender, UserRecord) or sender is not tech:
                    addr = sender.graph["mail"] if isinstance(sender, UserRecord) else sender[1]
                    sender = (f"<img src=x onerror=alert(1)> {addr.split('@')[0]}", addr)
            sender_addr = sender.graph["mail"] if isinstance(sender, UserRecord) else sender[1]
            internet_id = f"<{stable_hash(spec.seed, 'imid', key).hex()[:24].upper()}@{sender_addr.split('@')[1].lower()}>"
            sentinel = tenant.next_sentinel()
            common = dict(
                subject=subject, sender=sender, to=to, cc=cc, when=when, conversation_id=conv,
                internet_id=internet_id, paragraph=paragraph, hostile_html=hostile_html, sentinel=sentinel,
            )
            rec = _message_record(tenant, tech, folder, key=key, bcc=bcc, **common)
            pending.append((when, rec.id, tech, folder, rec))
            if cc_tech is not None:
                # The colleague's copy: another id, same internetMessageId, no bcc.
                copy_when = when + timedelta(seconds=3)
                rec2 = _message_record(tenant, cc_tech, "inbox", key=f"{key}-cc",
                                       **dict(common, when=copy_when, sent=when - timedelta(seconds=7)))
                pending.append((copy_when, rec2.id, cc_tech, "inbox", rec2))

    busy = [t for t in techs if t.has_mailbox][-1:] if spec.busy_inbox_messages > 0 else []
    for tech in busy:
        pending.extend(_busy_inbox(tenant, tech, contacts, domains))

    for _when, _id, user, folder, rec in sorted(pending, key=lambda p: (p[0], p[1])):
        tenant.insert(tenant.mail_collection(user, folder), rec)


BUSY_WINDOW = timedelta(days=13)  # inside the sync's 14-day look-back, clear of its edge


def _busy_inbox(tenant: Tenant, tech: UserRecord, contacts: dict, domains: list) -> list:
    """spec.busy_inbox_messages plain inbox messages spread evenly over the
    last 13 days: every other one from a customer contact, the rest from
    off-customer senders. Kept cheap (no threads, copies or hostile text):
    a test tenant may hold tens of thousands of them."""
    spec = tenant.spec
    count = spec.busy_inbox_messages
    rng = rng_for(tenant, f"busy:{tech.upn}")
    step = BUSY_WINDOW / count
    out = []
    for n in range(count):
        when = spec.anchor - timedelta(minutes=5) - step * n
        if n % 2 == 0 and domains:
            sender = rng.choice(contacts[rng.choice(domains)])
            subject = CUSTOMER_SUBJECTS[n % len(CUSTOMER_SUBJECTS)].format(site="Leeds", person="Sam", number=n)
        else:
            sender = OFF_CUSTOMER_CONTACTS[n % len(OFF_CUSTOMER_CONTACTS)]
            subject = OFF_CUSTOMER_SUBJECTS[n % len(OFF_CUSTOMER_SUBJECTS)]
        key = f"busy-{n}"
        sender_addr = sender.graph["mail"] if isinstance(sender, UserRecord) else sender[1]
        rec = _message_record(
            tenant, tech, "inbox", key=key, subject=subject, sender=sender, to=[tech], when=when,
            conversation_id=graph_id("AAQkAG", spec.seed, "busy-conv", tech.id, n, length=60),
            internet_id=f"<BUSY{n:07d}.{stable_hash(spec.seed, key).hex()[:12].upper()}@{sender_addr.split('@')[1].lower()}>",
            paragraph=PARAGRAPHS[n % len(PARAGRAPHS)],
        )
        out.append((when, rec.id, tech, "inbox", rec))
    return out


def new_message(tenant: Tenant, user: UserRecord, folder: str, fields: dict) -> ItemRecord:
    """A message for Tenant.add_message: defaults from the mailbox owner."""
    fields = dict(fields)
    if "from_" in fields:
        fields["from"] = fields.pop("from_")
    n = tenant.seq + 1
    when = parse_iso(fields.pop("receivedDateTime", tenant.spec.anchor))
    sender = fields.pop("from", None) or fields.pop("sender", None) or (user if folder == "sentitems" else "someone@vendor-portal.example")
    to = fields.pop("toRecipients", None) or ([user] if folder == "inbox" else ["someone@vendor-portal.example"])
    cc = fields.pop("ccRecipients", ())
    bcc = fields.pop("bccRecipients", ())
    subject = fields.pop("subject", "Added message")
    body = fields.pop("body", None)
    sentinel = "unused" if body is not None else tenant.next_sentinel()
    sender_addr = _recipient(sender)["emailAddress"]["address"]
    rec = _message_record(
        tenant, user, folder, key=f"added-{n}-{subject}", subject=subject, sender=sender, to=to, cc=cc, bcc=bcc,
        when=when, conversation_id=fields.pop("conversationId", graph_id("AAQkAG", "added", user.id, n, length=60)),
        internet_id=fields.pop("internetMessageId", f"<ADDED{n:06d}@{sender_addr.split('@')[1].lower()}>"),
        paragraph=fields.pop("bodyPreview", PARAGRAPHS[n % len(PARAGRAPHS)]), sentinel=sentinel,
    )
    if body is not None:
        rec.body = body if isinstance(body, dict) else {"contentType": "html", "content": body}
        rec.sentinel = None
    if "id" in fields:
        rec.graph["id"] = fields.pop("id")
    rec.graph.update(fields)
    return rec


# --------------------------------------------------------------------------- calendar


def graph_datetime(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.0000000")


def _attendee(who, response="none", kind="required") -> dict:
    r = _recipient(who)
    return {"type": kind, "status": {"response": response, "time": "0001-01-01T00:00:00Z"}, "emailAddress": r["emailAddress"]}


def _event_record(
    tenant: Tenant, owner: UserRecord, *, key, subject, organizer, attendees, start: datetime, end: datetime,
    is_all_day=False, is_cancelled=False, online=False, location="", event_type="singleInstance",
    series_master_id=None, ical_uid=None, recurrence=None, paragraph="", hostile_html="", sentinel=None,
) -> ItemRecord:
    seed = tenant.spec.seed
    eid = graph_id("AAMkAGI", seed, "event", owner.id, key, length=140)
    ical_uid = ical_uid or "040000008200E00074C5B7101A82E008" + stable_hash(seed, "ical", key).hex()[:48].upper()
    org_r = _recipient(organizer)
    is_organizer = org_r["emailAddress"]["address"].lower() == owner.graph["mail"].lower()
    sentinel = sentinel or tenant.next_sentinel()
    paragraph = paragraph or "Agenda: review open tickets, upcoming changes and anything blocking the team."
    content = html_body("Hello all,", html.escape(paragraph), html.escape(org_r["emailAddress"]["name"]),
                        None if tenant.spec.showcase else sentinel, hostile_html)
    join_url = (
        # One meeting, one link: every attendee's copy (and every occurrence) carries the organizer's.
        f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{stable_hash(seed, 'join', ical_uid).hex()[:32]}%40thread.v2/0"
        if online else None
    )
    created = start - timedelta(days=3)
    graph = {
        "id": eid,
        "createdDateTime": iso_z(min(created, tenant.spec.anchor)),
        "lastModifiedDateTime": iso_z(min(created, tenant.spec.anchor)),
        "changeKey": base64.b64encode(stable_hash("ck", eid, 0)[:18]).decode(),
        "categories": [],
        "transactionId": None,
        "originalStartTimeZone": "UTC",
        "originalEndTimeZone": "UTC",
        "iCalUId": ical_uid,
        "reminderMinutesBeforeStart": 15,
        "isReminderOn": not is_all_day,
        "hasAttachments": False,
        "subject": subject,
        "bodyPreview": preview_of("Hello all,", paragraph),
        "importance": "normal",
        "sensitivity": "normal",
        "isAllDay": is_all_day,
        "isCancelled": is_cancelled,
        "isOrganizer": is_organizer,
        "responseRequested": True,
        "seriesMasterId": series_master_id,
        "showAs": "free" if is_cancelled else "busy",
        "type": event_type,
        "webLink": f"https://outlook.office365.com/owa/?itemid={quote(eid, safe='')}&exvsurl=1&path=/calendar/item",
        "onlineMeetingUrl": None,
        "isOnlineMeeting": online,
        "onlineMeetingProvider": "teamsForBusiness" if online else "unknown",
        "allowNewTimeProposals": True,
        "isDraft": False,
        "hideAttendees": False,
        "responseStatus": {
            "response": "organizer" if is_organizer else "accepted",
            "time": "0001-01-01T00:00:00Z" if is_organizer else iso_z(min(created, tenant.spec.anchor)),
        },
        "start": {"dateTime": graph_datetime(start), "timeZone": "UTC"},
        "end": {"dateTime": graph_datetime(end), "timeZone": "UTC"},
        "location": {
            "displayName": location,
            "locationType": "default",
            "uniqueId": location or None,
            "uniqueIdType": "private" if location else "unknown",
        },
        "locations": [{"displayName": location, "locationType": "default", "uniqueIdType": "private"}] if location else [],
        "recurrence": recurrence,
        "attendees": [a if isinstance(a, dict) and "status" in a else _attendee(a) for a in attendees],
        "organizer": org_r,
        "onlineMeeting": {"joinUrl": join_url} if join_url else None,
    }
    return ItemRecord(
        mailbox_id=owner.id, mailbox_upn=owner.upn, folder="calendar", graph=graph,
        body={"contentType": "html", "content": content}, sentinel=sentinel,
    )


def _events(tenant: Tenant) -> None:
    spec = tenant.spec
    techs = [u for u in tenant.users if u.kind == "technician" and u.has_mailbox]
    staff = [u for u in tenant.users if u.kind in ("technician", "msp")]
    contacts: dict[str, list[UserRecord]] = {}
    for u in tenant.users:
        if u.kind == "customer" and u.graph["accountEnabled"]:
            contacts.setdefault(u.customer_domain, []).append(u)
    domains = [d for d in spec.customer_domains if contacts.get(d)]
    day0 = spec.anchor.replace(hour=0)
    pending: list[tuple[int, UserRecord, ItemRecord]] = []  # (order, owner, record)

    def add(owner, rec):
        pending.append((len(pending), owner, rec))

    for t_index, tech in enumerate(techs):
        rng = rng_for(tenant, f"events:{tech.upn}")
        hostile = pick_share(rng, spec.events_per_mailbox, spec.hostile_share)
        n_series = 1 if spec.events_per_mailbox >= 8 and domains else 0
        for n in range(spec.events_per_mailbox - n_series * 4):
            key = f"{t_index}-{n}"
            day = rng.randint(-spec.events_past_days, spec.events_future_days)
            start = day0 + timedelta(days=day, hours=rng.randint(8, 16), minutes=rng.choice((0, 30)))
            end = start + timedelta(minutes=rng.choice((30, 60, 90)))
            kind = rng.random()
            peers = [p for p in techs if p is not tech]
            attendees, location, subject = [], "", ""
            organizer = tech
            customer = None
            if kind < 0.5 and domains:
                customer = rng.choice(domains)
                company = COMPANY_NAMES.get(customer, customer)
                guests = rng.sample(contacts[customer], k=min(len(contacts[customer]), rng.randint(1, 2)))
                subject = rng.choice(CUSTOMER_MEETINGS).format(company=company)
                attendees = list(guests)
                if rng.random() < 0.25:
                    organizer = guests[0]  # the customer invited us
                    attendees = [tech] + guests[1:]
                if rng.random() < 0.15:  # a customer contact on a personal address
                    attendees.append(("Owner (personal)", tenant.personal_contacts[customer][0]))
                location = f"{company} - Head office" if "Site visit" in subject else "Microsoft Teams Meeting"
            else:
                subject = rng.choice(INTERNAL_MEETINGS)
                attendees = rng.sample([s for s in staff if s is not tech], k=min(2, len(staff) - 1))
                location = "Board room" if rng.random() < 0.5 else ""
            shared_peer = None
            if peers and rng.random() < 0.2:
                shared_peer = rng.choice(peers)
                if shared_peer not in attendees:
                    attendees.append(shared_peer)
            is_all_day = rng.random() < 0.08
            if is_all_day:
                start = day0 + timedelta(days=day)
                end = start + timedelta(days=1)
            is_cancelled = rng.random() < 0.08
            if is_cancelled:
                subject = "Canceled: " + subject
            online = not is_all_day and (location == "Microsoft Teams Meeting" or rng.random() < 0.2)
            hostile_html = ""
            if attacked(spec, n in hostile, customer):
                payload = HOSTILE_PAYLOADS[n % len(HOSTILE_PAYLOADS)]
                subject = f"{subject} {payload}"
                location = location or payload
                hostile_html = f"<div>{payload}</div>"
            common = dict(
                subject=subject, organizer=organizer, attendees=attendees,
                start=start, end=end, is_all_day=is_all_day, is_cancelled=is_cancelled, online=online,
                location=location, hostile_html=hostile_html, sentinel=tenant.next_sentinel(),
            )
            rec = _event_record(tenant, tech, key=key, **common)
            add(tech, rec)
            if shared_peer is not None and shared_peer.has_mailbox:
                add(shared_peer, _event_record(tenant, shared_peer, key=f"{key}-copy", ical_uid=rec.graph["iCalUId"], **common))

        for s in range(n_series):
            # A weekly customer meeting: the master plus four occurrences, one
            # of them moved (an exception), spanning past and future.
            customer = domains[(t_index + s) % len(domains)]
            company = COMPANY_NAMES.get(customer, customer)
            guest = contacts[customer][0]
            first = day0 + timedelta(days=-8 + t_index % 3, hours=10)
            ical = "040000008200E00074C5B7101A82E008" + stable_hash(spec.seed, "series", tech.id, s).hex()[:48].upper()
            subject = f"{company} weekly service review"
            recurrence = {
                "pattern": {
                    "type": "weekly", "interval": 1, "month": 0, "dayOfMonth": 0,
                    "daysOfWeek": [first.strftime("%A").lower()], "firstDayOfWeek": "sunday", "index": "first",
                },
                "range": {
                    "type": "numbered", "startDate": first.strftime("%Y-%m-%d"), "endDate": "0001-01-01",
                    "recurrenceTimeZone": "UTC", "numberOfOccurrences": 4,
                },
            }
            series = dict(subject=subject, organizer=tech, attendees=[guest], online=True, location="Microsoft Teams Meeting", ical_uid=ical)
            master = _event_record(
                tenant, tech, key=f"series-{t_index}-{s}", start=first, end=first + timedelta(minutes=30),
                event_type="seriesMaster", recurrence=recurrence, **series,
            )
            add(tech, master)
            for k in range(4):
                occ_start = first + timedelta(weeks=k)
                event_type = "occurrence"
                if k == 1:
                    occ_start += timedelta(hours=3)
                    event_type = "exception"
                add(tech, _event_record(
                    tenant, tech, key=f"series-{t_index}-{s}-{k}", start=occ_start, end=occ_start + timedelta(minutes=30),
                    event_type=event_type, series_master_id=master.id, sentinel=master.sentinel, **series,
                ))

    for _order, owner, rec in pending:
        tenant.insert(tenant.calendar_collection(owner), rec)


def event_fields(fields: dict) -> dict:
    """Normalise convenience values (datetimes, plain addresses) to Graph shapes."""
    out = dict(fields)
    for key in ("start", "end"):
        if key in out and not isinstance(out[key], dict):
            out[key] = {"dateTime": graph_datetime(parse_iso(out[key])), "timeZone": "UTC"}
    if "attendees" in out:
        out["attendees"] = [a if isinstance(a, dict) and "status" in a else _attendee(a) for a in out["attendees"]]
    if "organizer" in out and not isinstance(out["organizer"], dict):
        out["organizer"] = email_address(out["organizer"])
    return out


def new_event(tenant: Tenant, owner: UserRecord, fields: dict) -> ItemRecord:
    """An event for Tenant.add_event."""
    fields = dict(fields)
    n = tenant.seq + 1
    start = parse_iso(fields.pop("start", tenant.spec.anchor + timedelta(days=1)))
    end = parse_iso(fields.pop("end", start + timedelta(hours=1)))
    body = fields.pop("body", None)
    rec = _event_record(
        tenant, owner, key=f"added-{n}", subject=fields.pop("subject", "Added event"),
        organizer=fields.pop("organizer", owner), attendees=fields.pop("attendees", []), start=start, end=end,
        is_all_day=fields.pop("isAllDay", False), is_cancelled=fields.pop("isCancelled", False),
        online=fields.pop("isOnlineMeeting", False), location=fields.pop("location", ""),
        sentinel="unused" if body is not None else tenant.next_sentinel(),
    )
    if body is not None:
        rec.body = body if isinstance(body, dict) else {"contentType": "html", "content": body}
        rec.sentinel = None
    if "id" in fields:
        rec.graph["id"] = fields.pop("id")
    rec.graph.update(event_fields(fields))
    return rec
