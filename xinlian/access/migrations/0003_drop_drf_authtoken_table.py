"""DRF's authtoken kept API tokens in plain text (``authtoken_token``). Xinlian now uses
django-rest-knox (hashed, expiring tokens), so those old tokens stop working: clients ask for a
new token once (``POST /api/v1/auth/token/``). Their table goes, so that no plain-text secret
stays behind in the database or its backups. Nothing to undo: a reversed migration leaves the
table gone (the old tokens must not come back)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("access", "0002_initial")]

    operations = [
        migrations.RunSQL("DROP TABLE IF EXISTS authtoken_token", reverse_sql=migrations.RunSQL.noop),
    ]
