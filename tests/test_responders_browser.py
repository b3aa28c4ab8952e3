"""Issue 10 in a real browser: the 班主任 asked to acknowledge a red alert reads what was
reported, at 390 px and 1280 px; the centre director sends a closure back with a comment.
Debian's chromium; screenshots in /tmp/shots-F/ (and test-artifacts/)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.urls import reverse

from xinlian.care.models import Case, CaseRecord, Concern
from xinlian.network.models import Guardian

from .base import PASSWORD, NetworkTestCase
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .test_care_pages import put_up_for_closure
from .twostep import pass_second_step

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

LAPTOP = {"viewport": {"width": 1280, "height": 900}}
SHOTS = Path("/tmp/shots-F")
SEEN = "晚自习后在走廊哭，说家里出了事，不想回宿舍"


class RespondersInTheBrowserTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        ARTIFACTS.mkdir(exist_ok=True)
        SHOTS.mkdir(exist_ok=True)

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        page.screenshot(path=str(ARTIFACTS / f"responders-{name}.png"), full_page=True)

    def login(self, browser, number: str, device: dict, next_path: str, locale: str = "zh-CN"):
        page = browser.new_context(**device, locale=locale).new_page()
        page.goto(f"{self.live_server_url}/login/?next={next_path}")
        page.fill("input[name=username]", number)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit].btn-primary")
        pass_second_step(page, number)
        page.wait_for_url(f"{self.live_server_url}{next_path}")
        return page

    def test_head_teacher_reads_the_red_alert_and_the_director_sends_a_closure_back(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        Guardian.objects.create(student=self.student_a1, name="张父", relation="father",
                                phone="13800138000", is_primary=True)
        concern, _ = Concern.submit(key=uuid.uuid4(), reporter=self.liaison_a1, student=self.student_a1,
                                    category="self_harm", urgency="now", seen=SEEN)
        alert = concern.alerts.get()
        case = Case.open_for(self.student_a2, by=self.director)
        put_up_for_closure(case, self.counsellor_a, "两周情绪平稳")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                for name, device in (("phone", PHONE), ("laptop", LAPTOP)):
                    page = self.login(browser, "T1002", device, alert.get_absolute_url())
                    self.assertIn(SEEN, page.inner_text("#concern-detail"))
                    self.assertTrue(page.is_visible("#ack-form"))
                    self.assertEqual(page.locator("#tri-no_action").count(), 0)  # 无需处理 not offered
                    self.assertTrue(page.evaluate(NO_OVERFLOW), f"the alert overflows sideways ({name})")
                    self.shot(page, f"head-teacher-alert-{name}")
                    page.goto(f"{self.live_server_url}/students/{self.student_a1.pk}/")
                    self.assertIn("13800138000", page.inner_text("#care-section"))
                    self.assertTrue(page.evaluate(NO_OVERFLOW), f"the student file overflows ({name})")
                    self.shot(page, f"head-teacher-student-{name}")
                    page.context.close()
                page = self.login(browser, "T1004", PHONE, case.get_absolute_url(), locale="en-US")
                page.fill("#send-back-form textarea", "先补充返校评估")
                self.assertTrue(page.evaluate(NO_OVERFLOW), "the case overflows sideways on a phone")
                self.shot(page, "director-case-review-phone")
                page.click("#send-back-form button[type=submit]")
                page.wait_for_url(f"**{case.get_absolute_url()}")
                self.shot(page, "director-case-sent-back-phone")
                page.context.close()
            finally:
                browser.close()
        case.refresh_from_db()
        self.assertEqual(case.status, "open")
        self.assertEqual(CaseRecord.objects.get(case=case, kind="closure_returned").content["comment"],
                         "先补充返校评估")


class ScreeningAlertInTheBrowserTests(StaticLiveServerTestCase):
    """A critical answer with a minimal band: the 班主任 reads why the screening raised the alert,
    the 辅导员 opens the result (badged critical, never negative); the student's consent text."""

    def setUp(self) -> None:
        import datetime as dt

        from django.utils import timezone

        from xinlian.screening.models import Assignment, Campaign, CampaignInstrument, Instrument

        from .screening_base import PURPOSE

        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        Instrument.sync_builtin()
        now = timezone.now()
        self.campaign = Campaign.objects.create(
            school=self.school, name="2026秋季心理普查", opens_at=now - dt.timedelta(days=1),
            closes_at=now + dt.timedelta(days=13), purpose=PURPOSE, created_by=self.director)
        CampaignInstrument.objects.create(campaign=self.campaign, instrument=Instrument.latest("PHQ9"), order=0)
        self.campaign.launch(self.director)
        self.a = Assignment.objects.get(campaign=self.campaign, user=self.student_a1.user)
        self.untaken = Assignment.objects.get(campaign=self.campaign, user=self.classmate_a1.user)
        SHOTS.mkdir(exist_ok=True)
        ARTIFACTS.mkdir(exist_ok=True)

    shot = RespondersInTheBrowserTests.shot
    login = RespondersInTheBrowserTests.login

    def test_the_alert_says_why_and_the_consent_says_who(self) -> None:
        from playwright.sync_api import sync_playwright

        from xinlian.care.models import Alert
        from xinlian.screening.models import act_on_submissions

        from .screening_base import answers_for

        ci = self.campaign.campaign_instruments.get()
        self.a.consent(True, self.campaign.consent_version)
        answers = answers_for(ci.instrument, 0)
        answers[9] = 1
        for item, value in answers.items():
            self.a.save_answer(ci.pk, item, value, 4.0)
        self.a.submit(uuid.uuid4().hex)
        act_on_submissions()
        alert = Alert.objects.get(student=self.student_a1)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                for name, device in (("phone", PHONE), ("laptop", LAPTOP)):
                    page = self.login(browser, "T1002", device, alert.get_absolute_url())
                    self.assertIn("PHQ-9", page.inner_text("#alert-reason"))
                    self.assertEqual(page.locator("#alert-result-link").count(), 0)
                    self.assertTrue(page.evaluate(NO_OVERFLOW), f"the screening alert overflows ({name})")
                    self.shot(page, f"head-teacher-screening-alert-{name}")
                    page.context.close()
                page = self.login(browser, "T1001", PHONE, alert.get_absolute_url())
                page.click("#alert-result-link")
                page.wait_for_url(f"**{reverse('screening:result-detail', args=[self.a.pk])}")
                self.assertTrue(page.is_visible(".xl-critical-badge"))
                self.shot(page, "fudaoyuan-result-critical-phone")
                page.context.close()
                take = reverse("screening:take", args=[self.untaken.pk])
                for name, device in (("phone", PHONE), ("laptop", LAPTOP)):
                    page = self.login(browser, "S0003", device, take)
                    text = page.inner_text("#scr-visibility")
                    self.assertIn("班主任", text)
                    self.assertIn("立即收到预警", text)
                    self.assertTrue(page.evaluate(NO_OVERFLOW), f"the consent overflows ({name})")
                    self.shot(page, f"student-consent-{name}")
                    page.context.close()
            finally:
                browser.close()
