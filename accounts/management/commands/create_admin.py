"""Create the first admin: non-interactively for deployments, or by prompting.

    manage.py create_admin --username alice --email alice@msp.example --password-env ADMIN_PASSWORD
    manage.py create_admin            # asks for each value
"""

import getpass
import os

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from accounts.forms import username_validate_new
from accounts.models import Role, User
from accounts.services import user_create


class Command(BaseCommand):
    help = "Create an admin user (the first one, usually)."

    def add_arguments(self, parser):
        parser.add_argument("--username")
        parser.add_argument("--email", help="Work email of the admin")
        parser.add_argument("--password-env", help="Name of an environment variable holding the password")
        parser.add_argument("--no-input", action="store_true", help="Fail instead of prompting")
        parser.add_argument("--if-missing", action="store_true", help="Do nothing when any admin already exists")

    def handle(self, *args, username=None, email=None, password_env=None, no_input=False, if_missing=False, **options):
        if if_missing and User.objects.filter(role=Role.ADMIN, is_active=True).exists():
            self.stdout.write("An admin exists already; nothing to do.")
            return
        interactive = not no_input
        username = username or (self._ask("Username: ") if interactive else None)
        email = (email or (self._ask("Work email: ") if interactive else "") or "").strip().lower()
        password = os.environ.get(password_env) if password_env else None
        if password_env and not password:
            raise CommandError(f"The environment variable {password_env} is empty or unset.")
        if not password and interactive:
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("The passwords differ.")
        if not username or not email or not password:
            raise CommandError("Give --username, --email and --password-env (or run without --no-input to be asked).")
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"{email} is not a valid email address.") from None
        try:
            username = username_validate_new(username)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        if User.objects.filter(work_email=email).exists():
            raise CommandError(f"{email} already belongs to a user.")
        try:
            validate_password(password, User(username=username, work_email=email))
        except ValidationError as error:
            raise CommandError("Password refused: " + " ".join(error.messages)) from None
        user = user_create(actor=None, username=username, work_email=email, role=Role.ADMIN, password=password)
        user.is_staff = True
        user.save(update_fields=["is_staff"])
        self.stdout.write(self.style.SUCCESS(f"Created admin {username}."))

    def _ask(self, prompt):
        return input(prompt).strip()
