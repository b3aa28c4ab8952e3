"""The roster import is one verb (``network.actions.import_roster``): the page, the API and the
command line are adapters. The same file through each gives the same stored rows, the same
errors and the same audit rows; the API's own answers (400 per-row errors, 403, 405, 413)."""

from __future__ import annotations

import datetime as dt
import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import override_settings
from django.urls import reverse
from openpyxl import load_workbook

from xinlian.access.models import AuditEvent, IncompleteAuditRow
from xinlian.network.actions import import_roster
from xinlian.network.models import Guardian, Post, Staff, Student
from xinlian.network.roster import build_template

from .test_roster_web import RosterWebTestCase

API = "/api/v1/network/roster/import/"
PAGE = reverse("roster-import")


def filled_template(students: list[list[Any]] | None = None) -> bytes:
    """The template the product ships, its example rows replaced by ours."""
    wb = load_workbook(io.BytesIO(build_template()))
    fills = {
        "学生": students or [
            ["20230001", "陈一", "男", dt.date(2005, 3, 7), "CA-1", "CA-1-101", 2023, "在读", "留守儿童", ""],
            ["20230002", "林二", "女", "2005-03-08", "CA-2", "", 2023, "在读", "", ""],
        ],
        "教职工": [["T9001", "新老师", "CA", "辅导员", "13800138000"]],
        "岗位": [["20230001", "宿舍心理联络员", "CA-1-101", dt.date(2024, 9, 1), None]],
        "监护人": [["20230001", "陈父", "父亲", "13800138000", "是"]],
    }
    for title, rows in fills.items():
        ws = wb[title]
        ws.delete_rows(2)
        for row in rows:
            ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


BAD = filled_template([["20230001", "陈一", "男", "2005-02-30", "NOPE", "", 2023, "在读", "", ""],
                       ["20230002", "-2+3+cmd|' /C calc'!A0", "女", "", "CA-2", "", 2023, "", "", ""]])


def snapshot() -> dict[str, list[tuple]]:
    """What an import stores, and its audit rows (without times)."""
    return {
        "students": sorted(Student.objects.values_list(
            "user__username", "user__full_name", "gender", "birth_date", "klass__code", "dorm__code",
            "enrolment_year", "status")),
        "groups": sorted(Student.special_groups.through.objects.values_list("student__user__username",
                                                                            "specialgroup__code")),
        "staff": sorted(Staff.objects.values_list("user__username", "user__full_name", "department__code",
                                                  "title", "user__phone")),
        "posts": sorted(Post.objects.values_list("person__username", "role", "unit__code", "starts_on",
                                                 "ends_on")),
        "guardians": sorted((g.student.user.username, g.name, g.relation, g.phone, g.is_primary)
                            for g in Guardian.objects.select_related("student__user")),
        "audit": sorted(AuditEvent.objects.filter(action="roster.import").values_list(
            "actor__username", "action", "object_type", "object_id", "result", "detail")),
    }


