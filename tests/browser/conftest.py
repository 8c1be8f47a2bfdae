"""Browser journeys: Debian's Chromium, driven by Playwright, against
pytest-django's live server and the Graph simulator.

Each journey gets its own live-server database (transactional, so the server
thread sees what the test wrote), a freshly generated simulated tenant, and a
fresh browser profile per person. Screenshots of every main page go to
$VECTIS_TEST_ARTIFACTS/browser/<journey>/ (default: test-artifacts/).

Chromium comes from Debian (`apt-get install chromium`): Playwright's own
browser download cannot run here. Without /usr/bin/chromium the journeys are
skipped, unless VECTIS_REQUIRE_BROWSER=1 (CI), where they fail instead.
"""

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

from accounts.models import Role

from ..factories import PASSWORD, make_user

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
# What the page may take before an expectation gives up. Generous: CI machines are slow.
TIMEOUT_MS = 15_000
# The two screens every main page is checked and photographed on.
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}

# The demo's customer names, so the screenshots read like the product.
CUSTOMER_NAMES = {
    "northwind": "Northwind Traders",
    "fabrikam": "Fabrikam, Inc.",
    "tailspin": "Tailspin Toys",
    "wingtip": "Wingtip Toys",
    "adatum": "Adatum Corporation",
    "litware": "Litware, Inc.",
}


def browser_required():
    return os.environ.get("VECTIS_REQUIRE_BROWSER", "").strip().lower() in ("1", "true", "yes")


try:
    import playwright.sync_api  # noqa: F401  (the journeys import it at module level)
except ImportError:
    if browser_required():
        raise
    collect_ignore_glob = ["test_*.py"]  # no Playwright for Python: nothing here can run


def artifacts_root():
    return Path(os.environ.get("VECTIS_TEST_ARTIFACTS") or Path(settings.BASE_DIR) / "test-artifacts")


# --------------------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
def chromium_executable():
    """Debian's Chromium, or skip (fail when VECTIS_REQUIRE_BROWSER=1: CI must not silently skip)."""
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        problem = f"{CHROMIUM} is missing (apt-get install chromium)"
        if browser_required():
            pytest.fail(f"VECTIS_REQUIRE_BROWSER=1 but {problem}", pytrace=False)
        pytest.skip(f"browser journeys skipped: {problem}")
    return str(CHROMIUM)


@pytest.fixture
def chromium(chromium_executable, live_server, monkeypatch):
    """A headless Chromium for one journey.

    Playwright's sync API keeps an asyncio loop running in this thread, and
    Django refuses ORM calls from a thread with a running loop. The test's own
    ORM calls (seeding, cross-checks against the database) are plain
    synchronous code, so they are allowed for the journey's duration only."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable, headless=True, args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            # With Playwright's loop running, Django keeps the journey's ORM connections apart from the
            # test's usual ones: close them here, or they outlive the test database (PostgreSQL then
            # refuses to drop it: "being accessed by other users").
            connections.close_all()


@dataclass
class Visit:
    """One person at one browser: a fresh profile (no cookies, no cache), their
    page, and what the page did that a journey must check (dialogs, script
    errors, failed requests)."""

    label: str
    context: object
    page: object
    base_url: str
    shots: "Screenshots"
    dialogs: list = field(default_factory=list)
    script_errors: list = field(default_factory=list)
    console_errors: list = field(default_factory=list)
    server_errors: list = field(default_factory=list)

    def url(self, path):
        return self.base_url + path

    def shot(self, name):
        return self.shots.take(self.page, f"{self.label}-{name}")

    def sign_in(self, username, password=PASSWORD):
        from playwright.sync_api import expect

        page = self.page
        page.goto(self.url("/login/"))
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        expect(page.locator("header.topbar")).to_contain_text(username)

    def open_admin_menu(self, item):
        """Admin → <item> through the navigation bar's dropdown."""
        page = self.page
        page.locator("header.topbar details.dropdown > summary", has_text="Admin").click()
        page.locator("header.topbar details.dropdown").get_by_role("link", name=item, exact=True).click()

    def assert_no_script_ran_or_failed(self):
        """No alert/confirm/prompt appeared, no uncaught script error, no console
        error (a CSP violation is one) and no 5xx answer on this visit."""
        assert self.dialogs == [], f"dialogs opened: {self.dialogs}"
        assert self.script_errors == [], f"uncaught script errors: {self.script_errors}"
        assert self.console_errors == [], f"console errors: {self.console_errors}"
        assert self.server_errors == [], f"server errors: {self.server_errors}"


