"""Start Vectis with a demo tenant: simulator, demo data, first sync, web server.

    python manage.py run_demo [--port 8000]

Everything runs in this one process on the embedded defaults (SQLite, tasks
in-process), with the Graph simulator standing in for Microsoft 365. Each
start rebuilds the demo database so the simulated tenant and the stored
delta links always agree.
"""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from demo.first_sync import demo_first_sync
from demo.seed import DEMO_BUSY_INBOX_MESSAGES, DEMO_PASSWORD, demo_customer_tenants_add, demo_seed, point_settings_at
from graphsim import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    SHOWCASE_HOSTILE_DOMAIN,
    WITH_POLICY_READ,
    GraphSimulator,
    TenantSpec,
    build_tenant,
    serve,
)


class Command(BaseCommand):
    help = "Run Vectis with a simulated Microsoft 365 tenant and demo data (development only)."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--keep-data", action="store_true", help="don't reset the database first")

    def handle(self, *args, port, seed, keep_data, **options):
        if not settings.DEBUG:
            raise CommandError("run_demo is for development: set DEBUG=true.")
        call_command("migrate", verbosity=0)
        if not keep_data:
            call_command("flush", interactive=False, verbosity=0)
        # Attack strings only at a clearly named test customer; no body sentinels for visitors.
        domains = (*TenantSpec.__dataclass_fields__["customer_domains"].default, SHOWCASE_HOSTILE_DOMAIN)
        tenant = build_tenant(TenantSpec(seed=seed, showcase=True, customer_domains=domains,
                                         busy_inbox_messages=DEMO_BUSY_INBOX_MESSAGES))
        # The demo grants the optional seventh permission, so it shows MFA enforcement too.
        running = serve(GraphSimulator(tenant, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                                       granted_permissions=WITH_POLICY_READ))
        demo_customer_tenants_add(running.simulator)
        point_settings_at(running)
        self.stdout.write(f"Graph simulator for “{tenant.spec.tenant_name}” at {running.graph_base_url}")
        demo_seed(tenant=tenant, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET)
        self.stdout.write("Syncing mail, calendars and security posture from the simulated tenant…")
        self.stdout.write(demo_first_sync(admin=User.objects.get(username="admin")))
        self.stdout.write(self.style.SUCCESS(
            f"\nVectis demo: http://127.0.0.1:{port}/\n"
            f"  admin   / {DEMO_PASSWORD}   (admin)\n"
            f"  tech    / {DEMO_PASSWORD}   (member: sees only their own conversations)\n"
            f"  auditor / {DEMO_PASSWORD}   (viewer)\n"
        ))
        call_command("runserver", f"127.0.0.1:{port}", use_reloader=False)
