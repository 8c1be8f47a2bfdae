"""Journey 5 — the main pages as an MSP admin, a technician and an auditor read
them, on a desktop (1440×900) and a phone (390×844).

Alex (admin) presses Sync now on Integrations and reads what each mailbox
holds and what the run added, and that it finished; a mailbox whose inbox
fails names its address, what to do, and that Sent items and Calendar waited.
On /security every customer has a coverage bar (or the reason it has none),
the hub of a customer whose users matched nobody says so, and the audit log
names the email Tess opened, links it, and keeps the scheduled sync's rows
behind a toggle. Then the same pages on a phone, where the trend's labels
stay readable. Along the way: the time-zone picker offers the browser's zone
first, a failed Configure save says nothing was saved, and the compliance page
loads the dates of the customer just picked.
"""

import io
import re
import zipfile

import pytest
from playwright.sync_api import expect
from pypdf import PdfReader

from customers.communications import Message
from customers.selectors import customer_recent_messages
from customers.services import customer_create

from .conftest import DESKTOP, PHONE

pytestmark = pytest.mark.browser

ALPINE = "alpineskihouse.example"  # a customer domain no user of the tenant has


def trend_label_px(page):
    """The rendered size, in CSS pixels, of the smallest axis label of the hub's trend chart."""
    return page.evaluate("""() => {
        const svg = document.querySelector('.trend-box svg');
        const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
        const sizes = [...svg.querySelectorAll('text.trend-axis')].map(t => parseFloat(getComputedStyle(t).fontSize) * scale);
        return Math.min(...sizes);
    }""")


