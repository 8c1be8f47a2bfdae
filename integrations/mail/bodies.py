"""On-demand bodies: fetched from Graph when a permitted user expands an item,
returned to the caller and never written anywhere (no database, cache, log,
task result or audit detail). The caller has already applied the access rule."""

from ..graph import errors
from ..setup import secrets
from ..setup.connection import connection_get, current_mailboxes, graph_client_for


class BodyUnavailable(Exception):
    """The body cannot be fetched; `reason` is safe to show and to audit."""

    def __init__(self, reason, request_id=""):
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id


def _holder_on_allow_list(holders):
    allowed = set(current_mailboxes())
    for holder in holders:
        if holder.mailbox in allowed:
            return holder
    raise BodyUnavailable("No technician mailbox that holds this item is on the allow-list any more.")


def body_fetch(*, kind, holders):
    """Fetch a message or event body through the first allowed holder.

    Returns (holder, {"contentType": ..., "content": ...}).
    """
    connection = connection_get()
    if connection is None:
        raise BodyUnavailable("Microsoft 365 is not configured.")
    holder = _holder_on_allow_list(holders)
    try:
        with graph_client_for(connection) as client:
            if kind == "message":
                data = client.message_body(holder.mailbox, holder.graph_id)
            else:
                data = client.event_body(holder.mailbox, holder.graph_id)
    except secrets.SecretDecryptionError:
        raise BodyUnavailable("The stored Microsoft 365 client secret cannot be decrypted with the configured "
                              "keys; an admin must restore the key or paste the secret again.") from None
    except errors.NotFoundError as error:
        raise BodyUnavailable("Microsoft 365 no longer has this item (it was deleted or moved).", error.request_id or "") from None
    except errors.GraphError as error:
        raise BodyUnavailable(f"Microsoft 365 did not return the body: {error.summary}.", error.request_id or "") from None
    body = data.get("body") if isinstance(data, dict) else None
    if not isinstance(body, dict):
        raise BodyUnavailable("Microsoft 365 returned no body for this item.")
    return holder, body
