"""A student answers a screening on a 360-px phone, in a real browser: consent, PHQ-9 by tapping,
a reload half-way (the answers are still there), a tap while offline (kept on the phone, sent
when back online), C-SSRS skip logic, submit, thank-you. Debian's chromium; never downloads a
browser. Screenshots: test-artifacts/screening-*.png."""

from __future__ import annotations

import datetime as dt
import os

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.utils import timezone

from xinlian.screening.models import (
    Assignment,
    AssignmentStatus,
    Campaign,
    CampaignInstrument,
    CentreSettings,
    Instrument,
    Response,
    Result,
)

from .base import PASSWORD, NetworkTestCase
from .screening_base import PURPOSE
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

PHONE_360 = {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True,
             "device_scale_factor": 2}
NO_SIDEWAYS = "document.documentElement.scrollWidth <= 360"


class StudentAnswersOnAPhoneTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        # A live-server test case flushes the database after each test: build everything here.
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        Instrument.sync_builtin()
        now = timezone.now()
        self.campaign = Campaign.objects.create(
            school=self.school, name="2026秋季心理普查", opens_at=now - dt.timedelta(days=1),
            closes_at=now + dt.timedelta(days=13), purpose=PURPOSE, created_by=self.director)
        self.phq, self.cssrs = (
            CampaignInstrument.objects.create(campaign=self.campaign, instrument=Instrument.latest(code),
                                              order=n)
            for n, code in enumerate(("PHQ9", "CSSRS")))
        self.campaign.launch(self.director)
        CentreSettings.objects.create(school=self.school, help_phone="010-6275 8888",
                                      help_hours="周一至周五 8:30–17:00", help_place="学生活动中心 3 楼")
        self.a = Assignment.objects.get(campaign=self.campaign, user=self.student_a1.user)
        ARTIFACTS.mkdir(exist_ok=True)

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"screening-{name}.png"), full_page=True)

    def tap(self, page, ci, item: int, index: int) -> None:
        page.tap(f"label[for=a-{ci.pk}-{item}-{index}]")
        # The change handler runs in the same task that checks the radio.
        page.wait_for_selector(f"#a-{ci.pk}-{item}-{index}:checked", state="attached")

    def turn(self, page, button: str, ci, first: int) -> None:
        """Next / Back, until the screen starting with ``first`` is shown."""
        page.tap(f"#scr-{button}")
        page.wait_for_selector(f"#q-{ci.pk}-{first}", state="visible")

    def wait_saved(self, page) -> None:
        """Until the phone's queue of unsent answers is empty."""
        page.wait_for_function(
            f"() => {{ var q = localStorage.getItem('xl-scr-queue-{self.a.pk}');"
            " return !q || q === '{}'; }", timeout=30000)

    def queued(self, page) -> str:
        return page.evaluate(f"localStorage.getItem('xl-scr-queue-{self.a.pk}') || ''")

    def saved(self, ci) -> dict[int, int]:
        resp = Response.objects.filter(assignment=self.a, campaign_instrument=ci).first()
        return resp.answers if resp else {}

    def visible_items(self, page, ci) -> list[int]:
        return page.evaluate(
            f"Array.prototype.map.call(document.querySelectorAll('#inst-{ci.pk} fieldset.xl-q'),"
            " function (f) { return f.offsetParent === null ? null : +f.getAttribute('data-item'); })"
            ".filter(function (n) { return n !== null; })")

    def test_consent_answer_offline_resume_submit(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                context = browser.new_context(**PHONE_360, locale="zh-CN")
                page = context.new_page()
                self.journey(context, page)
            finally:
                browser.close()

    def log_in(self, page) -> str:
        take = f"/screening/a/{self.a.pk}/"
        page.goto(f"{self.live_server_url}/login/?next={take}")
        page.fill("input[name=username]", "S0001")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit].btn-primary")
        page.wait_for_url(f"{self.live_server_url}{take}")
        return take

    def test_without_javascript_one_page_one_submit(self) -> None:
        """An old or locked-down browser: every question on one page, one real form."""
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_context(**PHONE_360, locale="zh-CN", java_script_enabled=False).new_page()
                self.log_in(page)
                page.click("#consent-agree")
                page.wait_for_selector("#scr-form")
                self.assertTrue(page.is_visible(f"#q-{self.phq.pk}-1"))
                self.assertTrue(page.is_visible(f"#q-{self.phq.pk}-10"))
                self.assertTrue(page.is_visible(f"#q-{self.cssrs.pk}-6"))
                self.assertFalse(page.is_visible(f"#q-{self.cssrs.pk}-3"))  # asked only after a yes to 2
                self.assertFalse(page.is_visible("#scr-next"))
                self.assertTrue(page.is_visible("#scr-submit"))
                for item in range(1, 11):
                    page.click(f"label[for=a-{self.phq.pk}-{item}-0]")
                page.click(f"label[for=a-{self.cssrs.pk}-1-1]")
                page.click(f"label[for=a-{self.cssrs.pk}-2-0]")  # yes: 3-5 must be answered now
                page.click(f"label[for=a-{self.cssrs.pk}-6-1]")
                self.assertTrue(page.evaluate(NO_SIDEWAYS))
                page.click("#scr-submit")
                page.wait_for_selector("#scr-error")
                self.assertIn("C-SSRS", page.inner_text("#scr-error"))
                self.assertTrue(page.is_visible(f"#q-{self.cssrs.pk}-3"))
                self.assertTrue(page.is_checked(f"#a-{self.phq.pk}-10-0"))  # nothing to answer again
                self.shot(page, "no-js-missing")
                for item in (3, 4, 5):
                    page.click(f"label[for=a-{self.cssrs.pk}-{item}-1]")
                page.click("#scr-submit")
                page.wait_for_url(f"**/screening/a/{self.a.pk}/thanks/")
            finally:
                browser.close()
        self.a.refresh_from_db()
        self.assertEqual(self.a.status, AssignmentStatus.SUBMITTED)
        self.assertEqual(Result.objects.filter(assignment=self.a).count(), 2)
        cssrs = Response.objects.get(assignment=self.a, campaign_instrument=self.cssrs)
        self.assertEqual(cssrs.answers, {1: 0, 2: 1, 3: 0, 4: 0, 5: 0, 6: 0})

    def journey(self, context, page) -> None:
        self.log_in(page)

        # Consent: the purpose and who sees the results, then agree.
        self.assertIn(self.campaign.purpose, page.inner_text("#scr-purpose"))
        self.assertTrue(page.is_visible("#scr-visibility"))
        self.assertTrue(page.evaluate(NO_SIDEWAYS), "the consent page scrolls sideways at 360 px")
        self.shot(page, "consent")
        page.tap("#consent-agree")
        page.wait_for_selector("#scr-next", state="visible")  # the script has paged the form
        self.a.refresh_from_db()
        self.assertTrue(self.a.consent_agreed)

        # Screen 1 of PHQ-9: five questions, big buttons, a progress bar.
        self.assertEqual(self.visible_items(page, self.phq), [1, 2, 3, 4, 5])
        self.assertEqual(self.visible_items(page, self.cssrs), [])
        box = page.locator(f"label[for=a-{self.phq.pk}-1-0]").bounding_box()
        self.assertGreaterEqual(box["height"], 48)
        self.assertGreaterEqual(box["width"], 280)  # full width on a 360-px screen
        self.assertFalse(page.is_visible("#scr-submit"))
        for item, value in ((1, 1), (2, 0), (3, 2)):
            self.tap(page, self.phq, item, value)
        self.wait_saved(page)
        self.assertEqual(self.saved(self.phq), {1: 1, 2: 0, 3: 2})
        self.assertIn("3", page.inner_text("#scr-count"))
        self.assertTrue(page.evaluate(NO_SIDEWAYS), "the questionnaire scrolls sideways at 360 px")
        self.shot(page, "question")
        page.evaluate("window.scrollTo({top: 0, behavior: 'instant'})")
        page.screenshot(path=str(ARTIFACTS / "screening-question-top.png"))

        # Closed and reopened half-way: the answers come back from the server.
        page.reload()
        page.wait_for_selector("#scr-next", state="visible")  # the script has paged the form
        for item, value in ((1, 1), (2, 0), (3, 2)):
            self.assertTrue(page.is_checked(f"#a-{self.phq.pk}-{item}-{value}"))
        self.assertEqual(self.visible_items(page, self.phq), [1, 2, 3, 4, 5])
        self.tap(page, self.phq, 4, 0)
        self.tap(page, self.phq, 5, 1)
        self.turn(page, "next", self.phq, 6)
        self.assertEqual(self.visible_items(page, self.phq), [6, 7, 8, 9, 10])
        self.assertEqual(page.evaluate("window.scrollY"), 0)  # a new screen starts at the top

        # Offline for one tap: kept on the phone, sent when the network is back.
        self.wait_saved(page)
        context.set_offline(True)
        self.tap(page, self.phq, 6, 1)
        page.wait_for_selector("#scr-status.xl-save-off")
        self.assertIn('"item":6', self.queued(page))
        self.shot(page, "offline")
        self.assertNotIn(6, self.saved(self.phq))
        context.set_offline(False)
        # (no manual event: chromium fires "online" itself)
        self.wait_saved(page)
        self.assertEqual(self.saved(self.phq)[6], 1)
        for item, value in ((7, 0), (8, 0), (9, 0), (10, 1)):
            self.tap(page, self.phq, item, value)
        self.wait_saved(page)

        # C-SSRS, one question a screen: yes to question 2 asks questions 3-5; no hides them again.
        self.turn(page, "next", self.cssrs, 1)
        self.assertEqual(self.visible_items(page, self.cssrs), [1])
        self.assertEqual(self.visible_items(page, self.phq), [])
        self.tap(page, self.cssrs, 1, 1)  # no
        self.turn(page, "next", self.cssrs, 2)
        self.tap(page, self.cssrs, 2, 0)  # yes
        self.turn(page, "next", self.cssrs, 3)
        self.assertEqual(self.visible_items(page, self.cssrs), [3])
        self.shot(page, "skip-logic")
        self.turn(page, "back", self.cssrs, 2)
        self.tap(page, self.cssrs, 2, 1)  # no, after all
        self.turn(page, "next", self.cssrs, 6)
        self.assertEqual(self.visible_items(page, self.cssrs), [6])
        self.assertFalse(page.is_visible("#scr-next"))
        self.assertTrue(page.is_visible("#scr-submit"))  # the last screen
        self.tap(page, self.cssrs, 6, 1)
        self.wait_saved(page)
        self.assertEqual(page.get_attribute("#scr-progress", "aria-valuenow"), "13")
        self.assertEqual(page.get_attribute("#scr-progress", "aria-valuemax"), "13")
        self.assertTrue(page.evaluate(NO_SIDEWAYS))

        page.tap("#scr-submit")
        page.wait_for_url(f"**/screening/a/{self.a.pk}/thanks/")
        text = page.inner_text("main")
        self.assertIn("12356", text)
        self.assertIn("010-6275 8888", text)
        self.assertTrue(page.evaluate(NO_SIDEWAYS), "the thank-you page scrolls sideways at 360 px")
        self.shot(page, "thanks")
        page.goto(f"{self.live_server_url}/screening/")
        self.assertIn(self.campaign.name, page.inner_text("#screening-list"))
        self.assertTrue(page.evaluate(NO_SIDEWAYS), "my screenings scrolls sideways at 360 px")
        self.shot(page, "mine")
        self.assertEqual(page.evaluate(f"localStorage.getItem('xl-scr-key-{self.a.pk}')"), None)

        self.a.refresh_from_db()
        self.assertEqual(self.a.status, AssignmentStatus.SUBMITTED)
        self.assertEqual(len(self.a.submit_key), 36)  # the browser's UUID, not the page's fallback
        self.assertEqual(Result.objects.filter(assignment=self.a).count(), 2)
        phq = Response.objects.get(assignment=self.a, campaign_instrument=self.phq)
        self.assertEqual(phq.answers, {1: 1, 2: 0, 3: 2, 4: 0, 5: 1, 6: 1, 7: 0, 8: 0, 9: 0, 10: 1})
        self.assertEqual(sorted(int(k) for k in phq.payload["seconds"]), list(range(1, 11)))
        self.assertTrue(all(s >= 0 for s in phq.payload["seconds"].values()))
        cssrs = Response.objects.get(assignment=self.a, campaign_instrument=self.cssrs)
        self.assertEqual(cssrs.answers, {1: 0, 2: 0, 6: 0})
        self.assertEqual(Result.objects.get(instrument__code="PHQ9").detail["scores"]["total"], 5)