def test_main_pages_read_right_on_desktop_and_phone(world, visit):
    alpine = customer_create(actor=world.admin, name="Alpine Ski House", domains=[ALPINE])
    world.connect()
    world.sync()
    jane, jack, *_ = world.technician_mailboxes()
    customer = max(world.customers.values(), key=lambda c: customer_recent_messages(world.tech, c).count())

    # ---- Tess opens an email body: the audit log will name it.
    tess = visit("tess")
    tess.sign_in("tess")
    tess.page.goto(tess.url(f"/customers/{customer.pk}/"))
    first = tess.page.locator("#message-list li.message").first
    first.locator("summary").first.click()
    expect(first.locator(".mail-body").first).to_be_visible()
    message_id = int(re.search(r"/messages/(\d+)/body/", first.locator("details").first.get_attribute("hx-post")).group(1))
    subject = " ".join(Message.objects.get(pk=message_id).subject.split())[:79]

    for screen, size in (("desktop", DESKTOP), ("phone", PHONE)):
        alex = visit(f"alex-{screen}", viewport=size)
        page = alex.page
        alex.sign_in("alex")

        # ---- Integrations: Sync now, then what is stored and what the run added; "finished".
        page.goto(alex.url("/admin/integrations/"))
        expect(page.locator(".sync-help")).to_contain_text("Resync (one mailbox, in the table below) forgets")
        # The scheduled jobs already ran the first sync; the button reads "Start initial sync" until someone presses it.
        page.get_by_role("button", name=re.compile(r"^(Sync now|Start initial sync)$")).click()
        health = page.locator("#mailbox-health")
        expect(page.locator(".flash-success")).to_contain_text("Sync finished: mail and calendars")
        expect(health.locator(".sync-finished")).to_contain_text("finished")
        expect(health.locator(".sync-finished")).to_contain_text(f"all {len(world.technician_mailboxes())} mailboxes ok")
        row = health.locator("tr", has=page.locator("code", has_text=jane))
        expect(row.locator("td.folder-cell[data-folder=inbox]")).to_contain_text(re.compile(r"\d+ stored"))
        expect(row.locator("td.folder-cell[data-folder=inbox]")).to_contain_text("last run: +0 new or changed")
        expect(row.locator("td.folder-cell[data-folder=calendar]")).to_contain_text("in the window")
        expect(health).not_to_contain_text("0 dropped")
        alex.shot("integrations-after-sync-now")

        # An inbox that cannot be read: the address, what to do, and the folders that waited.
        world.sim.faults.set("mailbox_not_enabled", mailboxes=[jack])
        page.get_by_role("button", name="Sync now").click()
        failing = health.locator("tr", has=page.locator("code", has_text=jack))
        expect(failing.locator(".tag-failed")).to_have_text("failing")
        error = health.locator("tr.mailbox-error")
        expect(error).to_have_count(1)
        expect(error).to_contain_text(f"{jack}, Inbox:")
        expect(error.locator(".advice")).to_contain_text("What to do: Check the address on Configure")
        expect(error.locator(".advice")).to_contain_text("Sent items and Calendar were not synced this run")
        expect(failing.locator("td.folder-cell[data-folder=inbox]")).to_contain_text("last run failed: see below")
        expect(failing.locator("td.folder-cell[data-folder=sentitems]")).to_contain_text("not synced this run: Inbox failed first")
        alex.shot("integrations-inbox-failure")
        world.sim.faults.clear()

        # ---- /security: a coverage bar for every customer, or its reason.
        page.goto(alex.url("/security/"))
        chart = page.locator("figure.coverage-chart")
        expect(chart).to_contain_text("MFA coverage by customer")
        expect(chart.locator("li", has_text=customer.name).locator("svg.bar-svg")).to_be_visible()
        expect(chart.locator("li", has_text="Alpine Ski House")).to_contain_text(f"no data: no users matched at {ALPINE}")
        sorted_by = page.locator("table.rollup th.phone-only")
        if screen == "phone":  # the sort column (Privileged MFA, worst first) right beside the customer, on screen
            expect(sorted_by).to_contain_text("Privileged MFA")
            flagged = page.locator("table.rollup tr.flagged td.phone-only").first
            expect(flagged).to_have_class(re.compile(r"\bflag\b"))
            box = flagged.bounding_box()
            assert box and box["x"] + box["width"] <= size["width"], box
        else:
            expect(sorted_by).to_be_hidden()
        alex.shot("security")

        # ---- the hub: posture with a readable trend; a customer that matched nobody says so.
        page.goto(alex.url(f"/customers/{customer.pk}/"))
        expect(page.locator(".trend-box svg")).to_be_visible()
        assert trend_label_px(page) >= 10, f"trend labels {trend_label_px(page):.1f}px on {screen}"
        alex.shot("hub")
        page.goto(alex.url(f"/customers/{alpine.pk}/"))
        expect(page.locator("#security-posture .no-posture")).to_contain_text(f"succeeded but matched no users at {ALPINE}")
        alex.shot("hub-matched-no-users")

        # ---- the audit log: the email Tess opened, by subject, linked; system sync rows behind a toggle.
        alex.open_admin_menu("Audit log") if screen == "desktop" else page.goto(alex.url("/admin/audit/"))
        expect(page.locator(".system-hidden")).to_contain_text("system sync rows hidden")
        fetch = page.locator("table.audit tbody tr", has_text="body.fetch").first
        expect(fetch.get_by_role("link", name=f"Email “{subject}")).to_have_attribute("href", f"/customers/{customer.pk}/")
        expect(fetch.get_by_role("link", name=customer.name)).to_be_visible()
        expect(page.locator("table.audit tbody")).not_to_contain_text("schedule sync")
        alex.shot("audit-log")
        page.get_by_label("Show system sync rows").check()
        page.get_by_role("button", name="Filter").click()
        sync_row = page.locator("table.audit tbody tr", has_text="m365.sync").first
        expect(sync_row.locator(".detail-line")).to_contain_text(re.compile(r"sync: (ok|failed) — Inbox \d+ kept of \d+ seen"))
        expect(sync_row.get_by_role("link", name=re.compile(r"^mailbox "))).to_be_visible()
        alex.shot("audit-log-with-system-sync-rows")
        alex.assert_no_script_ran_or_failed()

    # ---- accounts: the browser's zone right after the site default and UTC, with offsets.
    berlin = visit("tess-in-berlin", viewport=DESKTOP, timezone_id="Europe/Berlin")
    berlin.sign_in("tess")
    berlin.page.goto(berlin.url("/account/"))
    options = berlin.page.get_by_label("Show times in").locator("option")
    expect(options.nth(0)).to_have_text("Site default (UTC)")
    expect(options.nth(1)).to_have_text("UTC (UTC+00:00)")
    expect(options.nth(2)).to_have_text(re.compile(r"^Europe/Berlin \(UTC\+0[12]:00\) — your browser$"))
    berlin.page.get_by_label("Show times in").evaluate("select => { select.size = 6; }")  # open, for the screenshot
    berlin.shot("account-time-zone")

    # ---- Configure: the six permissions and the consent step; a failed save says so.
    alex = visit("alex-configure", viewport=DESKTOP)
    alex.sign_in("alex")
    alex.page.goto(alex.url("/admin/users/"))
    roles = alex.page.locator("#role-help")
    expect(roles).to_contain_text("Admin — everything")
    expect(roles).to_contain_text("Member (technician) — reads customers")
    expect(roles).to_contain_text("Viewer (auditor) — the same read-only pages")
    alex.page.get_by_label("Time zone").evaluate("select => { select.size = 4; }")
    alex.shot("users-roles-described")
    alex.page.goto(alex.url("/admin/integrations/microsoft-365/"))
    expect(alex.page.locator("ul.permission-list li")).to_have_count(6)
    expect(alex.page.locator(".help-box").first).to_contain_text("Grant admin consent for <your tenant>")
    alex.page.get_by_label("Tenant ID").fill("not-a-tenant")
    alex.page.get_by_role("button", name="Save", exact=True).click()
    expect(alex.page.locator(".form-errors")).to_contain_text("Nothing was saved.")
    expect(alex.page.locator(".form-errors")).to_contain_text("save again")
    alex.shot("configure-failed-save")

    # ---- compliance: pick a customer first; its dates load when picked.
    audrey = visit("audrey", viewport=DESKTOP)
    audrey.sign_in("audrey")
    audrey.page.goto(audrey.url("/compliance/"))
    expect(audrey.page.locator("main")).to_contain_text("Pick a customer first")
    expect(audrey.page.get_by_label("Snapshot date").locator("option")).to_have_text(["Pick a customer first"])
    audrey.page.get_by_label("Customer").select_option(label=customer.name)
    expect(audrey.page.get_by_label("Snapshot date").locator("option").first).to_contain_text("(latest)")
    audrey.shot("compliance-dates-loaded")
    # The CMMC pack (the first framework) states the overall figure as the page prints it, and whose tenant it is.
    audrey.page.get_by_role("button", name="Show control rows").click()
    expect(audrey.page.locator("main")).to_contain_text("(the MSP's own tenant)")
    audrey.shot("compliance-cmmc-rows")
    with audrey.page.expect_download() as download_info:
        audrey.page.get_by_role("button", name="Download evidence pack (ZIP)").click()
    pack_path = audrey.shots.directory / download_info.value.suggested_filename
    download_info.value.save_as(pack_path)
    with zipfile.ZipFile(pack_path) as pack:
        pdf = PdfReader(io.BytesIO(pack.read("report.pdf")))
        text = " ".join(" ".join(page.extract_text() for page in pdf.pages).split())
    coverage = re.search(r"MFA coverage, all in-scope accounts (\d+\.\d)% \(", text)
    assert coverage and "the MSP's own tenant, not the customer's" in text
    audrey.page.goto(audrey.url(f"/security/customers/{customer.pk}/"))
    expect(audrey.page.locator(".posture-stat", has_text="MFA coverage").first).to_contain_text(f"{coverage.group(1)}%")
    for v in (tess, berlin, alex, audrey):
        v.assert_no_script_ran_or_failed()
