"""Hash-chain every audit row (existing rows are chained in id order) and, on
PostgreSQL, refuse TRUNCATE as well as UPDATE and DELETE.

This runs as the table's owner (the migrate step); the app's own role can
neither TRUNCATE nor switch these triggers off (see audit.db_roles)."""

import django.utils.timezone
from django.db import migrations, models

TRUNCATE_TRIGGER = """
DROP TRIGGER IF EXISTS audit_auditevent_no_truncate ON audit_auditevent;
CREATE TRIGGER audit_auditevent_no_truncate
    BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_auditevent_append_only();
"""

DROP_TRUNCATE_TRIGGER = "DROP TRIGGER IF EXISTS audit_auditevent_no_truncate ON audit_auditevent;"


def chain_existing_rows(apps, schema_editor):
    from audit.chain import GENESIS, content_of, link_hash

    AuditEvent = apps.get_model("audit", "AuditEvent")
    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:
        # The owner may lift its own trigger for this one-off backfill.
        schema_editor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_auditevent_append_only")
    prev = GENESIS
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        chain_hash = link_hash(prev, content_of(event))
        AuditEvent.objects.filter(pk=event.pk).update(prev_hash=prev, chain_hash=chain_hash)
        prev = chain_hash
    if postgres:
        schema_editor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER audit_auditevent_append_only")
        schema_editor.execute(TRUNCATE_TRIGGER)


def drop_truncate_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_TRUNCATE_TRIGGER)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_append_only_trigger")]

    operations = [
        migrations.AlterField(
            model_name="auditevent",
            name="at",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="auditevent", name="prev_hash", field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddField(
            model_name="auditevent", name="chain_hash", field=models.CharField(blank=True, max_length=64),
        ),
        migrations.RunPython(chain_existing_rows, drop_truncate_trigger),
    ]
