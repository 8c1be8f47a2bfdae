"""PostgreSQL writes pages through COPY and set-based upserts, other databases
through bulk_create: the same mailboxes synced through either path give the
same rows, and replaying them changes nothing on either."""

import pytest
from django.db import connection

from customers import ingest
from customers.models import (
    Event,
    EventCustomer,
    EventHolder,
    EventParticipant,
    Message,
    MessageCustomer,
    MessageHolder,
    MessageParticipant,
)
from tests.mail_sync.test_sync_incremental import _contact

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path is PostgreSQL's")


def _rows():
    """Every communications row by its natural key (database ids differ between runs)."""
    return {
        "messages": sorted(Message.objects.values_list(
            "identity", "internet_message_id", "conversation_id", "subject", "from_name", "from_address", "sent_at",
            "received_at")),
        "message_holders": sorted(MessageHolder.objects.values_list(
            "mailbox", "graph_id", "message__identity", "folder", "direction", "preview", "web_link")),
        "message_participants": sorted(MessageParticipant.objects.values_list(
            "holder__mailbox", "holder__graph_id", "message__identity", "role", "address", "name")),
        "message_links": sorted(MessageCustomer.objects.values_list("message__identity", "customer_id", "received_at")),
        "events": sorted(Event.objects.values_list(
            "identity", "ical_uid", "subject", "starts_at", "ends_at", "is_all_day", "is_cancelled", "location",
            "organizer_name", "organizer_address", "online_meeting_url")),
        "event_holders": sorted(EventHolder.objects.values_list(
            "mailbox", "graph_id", "event__identity", "series_master_id", "preview", "web_link")),
        "event_participants": sorted(EventParticipant.objects.values_list(
            "holder__mailbox", "holder__graph_id", "event__identity", "role", "address", "name", "response")),
        "event_links": sorted(EventCustomer.objects.values_list("event__identity", "customer_id", "starts_at")),
    }


def _sync_from_scratch(kit):
    ingest.holders_forget_mailboxes(upns=kit.mailboxes())
    assert not MessageHolder.objects.exists() and not EventHolder.objects.exists()
    kit.sync(full=True)
    return _rows()


def test_copy_path_and_plain_path_write_the_same_rows(sync_kit, monkeypatch):
    jane, jack, *_ = sync_kit.mailboxes()
    contact = _contact(sync_kit)
    # A message in two mailboxes with different recipients, and one whose name
    # differs between roles of the same address: both paths must agree on them.
    shared = sync_kit.tenant.add_message(jane, "inbox", from_=contact, toRecipients=[jane, jack], subject="Shared")
    sync_kit.tenant.add_message(jack, "inbox", from_=contact, toRecipients=[jack], subject="Shared",
                                internetMessageId=shared.graph["internetMessageId"],
                                sentDateTime=shared.graph["sentDateTime"], conversationId=shared.graph["conversationId"],
                                receivedDateTime=shared.graph["receivedDateTime"][:-3] + "59Z")

    copy_rows = _sync_from_scratch(sync_kit)
    assert copy_rows["message_holders"] and copy_rows["event_holders"] and copy_rows["message_links"]
    sync_kit.sync(full=True)  # a replay through COPY changes nothing
    assert _rows() == copy_rows

    monkeypatch.setattr(ingest, "COPY_VENDORS", ())
    plain_rows = _sync_from_scratch(sync_kit)
    sync_kit.sync(full=True)

    assert _rows() == plain_rows
    for table in copy_rows:
        assert plain_rows[table] == copy_rows[table], table
    sync_kit.assert_ground_truth()


def test_copy_path_leaves_no_staged_rows_behind(sync_kit):
    sync_kit.sync()

    with connection.cursor() as cursor:
        for table in ("ingest_message_copy", "ingest_event_copy", "ingest_person", "ingest_link"):
            cursor.execute(f"SELECT count(*) FROM {table}")
            assert cursor.fetchone() == (0,), table
