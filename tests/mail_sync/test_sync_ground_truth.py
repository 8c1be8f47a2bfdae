"""Mail and calendar sync against the Graph simulator: what is stored equals
the simulator's ground truth, and nothing else leaves a trace anywhere."""

import re
from datetime import timedelta

from customers.communications import Direction
from customers.matching import customer_matcher_build
from customers.models import (
    Contact,
    Customer,
    Event,
    EventCustomer,
    EventHolder,
    EventParticipant,
    Message,
    MessageCustomer,
    MessageHolder,
    MessageParticipant,
)
from graphsim import SENTINEL_PREFIX, address_at
from integrations.mail.models import SyncRun
from integrations.setup.models import MailboxState
from integrations.tasks import sync_mailbox
from tests.traces import all_cache_text, all_database_text, assert_left_no_trace

MSP = "contoso-msp.example"


def test_first_sync_stores_exactly_the_items_that_touch_a_customer(sync_kit):
    summaries = sync_kit.sync()

    assert all(s["outcome"] == "success" for s in summaries)
    sync_kit.assert_ground_truth()
    # The same message in two technician mailboxes is one Message with two
    # holders; a reused Message-ID from another sender (the hostile tenant has
    # one) is two Messages.
    imids = [imid for _, _, imid in sync_kit.message_truth()]
    shared = {imid for imid in imids if imids.count(imid) > 1}
    assert shared, "the simulated tenant should copy some customer mail to a colleague"
    merged = split = 0
    for imid in shared:
        messages = list(Message.objects.filter(internet_message_id=imid))
        assert sum(m.holders.count() for m in messages) == imids.count(imid)
        merged += len(messages) == 1
        split += len(messages) > 1 and len({m.from_address for m in messages}) == len(messages)
    assert merged >= 1 and split == 1
    # Every state row says where each folder stopped.
    for state in MailboxState.objects.all():
        assert state.inbox_delta_link and state.sentitems_delta_link and state.graph_user_id
        assert state.last_success_at and not state.last_error and state.next_run_at and state.running_since is None


def test_links_participants_and_direction_follow_the_graph_items(sync_kit):
    sync_kit.sync()
    domains = sync_kit.domains()
    customers = {c.pk: c for c in Customer.objects.prefetch_related("domains")}
    for record in sync_kit.tenant.messages_touching(domains, mailboxes=sync_kit.mailboxes(), since=sync_kit.now - timedelta(days=14)):
        copy = MessageHolder.objects.get(mailbox=record.mailbox_upn.lower(), graph_id=record.id)
        message = copy.message
        assert message.internet_message_id == record.graph["internetMessageId"]
        addresses = {a.lower() for a in record.participants()}
        expected = {
            pk for pk, c in customers.items() if any(address_at(a, [d.domain for d in c.domains.all()]) for a in addresses)
        }
        assert set(message.customer_links.values_list("customer_id", flat=True)) == expected
        # Each copy keeps exactly its own participant list: nothing from another mailbox's copy.
        assert set(copy.participants.values_list("address", flat=True)) == addresses
        sender = record.graph["from"]["emailAddress"]["address"].lower()
        assert message.from_address == sender
        expected_direction = Direction.SENT if sender.endswith("@" + MSP) or record.folder == "sentitems" else Direction.RECEIVED
        assert copy.direction == expected_direction, (record.folder, sender)
        assert MessageCustomer.objects.filter(message=message, received_at=message.received_at).exists()
    assert not MessageParticipant.objects.filter(role__in=["sender", ""]).exists()
    # Events: each copy keeps the participant list of its own Graph item: one
    # organizer per copy (an event two technicians hold has two), attendees with
    # their roles; each event linked to its customers at its start, in UTC.
    graph_events = {(r.mailbox_upn.lower(), r.id): r for r in sync_kit.tenant.all_events()}
    copies = list(EventHolder.objects.select_related("event"))
    assert copies and any(c.event.holders.count() > 1 for c in copies), "some meetings sit in two calendars"
    for copy in copies:
        graph = graph_events[(copy.mailbox, copy.graph_id)].graph
        organizer = ((graph.get("organizer") or {}).get("emailAddress") or {}).get("address")
        expected = {("organizer", organizer.lower())} if organizer else set()
        for attendee in graph.get("attendees") or []:
            address = (attendee.get("emailAddress") or {}).get("address")
            role = (attendee.get("type") or "").lower()
            if address:
                expected.add((role if role in ("required", "optional", "resource") else "required", address.lower()))
        stored = {(role, address.lower()) for role, address in copy.participants.values_list("role", "address")}
        assert stored == expected, (copy.mailbox, graph.get("subject"))
        assert copy.participants.filter(role="organizer").count() == (1 if organizer else 0)
        assert copy.event.starts_at.utcoffset() == timedelta(0)
        assert EventCustomer.objects.filter(event=copy.event, starts_at=copy.event.starts_at).exists()


