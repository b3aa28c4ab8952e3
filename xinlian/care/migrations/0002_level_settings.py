from django.db import migrations


def create_levels(apps, schema_editor):
    from xinlian.care.models import DEFAULT_LEVELS

    LevelSetting = apps.get_model("care", "LevelSetting")
    for level, values in DEFAULT_LEVELS.items():
        LevelSetting.objects.get_or_create(level=str(level), defaults=values)


class Migration(migrations.Migration):
    dependencies = [("care", "0001_initial")]
    operations = [migrations.RunPython(create_levels, migrations.RunPython.noop)]
