"""The audit log's hash chain, `manage.py verify_audit`, the audit page's
verdict, and (on PostgreSQL) what the app's database role cannot do."""

import threading

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from audit.chain import GENESIS, chain_verify
from audit.log import AuditEntry, audit_log, audit_log_many
from audit.models import AuditEvent

postgres_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="database roles and triggers are PostgreSQL's")


def write_some(n=5):
    for i in range(n):
        audit_log(actor=None, action=f"test.{i}", details={"i": i, "text": "ünïcode ‮ rtl", "ratio": 1e20, "f": 0.1})


def tamper(sql, params=None):
    """As the table's owner, past the triggers: what verify_audit exists to catch."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL session_replication_role = origin")


def test_each_row_links_to_the_one_before(db):
    write_some(3)
    audit_log_many([AuditEntry(action="bulk.a"), AuditEntry(action="bulk.b", details={"n": 2})])
    rows = list(AuditEvent.objects.order_by("id"))
    assert rows[0].prev_hash == GENESIS
    for before, after in zip(rows, rows[1:], strict=False):
        assert after.prev_hash == before.chain_hash and len(after.chain_hash) == 64
    assert chain_verify(AuditEvent).ok


def test_verify_audit_passes_on_a_fresh_log(db, capsys):
    write_some()
    call_command("verify_audit")
    assert "6 rows" not in capsys.readouterr().out  # 5 rows
    report = chain_verify(AuditEvent)
    assert report.ok and report.rows == 5


@pytest.mark.usefixtures("owner_database_role")
def test_verify_audit_finds_an_altered_row(db):
    write_some()
    victim = AuditEvent.objects.order_by("id")[2]
    tamper("UPDATE audit_auditevent SET details = %s WHERE id = %s", ['{"i": 99}', victim.pk])
    with pytest.raises(CommandError, match=f"row #{victim.pk}.*altered") as caught:
        call_command("verify_audit")
    assert caught.value.returncode == 1


@pytest.mark.usefixtures("owner_database_role")
def test_verify_audit_finds_a_missing_row(db):
    write_some()
    rows = list(AuditEvent.objects.order_by("id"))
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [rows[2].pk])
    with pytest.raises(CommandError, match=f"row #{rows[3].pk}.*missing after row #{rows[1].pk}"):
        call_command("verify_audit")


@pytest.mark.usefixtures("owner_database_role")
def test_verify_audit_finds_a_missing_first_row(db):
    write_some()
    first = AuditEvent.objects.order_by("id").first()
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [first.pk])
    assert not chain_verify(AuditEvent).ok


@pytest.mark.usefixtures("owner_database_role")
def test_the_audit_page_says_whether_the_chain_verifies(admin_client, admin_user):
    write_some()
    page = admin_client.get(reverse("audit:list")).content.decode()
    assert "Hash chain verified" in page
    victim = AuditEvent.objects.order_by("id").first()
    tamper("UPDATE audit_auditevent SET action = 'forged' WHERE id = %s", [victim.pk])
    page = admin_client.get(reverse("audit:list")).content.decode()
    assert f"Hash chain broken at row #{victim.pk}" in page and "Hash chain verified" not in page


def test_hostile_text_in_details_is_stored_and_chained(db):
    audit_log(actor=None, action="x", target_id="a\x00b", details={"name": "nul\x00here", "k": ["\u202e", "ｔech"]})
    assert chain_verify(AuditEvent).ok


# ---------------------------------------------------------------- PostgreSQL: the app's role


@postgres_only
@pytest.mark.parametrize("statement", [
    "TRUNCATE audit_auditevent",
    "UPDATE audit_auditevent SET action = 'forged'",
    "DELETE FROM audit_auditevent",
    "ALTER TABLE audit_auditevent DISABLE TRIGGER ALL",
    "ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only",
    "SET session_replication_role = replica",
    "DROP TRIGGER audit_auditevent_no_truncate ON audit_auditevent",
    "ALTER TABLE audit_auditevent OWNER TO CURRENT_USER",
])
def test_the_app_role_cannot_rewrite_the_audit_log(db, statement):
    audit_log(actor=None, action="x")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user, rolsuper FROM pg_roles WHERE rolname = current_user")
        user, superuser = cursor.fetchone()
    assert user.endswith("_app") and not superuser  # the suite runs as the app's role
    with pytest.raises(DatabaseError, match="permission denied|must be owner|must be superuser"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)
    assert list(AuditEvent.objects.values_list("action", flat=True)) == ["x"]
    assert chain_verify(AuditEvent).ok


@postgres_only
def test_the_app_role_may_still_write_everything_else(admin_client):
    response = admin_client.post(reverse("customers:create"), {"name": "Northwind", "domains": "northwind.example", "notes": ""})
    assert response.status_code == 302
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM customers_customerdomain")  # ordinary tables: full DML
    assert AuditEvent.objects.filter(action="customer.create").exists()


@postgres_only
@pytest.mark.usefixtures("owner_database_role")
@pytest.mark.parametrize("statement", ["TRUNCATE audit_auditevent", "UPDATE audit_auditevent SET action = 'forged'",
                                       "DELETE FROM audit_auditevent"])
def test_even_the_owner_meets_the_triggers(db, statement):
    audit_log(actor=None, action="x")
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement)


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_do_not_fork_the_chain():
    from django.db import connections

    errors = []

    def writer(n):
        try:
            for i in range(15):
                with transaction.atomic():
                    audit_log(actor=None, action=f"w{n}.{i}")
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert AuditEvent.objects.count() == 60
    assert chain_verify(AuditEvent).ok
    assert AuditEvent.objects.values("prev_hash").distinct().count() == 60  # no two rows share a parent
