"""Taking part in a screening is tier 2 (risk): the chronology lines "Completed screening …" and
"Guardian consent recorded for screening …" were written at tier 1, so peer reporters (心理委员,
宿舍联络员) and leaders, who hold the roster of the student, read who took part
(GET /api/v1/care/students/<id>/timeline/). New lines are written at tier 2; this moves the lines
already written. The 班主任 and 辅导员 (tier 2) still see them."""

from django.db import migrations

KINDS = ("screening.submit", "screening.guardian_consent")
ROSTER, RISK = 1, 2  # xinlian.care.models.Tier, frozen here as a migration must be


def to_risk(apps, schema_editor) -> None:  # noqa: ANN001
    TimelineEntry = apps.get_model("care", "TimelineEntry")
    TimelineEntry.objects.filter(kind__in=KINDS, tier=ROSTER).update(tier=RISK)


def to_roster(apps, schema_editor) -> None:  # noqa: ANN001
    TimelineEntry = apps.get_model("care", "TimelineEntry")
    TimelineEntry.objects.filter(kind__in=KINDS, tier=RISK).update(tier=ROSTER)


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0003_result_fillfactor"),
        ("care", "0003_concern_heard_from"),
    ]

    operations = [migrations.RunPython(to_risk, to_roster)]
