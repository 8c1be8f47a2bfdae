"""Mail: one delta round of one folder, filtered by customer domain before any write.

A round is a series of pages. Each page is parsed, filtered, and written in
one transaction with a fixed number of queries (customers.ingest). The delta
link is stored only after the last page committed, so a run that dies half
way replays its pages next time, which the upserts make harmless.

Graph caps a filtered delta round at 5,000 messages and still ends it with a
delta link. A from-scratch round that reaches the cap is completed by listing
the folder over the same look-back (_fill_in) before the link is stored.
"""

from datetime import timedelta

from django.db import transaction

from customers import ingest
from customers.communications import Direction
from customers.domains import address_domain, domain_within
from customers.windows import mail_window_start

from ..graph import errors, parse

FOLDERS = ("inbox", "sentitems")
# Prefer: odata.maxpagesize. Bigger pages mean fewer round trips and fewer
# transactions: about one request per 1,000 messages on an initial sync.
# Graph may send smaller pages than asked (its own cap, or a page it could not
# fill in time); the round follows its nextLinks whatever their size.
PAGE_SIZE = 1000
# A copy of a message in another mailbox may carry a received time a few
# seconds apart from the stored one: the sweep leaves the edge of the
# look-back alone rather than drop a copy Graph still holds.
SWEEP_MARGIN = timedelta(hours=1)
# "Applying $filter in a delta query returns only up to 5,000 messages"
# (Graph's message delta reference). Our from-scratch rounds are filtered, so a
# round that returned exactly this many items (kept, dropped or unreadable) was
# cut short, whatever its delta link suggests. (More than this means Graph did
# not apply its cap: the round is whole.)
DELTA_FILTER_CAP = 5000
# The fill-in lists the folder with $top at Graph's documented maximum: only
# metadata is selected, so a page stays small, and fewer round trips are faster.
FILL_IN_PAGE_SIZE = 1000


def folder_round(*, client, state, folder, ctx, run, on_page, full):
    """Sync one folder; returns the delta link to store (after the last page committed).

    full: ignore the stored delta link and read the look-back from scratch.
    An expired delta state (410, syncStateNotFound, resyncRequired) restarts
    the folder from scratch once, within the same run."""
    delta_link = None if full else (getattr(state, f"{folder}_delta_link") or None)
    run.full = delta_link is None  # no stored link (first run, or an interrupted one): from scratch
    try:
        return _round(client=client, upn=state.upn, folder=folder, ctx=ctx, run=run, on_page=on_page, delta_link=delta_link)
    except errors.SyncStateExpiredError:
        if delta_link is None:
            raise  # a fresh round cannot expire twice; let the run record it
        run.full = True
        return _round(client=client, upn=state.upn, folder=folder, ctx=ctx, run=run, on_page=on_page, delta_link=None)


def _round(*, client, upn, folder, ctx, run, on_page, delta_link):
    since = None if delta_link else mail_window_start(ctx.now)
    pages = client.message_delta(upn, folder, delta_link=delta_link, received_since=since, page_size=PAGE_SIZE)
    # A from-scratch round sees everything in the look-back: what it does not
    # see was deleted meanwhile (or no longer touches a customer).
    kept_ids = CompactIds() if delta_link is None else None
    # Every id a from-scratch round returned, kept or dropped: what the fill-in skips.
    returned_ids = CompactIds() if delta_link is None else None
    write = _PageWriter(upn=upn, folder=folder, ctx=ctx, run=run, on_page=on_page, kept_ids=kept_ids)
    keep = _touches_customer(ctx)
    for items in pages:
        page = parse.message_page(items, keep=keep)
        if returned_ids is not None:
            returned_ids.update(record.id for record in page.changed)
            returned_ids.update(page.dropped)
        write(page, incremental=delta_link is not None)
    if delta_link is None and pages.items == DELTA_FILTER_CAP:
        # Graph stopped the filtered round at its cap but still gave a delta
        # link: read the rest of the look-back by listing the folder. The
        # delta link stays the round's, for the next increments.
        run.capped = True
        _fill_in(client=client, upn=upn, folder=folder, since=since, run=run, write=write, returned_ids=returned_ids,
                 keep=keep)
    if kept_ids is not None:
        with transaction.atomic():
            run.removed += ingest.message_holders_sweep(
                mailbox=upn, folder=folder, since=since + SWEEP_MARGIN, keep_graph_ids=kept_ids
            )
    return pages.delta_link or ""


def _fill_in(*, client, upn, folder, since, run, write, returned_ids, keep):
    """Page the folder's messages received since the look-back (newest first)
    and write those the capped delta round did not return, through the same
    domain filter and page ingest. A message seen twice (the round returned
    it, or the listing's pages shifted while new mail arrived) is skipped."""
    for items in client.message_list(upn, folder, received_since=since, page_size=FILL_IN_PAGE_SIZE):
        page = parse.message_page(items, keep=keep)
        fresh = [record for record in page.changed if record.id not in returned_ids]
        fresh_dropped = [graph_id for graph_id in page.dropped if graph_id not in returned_ids]
        returned_ids.update(record.id for record in fresh)
        returned_ids.update(fresh_dropped)
        run.listed += len(fresh) + len(fresh_dropped)
        write(parse.DeltaPage(changed=fresh, dropped=fresh_dropped, skipped=page.skipped), incremental=False)


