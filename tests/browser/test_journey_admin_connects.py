"""Journey 1 — an admin connects Microsoft 365 and runs the first sync.

Alex (admin) signs in, opens Admin → Integrations from the navigation bar,
presses Configure, types the Entra app registration's values into the form
(found by their labels, as a person would), presses Test and reads the
verdict, saves, starts the initial sync and watches the mailbox table until
every technician mailbox reads "ok".

In this test Celery runs in-process, so the sync happens inside the POST of
"Start initial sync"; the progress watch then finds it finished.
"""

import pytest
from playwright.sync_api import expect

from graphsim import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
from integrations.mail.models import SyncRun
from integrations.setup.models import M365Connection, MailboxState

pytestmark = pytest.mark.browser


def test_admin_configures_microsoft_365_tests_saves_and_runs_the_initial_sync(world, visit):
    mailboxes = world.technician_mailboxes()
    alex = visit("alex")
    page = alex.page

    alex.sign_in("alex")
    alex.shot("customers")

    # Admin → Integrations, from the navigation bar.
    alex.open_admin_menu("Integrations")
    expect(page.get_by_role("heading", name="Integrations", exact=True)).to_be_visible()
    expect(page.locator(".integration-state .tag")).to_have_text("Not configured")
    alex.shot("integrations-not-configured")

    page.get_by_role("button", name="Configure").click()
    expect(page.get_by_role("heading", name="Configure Microsoft 365")).to_be_visible()

    # The values from the app registration's Overview and Certificates & secrets pages.
    page.get_by_label("Tenant ID").fill(world.spec.tenant_id)
    page.get_by_label("App Client ID").fill(DEMO_CLIENT_ID)
    page.get_by_label("Client Secret Value").fill(DEMO_CLIENT_SECRET)
    page.get_by_label("Technician Mailboxes").fill(", ".join(mailboxes))
    alex.shot("configure-filled")

    # Test: checks the values against Microsoft 365 without saving them.
    page.get_by_role("button", name="Test", exact=True).click()
    verdict = page.locator("#test-result .test-headline")
    expect(verdict).to_have_text(f"Connected to {world.spec.tenant_name} — {len(mailboxes)} mailboxes configured")
    expect(page.locator("#test-result .checklist .tag-missing")).to_have_count(0)  # all six permissions granted
    expect(page.locator("#test-result ul.mailbox-checks li")).to_have_count(len(mailboxes))
    alex.shot("configure-tested")
    assert not M365Connection.objects.exists()  # a test saves nothing

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".flash-success")).to_contain_text("Saved. Start the initial sync")
    # The Test just passed for exactly these values, so the saved connection counts as tested.
    expect(page.locator(".integration-state .tag")).to_have_text("Connected")
    expect(page.locator("dl.facts")).to_contain_text(world.spec.tenant_name)
    expect(page.locator("dl.facts")).to_contain_text("passed")
    alex.shot("integrations-saved")
    connection = M365Connection.objects.get()
    assert (connection.tenant_id, connection.client_id, connection.mailboxes) == (world.spec.tenant_id, DEMO_CLIENT_ID, mailboxes)
    assert connection.last_test_ok and connection.tenant_name == world.spec.tenant_name  # evidence packs name the tenant
    assert DEMO_CLIENT_SECRET not in page.content()  # the secret is never shown again

    # Start the initial sync and watch the mailbox table until it settles.
    page.get_by_role("button", name="Start initial sync").click()
    expect(page.locator(".flash-success")).to_contain_text("Sync finished")  # Celery runs in-process here: done before the page came back
    health = page.locator("#mailbox-health")
    expect(health.locator(".sync-progress")).to_have_count(0, timeout=60_000)  # no "Syncing…" line any more
    rows = health.locator("table.mailbox-health tbody tr")
    expect(rows).to_have_count(len(mailboxes))
    for upn in mailboxes:
        row = rows.filter(has=page.locator("code", has_text=upn))
        expect(row.locator("td").nth(1)).to_have_text("ok")
        expect(row.locator("td").nth(2)).to_contain_text("kept")
    expect(page.get_by_role("button", name="Sync now")).to_be_visible()  # the initial sync is behind us
    alex.shot("integrations-synced")

    # What the page says agrees with what was stored.
    assert set(MailboxState.objects.exclude(last_success_at=None).values_list("upn", flat=True)) == set(mailboxes)
    assert not SyncRun.objects.exclude(outcome="success").exists()
    for upn in mailboxes:
        kept = SyncRun.objects.get(mailbox=upn, folder="inbox").kept
        row = rows.filter(has=page.locator("code", has_text=upn))
        expect(row.locator("td").nth(2)).to_contain_text(f"{kept} kept")

    alex.assert_no_script_ran_or_failed()
