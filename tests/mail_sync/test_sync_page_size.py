"""Fewer, bigger pages: the sync asks Graph for 1,000 messages a page, follows
whatever page size Graph actually sends, and records requests per 1,000
messages on every folder run."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse

from integrations.mail.models import SyncRun
from tests.mail_sync.test_sync_incremental import _contact

ADDED = 1_150


@pytest.fixture
def busy_jane(sync_kit):
    jane = sync_kit.mailboxes()[0]
    contact = _contact(sync_kit)
    for n in range(ADDED):
        sync_kit.tenant.add_message(jane, "inbox", from_=contact, subject=f"Bulk {n}",
                                    receivedDateTime=sync_kit.now - timedelta(minutes=n + 1))
    return jane


def _inbox_run(jane):
    return SyncRun.objects.filter(mailbox=jane, folder="inbox").order_by("-started_at", "-id").first()


def _delta_requests(sim):
    return [r for r in sim.requests if r["path"].endswith("/mailFolders/inbox/messages/delta")]


def test_initial_sync_asks_for_pages_of_1000_and_counts_requests_per_thousand(sync_kit, busy_jane):
    sync_kit.sim.clear_requests()
    sync_kit.sync([busy_jane])

    sync_kit.assert_ground_truth(mailboxes=[busy_jane])
    deltas = _delta_requests(sync_kit.sim)
    assert deltas and all("odata.maxpagesize=1000" in r["prefer"] for r in deltas)
    run = _inbox_run(busy_jane)
    assert run.seen > ADDED and len(deltas) == 2  # 1,150 and more: two pages, not five of 250
    # The first run's token (discovery + token), the mailbox lookup and two delta pages.
    assert run.graph_requests == 5
    assert run.requests_per_thousand == round(5 * 1000 / run.seen, 2) < 4.25


def test_smaller_pages_than_asked_are_followed_to_the_end(sync_kit, busy_jane):
    sync_kit.sim.max_page_size = 200  # a Graph that caps this endpoint lower than we ask
    try:
        sync_kit.sim.clear_requests()
        sync_kit.sync([busy_jane])
    finally:
        sync_kit.sim.max_page_size = 1000

    sync_kit.assert_ground_truth(mailboxes=[busy_jane])
    run = _inbox_run(busy_jane)
    assert len(_delta_requests(sync_kit.sim)) == -(-run.seen // 200)
    assert run.requests_per_thousand > 5


def test_requests_per_thousand_is_shown_where_run_counts_are(sync_kit, busy_jane, admin_client, capsys):
    call_command("sync_m365", "--mailbox", busy_jane)
    out = capsys.readouterr().out
    run = _inbox_run(busy_jane)
    assert "per 1000" in out and f"{run.requests_per_thousand:>8}" in out

    page = admin_client.get(reverse("integrations:index")).content.decode()
    assert f"({run.requests_per_thousand} per 1,000 seen)" in page
