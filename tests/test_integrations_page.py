"""Admin → Integrations: per-mailbox health and the progress view htmx polls while a sync runs."""

from django.urls import reverse
from django.utils import timezone

from integrations.models import MailboxState, SyncRun
from integrations.services import connection_save

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
    assert "80 kept" in page and "40 dropped" in page

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
    assert "Sent items" not in page.split("<tbody>")[1]

    run(30, full=True)  # a later full read within the cap
    page = admin_client.get(reverse("integrations:index")).content.decode()
    assert "listing the folder" not in page
