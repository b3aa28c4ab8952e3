"""The whole screening path in a real browser, as the issue's "done when" reads: the centre
director creates and launches a campaign on a laptop; a student takes it on a 360-px phone and
reports thoughts of self-harm (PHQ-9 item 9); the student's 辅导员 gets a red alert at once; the
psychology teacher finds the urgent interview on a phone and records the outcome, which sets the
student's risk level. Debian's chromium. Screenshots: test-artifacts/screening-e2e-*.png."""

from __future__ import annotations

import os

from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from xinlian.care.models import Alert, AlertSource, RiskEntry
from xinlian.network.models import Role
from xinlian.screening.models import Campaign, Instrument, Interview, Result, act_on_submissions

from .base import PASSWORD, NetworkTestCase, make_staff
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from .twostep import pass_second_step

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

LAPTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 2}
NO_SIDEWAYS = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


class ScreeningEndToEndTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        Instrument.sync_builtin()
        self.teacher = make_staff("T1006", "孙老师", Role.COUNSELLOR, self.school)
        ARTIFACTS.mkdir(exist_ok=True)

    def page_as(self, browser, number: str, device: dict):  # noqa: ANN001, ANN201
        page = browser.new_context(**device, locale="zh-CN").new_page()
        page.goto(f"{self.live_server_url}/login/")
        page.fill("input[name=username]", number)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit].btn-primary")
        pass_second_step(page, number)
        page.wait_for_url(f"{self.live_server_url}/")
        return page

    def shot(self, page, name: str) -> None:  # noqa: ANN001
        page.screenshot(path=str(ARTIFACTS / f"screening-e2e-{name}.png"), full_page=True)

    def test_create_take_alert_interview(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        phq = Instrument.latest("PHQ9")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                # 1. The director creates the campaign and launches it (laptop).
                director = self.page_as(browser, "T1004", LAPTOP)
                director.goto(f"{self.live_server_url}/screening/campaigns/new/")
                director.fill("input[name=name]", "2026秋季心理普查")
                director.check(f"input[name=instruments][value='{phq.pk}']")
                director.fill("textarea[name=purpose]", "了解同学们的心理状况，结果仅心理中心和辅导员可见。")
                director.click("#save-campaign")
                director.wait_for_selector("#launch")
                campaign = Campaign.objects.get(name="2026秋季心理普查")
                director.click("#launch")
                director.wait_for_load_state("networkidle")
                self.assertEqual(campaign.assignments.count(), 7)
                self.shot(director, "director-campaign")

                # 2. The student takes it on a phone, from the home page.
                student = self.page_as(browser, "S0001", PHONE)
                student.click(f"a[href='/screening/a/{campaign.assignments.get(student=self.student_a1).pk}/']")
                student.click("#consent-agree")
                student.wait_for_selector("#scr-next")
                ci = campaign.campaign_instruments.get()
                answers = {n: 0 for n in range(1, 11)}
                answers[9] = 1  # several days: thoughts of being better off dead
                answers[1] = 2
                for item, value in answers.items():
                    label = student.locator(f"label[for=a-{ci.pk}-{item}-{value}]")
                    if not label.is_visible():
                        student.click("#scr-next")
                    label.tap()
                self.assertTrue(student.evaluate(NO_SIDEWAYS))
                self.shot(student, "student-question")
                student.click("#scr-submit")
                student.wait_for_url("**/thanks/")
                body = student.inner_text("main")
                self.assertIn("12356", body)
                self.assertNotIn("PHQ", body)  # no score, no instrument verdict
                self.shot(student, "student-thanks")

                # The worker's next pass (within a second of the submit in a deployment) acts:
                # a red alert and an urgent interview.
                result = Result.objects.get(campaign=campaign)
                self.assertTrue(result.critical)
                self.assertEqual(act_on_submissions(), 1)
                alert = Alert.objects.get(student=self.student_a1)
                self.assertEqual((alert.level, alert.source), ("red", AlertSource.SCREENING))
                interview = Interview.objects.get(student=self.student_a1)
                self.assertTrue(interview.urgent)
                self.assertEqual(interview.assigned_to, self.teacher)
                self.assertIsNone(RiskEntry.current_for(self.student_a1))

                # 3. The 辅导员 sees the red alert in the inbox.
                fudaoyuan = self.page_as(browser, "T1001", PHONE)
                fudaoyuan.goto(f"{self.live_server_url}/care/alerts/")
                self.assertIn("张小明", fudaoyuan.inner_text("main"))

                # 4. The psychology teacher records the interview on a phone.
                teacher = self.page_as(browser, "T1006", PHONE)
                teacher.goto(f"{self.live_server_url}/screening/interviews/")
                teacher.click(f"a[href='/screening/interviews/{interview.pk}/']")
                teacher.check("#oc-orange", force=True)
                teacher.fill("textarea[name=notes]", "约谈后情绪低落，已约定每周面谈一次。")
                teacher.click("#record-interview")
                teacher.wait_for_load_state("networkidle")
                self.assertTrue(teacher.evaluate(NO_SIDEWAYS))
                self.shot(teacher, "teacher-interview")
            finally:
                browser.close()
        self.assertEqual(RiskEntry.current_for(self.student_a1).level, "orange")
        interview.refresh_from_db()
        self.assertEqual(interview.status, "done")
        self.assertEqual(interview.notes, "约谈后情绪低落，已约定每周面谈一次。")
        from django.db import connection
        with connection.cursor() as cur:  # the notes are stored encrypted
            cur.execute("SELECT notes FROM screening_interview WHERE id = %s", [interview.pk])
            self.assertNotIn("每周面谈", cur.fetchone()[0])
