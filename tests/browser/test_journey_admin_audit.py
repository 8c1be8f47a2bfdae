"""Journey 4 — an admin finds who read what in the audit log.

Earlier, Tess (technician) opened an email body on a customer page and
Audrey (auditor) downloaded an evidence pack. Alex (admin) opens Admin →
Audit log and narrows it with the filters: action "body.fetch" by Tess shows
the fetch (which message, through which mailbox), action
"compliance.pack_download" by Audrey shows the download with the hashes her
pack must match. Filtering by the wrong person finds nothing.
"""

import re

import pytest
from playwright.sync_api import expect

from audit.models import AuditEvent
from compliance.verify import verify_pack
from customers.models import MessageHolder
from customers.selectors import customer_recent_messages
from security.models import PostureSnapshot

pytestmark = pytest.mark.browser


def test_admin_finds_the_body_fetch_and_the_pack_download_with_the_audit_filters(synced_world, visit):
    world = synced_world
    customer = max(world.customers.values(), key=lambda c: customer_recent_messages(world.tech, c).count())
    snapshot = PostureSnapshot.objects.filter(customer=customer).latest("taken_on")

    # ---- earlier: Tess reads an email body
    tess = visit("tess")
    tess.sign_in("tess")
    tess.page.goto(tess.url(f"/customers/{customer.pk}/"))
    first = tess.page.locator("#message-list li.message").first
    first.locator("summary").click()
    expect(first.locator(".mail-body")).to_be_visible()
    message_id = int(re.search(r"/messages/(\d+)/body/", first.locator("details").get_attribute("hx-post")).group(1))
    holder = MessageHolder.objects.filter(message_id=message_id).order_by("mailbox").first()

    # ---- earlier: Audrey downloads the SOC 2 pack of the same customer
    audrey = visit("audrey")
    audrey.sign_in("audrey")
    audrey.page.goto(audrey.url(f"/compliance/?customer={customer.pk}&framework=soc2"))
    with audrey.page.expect_download() as download_info:
        audrey.page.get_by_role("button", name="Download evidence pack (ZIP)").click()
    pack_path = audrey.shots.directory / download_info.value.suggested_filename
    download_info.value.save_as(pack_path)
    pack = verify_pack(str(pack_path))
    assert pack.ok, pack.problems

    # ---- Alex looks them up
    alex = visit("alex")
    page = alex.page
    alex.sign_in("alex")
    alex.open_admin_menu("Audit log")
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    alex.shot("audit-log")
    table = page.locator("table.audit tbody")

    # Action "body.fetch", by Tess: her one fetch, with the message and the mailbox it came through.
    page.get_by_label("User").select_option(label="tess")
    page.get_by_label("Action").select_option("body.fetch")
    page.get_by_role("button", name="Filter").click()
    expect(table.locator("tr")).to_have_count(1)
    row = table.locator("tr").first
    expect(row.locator("td").nth(1)).to_contain_text("tess")
    expect(row.locator("td").nth(2).locator(".action-label")).to_have_text("Opened email body")
    expect(row.locator("td").nth(2).locator("code")).to_have_text("body.fetch")
    expect(row.locator("td").nth(3)).to_contain_text(f"customers.message {message_id}")
    expect(row.locator("td").nth(4)).to_have_text(customer.name)
    for shown in ("outcome: ok", f"mailbox: {holder.mailbox}", f"graph_id: {holder.graph_id}"):
        expect(row.locator("td.details")).to_contain_text(shown)
    alex.shot("audit-log-body-fetch-by-tess")

    # The same action by Audrey: she fetched no body.
    page.get_by_label("User").select_option(label="audrey")
    page.get_by_role("button", name="Filter").click()
    expect(table).to_contain_text("No audit events match.")

    # Action "compliance.pack_download", by Audrey: the download, with the hashes of the pack she holds.
    page.get_by_label("Action").select_option("compliance.pack_download")
    page.get_by_role("button", name="Filter").click()
    expect(table.locator("tr")).to_have_count(1)
    row = table.locator("tr").first
    expect(row.locator("td").nth(1)).to_contain_text("audrey")
    expect(row.locator("td").nth(2).locator(".action-label")).to_have_text("Downloaded evidence pack")
    expect(row.locator("td").nth(2).locator("code")).to_have_text("compliance.pack_download")
    for shown in ("framework: soc2", f"snapshot_date: {snapshot.taken_on.isoformat()}",
                  f"filename: {pack_path.name}", f"manifest_sha256: {pack.manifest_sha256}"):
        expect(row.locator("td.details")).to_contain_text(shown)
    alex.shot("audit-log-pack-download-by-audrey")

    # What the filtered page showed is everything the database holds for those filters.
    assert AuditEvent.objects.filter(action="body.fetch", actor=world.tech).count() == 1
    assert AuditEvent.objects.filter(action="compliance.pack_download", actor=world.auditor).count() == 1
    for v in (tess, audrey, alex):
        v.assert_no_script_ran_or_failed()
