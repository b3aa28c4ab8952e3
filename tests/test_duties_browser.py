"""Peer reports in a real browser (Debian's chromium, never a downloaded one), in zh-Hans and in
English: on a 390 px phone a 心理委员 files a zero report from the home page in under 5 taps
(counted) and another files a flagged one in under a minute; the 辅导员 signs it off at 1280 px;
the centre's completeness table shows the week, and drills down to the college.

Screenshots go to test-artifacts/duties-*.png."""

from __future__ import annotations

import datetime as dt
import os
import time

from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from xinlian.duties import cycles
from xinlian.duties.models import Report, ReportStatus
from xinlian.network.models import Post, Role

from .base import PASSWORD, NetworkTestCase, make_student
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .twostep import pass_second_step

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

LAPTOP = {"viewport": {"width": 1280, "height": 900}}
TEXT = {
    "zh": {"locale": "zh-CN", "zero": "本周无异常", "signed": "已签收", "table": "报告完成情况"},
    "en": {"locale": "en-US", "zero": "Nothing unusual this week", "signed": "Signed off",
           "table": "Report completeness"},
}


class PeerReportsInTheBrowserTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        # A live-server test case flushes the database after each test: build the personas here.
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        cycles.ensure_default_cycles(self.school)
        peer = make_student("S0101", "钱多多", self.class_a2)
        Post.objects.create(person=peer.user, unit=self.class_a2, role=Role.COMMITTEE_MEMBER,
                            starts_on=dt.date(2024, 9, 1))
        ARTIFACTS.mkdir(exist_ok=True)

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"duties-{name}.png"), full_page=True)

    def login(self, browser, number: str, device: dict, next_path: str, lang: str):
        context = browser.new_context(**device, locale=TEXT[lang]["locale"])
        context.add_cookies([{"name": "django_language", "value": "en" if lang == "en" else "zh-hans",
                              "url": self.live_server_url}])
        page = context.new_page()
        page.goto(f"{self.live_server_url}/login/?next={next_path}")
        page.fill("input[name=username]", number)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit].btn-primary")
        pass_second_step(page, number)
        page.wait_for_url(f"{self.live_server_url}{next_path}")
        return page

    def run_flow(self, lang: str) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                self.zero_report(browser, lang)
                self.flagged_report(browser, lang)
                self.fudaoyuan_signs_off(browser, lang)
                self.centre_sees_the_week(browser, lang)
            finally:
                browser.close()

    def test_in_chinese(self) -> None:
        self.run_flow("zh")

    def test_in_english(self) -> None:
        self.run_flow("en")

    def zero_report(self, browser, lang: str) -> None:
        page = self.login(browser, "S0006", PHONE, "/", lang)  # 刘洋, 心理委员 of class A1
        taps = 0
        self.shot(page, f"{lang}-390-home")
        page.click("#home-work li[data-kind=report] a.xl-work-title")  # the due report, on top
        taps += 1
        page.wait_for_url("**/duties/report/**")
        self.assertEqual(page.inner_text("#zero-report").strip(), TEXT[lang]["zero"])
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the report form overflows sideways on a phone")
        self.shot(page, f"{lang}-390-form")
        page.click("#zero-report")
        taps += 1
        page.wait_for_url("**/duties/?sent=*")
        self.assertLess(taps, 5)
        report = Report.objects.get(reporter__username="S0006")
        self.assertEqual((report.status, report.is_zero), (ReportStatus.SUBMITTED, True))
        self.shot(page, f"{lang}-390-zero-done")
        page.context.close()

    def flagged_report(self, browser, lang: str) -> None:
        page = self.login(browser, "S0101", PHONE, "/", lang)  # 钱多多, 心理委员 of class A2
        started = time.monotonic()
        page.click("#home-work li[data-kind=report] a.xl-work-title")
        page.wait_for_url("**/duties/report/**")
        options = page.inner_text("#flag-0-student")
        self.assertIn("赵磊", options)
        self.assertNotIn("张小明", options)  # another class's students are not offered
        page.click("#add-student")
        page.select_option("#flag-0-student", str(self.student_a2.pk))
        page.select_option("#flag-0-category", "sleep_eating")
        page.click("label[for=flag-0-urgency-soon]")
        page.fill("#flag-0-seen", "连续几天不去食堂，说吃不下")
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the flagged form overflows sideways on a phone")
        self.shot(page, f"{lang}-390-flagged")
        page.click("#submit-report")
        page.wait_for_url("**/duties/?sent=*")
        self.assertLess(time.monotonic() - started, 60)
        report = Report.objects.get(reporter__username="S0101")
        self.assertEqual([f.seen for f in report.flags.all()], ["连续几天不去食堂，说吃不下"])
        page.context.close()

    def fudaoyuan_signs_off(self, browser, lang: str) -> None:
        page = self.login(browser, "T1001", LAPTOP, "/duties/review/", lang)
        self.assertIn(self.class_a2.display_name if lang == "zh" else "Class A2", page.inner_text("#waiting-list"))
        self.shot(page, f"{lang}-1280-review")
        flagged = Report.objects.get(reporter__username="S0101")
        page.click(f"#waiting-list a[href='/duties/reports/{flagged.pk}/']")
        page.wait_for_url(f"**/duties/reports/{flagged.pk}/")
        self.assertIn("连续几天不去食堂", page.inner_text("#flag-list"))
        self.shot(page, f"{lang}-1280-report")
        page.click("#sign-off")
        page.wait_for_url("**/duties/review/")
        flagged.refresh_from_db()
        self.assertEqual(flagged.status, ReportStatus.SIGNED_OFF)
        page.goto(f"{self.live_server_url}/duties/reports/{flagged.pk}/")
        self.assertEqual(page.inner_text("#report-status").strip(), TEXT[lang]["signed"])
        page.context.close()

    def centre_sees_the_week(self, browser, lang: str) -> None:
        # The week the reports were filed for (the table opens on the week last due, which is
        # that one from its due day until the next: a run on a Thursday asks for it by name).
        report = Report.objects.get(reporter__username="S0006")
        path = f"/duties/completeness/?cycle={report.period.cycle_id}&period={report.period_id}"
        page = self.login(browser, "T1004", LAPTOP, "/duties/completeness/", lang)
        page.goto(f"{self.live_server_url}{path}")
        self.assertIn(TEXT[lang]["table"], page.inner_text("h1"))
        total = page.inner_text("#total-row").split()
        # The A1 and A2 reports, on time unless filed after the due day's midnight (the home page
        # offers last week's report during its grace days: then both are late).
        filed = Report.objects.filter(period=report.period)
        on_time = sum(r.submitted_at < report.period.deadline for r in filed)
        self.assertEqual(total[-7:], ["2", str(on_time), str(2 - on_time), "0", "1", "1", "100"])
        self.shot(page, f"{lang}-1280-completeness")
        page.click(f"#completeness a[href*='unit={self.college_a.pk}&']")
        page.wait_for_selector("#completeness")
        rows = page.inner_text("#completeness tbody")
        self.assertIn("2023级1班" if lang == "zh" else "Class A1", rows)
        page.set_viewport_size({"width": 390, "height": 844})
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the completeness page overflows sideways on a phone")
        self.shot(page, f"{lang}-390-completeness-college")
        page.context.close()
