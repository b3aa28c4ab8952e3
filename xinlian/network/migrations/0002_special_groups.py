"""Create the special groups the policies name. get_or_create by code: the roster importer may
already have created some of them, and re-running must not duplicate or rename them."""

from django.db import migrations

# Frozen here on purpose: a migration must not change when the app's constants do.
GROUPS = (
    ("left_behind", "留守儿童", "Left-behind child"),
    ("single_parent", "单亲家庭", "Single-parent family"),
    ("financial_hardship", "经济困难", "Financial hardship"),
    ("disability", "残疾", "Disability"),
    ("migrant", "随迁子女", "Migrant child"),
    ("orphan", "孤儿", "Orphan"),
)


def create_groups(apps, schema_editor):
    SpecialGroup = apps.get_model("network", "SpecialGroup")
    for code, name, name_en in GROUPS:
        SpecialGroup.objects.get_or_create(code=code, defaults={"name": name, "name_en": name_en})


class Migration(migrations.Migration):

    dependencies = [
        ("network", "0001_initial"),
    ]

    # Reversing leaves the rows: students may already belong to them.
    operations = [
        migrations.RunPython(create_groups, migrations.RunPython.noop),
    ]
