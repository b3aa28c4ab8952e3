"""Leave room in each page of screening_result for a second version of its rows.

``xinlian rescore --apply`` rewrites every result of a campaign. None of the columns it writes is
indexed, so PostgreSQL can update a row in place (a HOT update, no index touched) when the page
has room; with full pages every row moved and all seven indexes got a new entry, most of the
time of a 100,000-result rescore (bench/results/rescore.json). SQLite has no such setting."""

from django.db import migrations


def set_fillfactor(apps, schema_editor, value: int = 50) -> None:  # noqa: ANN001
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE screening_result SET (fillfactor = {int(value)})")


def reset_fillfactor(apps, schema_editor) -> None:  # noqa: ANN001
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE screening_result RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("screening", "0002_assignment_action_due")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
