"""Mailboxes leaving the Technician Mailboxes list take their data with them."""

from django.db import transaction

from customers.ingest import holders_forget_mailboxes

from .models import MailboxState


@transaction.atomic
def mailboxes_forget(*, upns):
    """Delete what the given mailboxes contributed: their holders, the messages
    and events no remaining mailbox holds, and their sync state (delta links,
    resolved user id, claim). SyncRun rows stay: they are operational history
    and hold counts only. Returns (messages deleted, events deleted)."""
    upns = sorted({upn.strip().lower() for upn in upns if upn and upn.strip()})
    if not upns:
        return 0, 0
    deleted = holders_forget_mailboxes(upns=upns)
    MailboxState.objects.filter(upn__in=upns).delete()
    return deleted
