"""Re-encrypt the stored client secret under the newest key in VECTIS_ENCRYPTION_KEYS."""

from django.core.management.base import BaseCommand, CommandError

from integrations.setup import secrets
from integrations.setup.connection import connection_get
from integrations.setup.services import connection_secret_reencrypt


class Command(BaseCommand):
    help = "Re-encrypt stored secrets with the newest VECTIS_ENCRYPTION_KEYS key (run after adding a key first)."

    def handle(self, *args, **options):
        connection = connection_get()
        if connection is None:
            self.stdout.write("No Microsoft 365 connection is stored; nothing to re-encrypt.")
            return
        try:
            connection_secret_reencrypt(connection=connection, actor_label="manage.py")
        except secrets.SecretDecryptionError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(self.style.SUCCESS("Re-encrypted the Microsoft 365 client secret under the newest key."))