class ParityTests(RosterWebTestCase):
    def through_page(self, data: bytes, name: str) -> list[tuple]:
        self.login("director")
        response = self.client.post(PAGE, {"action": "preview", "file": SimpleUploadedFile(name, data)})
        self.assertEqual(response.status_code, 200)
        errors = [(e.sheet, e.row, e.column, e.message) for e in response.context["errors"]]
        if response.context["stage"] == "preview":
            response = self.client.post(PAGE, {"action": "confirm"})
            self.assertTrue(response.context["report"].written)
        return errors

    def through_api(self, data: bytes, name: str) -> list[tuple]:
        self.login("director")
        response = self.client.post(API, {"file": SimpleUploadedFile(name, data), "dry_run": "false"})
        if response.status_code == 400:
            return [(e["sheet"], e["row"], e["column"], e["message"]) for e in response.json()["errors"]]
        self.assertEqual(response.status_code, 200, response.content)
        self.assertTrue(response.json()["written"])
        return []

    def through_cli(self, data: bytes, name: str) -> list[tuple]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(data)
            err = io.StringIO()
            try:
                call_command("import_roster", str(path), "--user", "T1004", stdout=io.StringIO(), stderr=err)
            except CommandError:
                return err.getvalue().splitlines()
        return []

    def outcome(self, front: Callable[[bytes, str], list], data: bytes) -> tuple[list, dict]:
        with transaction.atomic():
            errors = front(data, "花名册导入模板")  # saved by the browser without an extension
            stored = snapshot()
            transaction.set_rollback(True)
        return errors, stored

    def test_same_rows_and_audit_through_page_api_and_cli(self) -> None:
        before = snapshot()
        page = self.outcome(self.through_page, filled_template())
        api = self.outcome(self.through_api, filled_template())
        cli = self.outcome(self.through_cli, filled_template())
        self.assertEqual(page, api)
        self.assertEqual(page, cli)
        errors, stored = page
        self.assertEqual(errors, [])
        self.assertNotEqual(stored["students"], before["students"])
        self.assertIn(("20230001", "陈一", "M", dt.date(2005, 3, 7), "CA-1", "CA-1-101", 2023, "enrolled"),
                      stored["students"])
        self.assertIn(("20230001", "陈父", "father", "13800138000", True), stored["guardians"])
        self.assertEqual(stored["audit"], [("T1004", "roster.import", "network.roster", "花名册导入模板",
                                            "allowed", "students=2/0/0 staff=1/0/0 posts=1/0/0 guardians=1/0/0")])
        self.assertEqual(snapshot(), before)  # each run was rolled back

    def test_same_errors_and_nothing_stored(self) -> None:
        before = snapshot()
        page_errors, page_stored = self.outcome(self.through_page, BAD)
        api_errors, api_stored = self.outcome(self.through_api, BAD)
        self.assertEqual(page_errors, api_errors)
        self.assertEqual(page_stored, before)
        self.assertEqual(api_stored, before)
        columns = {(row, column) for _sheet, row, column, _message in api_errors}
        self.assertEqual(columns, {(2, "出生日期"), (2, "班级代码"), (3, "姓名")})
        cli_errors, cli_stored = self.outcome(self.through_cli, BAD)
        self.assertEqual(len(cli_errors), 3)
        self.assertEqual(cli_stored, before)


class ExportParityTests(RosterWebTestCase):
    """The export is one verb too (``network.actions.export_roster``): the page and
    ``xinlian export-roster`` give the same students and the same audit row; without the
    capability both refuse and write nothing."""

    def export_rows(self, data: bytes) -> list[tuple]:
        wb = load_workbook(io.BytesIO(data), read_only=True)
        return [tuple(r) for ws in wb.worksheets for r in ws.iter_rows(values_only=True)]

    def audit_rows(self) -> list[tuple]:
        return list(AuditEvent.objects.filter(action="roster.export").order_by("pk").values_list(
            "actor__username", "object_type", "object_id", "result", "detail"))

    def test_page_and_cli_export_the_same(self) -> None:
        for persona, number in (("counsellor_a", "T1001"), ("director", "T1004")):
            with self.subTest(persona):
                self.login(persona)
                start = AuditEvent.objects.count()
                page = self.client.get(reverse("roster-export"))
                self.assertEqual(page.status_code, 200)
                page_audit = self.audit_rows()[-1]
                with tempfile.TemporaryDirectory() as tmp:
                    out = Path(tmp) / "out.xlsx"
                    call_command("export_roster", "--user", number, "-o", str(out), stdout=io.StringIO())
                    cli_rows = self.export_rows(out.read_bytes())
                self.assertEqual(self.export_rows(page.content), cli_rows)
                self.assertEqual(self.audit_rows()[-1], page_audit)
                self.assertEqual(AuditEvent.objects.count(), start + 2)
                self.assertEqual(page_audit[0], number)

    def test_without_the_capability_both_refuse(self) -> None:
        self.login("committee_a1")
        self.assertEqual(self.client.get(reverse("roster-export")).status_code, 403)
        with self.assertRaises(CommandError):
            call_command("export_roster", "--user", self.committee_a1.username, "-o", "/dev/null",
                         stdout=io.StringIO())
        self.assertEqual(self.audit_rows(), [])


