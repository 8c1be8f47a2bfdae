"""Run as the owner role after `migrate`: give the app's role its rights
(DML on every table, only INSERT and SELECT on the audit log)."""

import os

from django.core.management.base import BaseCommand, CommandError

from audit.db_roles import AppRoleError, app_role_grant


class Command(BaseCommand):
    help = "Create or update the app's restricted PostgreSQL role (run as the owner, after migrate)."

    def add_arguments(self, parser):
        parser.add_argument("role", help="the role the app connects as, e.g. vectis_app")
        parser.add_argument("--password-env", help="environment variable holding the role's password")

    def handle(self, *args, role, password_env=None, **options):
        password = None
        if password_env:
            password = os.environ.get(password_env)
            if not password:
                raise CommandError(f"{password_env} is empty or not set")
        try:
            app_role_grant(role, password=password)
        except AppRoleError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"{role} may use every table, and only INSERT and SELECT on the audit log.")
