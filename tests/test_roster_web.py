"""Roster pages: upload → dry-run preview → confirm, template download, scoped and audited export."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.urls import reverse
from openpyxl import load_workbook

from xinlian.access.models import AuditEvent
from xinlian.network.models import Student, User

from .base import NetworkTestCase, make_student
from .roster_fixtures import STUDENT_HEAD, csv_bytes

IMPORT = reverse("roster-import")
TEMPLATE = reverse("roster-template")
EXPORT = reverse("roster-export")
GOOD = [["20230001", "陈一", "男", "2005-03-07", "CA-1", "CA-1-101", "2023", "在读", ""],
        ["20230002", "林二", "女", "2005-03-08", "CA-2", "", "2023", "在读", ""]]


def upload(rows: list[list[str]], name: str = "roster.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, csv_bytes(STUDENT_HEAD, rows), content_type="text/csv")


class RosterWebTestCase(NetworkTestCase):
    def setUp(self) -> None:
        self._tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self._tmp.cleanup)
        override = override_settings(DATA_DIR=Path(self._tmp.name))
        override.enable()
        self.addCleanup(override.disable)

    def pending_files(self) -> list[Path]:
        folder = Path(self._tmp.name) / "tmp" / "roster-import"
        return list(folder.iterdir()) if folder.exists() else []


class ImportPageTests(RosterWebTestCase):
    def test_get_shows_the_form(self) -> None:
        self.login("director")
        response = self.client.get(IMPORT)
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, 'type="file"')
        self.assertContains(response, TEMPLATE)

    def test_dry_run_then_confirm(self) -> None:
        self.login("director")
        response = self.client.post(IMPORT, {"action": "preview", "file": upload(GOOD)})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.context["stage"], "preview")
        self.assertEqual(response.context["report"].counts["students"].created, 2)
        self.assertContains(response, 'value="confirm"')
        self.assertFalse(User.objects.filter(username="20230001").exists())
        self.assertEqual(len(self.pending_files()), 1)
        token = self.client.session["roster_import_pending"]["token"]
        self.assertNotIn(token, response.content.decode())  # the token never reaches the page

        response = self.client.post(IMPORT, {"action": "confirm"})
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.context["report"].written)
        self.assertEqual(Student.objects.filter(user__username__in=["20230001", "20230002"]).count(), 2)
        self.assertEqual(self.pending_files(), [])
        self.assertNotIn("roster_import_pending", self.client.session)
        event = AuditEvent.objects.get(action="roster.import")
        self.assertEqual(event.actor_id, self.director.pk)
        self.assertIn("students=2/0/0", event.detail)

        # Confirming twice does not import twice: the waiting file is gone.
        response = self.client.post(IMPORT, {"action": "confirm"})
        self.assertEqual(response.status_code, 400)
        self.assertEqual(AuditEvent.objects.filter(action="roster.import").count(), 1)

    def test_preview_with_errors_lists_them_and_keeps_nothing(self) -> None:
        self.login("director")
        bad = [GOOD[0], ["20230002", "林二", "女", "2005-02-30", "CA-2", "", "2023", "在读", ""]]
        response = self.client.post(IMPORT, {"action": "preview", "file": upload(bad)},
                                    HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "not a valid date")
        self.assertContains(response, "出生日期")
        self.assertNotContains(response, 'value="confirm"')
        self.assertEqual(self.pending_files(), [])
        self.assertNotIn("roster_import_pending", self.client.session)
        self.assertFalse(User.objects.filter(username="20230001").exists())

    def test_chinese_page_by_default(self) -> None:
        self.login("director")
        response = self.client.get(IMPORT, HTTP_ACCEPT_LANGUAGE="zh-hans")
        self.assertContains(response, 'lang="zh-hans"')

    def test_cancel_deletes_the_waiting_file(self) -> None:
        self.login("director")
        self.client.post(IMPORT, {"action": "preview", "file": upload(GOOD)})
        self.assertEqual(len(self.pending_files()), 1)
        response = self.client.post(IMPORT, {"action": "cancel"})
        self.assertRedirects(response, IMPORT)
        self.assertEqual(self.pending_files(), [])
        self.assertFalse(User.objects.filter(username="20230001").exists())

    def test_no_file(self) -> None:
        self.login("director")
        response = self.client.post(IMPORT, {"action": "preview"})
        self.assertEqual(response.status_code, 400)

    @override_settings(ROSTER_MAX_UPLOAD_BYTES=1024)
    def test_oversize_upload_refused(self) -> None:
        self.login("director")
        big = upload(GOOD * 40)
        self.assertGreater(big.size, 1024)
        response = self.client.post(IMPORT, {"action": "preview", "file": big}, HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(response, "limit", status_code=200)
        self.assertEqual(self.pending_files(), [])
        self.assertFalse(User.objects.filter(username="20230001").exists())

    @override_settings(ROSTER_MAX_UPLOAD_BYTES=1024)
    def test_oversize_request_refused_from_its_length(self) -> None:
        self.login("director")
        big = SimpleUploadedFile("big.csv", b"x" * 200_000, content_type="text/csv")
        response = self.client.post(IMPORT, {"action": "preview", "file": big}, HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(response.status_code, 413)
        self.assertContains(response, "larger than", status_code=413)
        self.assertEqual(self.pending_files(), [])

    def test_committee_member_gets_403(self) -> None:
        self.login("committee_a1")
        self.assertEqual(self.client.get(IMPORT).status_code, 403)
        response = self.client.post(IMPORT, {"action": "preview", "file": upload(GOOD)})
        self.assertEqual(response.status_code, 403)
        self.assertFalse(User.objects.filter(username="20230001").exists())
        self.assertEqual(self.client.get(TEMPLATE).status_code, 403)

    def test_head_teacher_may_not_import(self) -> None:
        self.login("head_teacher_a1")
        self.assertEqual(self.client.get(IMPORT).status_code, 403)

    def test_anonymous_is_sent_to_login(self) -> None:
        response = self.client.get(IMPORT)
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("login"), response["Location"])

    def test_wrong_method_405(self) -> None:
        self.login("director")
        self.assertEqual(self.client.put(IMPORT).status_code, 405)
        self.assertEqual(self.client.delete(IMPORT).status_code, 405)
        self.assertEqual(self.client.post(TEMPLATE).status_code, 405)
        self.assertEqual(self.client.post(EXPORT).status_code, 405)

    def test_csrf_is_enforced(self) -> None:
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        client.force_login(self.persona("director"))
        response = client.post(IMPORT, {"action": "preview", "file": upload(GOOD)})
        self.assertEqual(response.status_code, 403)
        self.assertEqual(self.pending_files(), [])


class TemplateDownloadTests(RosterWebTestCase):
    def test_director_downloads_the_template(self) -> None:
        self.login("director")
        response = self.client.get(TEMPLATE)
        self.assertEqual(response.status_code, 200)
        self.assertIn("attachment", response["Content-Disposition"])
        wb = load_workbook(io.BytesIO(response.content))
        self.assertEqual(wb.sheetnames, ["学生", "教职工", "岗位", "监护人", "说明"])

    def test_the_filled_template_imports_under_any_name(self) -> None:
        # The page keeps the upload under a random name without an extension: every .xlsx was
        # refused, the shipped template too, however the browser had named it.
        self.login("director")
        wb = load_workbook(io.BytesIO(self.client.get(TEMPLATE).content))
        for title in wb.sheetnames[:4]:
            wb[title].delete_rows(2)
        wb["学生"].append(["20230001", "陈一", "男", "2005-03-07", "CA-1", "", "2023", "在读", "", ""])
        out = io.BytesIO()
        wb.save(out)
        for n, name in enumerate(("花名册导入模板.xlsx", "花名册导入模板", "download.bin")):
            response = self.client.post(IMPORT, {"action": "preview", "file": SimpleUploadedFile(name, out.getvalue())})
            self.assertEqual(response.context["stage"], "preview", [str(e) for e in response.context["errors"]])
            self.assertEqual(response.context["report"].counts["students"].created, 1)
            if n == 2:
                self.client.post(IMPORT, {"action": "confirm"})
        self.assertTrue(Student.objects.filter(user__username="20230001").exists())

    def test_anything_else_is_refused_with_advice(self) -> None:
        self.login("director")
        for lang, text in (("en", "neither an Excel .xlsx workbook nor a CSV"), ("zh-hans", "既不是 Excel")):
            response = self.client.post(IMPORT, {"action": "preview", "file": SimpleUploadedFile(
                "roster.xlsx", b"%PDF-1.4\x00\x01\x02\x03")}, HTTP_ACCEPT_LANGUAGE=lang)
            self.assertContains(response, text)
            self.assertNotContains(response, 'value="confirm"')
        self.assertEqual(self.pending_files(), [])


class ExportPageTests(RosterWebTestCase):
    def rows(self, response) -> list[list]:
        wb = load_workbook(io.BytesIO(response.content))
        return [[c.value for c in row] for row in wb["学生"].iter_rows(min_row=2)]

    def test_head_teacher_exports_class_a1_only_and_is_audited(self) -> None:
        evil = make_student("S0099", "@SUM(1+1)*cmd|' /C calc'!A0", self.class_a1)
        self.login("head_teacher_a1")
        response = self.client.get(EXPORT)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Cache-Control"], "no-store")
        rows = self.rows(response)
        self.assertEqual({r[4] for r in rows}, {"CA-1"})
        self.assertNotIn("S0004", [r[0] for r in rows])
        self.assertEqual(next(r[1] for r in rows if r[0] == evil.number), "'@SUM(1+1)*cmd|' /C calc'!A0")
        events = list(AuditEvent.objects.filter(action="roster.export"))
        self.assertEqual(len(events), 1)
        self.assertEqual(events[0].actor_id, self.head_teacher_a1.pk)
        self.assertEqual(events[0].detail, str(len(rows)))

    def test_counsellor_exports_college_a(self) -> None:
        self.login("counsellor_a")
        rows = self.rows(self.client.get(EXPORT))
        self.assertEqual({r[4] for r in rows}, {"CA-1", "CA-2"})

    def test_committee_member_gets_403_and_no_audit_row_of_an_export(self) -> None:
        self.login("committee_a1")
        self.assertEqual(self.client.get(EXPORT).status_code, 403)
        self.assertFalse(AuditEvent.objects.filter(action="roster.export").exists())

    def test_student_gets_403(self) -> None:
        self.login("student_a1_user")
        self.assertEqual(self.client.get(EXPORT).status_code, 403)
