"""The staff screening pages in a real browser, at a laptop's width (1280 px) and a phone's
(390 px): the centre director follows a campaign's progress, drills down to a class, and opens a
student's results — on screen and as printed. Debian's chromium; never downloads a browser.

Screenshots go to test-artifacts/screening-staff-*.png."""

from __future__ import annotations

import os
import uuid

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.urls import reverse

from xinlian.screening.models import Assignment

from .base import PASSWORD, NetworkTestCase
from .screening_base import answers_for, ensure_sweep_objects
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .twostep import pass_second_step

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

LAPTOP = {"viewport": {"width": 1280, "height": 900}}


class StaffScreeningInTheBrowserTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        # A live-server test case flushes the database after each test: build everything here.
        cls = type(self)
        NetworkTestCase.setUpTestData.__func__(cls)  # type: ignore[attr-defined]
        cls.scr_campaign = None
        ensure_sweep_objects(cls)
        # A little more progress to look at: one declined, one positive without a critical item.
        campaign = cls.scr_campaign
        Assignment.objects.get(campaign=campaign, student=self.classmate_a1).consent(False, 1)
        roommate = Assignment.objects.get(campaign=campaign, student=self.roommate_a1)
        roommate.consent(True, 1)
        answers = answers_for(cls.scr_instrument, 2)
        answers[9] = 0
        for item, value in answers.items():
            roommate.save_answer(cls.scr_ci.pk, item, value, 4.0)
        roommate.submit(uuid.uuid4().hex)
        ARTIFACTS.mkdir(exist_ok=True)

    def shot(self, page, name: str) -> None:  # noqa: ANN001
        page.screenshot(path=str(ARTIFACTS / f"screening-staff-{name}.png"), full_page=True)

    def login(self, browser, device: dict, next_path: str):  # noqa: ANN001, ANN201
        page = browser.new_context(**device, locale="zh-CN").new_page()
        page.goto(f"{self.live_server_url}/login/?next={next_path}")
        page.fill("input[name=username]", "T1004")  # the centre director
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit].btn-primary")
        pass_second_step(page, "T1004")
        page.wait_for_url(f"{self.live_server_url}{next_path}")
        return page

    def test_director_follows_progress_and_reads_a_result(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        detail = reverse("screening:campaign-detail", args=[self.scr_campaign.pk])
        result = reverse("screening:result-detail", args=[self.scr_assignment_a1.pk])
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                for name, device in (("laptop", LAPTOP), ("phone", PHONE)):
                    page = self.login(browser, device, detail)
                    table = page.inner_text("#progress-table")
                    self.assertIn("计算机学院", table)
                    self.assertIn("外国语学院", table)
                    self.assertTrue(page.evaluate(NO_OVERFLOW), f"campaign page overflows ({name})")
                    self.shot(page, f"campaign-{name}")

                    # Drill down: college A, then class A1 — who has not finished.
                    page.click(f"#progress-table a[href$='/unit/{self.college_a.pk}/']")
                    page.wait_for_url(f"**/unit/{self.college_a.pk}/")
                    page.click(f"#progress-table a[href$='/unit/{self.class_a1.pk}/']")
                    page.wait_for_url(f"**/unit/{self.class_a1.pk}/")
                    waiting = page.inner_text("#waiting-list")
                    self.assertIn("王芳", waiting)        # declined
                    self.assertNotIn("张小明", waiting)   # completed
                    self.assertTrue(page.evaluate(NO_OVERFLOW), f"class page overflows ({name})")
                    self.shot(page, f"class-{name}")

                    for other in ("campaign-new", "campaign-report", "interview-list"):
                        args = [self.scr_campaign.pk] if other == "campaign-report" else []
                        page.goto(f"{self.live_server_url}{reverse(f'screening:{other}', args=args)}")
                        self.assertTrue(page.evaluate(NO_OVERFLOW), f"{other} overflows ({name})")
                        self.shot(page, f"{other}-{name}")

                    page.goto(f"{self.live_server_url}{result}")
                    self.assertIn("PHQ-9", page.inner_text("main"))
                    self.assertTrue(page.is_visible(".xl-critical"))
                    self.assertTrue(page.evaluate(NO_OVERFLOW), f"result page overflows ({name})")
                    self.shot(page, f"result-{name}")

                # On paper: no navigation, black on white.
                page.emulate_media(media="print")
                self.assertFalse(page.is_visible(".xl-navbar"))
                self.assertFalse(page.is_visible("button[onclick]"))
                colour = page.evaluate("getComputedStyle(document.body).backgroundColor")
                self.assertEqual(colour, "rgb(255, 255, 255)")
                self.shot(page, "result-print")
            finally:
                browser.close()
