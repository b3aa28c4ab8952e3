"""The night path in a real browser on a phone (390×844), at a simulated night: the centre's
office hours (notify's OfficeHours, read by is_out_of_hours and the rota) are set to have ended
just after midnight, so "now" is tonight's duty shift. A dorm liaison reports self-harm talk;
the confirmation shows tel: buttons for 120, 110, the 辅导员 and the night duty line, and the
duty person on the first line is alerted as well as the student's own people. The centre
director adds a shift on the rota page; the duty person sees it on their home page.

Screenshots: test-artifacts/rota-*.png."""

from __future__ import annotations

import datetime as dt
import os
from urllib.parse import urlsplit

from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from xinlian.care import rota
from xinlian.care.models import AlertDuty, Concern, DutyLine, DutyRole, DutyShift, ShiftKind
from xinlian.network.models import Role
from xinlian.notify.models import Channel, Delivery

from .base import PASSWORD, NetworkTestCase, make_staff
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .test_urgent_numbers import make_night
from .twostep import pass_second_step

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

FDY_PHONE = "13800000001"
NIGHT_LINE = "0571-88886666"


class NightPathInTheBrowserTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        # A live-server test case flushes the database after each test: build the personas here.
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        ARTIFACTS.mkdir(exist_ok=True)
        self.counsellor_a.phone = FDY_PHONE
        self.counsellor_a.save()
        self.duty_fdy = make_staff("T3001", "何值班", Role.HEAD_TEACHER, self.class_a2)
        DutyLine.objects.create(school=self.school, night_phone=NIGHT_LINE, centre_phone="0571-88881234")
        self.tonight = make_night()
        DutyShift.objects.create(unit=self.college_a, date=self.tonight, kind=ShiftKind.NIGHT,
                                 role=DutyRole.FIRST_LINE, person=self.duty_fdy)

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"rota-{name}.png"), full_page=True)

    def login(self, browser, number: str, next_path: str):
        page = browser.new_context(**PHONE, locale="zh-CN").new_page()
        page.goto(f"{self.live_server_url}/login/?next={next_path}")
        page.fill("input[name=username]", number)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit].btn-primary")
        pass_second_step(page, number)
        page.wait_for_url(f"{self.live_server_url}{next_path}")
        return page

    def test_a_report_at_night_shows_the_numbers_and_reaches_the_duty(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                self.liaison_reports_at_night(browser)
                self.director_fills_a_gap(browser)
                self.duty_person_sees_the_shift(browser)
            finally:
                browser.close()

    def liaison_reports_at_night(self, browser) -> None:
        page = self.login(browser, "S0007", "/care/report/")
        page.click(f"label[for=st-{self.roommate_a1.pk}]")
        page.click("label[for=cat-self_harm]")
        page.click("label[for=urg-now]")
        page.fill("textarea[name=seen]", "凌晨两点在宿舍说不想活了")
        page.click("#send-report")
        page.wait_for_url("**/care/reports/?sent=*")
        url = urlsplit(page.url)
        concern = Concern.objects.get()
        self.assertEqual(f"{url.path}?{url.query}", f"/care/reports/?sent={concern.pk}")  # no name, no text
        urgent = page.locator(".xl-urgent")
        hrefs = [a.get_attribute("href") for a in urgent.locator("a").all()]
        self.assertEqual(hrefs, ["tel:120", "tel:110", f"tel:{FDY_PHONE}", f"tel:{NIGHT_LINE}"])
        for button in urgent.locator("a.xl-call").all():
            box = button.bounding_box()
            self.assertGreaterEqual(box["height"], 44)  # a thumb's target at 2 a.m.
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the confirmation overflows sideways on a phone")
        self.shot(page, "phone-confirmation-night")
        page.context.close()
        alert = concern.alerts.get()
        self.assertEqual((alert.level, alert.duty_step), ("red", 0))
        self.assertTrue(AlertDuty.objects.filter(alert=alert, person=self.duty_fdy).exists())
        for user in (self.duty_fdy, self.counsellor_a, self.head_teacher_a1, self.director):
            self.assertTrue(Delivery.objects.filter(channel=Channel.INBOX, recipient=user).exists(),
                            user.username)

    def director_fills_a_gap(self, browser) -> None:
        gap = self.tonight + dt.timedelta(days=1)
        self.assertIn((self.college_a, gap), rota.gaps([self.college_a], self.tonight))
        page = self.login(browser, "T1004", "/care/rota/")
        self.assertIn("示范大学", page.inner_text("h1"))
        page.click(f"#rota-units a[href='/care/rota/{self.college_a.pk}/']")
        page.wait_for_url(f"**/care/rota/{self.college_a.pk}/")
        self.assertIn(gap.strftime("%m-%d"), page.inner_text("#rota-gaps"))
        page.fill("#f-date", gap.isoformat())
        page.select_option("#f-kind", "night")
        page.select_option("#f-role", "first_line")
        page.select_option("#f-person", str(self.duty_fdy.pk))
        page.fill("#f-phone", "13900000009")
        page.click("#rota-add button[type=submit]")
        page.wait_for_url(f"**/care/rota/{self.college_a.pk}/?start=*")
        day = page.locator(f"section[data-date='{gap.isoformat()}']")
        self.assertIn("何值班", day.inner_text())
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the rota overflows sideways on a phone")
        self.shot(page, "phone-week")
        self.assertEqual(DutyShift.objects.get(date=gap, person=self.duty_fdy).phone, "13900000009")
        page.context.close()

    def duty_person_sees_the_shift(self, browser) -> None:
        page = self.login(browser, "T3001", "/")
        shifts = page.inner_text("#home-duty-shifts")
        self.assertEqual(shifts.count("计算机学院"), 2)  # tonight and tomorrow night
        self.shot(page, "phone-home-duty")
        page.context.close()


COLLEGES = ["新闻学院", "机械工程学院", "经济管理学院", "法学院", "医学院", "艺术学院", "数学学院",
            "物理学院", "化学学院"]  # with college A and B: eleven colleges


class GapSummaryInTheBrowserTests(StaticLiveServerTestCase):
    """An empty rota in a school of eleven colleges: the school's page summarises each college in
    one line linking to its rota; a college's own page keeps every date. Phone and desktop."""

    def setUp(self) -> None:
        from xinlian.network.models import UnitKind

        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        ARTIFACTS.mkdir(exist_ok=True)
        for n, name in enumerate(COLLEGES):
            self.school.add_unit(kind=UnitKind.COLLEGE, code=f"C{n:02d}", name=name, name_en=f"College {n}")

    def test_the_school_page_summarises_and_the_college_page_lists(self) -> None:
        from django.utils import timezone
        from playwright.sync_api import sync_playwright

        today = timezone.localdate()
        week = [today + dt.timedelta(days=i) for i in range(7)]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                for name, viewport in (("phone", PHONE), ("desktop", {"viewport": {"width": 1280, "height": 900}})):
                    page = browser.new_context(**viewport, locale="zh-CN").new_page()
                    page.goto(f"{self.live_server_url}/login/?next=/care/rota/")
                    page.fill("input[name=username]", "T1004")
                    page.fill("input[name=password]", PASSWORD)
                    page.click("button[type=submit].btn-primary")
                    pass_second_step(page, "T1004")
                    page.wait_for_url(f"{self.live_server_url}/care/rota/")
                    own = page.inner_text("#rota-gaps-own")
                    self.assertIn("示范大学", own)
                    for day in week:  # the school's own nights, each named
                        self.assertIn(day.strftime("%m-%d"), own)
                    lines = page.locator("#rota-gaps-units li")
                    self.assertEqual(lines.count(), 11)
                    first = lines.first.inner_text()
                    self.assertIn("7 晚无人值班", first)
                    self.assertIn(f"({week[0].month}月{week[0].day}日–{week[-1].month}月{week[-1].day}日)", first)
                    self.assertNotIn(week[3].strftime("%m-%d"), page.inner_text("#rota-gaps-units"))
                    self.assertTrue(page.evaluate(NO_OVERFLOW), f"the rota overflows sideways ({name})")
                    page.screenshot(path=str(ARTIFACTS / f"rota-{name}-gap-summary.png"), full_page=True)
                    page.locator("#rota-gaps").screenshot(path=str(ARTIFACTS / f"rota-{name}-gap-list.png"))
                    lines.filter(has_text="法学院").locator("a").click()
                    page.wait_for_url("**/care/rota/*/")
                    own = page.inner_text("#rota-gaps-own")
                    self.assertIn("法学院", own)
                    self.assertEqual(sum(day.strftime("%m-%d") in own for day in week), 7)
                    self.assertEqual(page.locator("#rota-gaps-units").count(), 0)
                    box = page.locator("#rota-units .active").bounding_box()  # the open one in view
                    self.assertTrue(0 <= box["x"] and box["x"] + box["width"] <= viewport["viewport"]["width"], box)
                    self.assertEqual(page.locator("section.xl-rota-day.xl-gap").count(), 7)
                    page.screenshot(path=str(ARTIFACTS / f"rota-{name}-college-gaps.png"), full_page=True)
                    page.screenshot(path=str(ARTIFACTS / f"rota-{name}-college-top.png"))
                    page.context.close()
            finally:
                browser.close()