def test_recurring_occurrences_stay_separate_and_shared_meetings_are_one_event(sync_kit):
    sync_kit.sync()
    occurrences = [r for r in sync_kit.tenant.all_events() if r.graph.get("type") in ("occurrence", "exception")]
    stored = {graph_id for _, graph_id in sync_kit.stored_events()}
    in_window = [r for r in occurrences if r.id in stored]
    assert len(in_window) >= 2
    # One Event per occurrence even if the source repeats the series' iCalUId on each.
    assert len({Event.objects.get(holders__graph_id=r.id).pk for r in in_window}) == len(in_window)
    by_uid = {}  # one meeting = one uid from one organizer (the hostile tenant reuses a uid from another)
    for record in sync_kit.tenant.all_events():
        if record.id in stored and record.graph.get("type") == "singleInstance":
            organizer = record.graph["organizer"]["emailAddress"]["address"].lower()
            by_uid.setdefault((record.graph["iCalUId"], organizer), set()).add(record.id)
    shared = [ids for ids in by_uid.values() if len(ids) > 1]
    assert shared, "some meetings sit in two technicians' calendars"
    for ids in shared:
        assert len({Event.objects.get(holders__graph_id=i).pk for i in ids}) == 1


def test_listed_contact_on_a_personal_address_keeps_an_event(sync_kit):
    jane = sync_kit.mailboxes()[0]
    address = "owner.private@personal-mail.example"
    added = sync_kit.tenant.add_event(jane, subject="Budget chat", attendees=[address], start=sync_kit.now + timedelta(days=1))

    sync_kit.sync([jane])
    assert (jane, added.id) not in sync_kit.stored_events()  # a stranger's address: dropped

    Contact.objects.create(customer=Customer.objects.first(), name="Owner", email=address)
    sync_kit.sync([jane])

    assert (jane, added.id) in sync_kit.stored_events()
    assert EventParticipant.objects.filter(address=address, response="none").exists()
    assert EventCustomer.objects.filter(event__holders__graph_id=added.id, customer=Customer.objects.first()).exists()
    sync_kit.assert_ground_truth(mailboxes=[jane])


def test_bodies_never_reach_the_database_cache_logs_or_task_results(sync_kit, all_logs):
    sentinels = sync_kit.tenant.body_sentinels()
    assert len(sentinels) > 100

    results = [sync_mailbox.apply(args=[upn], kwargs={"reason": "manual"}) for upn in sync_kit.mailboxes()]

    assert Message.objects.count() > 50 and Event.objects.count() > 10
    haystacks = {
        "database": all_database_text(),
        "cache": all_cache_text(),
        "logs": all_logs.text,
        "task results": repr([(r.result, r.state) for r in results]),
    }
    for where, text in haystacks.items():
        assert SENTINEL_PREFIX not in text, f"a body sentinel reached the {where}"
    assert all(r.result is None for r in results)


