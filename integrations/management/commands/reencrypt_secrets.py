"""Re-encrypt the stored client secret under the newest key in VECTIS_ENCRYPTION_KEYS."""

from django.core.management.base import BaseCommand, CommandError

from audit.log import audit_log
from integrations.connection import connection_get
from integrations.m365 import secrets


class Command(BaseCommand):
    help = "Re-encrypt stored secrets with the newest VECTIS_ENCRYPTION_KEYS key (run after adding a key first)."

    def handle(self, *args, **options):
        connection = connection_get()
        if connection is None:
            self.stdout.write("No Microsoft 365 connection is stored; nothing to re-encrypt.")
            return
        try:
            rotated = secrets.rotate(connection.client_secret_encrypted)
        except secrets.SecretDecryptionError as error:
            raise CommandError(str(error)) from None
        connection.client_secret_encrypted = rotated
        connection.save(update_fields=["client_secret_encrypted", "updated_at"])
        audit_log(actor=None, action="m365.secret_reencrypt", target=connection, details={"actor_label": "manage.py"})
        self.stdout.write(self.style.SUCCESS("Re-encrypted the Microsoft 365 client secret under the newest key."))
