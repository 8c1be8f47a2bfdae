"""The demo's first sync, inline, so the pages have data before the server starts."""

from django.utils import timezone

from integrations.mail.sync import mailbox_sync
from integrations.posture.posture_sync import posture_sync
from integrations.posture.tenant_posture import tenant_posture_collect
from integrations.setup import secrets
from integrations.setup.connection import connection_get, connection_record_test, current_mailboxes, graph_client_for
from integrations.setup.diagnostics import connection_test

from .seed import demo_customer_tenants_link


def demo_first_sync(*, admin=None):
    connection = connection_get()
    report = connection_test(tenant_id=connection.tenant_id, client_id=connection.client_id,
                             client_secret=secrets.decrypt(connection.client_secret_encrypted),
                             mailboxes=connection.mailboxes)
    connection_record_test(connection=connection, report=report)
    lines = [f"  Test: {report.headline}"]
    connection.initial_sync_requested_at = timezone.now()
    connection.save(update_fields=["initial_sync_requested_at"])
    for upn in current_mailboxes():
        runs = (mailbox_sync(upn=upn, reason="initial") or {}).get("runs", {})
        counts = ", ".join(f"{folder} {run['kept']} kept / {run['dropped']} dropped{_capped(run)}" for folder, run in runs.items())
        lines.append(f"  {upn}: {counts or 'not synced'}")
    linked = demo_customer_tenants_link(actor=admin) if admin is not None else []
    with graph_client_for(connection) as client:
        run = posture_sync(client=client)
    lines.append(f"  posture: {run.outcome}, {run.users_matched} users matched to customers ({run.mfa_source})")
    for customer in linked:
        lines.append(f"  posture of {customer.name} from its own tenant: {tenant_posture_collect(customer_id=customer.pk)}")
    return "\n".join(lines)


def _capped(run):
    if not run.get("capped"):
        return ""
    return f" (Graph capped the delta read at 5,000; {run['listed']} more read by listing the folder)"
