"""The centre director imports the roster the way they would, in a real browser on a phone: download
the template from the import page (Chromium saves it under a name without an extension), fill it in,
upload that same file through the page's form, read the preview, confirm. Uses Debian's chromium."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.db import connections
from django.test import override_settings
from openpyxl import load_workbook

from xinlian.access.models import AuditEvent
from xinlian.network.models import Guardian, Student

from .base import PASSWORD, NetworkTestCase
from .test_browser import CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .twostep import pass_second_step

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

SHOTS = Path("/tmp/shots")
ROWS = {
    "学生": [["20239001", "陈一", "男", "2005-03-07", "CA-1", "CA-1-101", "2023", "在读", "留守儿童", ""],
             ["20239002", "林二", "女", "2005-03-08", "CA-2", "", "2023", "在读", "", ""]],
    "教职工": [],
    "岗位": [],
    "监护人": [["20239001", "陈父", "父亲", "13800138000", "是"]],
}


class RosterImportOnPhoneTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        # A live-server test case flushes the database after each test: build the personas here.
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        override = override_settings(DATA_DIR=Path(tmp.name))
        override.enable()
        self.addCleanup(override.disable)
        SHOTS.mkdir(exist_ok=True)

    def test_download_fill_upload_preview_confirm(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing: apt-get install chromium")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_context(**PHONE, locale="zh-CN", accept_downloads=True).new_page()
                page.goto(f"{self.live_server_url}/login/")
                page.fill("input[name=username]", "T1004")
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit].btn-primary")
                pass_second_step(page, "T1004")
                page.wait_for_url(f"{self.live_server_url}/")
                page.goto(f"{self.live_server_url}/roster/import/")

                with page.expect_download() as info:
                    page.click("a[href='/roster/template.xlsx']")
                download = info.value
                saved = Path(download.path())  # where Chromium put it: a bare name, no extension
                self.assertEqual(saved.suffix, "")
                self.assertEqual(download.suggested_filename, "花名册导入模板.xlsx")

                # Fill it as a person would in a spreadsheet program: example rows out, ours in.
                with saved.open("rb") as fh:
                    wb = load_workbook(fh)
                for title, rows in ROWS.items():
                    ws = wb[title]
                    ws.delete_rows(2)
                    for row in rows:
                        ws.append(row)
                wb.save(saved)

                page.set_input_files("#roster-file", str(saved))
                page.click("button[value=preview]")
                page.wait_for_selector("#roster-counts")
                self.assertIn("预览", page.inner_text("main"))
                counts = page.inner_text("#roster-counts tr[data-kind=students]")
                self.assertIn("2", counts)
                self.assertTrue(page.evaluate(NO_OVERFLOW), "the preview overflows sideways on a phone")
                page.screenshot(path=str(SHOTS / "roster-preview-phone.png"), full_page=True)
                self.assertFalse(Student.objects.filter(user__username="20239001").exists())
                # Playwright's loop is another context to Django: that query opened a connection of
                # its own, which would outlive the test and block dropping the test database.
                connections.close_all()

                page.click("button[value=confirm]")
                page.wait_for_selector(".badge.text-bg-success")
                # Let the page's own requests (the inbox badge) finish before the server stops.
                page.wait_for_load_state("networkidle")
                page.screenshot(path=str(SHOTS / "roster-imported-phone.png"), full_page=True)
            finally:
                browser.close()

        students = Student.objects.filter(user__username__in=["20239001", "20239002"]).select_related("klass")
        self.assertEqual(sorted((s.user.username, s.klass.code) for s in students),
                         [("20239001", "CA-1"), ("20239002", "CA-2")])
        self.assertEqual(Guardian.objects.get(student__user__username="20239001").phone, "13800138000")
        event = AuditEvent.objects.get(action="roster.import")
        self.assertEqual(event.actor.username, "T1004")
        self.assertEqual(event.object_id, saved.name[:64])
