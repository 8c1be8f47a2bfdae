from django.db import migrations


def content_type_to_accounts(apps, schema_editor):
    """A database from before the move has the user's content type (and its
    permissions) under "vectis": rename it rather than leave a stale one."""
    content_type = apps.get_model("contenttypes", "ContentType")
    if not content_type.objects.filter(app_label="accounts", model="user").exists():
        content_type.objects.filter(app_label="vectis", model="user").update(app_label="accounts")


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(content_type_to_accounts, migrations.RunPython.noop),
    ]
