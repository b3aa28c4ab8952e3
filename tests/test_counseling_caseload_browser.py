"""The caseload pages in a real browser (Debian's chromium), in Chinese and in English: the
centre director's overview and week at a laptop's width (1280 px), a counsellor's caseload and
week on a phone (390 px) — nothing overflows sideways, the counts are the ones recorded, no
note is on the page. Screenshots go to test-artifacts/counseling-caseload-*.png."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from xinlian.counseling.models import Attendance, WaitlistEntry

from .base import NetworkTestCase
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .test_counseling_base import add_time, local_day, setup_counseling
from .test_counseling_caseload import NOTE, ago, ahead, book, episode, session

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

LAPTOP = {"viewport": {"width": 1280, "height": 900}}


class CaseloadInTheBrowserTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        setup_counseling(type(self))
        slots = add_time(self.psy, self.school, 2, room=self.room)
        add_time(self.psy2, self.school, 3, start="14:00", end="16:00")
        s1, s2 = self.student_a1, self.roommate_a1
        ep1 = episode(s1.user, self.psy, self.school, s1)
        ep2 = episode(s2.user, self.psy, self.school, s2)
        ep_t = episode(self.teacher_a, self.psy, self.school)
        ep4 = episode(self.student_a2.user, self.psy2, self.school, self.student_a2)
        session(ep1, ago(days=1))
        session(ep2, ago(days=3), minutes=60)
        session(ep2, ago(days=2), attendance=Attendance.NO_SHOW)
        session(ep_t, ahead(days=1), attendance=Attendance.PLANNED)
        session(ep4, ago(hours=5), risk="red", minutes=45)
        book(slots[0], s1.user, s1)
        book(slots[1], self.classmate_a1.user, self.classmate_a1, risk_now=True)
        WaitlistEntry.objects.create(client=self.student_b1.user, school=self.school, counsellor=self.psy,
                                     day_from=local_day(3), day_to=local_day(9))
        ARTIFACTS.mkdir(exist_ok=True)

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"counseling-caseload-{name}.png"), full_page=True)

    def signed_in(self, browser, user, device: dict, path: str, locale: str):
        self.client.force_login(user)
        session = self.client.session
        context = browser.new_context(**device, locale=locale)
        context.add_cookies([{"name": "sessionid", "value": session.session_key,
                              "domain": urlsplit(self.live_server_url).hostname, "path": "/"}])
        page = context.new_page()
        page.goto(f"{self.live_server_url}{path}")
        return page

    def test_overview_on_a_laptop_and_caseload_on_a_phone(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                for locale, lang in (("zh-CN", "zh"), ("en-US", "en")):
                    self.director_at_a_laptop(browser, locale, lang)
                    self.counsellor_on_a_phone(browser, locale, lang)
            finally:
                browser.close()

    def director_at_a_laptop(self, browser, locale: str, lang: str) -> None:
        page = self.signed_in(browser, self.director, LAPTOP, "/counseling/overview/", locale)
        page.wait_for_selector("#load")
        main = page.inner_text("main")
        self.assertIn("中心概览" if lang == "zh" else "Centre overview", main)
        self.assertIn("各咨询师工作量" if lang == "zh" else "Load per counsellor", main)
        row = page.locator(f"#load tr[data-counsellor='{self.psy.pk}']")
        self.assertEqual(row.locator("[data-col=clients]").inner_text(), "3")
        self.assertIn("33%", row.locator("[data-col=no-show-rate]").inner_text())
        self.assertEqual(page.inner_text("[data-count=urgent-bookings]"), "1")
        self.assertEqual(page.inner_text("[data-count=urgent-sessions]"), "1")
        self.assertNotIn(NOTE, page.content())
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the overview overflows sideways at 1280 px")
        self.shot(page, f"overview-1280-{lang}")
        page.click(f"#load tr[data-counsellor='{self.psy.pk}'] a[href*='/counseling/week/']")
        page.wait_for_selector("#week")
        self.assertEqual(page.locator("#week .xl-week-day").count(), 7)
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the week overflows sideways at 1280 px")
        # Seven columns side by side at a laptop's width.
        tops = page.eval_on_selector_all("#week .xl-week-day", "els => els.map(e => e.getBoundingClientRect().top)")
        self.assertEqual(len(set(round(t) for t in tops)), 1)
        self.shot(page, f"week-1280-{lang}")
        page.goto(f"{self.live_server_url}/counseling/week/")
        page.wait_for_selector("#week")
        self.shot(page, f"week-all-1280-{lang}")
        page.context.close()

    def counsellor_on_a_phone(self, browser, locale: str, lang: str) -> None:
        page = self.signed_in(browser, self.psy, PHONE, "/counseling/caseload/", locale)
        page.wait_for_selector("#clients")
        self.assertEqual(page.locator("#clients li[data-client]").count(), 3)
        self.assertEqual(page.inner_text("[data-count=without-next]"), "1")
        self.assertIn("李华", page.inner_text("#without-next"))
        self.assertIn("没有下次预约的来访者" if lang == "zh" else "Clients without a next appointment",
                      page.inner_text("main"))
        self.assertIn("陈静", page.inner_text("#waiting"))
        self.assertNotIn(NOTE, page.content())
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the caseload overflows sideways on a phone")
        self.shot(page, f"caseload-390-{lang}")
        page.goto(f"{self.live_server_url}/counseling/week/?start={local_day(0).isoformat()}")
        page.wait_for_selector("#week")
        # On a phone the week is a list of days, one under the other.
        tops = page.eval_on_selector_all("#week .xl-week-day", "els => els.map(e => e.getBoundingClientRect().top)")
        self.assertEqual(tops, sorted(tops))
        self.assertEqual(len(set(round(t) for t in tops)), 7)
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the week overflows sideways on a phone")
        self.shot(page, f"week-390-{lang}")
        page.context.close()
