"""Journey 2 — a technician opens a customer before picking up a ticket.

Tess is a member whose work email is her technician mailbox. She opens a
customer from the Customers list and sees the "last email" line and the
recent email: only conversations she took part in (the page is checked
against the database). She expands one and reads its body, fetched from
Microsoft 365 at that moment and cleaned before it reaches the page.

Then a customer sends mail built to attack the page: script in the subject,
event handlers and script in the body. After the next sync Tess opens it:
nothing runs (no dialog, no `window.__pwned`), and every page carries the
Content-Security-Policy that would stop what the sanitiser missed.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from customers.models import MessageHolder, MessageParticipant
from customers.selectors import (
    customer_latest_message,
    customer_messages,
    customer_recent_messages,
)
from integrations.mail.sync import mailbox_sync

pytestmark = pytest.mark.browser

HOSTILE_SUBJECT = 'Printer on fire <script>window.__pwned=1;alert("subject")</script><img src=x onerror="window.__pwned=1">'
HOSTILE_BODY = (
    "<p>HOSTILE-MESSAGE-TEXT: please look at the attachment.</p>"
    '<img src=x onerror="window.__pwned=1;alert(\'img\')">'
    "<script>window.__pwned=1;alert('script')</script>"
    '<svg onload="window.__pwned=1"><circle r="4"></circle></svg>'
    '<a href="javascript:window.__pwned=1">open the report</a>'
    '<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>'
    '<form action="https://evil.example/"><input name="password"></form>'
    '<div style="background:url(javascript:window.__pwned=1)" onmouseover="window.__pwned=1">hover me</div>'
)
BODY_URL = re.compile(r"/customers/(\d+)/messages/(\d+)/body/")


def message_ids_listed(page):
    """The message ids on the page, from each row's body link, in page order."""
    ids = []
    for url in page.locator("#message-list li.message > details").evaluate_all("els => els.map(e => e.getAttribute('hx-post'))"):
        ids.append(int(BODY_URL.search(url).group(2)))
    return ids


def participants_listed(row):
    """Every address a message row names (From/To/Cc/Bcc), read from the page."""
    return {a.lower() for a in row.locator(".message-meta span[title]").evaluate_all("els => els.map(e => e.title)")}


def assert_csp(response):
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "object-src 'none'" in csp and "frame-ancestors 'none'" in csp, csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, csp


def test_technician_sees_only_their_conversations_reads_a_body_and_hostile_mail_runs_nothing(synced_world, visit):
    world = synced_world
    tess = world.tech
    me = tess.work_email.lower()
    # The customer Tess has the most recent email with (there is mail with it she took no part in, too).
    customer = max(world.customers.values(), key=lambda c: customer_recent_messages(tess, c).count())
    mine = list(customer_recent_messages(tess, customer))
    assert mine and customer_messages(world.admin, customer).count() > customer_messages(tess, customer).count()

    v = visit("tess")
    page = v.page
    v.sign_in("tess")
    expect(page.get_by_role("heading", name="Customers")).to_be_visible()

    with page.expect_response(lambda r: r.url.endswith(f"/customers/{customer.pk}/")) as hub:
        page.get_by_role("link", name=customer.name, exact=True).click()
    assert_csp(hub.value)
    expect(page.get_by_role("heading", name=customer.name, level=1)).to_be_visible()

    # "last email <when> — <subject>": the newest conversation she may see.
    latest = customer_latest_message(tess, customer)
    expect(page.locator(".latest-line")).to_contain_text("last email")
    expect(page.locator(".latest-line")).to_contain_text(latest.subject)
    # ... and who it was with: "last email from Liam Quintero (yours) · ..." or "last email to ...".
    expect(page.locator(".latest-line")).to_contain_text(re.compile(r"last email (from|to) \S.* \(yours\) · "))
    expect(page.locator("#communications")).to_contain_text("recorded in the audit log")
    expect(page.locator("#communications")).to_contain_text("only conversations you took part in")
    v.shot("hub")

    # Only her own conversations: every row names her, and the rows are exactly what the rule allows.
    rows = page.locator("#message-list ul.message-list > li.message")
    listed = message_ids_listed(page)
    # First page, newest conversation first; older messages of a conversation sit under its newest.
    assert sorted(listed) == sorted(m.pk for m in mine[:20]) and listed[0] == mine[0].pk
    by_pk = {m.pk: m for m in mine}
    for lead in range(rows.count()):
        row_ids = [int(BODY_URL.search(u).group(2)) for u in rows.nth(lead).locator("details").evaluate_all(
            "els => els.map(e => e.getAttribute('hx-post'))")]
        assert len({by_pk[pk].conversation_id for pk in row_ids}) == 1
    for n in range(rows.count()):
        assert me in participants_listed(rows.nth(n)), f"row {n} does not name {me}"
    took_part = set(MessageParticipant.objects.filter(address=me).values_list("message_id", flat=True))
    assert set(listed) <= took_part

    # Expand one: the body is fetched now, cleaned, and shown (the simulator's sentinel proves it is the real body).
    first = rows.first
    holder = MessageHolder.objects.get(message_id=listed[0], mailbox=me)  # her own copy is the one read
    sentinel = world.tenant.find_message(holder.mailbox, holder.graph_id).sentinel
    first.locator("summary").first.click()
    body = first.locator(".mail-body").first
    expect(body).to_contain_text(sentinel)
    assert body.locator("script, style, iframe, form, [style], [onerror], [onload], [onclick]").count() == 0
    v.shot("hub-message-expanded")

    # ---- a hostile message arrives from the customer, and is synced
    contact = world.customer_contact(customer)
    world.tenant.add_message(me, "inbox", from_=contact, subject=HOSTILE_SUBJECT, body=HOSTILE_BODY,
                             receivedDateTime=timezone.now() - timedelta(minutes=3))
    assert mailbox_sync(upn=me)["outcome"] == "success"

    with page.expect_response(lambda r: r.url.endswith(f"/customers/{customer.pk}/")) as hub:
        page.reload()
    assert_csp(hub.value)
    # The subject is shown as text, on the latest line and in the list.
    expect(page.locator(".latest-line")).to_contain_text("<script>window.__pwned=1")
    hostile = rows.filter(has_text="Printer on fire").first
    expect(hostile.locator("summary .what")).to_have_text(HOSTILE_SUBJECT)
    hostile.locator("summary").click()
    body = hostile.locator(".mail-body")
    expect(body).to_contain_text("HOSTILE-MESSAGE-TEXT")
    expect(body).to_contain_text("open the report")  # the link's text survives, its javascript: target does not
    page.mouse.move(10, 10)
    body.get_by_text("hover me").hover()
    page.wait_for_timeout(500)  # time for any error handler or onload to have fired
    v.shot("hub-hostile-message-expanded")

    assert page.evaluate("() => window.__pwned") is None
    assert body.locator("script, iframe, svg, form, input, [style], [onerror], [onload], [onmouseover]").count() == 0
    assert body.locator("a[href^='javascript']").count() == 0
    assert page.evaluate("() => document.querySelectorAll('script:not([src])').length") == 0  # no inline script anywhere
    v.assert_no_script_ran_or_failed()  # no dialog (the generated tenant's hostile names and subjects included)
