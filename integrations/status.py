"""What the Integrations page shows: the connector's state, its mailboxes and its runs."""

from .connection import connection_get


def integrations_status():
    connection = connection_get()
    if connection is None:
        state, state_label = "not_configured", "Not configured"
    elif connection.last_error and (connection.last_test_ok is False or _error_is_latest(connection)):
        state, state_label = "failing", "Failing"
    elif connection.last_test_ok:
        state, state_label = "connected", "Connected"
    else:
        state, state_label = "configured", "Configured, not tested"
    return {"connection": connection, "state": state, "state_label": state_label}


def _error_is_latest(connection):
    return connection.last_error_at and (connection.last_test_at is None or connection.last_error_at > connection.last_test_at)