class Screenshots:
    """Numbered full-page screenshots of one journey, in the order taken."""

    def __init__(self, directory):
        self.directory = directory
        self.taken = []

    def take(self, page, name):
        path = self.directory / f"{len(self.taken) + 1:02d}-{re.sub(r'[^a-z0-9-]+', '-', name.lower())}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


@pytest.fixture
def screenshots(request):
    directory = artifacts_root() / "browser" / request.node.name
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return Screenshots(directory)


@pytest.fixture
def visit(chromium, live_server, screenshots):
    """visit("tess") -> a Visit in a fresh browser context (one per person)."""
    contexts = []

    def open_visit(label, *, viewport=None, timezone_id="UTC"):
        phone = viewport == PHONE
        context = chromium.new_context(
            accept_downloads=True, viewport=viewport or {"width": 1280, "height": 900}, locale="en-GB",
            timezone_id=timezone_id, is_mobile=phone, has_touch=phone, device_scale_factor=2 if phone else 1,
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        v = Visit(label=label, context=context, page=page, base_url=live_server.url, shots=screenshots)

        def on_dialog(dialog):
            v.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda error: v.script_errors.append(str(error)))
        page.on("console", lambda msg: msg.type == "error" and v.console_errors.append(msg.text))
        page.on("response", lambda r: r.status >= 500 and v.server_errors.append(f"{r.status} {r.url}"))
        return v

    yield open_visit
    for context in contexts:
        context.close()


# --------------------------------------------------------------------------- the world the journeys visit


@dataclass
class World:
    """The people, customers and simulated tenant of one journey."""

    running: object  # the RunningSimulator
    admin: object
    tech: object
    auditor: object
    customers: dict  # domain -> Customer

    @property
    def sim(self):
        return self.running.simulator

    @property
    def tenant(self):
        return self.sim.tenant

    @property
    def spec(self):
        return self.tenant.spec

    def technician_mailboxes(self):
        return self.spec.technician_upns()

    def connect(self):
        """What journey 1 does on the Configure page: save the Microsoft 365 connection, with its passed Test."""
        from graphsim import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
        from integrations.setup.connection import connection_record_test
        from integrations.setup.diagnostics import connection_test
        from integrations.setup.services import connection_save

        values = {"tenant_id": self.spec.tenant_id, "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
                  "mailboxes": self.technician_mailboxes()}
        report = connection_test(**values)
        assert report.ok, report.headline
        connection = connection_save(actor=self.admin, secret_expires_on=None, **values)
        connection_record_test(connection=connection, report=report)
        return connection

    def sync(self, mailboxes=None, *, posture=True):
        """What the scheduled jobs do: each technician mailbox, then the security posture."""
        from integrations.mail.sync import mailbox_sync
        from integrations.posture.posture_sync import posture_sync
        from integrations.setup.connection import connection_get, graph_client_for

        summaries = [mailbox_sync(upn=upn, reason="initial") for upn in mailboxes or self.technician_mailboxes()]
        assert all(s and s["outcome"] == "success" for s in summaries), summaries
        if posture:
            with graph_client_for(connection_get()) as client:
                run = posture_sync(client=client)
            assert run.outcome == "success", run.error

    def customer_contact(self, customer):
        """A person at the customer, as the simulated tenant knows them."""
        domains = set(customer.domains.values_list("domain", flat=True))
        return next(u.upn for u in self.tenant.users if u.kind == "customer" and u.upn.split("@")[1] in domains)


@pytest.fixture
def world(chromium_executable, live_server, graph_sim):
    """Three people (admin, technician, auditor) and one customer per simulated
    customer domain; Microsoft 365 not configured yet."""
    from customers.services import customer_create

    spec = graph_sim.simulator.tenant.spec
    admin = make_user("alex", Role.ADMIN, work_email=f"alex@{spec.msp_domain}")
    # A technician signs in with the work email of their technician mailbox.
    tech = make_user("tess", Role.MEMBER, work_email=spec.technician_upns()[0])
    auditor = make_user("audrey", Role.VIEWER, work_email=f"audrey@{spec.msp_domain}")
    customers = {}
    for domain in spec.customer_domains:
        stem = domain.split(".")[0]
        customers[domain] = customer_create(actor=admin, name=CUSTOMER_NAMES.get(stem, stem.title()), domains=[domain])
    return World(running=graph_sim, admin=admin, tech=tech, auditor=auditor, customers=customers)


@pytest.fixture
def synced_world(world):
    """The world after the Microsoft 365 connection was saved and the first sync ran."""
    world.connect()
    world.sync()
    return world