def test_dropped_items_leave_no_row_no_cache_entry_and_no_log_line(sync_kit, all_logs):
    domains = sync_kit.domains()
    dropped = [
        r for r in sync_kit.tenant.all_messages()
        if not any(address_at(a, domains) for a in r.participants())
    ]
    assert dropped
    # Addresses only dropped mail carries (never the technicians', which are in URLs).
    kept_addresses = {a.lower() for r in sync_kit.tenant.all_messages() if r not in dropped for a in r.participants()}
    outsiders = {a.lower() for r in dropped for a in r.participants()} - kept_addresses
    subjects = {r.graph["subject"] for r in dropped} - set(Message.objects.values_list("subject", flat=True))
    assert outsiders and subjects

    sync_kit.sync()

    # Promise 2: no row, no log line, no cache entry.
    assert_left_no_trace(outsiders, logs=all_logs, ignore_case=True)
    stored_subjects = set(Message.objects.values_list("subject", flat=True))
    cache, logs = all_cache_text().lower(), all_logs.text.lower()
    for subject in subjects - stored_subjects:
        assert subject.lower() not in logs and subject.lower() not in cache
    dropped_ids = {r.id for r in dropped}
    assert not dropped_ids & {graph_id for _, graph_id, _ in sync_kit.stored_messages()}
    since = (sync_kit.now - timedelta(days=14)).strftime("%Y-%m-%dT%H:%M:%SZ")
    in_scope = [r for r in dropped if r.mailbox_upn in sync_kit.mailboxes() and r.graph["receivedDateTime"] >= since]
    runs = SyncRun.objects.filter(folder__in=["inbox", "sentitems"])
    assert sum(runs.values_list("dropped", flat=True)) == len(in_scope)


def test_sync_requests_only_listed_mailboxes_with_select_and_never_a_body(sync_kit):
    from integrations.setup.connection import connection_get
    from integrations.setup.services import connection_save

    conn = connection_get()
    listed = sync_kit.mailboxes()
    connection_save(actor=None, tenant_id=conn.tenant_id, client_id=conn.client_id, client_secret="",
                    mailboxes=listed[:2], secret_expires_on=None)
    sync_kit.sim.clear_requests()

    for upn in listed:  # ask for all four: two are no longer on the list
        sync_mailbox.apply(args=[upn])

    allowed = set(listed[:2]) | set(MailboxState.objects.values_list("graph_user_id", flat=True))
    log = sync_kit.sim.requests
    assert log
    for request in log:
        if request["user"]:
            assert request["user"].lower() in allowed, f"request for an off-list mailbox: {request['path']}"
        path = request["path"].lower()
        assert not re.search(r"/(messages|events)/[^/]+$", path) or path.endswith("/delta"), path
        select = next((v for k, v in request["query"].items() if k.lower().lstrip("$") == "select"), None)
        if "delta" in path and not any(k.lstrip("$") in ("skiptoken", "deltatoken") for k in request["query"]):
            assert select, "a first delta request without $select would return bodies"
        if "calendarview" in path:
            assert select
        if select:
            assert "body" not in {s.strip().lower() for s in select.split(",")}
            assert "uniquebody" not in select.lower()
    assert {r["user"].lower() for r in log if r["user"]} <= allowed


def test_the_filter_reads_the_same_participant_list_that_is_stored(db):
    """A delegate `sender` at a customer domain, with `from` and every recipient
    elsewhere, does not keep a message: the filter, the access rule and
    forget-unmatched all read the one stored list (from, to, cc, bcc)."""
    from django.utils import timezone

    from customers.services import customer_create
    from integrations.graph import parse
    from integrations.mail.mail_sync import message_row
    from integrations.mail.sync import SyncContext

    customer_create(actor=None, name="Northwind", domains=["northwind.example"])
    ctx = SyncContext(now=timezone.now(), matcher=customer_matcher_build(),
                      own_domains=frozenset({"msp.example"}), technicians=frozenset({"jane@msp.example"}))

    def graph(to):
        return {"id": "AAMk1", "internetMessageId": "<1@msp.example>", "subject": "Hello",
                "receivedDateTime": "2026-11-20T10:00:00Z",
                "from": {"emailAddress": {"name": "Boss", "address": "boss@msp.example"}},
                "sender": {"emailAddress": {"name": "Assistant", "address": "pa@northwind.example"}},
                "toRecipients": [{"emailAddress": {"address": to}}]}

    assert message_row(parse.parse_message(graph("jane@msp.example")), mailbox="jane@msp.example", folder="inbox", ctx=ctx) is None
    kept = message_row(parse.parse_message(graph("ops@northwind.example")), mailbox="jane@msp.example", folder="inbox", ctx=ctx)
    assert {address for _, address, _ in kept.participants} == {"boss@msp.example", "ops@northwind.example"}
