"""What security knows of the collector's last finished run.

The Microsoft 365 connector (integrations, above security) collects posture
and registers, at start-up, a function returning its latest finished run;
security pages use it to say why a customer has no posture (never synced,
failed, or synced and matched no users) without importing the connector."""

_latest_finished_run = None


def latest_finished_run_source_register(source):
    """source() -> the latest run that ended with success or failure (outcome,
    finished_at), or None."""
    global _latest_finished_run
    _latest_finished_run = source


def latest_finished_run():
    return _latest_finished_run() if _latest_finished_run else None
