"""customers 0003 deleted the merged communications metadata: every mailbox
reads its look-back again from scratch on its next sync."""

from django.db import migrations


def restart_delta_rounds(apps, schema_editor):
    apps.get_model("integrations", "MailboxState").objects.update(inbox_delta_link="", sentitems_delta_link="")


class Migration(migrations.Migration):

    dependencies = [
        ("integrations", "0001_initial"),
        ("customers", "0003_copies_own_their_participants"),
    ]

    operations = [
        migrations.RunPython(restart_delta_rounds, migrations.RunPython.noop),
    ]
