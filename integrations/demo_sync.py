"""The demo's first sync, inline, so the pages have data before the server starts."""

from django.utils import timezone

from .connection import connection_get, current_mailboxes, graph_client_for
from .m365.posture_sync import posture_sync
from .m365.sync import mailbox_sync


def demo_first_sync():
    connection = connection_get()
    connection.initial_sync_requested_at = timezone.now()
    connection.save(update_fields=["initial_sync_requested_at"])
    lines = []
    for upn in current_mailboxes():
        runs = (mailbox_sync(upn=upn, reason="initial") or {}).get("runs", {})
        counts = ", ".join(f"{folder} {run['kept']} kept / {run['dropped']} dropped" for folder, run in runs.items())
        lines.append(f"  {upn}: {counts or 'not synced'}")
    with graph_client_for(connection) as client:
        run = posture_sync(client=client)
    lines.append(f"  posture: {run.outcome}, {run.users_matched} users matched to customers ({run.mfa_source})")
    return "\n".join(lines)