class AuditInTheSameTransactionTests(RosterWebTestCase):
    def test_no_audit_row_no_rows(self) -> None:
        # An audit row without an object is refused (IncompleteAuditRow): a file without a name
        # cannot be audited, so its rows must not stay either.
        with self.assertRaises(IncompleteAuditRow):
            import_roster(self.director, io.BytesIO(filled_template()), "", dry_run=False)
        self.assertFalse(Student.objects.filter(user__username="20230001").exists())
        self.assertFalse(Guardian.objects.exists())


class ApiTests(RosterWebTestCase):
    def post(self, data: bytes, name: str = "roster.xlsx", **extra: Any):  # noqa: ANN201
        return self.client.post(API, {"file": SimpleUploadedFile(name, data), **extra},
                                HTTP_ACCEPT_LANGUAGE="en")

    def test_dry_run_counts_and_writes_nothing(self) -> None:
        self.login("director")
        response = self.post(filled_template(), dry_run="true")
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual((body["dry_run"], body["written"]), (True, False))
        self.assertEqual(body["counts"]["students"], {"created": 2, "updated": 0, "unchanged": 0})
        self.assertFalse(Student.objects.filter(user__username="20230001").exists())
        self.assertFalse(AuditEvent.objects.filter(action="roster.import").exists())

    def test_import_then_again_changes_nothing(self) -> None:
        self.login("director")
        self.assertEqual(self.post(filled_template()).json()["counts"]["guardians"]["created"], 1)
        again = self.post(filled_template()).json()
        self.assertFalse(again["written"])
        self.assertEqual(again["counts"]["students"]["unchanged"], 2)
        self.assertEqual(AuditEvent.objects.filter(action="roster.import").count(), 1)

    def test_bad_rows_answer_400_with_every_error(self) -> None:
        self.login("director")
        response = self.post(BAD)
        self.assertEqual(response.status_code, 400)
        body = response.json()
        self.assertEqual(body["errors_total"], 3)
        self.assertIn("3 errors: nothing was written.", body["detail"])
        formula = next(e for e in body["errors"] if e["column"] == "姓名")
        self.assertEqual((formula["sheet"], formula["row"]), ("学生", 3))
        self.assertIn("looks like a spreadsheet formula", formula["message"])

    def test_not_a_spreadsheet_answers_400(self) -> None:
        self.login("director")
        response = self.post(b"%PDF-1.4\x00\x01\x02binary", "roster.pdf")
        self.assertEqual(response.status_code, 400)
        self.assertIn("neither an Excel .xlsx workbook nor a CSV", response.json()["errors"][0]["message"])

    def test_without_the_capability_403_and_nothing_stored(self) -> None:
        for persona in ("head_teacher_a1", "counsellor_a", "committee_a1"):
            self.login(persona)
            response = self.post(filled_template())
            self.assertEqual(response.status_code, 403, persona)
        self.assertFalse(Student.objects.filter(user__username="20230001").exists())
        self.client.logout()
        self.assertIn(self.post(filled_template()).status_code, (401, 403))

    def test_missing_file_is_400_and_get_is_405(self) -> None:
        self.login("director")
        self.assertEqual(self.client.post(API, {"dry_run": "true"}).status_code, 400)
        self.assertEqual(self.client.get(API).status_code, 405)

    @override_settings(ROSTER_MAX_UPLOAD_BYTES=1024)
    def test_oversize_refused(self) -> None:
        self.login("director")
        response = self.post(filled_template())  # over the limit: the verb refuses it, unread
        self.assertEqual(response.status_code, 400)
        self.assertIn("the limit is 1.0\xa0KB", response.json()["errors"][0]["message"])
        response = self.post(b"x" * 70_000)  # beyond any multipart framing: refused from Content-Length
        self.assertEqual(response.status_code, 413)
        self.assertIn("larger than", response.json()["detail"])
        self.assertFalse(Student.objects.filter(user__username="20230001").exists())
