"""Run the Microsoft 365 mail and calendar sync inline and print its counts.

    python manage.py sync_m365 [--mailbox UPN ...] [--full]

The same service the Celery tasks call, in this process: for operators and
scripts. Exits non-zero when a mailbox failed.
"""

from django.core.management.base import BaseCommand, CommandError

from integrations.mail.models import SyncRun
from integrations.mail.sync import mailbox_sync
from integrations.setup.connection import connection_get, current_mailboxes

COLUMNS = ("seen", "kept", "dropped", "removed", "graph_requests", "requests_per_thousand", "retries", "throttled_seconds")


class Command(BaseCommand):
    help = "Sync mail metadata and calendar events of the technician mailboxes now, and print the counts."

    def add_arguments(self, parser):
        parser.add_argument("--mailbox", action="append", default=[], metavar="UPN",
                            help="only this mailbox (repeatable); it must be on the Technician Mailboxes list")
        parser.add_argument("--full", action="store_true",
                            help="ignore stored delta links and read the last 14 days again")

    def handle(self, *args, mailbox, full, **options):
        if connection_get() is None:
            raise CommandError("Microsoft 365 is not configured: Admin → Integrations → Configure.")
        allowed = current_mailboxes()
        wanted = [m.strip().lower() for m in mailbox] or list(allowed)
        refused = [m for m in wanted if m not in allowed]
        if refused:
            raise CommandError(f"Not on the Technician Mailboxes list (nothing was queried): {', '.join(refused)}")
        failed = 0
        headings = ("seen", "kept", "dropped", "removed", "requests", "per 1000", "retries", "throttle")
        self.stdout.write(f"{'mailbox':<40} {'folder':<10} {'outcome':<8} " + " ".join(f"{h:>8}" for h in headings))
        for upn in wanted:
            summary = mailbox_sync(upn=upn, full=full, reason="command")
            if summary is None:
                continue
            if summary["outcome"] == "skipped":
                self.stdout.write(f"{upn:<40} {'-':<10} skipped  (a sync of this mailbox is already running)")
                continue
            for folder, counts in summary["runs"].items():
                cells = " ".join(_cell(c, counts[c]) for c in COLUMNS)
                self.stdout.write(f"{upn:<40} {folder:<10} {counts['outcome']:<8} {cells}")
            if summary["outcome"] != "success":
                failed += 1
                run = SyncRun.objects.filter(mailbox=upn).exclude(error="").order_by("-started_at", "-id").first()
                if run is not None:
                    self.stderr.write(f"  {upn}: {run.folder}: {run.error}")
        if failed:
            raise CommandError(f"{failed} mailbox(es) failed; see above and Admin → Integrations.")


def _cell(column, value):
    if column == "throttled_seconds":
        return f"{value:>7.1f}s"
    return f"{'-' if value is None else value:>8}"
