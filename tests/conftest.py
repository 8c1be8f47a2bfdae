import logging

import pytest
import time_machine
from django.test.utils import override_settings

from accounts.models import Role

from .clock import PINNED
from .factories import make_user
from .traces import cache_keys_clear

# Tests that read the machine's clock: other processes (a browser, real
# workers) cannot share a clock travelled inside this one (tests/clock.py).
REAL_CLOCK_MARKERS = ("browser", "real_worker", "real_clock")


@pytest.fixture(autouse=True)
def test_clock(request):
    """Every test runs at PINNED, with time flowing from there, whatever day
    the suite runs on; the traveller lets a test move on (`.shift()`,
    `.move_to()`). Marked tests keep the real clock and get None."""
    if any(request.node.get_closest_marker(name) for name in REAL_CLOCK_MARKERS):
        yield None
        return
    with time_machine.travel(PINNED, tick=True) as traveller:
        yield traveller


@pytest.fixture(scope="session", autouse=True)
def fast_password_hasher():
    """Tests hash passwords with MD5: every make_user and sign-in would
    otherwise spend PBKDF2's full work factor. Production settings are untouched."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache, so login-throttle counters and
    cached values never carry from one test into the next."""
    cache_keys_clear()
    yield


class AllLogs:
    """What every logger said during a test: the formatted lines plus each
    record's message and raw arguments (a value may hide in either)."""

    def __init__(self, caplog):
        self.caplog = caplog

    @property
    def records(self):
        return self.caplog.records

    @property
    def text(self):
        return "\n".join([self.caplog.text, *(r.getMessage() for r in self.records), *(repr(r.args) for r in self.records)])


@pytest.fixture
def all_logs(caplog):
    """Every logger at DEBUG, including those the settings quieten (msal and
    urllib3, whose DEBUG lines carry request details), for tests that promise
    something never reaches a log."""
    caplog.set_level(logging.DEBUG)
    for name in {"msal", "urllib3", "requests", "celery", *logging.root.manager.loggerDict}:
        caplog.set_level(logging.DEBUG, logger=name)
    return AllLogs(caplog)


@pytest.fixture(autouse=True)
def celery_in_process(request, monkeypatch):
    """Tasks run in the test's own process, even when REDIS_URL points at a
    real broker: nothing a test enqueues may sit in Redis for a later worker.
    Tests that drive real workers are marked `real_worker` and opt out."""
    if request.node.get_closest_marker("real_worker"):
        return
    from vectis.celery import app

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    monkeypatch.setitem(app.conf, "task_eager_propagates", True)


# ---------------------------------------------------------------- the app's restricted database role


class _FlushPastAuditTriggers:
    """Django's flush after a transactional test TRUNCATEs every table, which
    the audit log's trigger refuses. Only then, as the owner (a superuser in
    tests), the flush runs with session_replication_role=replica, which skips
    triggers; a test's own TRUNCATE still meets the trigger."""

    armed = False

    def __call__(self, execute, sql, params, many, context):
        if self.armed and sql.lstrip().upper().startswith("TRUNCATE"):
            self.armed = False
            execute("SET LOCAL session_replication_role = replica", None, False, context)
        return execute(sql, params, many, context)


_flush_past_audit_triggers = _FlushPastAuditTriggers()


def app_role_name():
    from django.db import connection

    return f"{connection.settings_dict['NAME']}_app"[:63]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """On PostgreSQL, create the app's restricted role in the test database the
    same way production does (audit.db_roles, run by the owner after migrate)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        from audit.db_roles import app_role_grant

        with django_db_blocker.unblock():
            app_role_grant(app_role_name())
        connection.execute_wrappers.append(_flush_past_audit_triggers)
    yield


@pytest.fixture(autouse=True)
def app_database_role(request):
    """Every PostgreSQL test that uses the database runs as the app's role (SET ROLE
    on the test's connection), as production does; `owner_database_role` switches back."""
    uses_db = request.node.get_closest_marker("django_db") or {"db", "transactional_db", "live_server"} & set(request.fixturenames)
    if not uses_db:
        yield
        return
    from django.db import connection

    request.getfixturevalue("_django_db_helper")
    if connection.vendor != "postgresql":
        yield
        return
    _flush_past_audit_triggers.armed = False
    transactional = not connection.in_atomic_block
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {connection.ops.quote_name(app_role_name())}")
    yield
    if connection.connection is not None and not connection.needs_rollback:
        try:
            with connection.cursor() as cursor:
                cursor.execute("RESET ROLE")
        except Exception:  # noqa: BLE001 - a broken connection is reopened as the owner anyway
            pass
    _flush_past_audit_triggers.armed = transactional


