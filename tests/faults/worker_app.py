"""The Celery app as the fault suite's real workers run it:

    celery -A tests.faults.worker_app worker ...

It is the production app (vectis.celery: same tasks, same settings, same
broker) with two test-only knobs, read from the environment:

VECTIS_TEST_PAGE_SIZE
    items per Graph page for mail and calendar, so a mailbox takes many pages
    and the worker can be killed between two of them.
VECTIS_TEST_VISIBILITY_TIMEOUT
    seconds before Redis hands an unacknowledged message to another worker
    (production: 3600). Only the test that kills a whole worker needs it: with
    the parent process gone nobody rejects the message, so it comes back only
    when its visibility timeout runs out. The restore scan runs every second
    instead of every ~100 s for the same reason.
VECTIS_TEST_BEAT_EVERY (with VECTIS_TEST_QUEUE)
    for `celery beat`: instead of the production schedule, one entry that
    sends the posture collection to the test's own queue every this many
    seconds (production: daily), so a beat restart can be tried in seconds.
"""

import os

from celery.signals import worker_process_init

from vectis.celery import app

__all__ = ["app"]

if os.environ.get("VECTIS_TEST_VISIBILITY_TIMEOUT"):
    app.conf.broker_transport_options = {
        **(app.conf.broker_transport_options or {}),
        "visibility_timeout": int(os.environ["VECTIS_TEST_VISIBILITY_TIMEOUT"]),
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }

if os.environ.get("VECTIS_TEST_BEAT_EVERY"):
    app.conf.beat_schedule = {
        "posture-sync": {
            "task": "integrations.tasks.sync_posture",
            "schedule": float(os.environ["VECTIS_TEST_BEAT_EVERY"]),
            "options": {"queue": os.environ["VECTIS_TEST_QUEUE"]},
        },
    }


@worker_process_init.connect
def small_pages(**kwargs):
    """In each pool process (Django is set up by then)."""
    size = os.environ.get("VECTIS_TEST_PAGE_SIZE")
    if size:
        from integrations.mail import calendar_sync, mail_sync

        mail_sync.PAGE_SIZE = calendar_sync.PAGE_SIZE = int(size)