class CompactIds:
    """A set of Graph ids held as their 64-bit hashes: a from-scratch round of a
    big mailbox remembers every id it read (for the sweep and the fill-in), and
    an id is a string of about 150 characters against one small int here.
    Python's string hash is keyed per process (SipHash), so two ids of a round
    share a hash with odds of about n^2 / 2^65, about 1 in 10^9 at 200,000 ids.
    Such a collision can only keep a holder the sweep would have removed (until
    the next full read) or skip one message of a capped folder's listing."""

    def __init__(self):
        self._hashes = set()

    def add(self, graph_id):
        self._hashes.add(hash(graph_id))

    def update(self, graph_ids):
        self._hashes.update(map(hash, graph_ids))

    def __contains__(self, graph_id):
        return hash(graph_id) in self._hashes

    def __len__(self):
        return len(self._hashes)


class _PageWriter:
    """One page: domain filter, then one transaction through customers.ingest."""

    def __init__(self, *, upn, folder, ctx, run, on_page, kept_ids):
        self.upn, self.folder, self.ctx, self.run, self.on_page, self.kept_ids = upn, folder, ctx, run, on_page, kept_ids

    def __call__(self, page, *, incremental):
        run = self.run
        rows, dropped_ids = [], list(page.dropped)
        for record in page.changed:
            row = message_row(record, mailbox=self.upn, folder=self.folder, ctx=self.ctx)
            if row is None:
                dropped_ids.append(record.id)  # only the opaque Graph id, and only in memory
            else:
                rows.append(row)
        run.seen += len(page.changed) + len(page.dropped) + page.skipped
        run.kept += len(rows)
        run.dropped += len(dropped_ids) + page.skipped
        gone = [removed.id for removed in page.removed]
        if incremental:
            gone += dropped_ids  # an update that no longer touches a customer
        with transaction.atomic():
            ingest.messages_upsert(rows=rows, matcher=self.ctx.matcher)
            run.removed += ingest.message_holders_remove(mailbox=self.upn, graph_ids=gone)
            self.on_page()
        if self.kept_ids is not None:
            self.kept_ids.update(row.graph_id for row in rows)


def _touches_customer(ctx):
    """The domain filter on a participant list alone (parse.message_page's keep)."""
    customer_for = ctx.matcher.customer_for_address

    def keep(participant_roles):
        return any(customer_for(person.address) is not None for _, person in participant_roles)

    return keep


def message_row(record, *, mailbox, folder, ctx):
    """The row to store, or None when no participant is at a customer domain.

    This is the domain filter: it runs before anything is written, and what it
    drops is only counted."""
    # The one participant list (record.participant_roles): what kept a message
    # is always stored with it, for the access rule and forget-unmatched.
    participants = {
        (role, clean_text(person.address, 320), clean_text(person.name, 320))
        for role, person in record.participant_roles()
    }
    customers = frozenset(
        customer_id
        for customer_id in (ctx.matcher.customer_for_address(address) for _, address, _ in participants)
        if customer_id is not None
    )
    received_at = record.received_at or record.sent_at
    if not customers or received_at is None:
        return None
    sender = record.from_ or record.sender
    return ingest.MessageRow(
        mailbox=mailbox,
        graph_id=record.id,
        folder=folder,
        # No internetMessageId (rare: drafts, some system mail): the copy is its own message.
        internet_message_id=clean_text(record.internet_message_id, 900) or f"{mailbox}:{record.id}"[:900],
        received_at=received_at,
        direction=_direction(sender, mailbox=mailbox, folder=folder, ctx=ctx),
        conversation_id=clean_text(record.conversation_id, 255),
        subject=clean_text(record.subject, 1000),
        preview=clean_text(record.body_preview, 300),
        from_name=clean_text(sender.name if sender else None, 320),
        from_address=clean_text(sender.address if sender else None, 320),
        sent_at=record.sent_at,
        web_link=clean_url(record.web_link),
        participants=sorted(participants),
        customer_ids=customers,
    )


def _direction(sender, *, mailbox, folder, ctx):
    """Of this copy: Sent when it left the MSP (the sent-items folder, or an inbox
    copy from a technician or an own domain), Received otherwise. Own domains
    never include a customer's (sync._context), so customer mail is Received."""
    if folder == "sentitems":
        return Direction.SENT
    address = sender.address if sender else None
    if address and (address == mailbox or address in ctx.technicians):
        return Direction.SENT
    domain = address_domain(address) if address else ""
    if domain and not ctx.matcher.is_customer_domain(domain) and domain_within(domain, ctx.own_domains):
        return Direction.SENT
    return Direction.RECEIVED


def clean_text(value, limit):
    """A string fit for a column: NUL removed (PostgreSQL refuses it), cut to the column size."""
    if not isinstance(value, str):
        return ""
    return value.replace("\x00", "")[:limit]


def clean_url(value, limit=2048):
    """Only http(s) links are kept: a javascript: or data: link from a hostile
    item must never reach an href in the hub."""
    text = clean_text(value, limit + 1).strip()
    if len(text) > limit or not text.lower().startswith(("https://", "http://")):
        return ""
    return text
