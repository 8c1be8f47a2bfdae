"""Shared by the fault suite: small pages, and the checks every fault case ends with.

After any fault, a sync must leave
  * the stored set equal to the simulator's ground truth (SyncKit.assert_ground_truth),
  * no duplicate message, holder, event or participant,
  * no message or event body anywhere (no simulator body sentinel in any table or the cache),
  * a simulator request log in which every Graph request names an allowed
    mailbox and none asks for a body.
"""

import re
from collections import Counter

import pytest

from customers.models import (
    Event,
    EventHolder,
    EventParticipant,
    Message,
    MessageHolder,
    MessageParticipant,
)
from integrations.simulator import SENTINEL_PREFIX

from ..traces import all_cache_text, all_database_text

SMALL_PAGE = 5  # items a page: every folder takes several pages, so faults land mid-round

# Graph paths that fetch one item (and so its body, whatever $select says).
_ONE_ITEM = re.compile(r"/(messages|events)/(?!delta$)[^/]+(/\$value)?$", re.IGNORECASE)
_USER_SEGMENT = re.compile(r"^/v1\.0/users(?:/|\(')([^/'()]+)", re.IGNORECASE)


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr("integrations.m365.mail_sync.PAGE_SIZE", SMALL_PAGE)
    monkeypatch.setattr("integrations.m365.calendar_sync.PAGE_SIZE", SMALL_PAGE)


def assert_no_duplicates():
    def dupes(model, *fields):
        counts = Counter(model.objects.values_list(*fields))
        return {key: n for key, n in counts.items() if n > 1}

    # Identity, not the sender-chosen id: the hostile tenant reuses a Message-ID and an iCalUId on purpose.
    assert not dupes(Message, "identity")
    assert not dupes(MessageHolder, "mailbox", "graph_id")
    assert not dupes(MessageParticipant, "holder", "role", "address")
    assert not dupes(Event, "identity")
    assert not dupes(EventHolder, "mailbox", "graph_id")
    assert not dupes(EventParticipant, "holder", "role", "address")


def assert_no_body_stored():
    assert SENTINEL_PREFIX not in all_database_text(), "a body sentinel reached the database"
    assert SENTINEL_PREFIX not in all_cache_text(), "a body sentinel reached the cache"


def assert_requests_on_list_and_bodiless(requests, tenant, allowed):
    """Every Graph request names an allowed mailbox (by UPN or resolved id) and none asks for a body."""
    allowed = {upn.lower() for upn in allowed}
    graph = [r for r in requests if r["path"].lower().startswith("/v1.0/")]
    assert graph, "no Graph request at all: the check would prove nothing"
    for r in graph:
        path = r["path"]
        if path.rstrip("/").lower() == "/v1.0/$batch":
            continue  # its inner requests are logged on their own (via_batch) and checked here too
        named = _USER_SEGMENT.match(path)
        assert named, f"a Graph request that names no mailbox: {r['method']} {path}"
        user = tenant.user(named.group(1))
        assert user is not None and user.upn.lower() in allowed, f"off-list mailbox requested: {path}"
        selected = {field.strip().lower() for field in (r["query"].get("$select") or "").split(",")}
        assert not selected & {"body", "uniquebody"}, f"a body was asked for: {path} $select={r['query'].get('$select')}"
        assert not _ONE_ITEM.search(path), f"a single item (with its body) was fetched: {r['method']} {path}"


def assert_clean_outcome(kit, *, mailboxes=None):
    """The fault suite's closing checks, for all mailboxes (or those given)."""
    kit.assert_ground_truth(mailboxes=mailboxes)
    assert_no_duplicates()
    assert_no_body_stored()
    assert_requests_on_list_and_bodiless(kit.sim.requests, kit.tenant, kit.mailboxes())


def sync_until_settled(kit, *, client_factory, rounds=4):
    """Run every mailbox's sync; a mailbox whose run failed is run again, as
    the next scheduled run would, up to `rounds` runs in all. Returns the
    outcomes per round: [{upn: outcome}, ...]."""
    history, pending = [], kit.mailboxes()
    for _ in range(rounds):
        client = client_factory()
        try:
            outcomes = {s["mailbox"]: s["outcome"] for s in kit.sync(pending, client=client)}
        finally:
            client.close()
        history.append(outcomes)
        pending = [upn for upn, outcome in outcomes.items() if outcome != "success"]
        if not pending:
            return history
    raise AssertionError(f"still failing after {rounds} runs: {history}")
