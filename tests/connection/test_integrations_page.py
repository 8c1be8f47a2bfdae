"""Admin → Integrations: per-mailbox health and the progress view htmx polls while a sync runs."""

import re

from django.urls import reverse
from django.utils import timezone

from integrations.mail.models import SyncRun
from integrations.setup.models import MailboxState
from integrations.setup.services import connection_save

TENANT = "8a2f5c1e-3b4d-4e6f-9a0b-1c2d3e4f5a6b"
CLIENT = "11111111-2222-3333-4444-555555555555"


def connect(actor):
    return connection_save(actor=actor, tenant_id=TENANT, client_id=CLIENT, client_secret="s3cret-value-for-tests",
                           mailboxes=["jane@msp.example", "jack@msp.example"], secret_expires_on=None)


def test_progress_polls_while_a_mailbox_runs_and_stops_after(admin_client, admin_user):
    connection = connect(admin_user)
    connection.initial_sync_requested_at = timezone.now()
    connection.save()
    MailboxState.objects.create(upn="jane@msp.example", running_since=timezone.now())
    SyncRun.objects.create(mailbox="jane@msp.example", folder="inbox", seen=120, kept=80, dropped=40)
    page = admin_client.get(reverse("integrations:sync_progress")).content.decode()
    assert 'hx-trigger="every 2s"' in page and "Syncing" in page
    assert "running" in page and "queued" in page  # jack waits for a worker
    assert "running: 80 kept so far" in page

    MailboxState.objects.filter(upn="jane@msp.example").update(running_since=None, last_success_at=timezone.now())
    MailboxState.objects.create(upn="jack@msp.example", last_success_at=timezone.now())
    page = admin_client.get(reverse("integrations:sync_progress")).content.decode()
    assert "hx-trigger" not in page
    assert page.count('class="tag tag-ok">ok<') == 2


def test_a_failing_mailbox_shows_its_error(admin_client, admin_user):
    connect(admin_user)
    MailboxState.objects.create(upn="jack@msp.example", last_error="inbox: The mailbox has no Exchange Online licence",
                                last_error_at=timezone.now())
    page = admin_client.get(reverse("integrations:index")).content.decode()
    assert "failing" in page and "no Exchange Online licence" in page


def test_sync_button_audits_and_runs_mail_then_posture(client, admin_user, m365_connected, django_capture_on_commit_callbacks):
    """Without a broker the tasks run in-process, so the button's whole path runs here against the simulator."""
    from audit.models import AuditEvent
    from security.models import PostureRun

    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("integrations:sync_start"))
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action="m365.sync_start", details__initial=True).exists()
    assert set(SyncRun.objects.filter(outcome="success").values_list("mailbox", flat=True)) == set(
        m365_connected.simulator.tenant.spec.technician_upns())
    assert PostureRun.objects.get().outcome == "success"
    page = client.get(reverse("integrations:index")).content.decode()
    assert "hx-trigger" not in page and page.count('class="tag tag-ok">ok<') == 4


def test_a_capped_full_read_stays_on_the_mailbox_row_until_a_later_full_read(admin_client, admin_user):
    connect(admin_user)
    MailboxState.objects.create(upn="jane@msp.example", last_success_at=timezone.now())
    start = timezone.now() - timezone.timedelta(hours=3)

    def run(minutes, **fields):
        fields = {"outcome": "success", **fields}
        return SyncRun.objects.create(mailbox="jane@msp.example", folder="inbox",
                                      started_at=start + timezone.timedelta(minutes=minutes), **fields)

    run(0, full=True, capped=True, listed=7012)
    run(10)  # an increment from the capped read's delta link
    run(20, full=True, outcome="failed")  # a full read that did not finish replaces nothing
    page = admin_client.get(reverse("integrations:index")).content.decode()
    assert "capped" in page and "Inbox, full read of" in page
    assert "the other 7012 were read by listing the folder" in page
    assert "Sent items, full read of" not in page.split("<tbody>")[1]

    run(30, full=True)  # a later full read within the cap
    page = admin_client.get(reverse("integrations:index")).content.decode()
    assert "listing the folder" not in page


def mailbox_row(page, upn):
    """The mailbox table's row of one mailbox, as HTML."""
    body = page.split("class=\"mailbox-health")[1].split("</tbody>")[0]
    return next(row for row in body.split("<tr>") if f"<code>{upn}</code>" in row)


def test_after_sync_now_each_folder_shows_what_is_stored_and_what_the_last_run_added(client, admin_user, m365_connected,
                                                                                      django_capture_on_commit_callbacks):
    """Not "0 kept / 0 dropped" after an incremental run that found nothing new: the stored totals, then the run."""
    from customers.models import EventHolder, MessageHolder

    client.force_login(admin_user)
    for _ in range(2):  # the initial sync, then "Sync now" that finds nothing new
        with django_capture_on_commit_callbacks(execute=True):
            client.post(reverse("integrations:sync_start"))
    page = client.get(reverse("integrations:index")).content.decode()
    assert "Sync now" in page and "Resync" in page and "reads its last" in page  # the two buttons explained
    assert "<strong>finished</strong>" in page and "Syncing" not in page
    jane = m365_connected.simulator.tenant.spec.technician_upns()[0]
    row = mailbox_row(page, jane)
    inbox = MessageHolder.objects.filter(mailbox=jane, folder="inbox").count()
    sent = MessageHolder.objects.filter(mailbox=jane, folder="sentitems").count()
    events = EventHolder.objects.filter(mailbox=jane).count()
    assert inbox and sent and events
    for stored in (inbox, sent, events):
        assert f"{stored} stored" in row
    assert row.count("last run: +0 new or changed") == 2  # inbox and sent items
    assert "in the window" in row and " kept<" not in row and "dropped<" not in row


def test_an_inbox_failure_names_the_mailbox_says_what_to_do_and_that_sent_and_calendar_waited(sync_kit, admin_client):
    jane, jack, *_ = sync_kit.mailboxes()
    sync_kit.sync([jack])  # an earlier good run: its sent items and calendar counts are still on the page
    sync_kit.sim.faults.set("mailbox_not_enabled", mailboxes=[jack])
    sync_kit.sync([jack])

    error = MailboxState.objects.get(upn=jack).last_error
    assert error.startswith(f"{jack}, Inbox: ")
    assert "What to do: Check the address on Configure" in error
    assert "Sent items and Calendar were not synced this run" in error
    row = mailbox_row(admin_client.get(reverse("integrations:index")).content.decode(), jack)
    assert "failing" in row and "What to do:" in row
    assert row.count("not synced this run: Inbox failed first") == 2


def test_a_link_naming_another_mailbox_id_is_reported_by_the_mailbox_address_with_what_to_do(sync_kit, admin_client):
    jane = sync_kit.mailboxes()[0]
    sync_kit.sync([jane])
    state = MailboxState.objects.get(upn=jane)
    stranger = "11111111-2222-3333-4444-555555555555"
    state.inbox_delta_link = re.sub(r"/users/[^/]+/", f"/users/{stranger}/", state.inbox_delta_link, count=1)
    assert stranger in state.inbox_delta_link
    state.save()

    sync_kit.sync([jane])

    error = MailboxState.objects.get(upn=jane).last_error
    assert f"A link Microsoft Graph returned for {jane} names another mailbox" in error
    assert "What to do: Press Resync on this mailbox" in error
    assert "not synced this run" in mailbox_row(admin_client.get(reverse("integrations:index")).content.decode(), jane)
