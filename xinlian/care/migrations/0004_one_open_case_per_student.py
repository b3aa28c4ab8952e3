from django.conf import settings
from django.db import migrations, models


def refuse_duplicates(apps, schema_editor):
    """Before the constraint: a student with two open cases (the old API allowed it) is for the
    centre to resolve — closing a crisis case is a clinical decision, never a migration's."""
    Case = apps.get_model("care", "Case")
    seen: dict[int, int] = {}
    clashes: list[str] = []
    for pk, student_id in (Case.objects.exclude(status="closed").order_by("pk")
                           .values_list("pk", "student_id")):
        if student_id in seen:
            clashes.append(f"#{seen[student_id]} and #{pk}")
        else:
            seen[student_id] = pk
    if clashes:
        raise RuntimeError("These students have more than one open crisis case: "
                           + "; ".join(clashes)
                           + ". Close the duplicate cases (admin) and run the migration again.")


class Migration(migrations.Migration):

    dependencies = [
        ('care', '0003_concern_heard_from'),
        ('network', '0002_special_groups'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(refuse_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='case',
            constraint=models.UniqueConstraint(condition=models.Q(('status', 'closed'), _negated=True), fields=('student',), name='one_open_case_per_student'),
        ),
    ]
