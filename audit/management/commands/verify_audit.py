"""Check the audit log's hash chain; exit 1 at the first broken or missing link."""

from django.core.management.base import BaseCommand, CommandError

from audit.chain import chain_verify
from audit.models import AuditEvent


class Command(BaseCommand):
    help = "Verify the audit log's SHA-256 hash chain and report the first broken or missing link."

    def handle(self, *args, **options):
        report = chain_verify(AuditEvent)
        if not report.ok:
            raise CommandError(str(report), returncode=1)
        self.stdout.write(str(report))
