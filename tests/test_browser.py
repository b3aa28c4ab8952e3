"""A head teacher on a phone, in a real browser: log in through the form, see their class,
no sideways scrolling, switch to English. Uses Debian's chromium; never downloads a browser."""

from __future__ import annotations

import os
from pathlib import Path

from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from xinlian.network.models import Duty, Frequency, Role

from .base import PASSWORD, NetworkTestCase
from .twostep import pass_second_step

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
NO_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"


class HeadTeacherOnPhoneTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        # A live-server test case flushes the database after each test: build the personas here.
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        Duty.objects.create(school=self.school, role=Role.HEAD_TEACHER, title="每周了解班级学生心理状况",
                            title_en="Check on the class's wellbeing every week",
                            frequency=Frequency.WEEKLY)
        ARTIFACTS.mkdir(exist_ok=True)

    def test_head_teacher_phone_journey(self) -> None:
        self.assertTrue(CHROMIUM.exists(),
                        "/usr/bin/chromium is missing: install Debian's chromium package "
                        "(apt-get install chromium); this test never downloads a browser")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_context(**PHONE, locale="zh-CN").new_page()
                page.goto(f"{self.live_server_url}/")
                self.assertIn("/login/", page.url)  # anonymous → login form
                page.screenshot(path=str(ARTIFACTS / "phone-login.png"), full_page=True)
                page.fill("input[name=username]", "T1002")
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit].btn-primary")
                pass_second_step(page, "T1002")
                page.wait_for_url(f"{self.live_server_url}/")

                body = page.inner_text("main")
                self.assertIn("2023级1班", body)
                self.assertIn("每周了解班级学生心理状况", body)
                self.assertTrue(page.evaluate(NO_OVERFLOW), "home overflows sideways on a phone")
                page.screenshot(path=str(ARTIFACTS / "phone-home.png"), full_page=True)

                page.click(f"a[href='/units/{self.class_a1.pk}/']")
                page.wait_for_url(f"**/units/{self.class_a1.pk}/")
                table = page.inner_text("#student-list")
                for name in ("张小明", "李华", "王芳"):
                    self.assertIn(name, table)
                self.assertNotIn("陈静", table)  # class B1
                self.assertNotIn("赵磊", table)  # class A2
                self.assertTrue(page.evaluate(NO_OVERFLOW), "class page overflows sideways on a phone")
                page.screenshot(path=str(ARTIFACTS / "phone-class.png"), full_page=True)

                # htmx live search narrows the list without a page load.
                page.fill("#student-q", "王")
                page.wait_for_function("!document.querySelector('#student-list').innerText.includes('张小明')")
                self.assertIn("王芳", page.inner_text("#student-list"))

                # The menu is collapsed on a phone; open it and switch language.
                self.assertFalse(page.is_visible("#xl-nav button[value=en]"))
                page.click(".navbar-toggler")
                page.click("#xl-nav button[value=en]")
                page.wait_for_selector("html[lang=en]")
                self.assertIn("Class A1", page.inner_text("main"))
                self.assertTrue(page.evaluate(NO_OVERFLOW), "English page overflows sideways")
                page.screenshot(path=str(ARTIFACTS / "phone-class-en.png"), full_page=True)
                page.goto(f"{self.live_server_url}/")
                self.assertIn("Check on the class's wellbeing every week", page.inner_text("main"))
                page.screenshot(path=str(ARTIFACTS / "phone-home-en.png"), full_page=True)
            finally:
                browser.close()