@pytest.fixture
def owner_database_role(app_database_role):
    """For a test that must act as the table owner (the migrate role)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("RESET ROLE")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"SET ROLE {connection.ops.quote_name(app_role_name())}")


@pytest.fixture(autouse=True)
def fresh_token_apps():
    """MSAL applications (and their cached tokens) live for the process; each test starts without any."""
    from integrations.graph.tokens import forget_token_apps

    forget_token_apps()
    yield
    forget_token_apps()


@pytest.fixture
def admin_user(db):
    return make_user("ada", Role.ADMIN)


@pytest.fixture
def member_user(db):
    return make_user("mo", Role.MEMBER)


@pytest.fixture
def viewer_user(db):
    return make_user("vi", Role.VIEWER)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def member_client(client, member_user):
    client.force_login(member_user)
    return client


@pytest.fixture
def viewer_client(client, viewer_user):
    client.force_login(viewer_user)
    return client


# ---------------------------------------------------------------- Graph simulator (sync tests)


@pytest.fixture(scope="session")
def graph_simulator_server():
    """One simulator served over HTTPS for the whole session (certificate and
    tenant generation cost a moment); `graph_sim` resets it per test."""
    from graphsim import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, GraphSimulator, TenantSpec, build_tenant, serve

    sim = GraphSimulator(build_tenant(TenantSpec()), client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET)
    running = serve(sim)
    yield running
    running.stop()


@pytest.fixture
def graph_sim(graph_simulator_server, settings, test_clock):
    """The simulator with a freshly generated tenant (same spec, anchored at
    the test's clock: its "now" to the minute), no faults, an empty request
    log, and this process's Graph and Entra settings pointing at it."""
    from django.utils import timezone

    running = graph_simulator_server
    running.simulator.reset(tenant=True, anchor=timezone.now().replace(second=0, microsecond=0))
    settings.VECTIS_GRAPH_BASE_URL = running.graph_base_url
    settings.VECTIS_LOGIN_BASE_URL = running.login_base_url
    settings.VECTIS_GRAPH_CA_BUNDLE = running.ca_path
    yield running
    running.simulator.reset()


@pytest.fixture
def m365_connected(graph_sim, db):
    """graph_sim plus a saved connection listing every technician mailbox and
    one customer per simulated customer domain (subdomains match through it)."""
    from customers.services import customer_create
    from graphsim import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET
    from integrations.setup.services import connection_save

    spec = graph_sim.simulator.tenant.spec
    for domain in spec.customer_domains:
        customer_create(actor=None, name=domain.split(".")[0].title(), domains=[domain])
    connection_save(actor=None, tenant_id=spec.tenant_id, client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
                    mailboxes=spec.technician_upns(), secret_expires_on=None)
    return graph_sim


class SyncKit:
    """Helpers for the sync tests: run syncs at the simulator's anchor time,
    compute the simulator's ground truth, and read back what was stored."""

    def __init__(self, running):
        self.running = running

    @property
    def sim(self):
        return self.running.simulator

    @property
    def tenant(self):
        return self.sim.tenant

    @property
    def now(self):
        return self.tenant.spec.anchor

    def mailboxes(self):
        from integrations.setup.connection import current_mailboxes

        return list(current_mailboxes())

    def client(self, sleeps=None):
        """A Graph client for the saved connection that records waits instead of sleeping."""
        from integrations.setup.connection import connection_get, graph_client_for

        sleeps = [] if sleeps is None else sleeps
        return graph_client_for(connection_get(), sleep=sleeps.append)

    def sync(self, mailboxes=None, *, now=None, client=None, **kwargs):
        from integrations.mail.sync import mailbox_sync

        return [mailbox_sync(upn=upn, now=now or self.now, client=client, **kwargs) for upn in mailboxes or self.mailboxes()]

    # ------------------------------------------------------------ ground truth

    def domains(self):
        from customers.models import CustomerDomain

        return list(CustomerDomain.objects.values_list("domain", flat=True))

    def contacts(self):
        from customers.models import Contact

        return list(Contact.objects.values_list("email", flat=True))

    def message_truth(self, *, now=None, mailboxes=None):
        """{(mailbox, graph id, internetMessageId)} the simulator holds that touch a customer domain."""
        from customers.windows import mail_window_start

        since = mail_window_start(now or self.now)
        domains = self.domains()
        if not domains:
            return set()
        records = self.tenant.messages_touching(domains, mailboxes=mailboxes or self.mailboxes(), since=since)
        return {(r.mailbox_upn.lower(), r.id, r.graph["internetMessageId"]) for r in records}

    def event_truth(self, *, now=None, mailboxes=None):
        """{(mailbox, graph id)} of events in the calendar window with a customer contact."""
        from customers.windows import calendar_window

        start, end = calendar_window(now or self.now)
        domains = self.domains()
        if not domains and not self.contacts():
            return set()
        records = self.tenant.events_touching(
            domains or ["no-domain.invalid"], self.contacts(), mailboxes=mailboxes or self.mailboxes(), start=start, end=end
        )
        return {(r.mailbox_upn.lower(), r.id) for r in records}

    def stored_messages(self):
        from customers.models import MessageHolder

        return set(MessageHolder.objects.values_list("mailbox", "graph_id", "message__internet_message_id"))

    def stored_events(self):
        from customers.models import EventHolder

        return set(EventHolder.objects.values_list("mailbox", "graph_id"))

    def assert_ground_truth(self, *, now=None, mailboxes=None):
        """Stored holders and messages equal the simulator's matching items, and nothing is left over.

        Syncs started by a task, the command or a real worker read the real
        clock, not the simulator's anchor (up to an hour earlier). Unless `now` is
        given, the clock range is read back
        from what the syncs stored (each mailbox's calendar_synced_at is the
        data clock its run used). An item that enters or leaves the look-back
        or calendar window within that range may or may not be stored; every
        other item must be, and nothing outside both windows. Syncs pinned to
        the anchor leave a range of one instant: exact equality."""
        from customers.models import Event, Message, MessageHolder

        instants = (now, now) if now else self._data_clock()
        messages = [self.message_truth(now=at, mailboxes=mailboxes) for at in instants]
        events = [self.event_truth(now=at, mailboxes=mailboxes) for at in instants]
        stored = self.stored_messages()
        self._assert_between(stored, messages, "messages")
        assert MessageHolder.objects.count() == len(stored)  # no duplicate holders
        assert set(Message.objects.values_list("internet_message_id", flat=True)) == {imid for _, _, imid in stored}
        self._assert_between(self.stored_events(), events, "events")
        assert not Message.objects.filter(holders__isnull=True).exists()
        assert not Event.objects.filter(holders__isnull=True).exists()

    def _data_clock(self):
        from integrations.setup.models import MailboxState

        used = {self.now, *MailboxState.objects.exclude(calendar_synced_at=None).values_list("calendar_synced_at", flat=True)}
        return min(used), max(used)

    @staticmethod
    def _assert_between(stored, truths, what):
        must, may = truths[0] & truths[1], truths[0] | truths[1]
        assert must <= stored and stored <= may, (
            f"{what} missing {len(must - stored)}, unexpected {len(stored - may)}; "
            f"missing {sorted(must - stored)[:3]}, unexpected {sorted(stored - may)[:3]}"
        )


@pytest.fixture
def sync_kit(m365_connected):
    return SyncKit(m365_connected)
