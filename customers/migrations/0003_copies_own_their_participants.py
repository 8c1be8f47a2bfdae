"""Copies own their participants, preview and direction; messages and events
are identified by content, not by the sender-chosen Message-ID / iCalUId.

The stored metadata was merged on those ids alone, so it cannot be split back
into copies: it is deleted here and read again from Graph on the next sync
(integrations 0004 clears the delta links so that sync starts from scratch).
Nothing but metadata is lost: bodies were never stored."""

import django.db.models.deletion
from django.db import migrations, models


def forget_merged_metadata(apps, schema_editor):
    for name in ("MessageParticipant", "MessageCustomer", "MessageHolder", "Message",
                 "EventParticipant", "EventCustomer", "EventHolder", "Event"):
        apps.get_model("customers", name).objects.all().delete()
    # Tenant-verified domains were taken for the MSP's own, customers' included: only mailbox domains stay.
    apps.get_model("customers", "OwnDomain").objects.filter(source="tenant").delete()


class Migration(migrations.Migration):

    dependencies = [
        ('customers', '0002_communications'),
    ]

    operations = [
        migrations.RunPython(forget_merged_metadata, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name='eventparticipant',
            name='event_participant_unique',
        ),
        migrations.RemoveConstraint(
            model_name='messageparticipant',
            name='message_participant_unique',
        ),
        migrations.RemoveField(
            model_name='event',
            name='preview',
        ),
        migrations.RemoveField(
            model_name='message',
            name='direction',
        ),
        migrations.RemoveField(
            model_name='message',
            name='preview',
        ),
        migrations.AddField(
            model_name='event',
            name='identity',
            field=models.CharField(default='', max_length=64, unique=True),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='eventholder',
            name='preview',
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AddField(
            model_name='eventparticipant',
            name='holder',
            field=models.ForeignKey(default=0, on_delete=django.db.models.deletion.CASCADE, related_name='participants', to='customers.eventholder'),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='message',
            name='identity',
            field=models.CharField(default='', max_length=64, unique=True),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='messageholder',
            name='direction',
            field=models.CharField(choices=[('sent', 'Sent'), ('received', 'Received')], default='received', max_length=8),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name='messageholder',
            name='preview',
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AddField(
            model_name='messageparticipant',
            name='holder',
            field=models.ForeignKey(default=0, on_delete=django.db.models.deletion.CASCADE, related_name='participants', to='customers.messageholder'),
            preserve_default=False,
        ),
        migrations.AlterField(
            model_name='event',
            name='ical_uid',
            field=models.CharField(db_index=True, max_length=900),
        ),
        migrations.AlterField(
            model_name='message',
            name='internet_message_id',
            field=models.CharField(db_index=True, max_length=900),
        ),
        migrations.AddConstraint(
            model_name='eventparticipant',
            constraint=models.UniqueConstraint(fields=('holder', 'role', 'address'), name='event_participant_unique'),
        ),
        migrations.AddConstraint(
            model_name='messageparticipant',
            constraint=models.UniqueConstraint(fields=('holder', 'role', 'address'), name='message_participant_unique'),
        ),
    ]
