"""Each batch of answers saved counts on its assignment (``answers_rev``), so that the submit can
read and score the answers before it claims, claiming only if no batch landed in between
(``Assignment.submit_own``). Adding a column with a constant default is instant on PostgreSQL 11
and later, whatever the number of assignments."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("screening", "0004_submit_timeline_tier")]

    operations = [
        migrations.AddField(
            model_name="assignment",
            name="answers_rev",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
    ]
