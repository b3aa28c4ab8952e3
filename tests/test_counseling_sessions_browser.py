"""Issue 11's "done when", in a real browser: a student on a 390 px phone books (the booking
page), gets the reminder the day before (the reminder job, then their inbox), and attends; the
counsellor at a 1280 px laptop opens the day view, taps "attended" and records the session with
a marker in the notes; the director's load pages (the session list, the API list) show that the
session exists and whether the student came, never the notes (the director reads them on the
session page: a tier-5 reader); the student's 辅导员 sees nothing of it — no booking, no session,
no "in counselling". In Chinese, then the counsellor's pages in English. Debian's chromium.

Screenshots go to test-artifacts/counseling-sessions-*.png."""

from __future__ import annotations

import datetime as dt
import os

from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from xinlian.counseling import rules
from xinlian.counseling.models import Booking, Session

from . import test_counseling_browser as first_slice
from .base import NetworkTestCase
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .test_counseling_base import add_time, setup_counseling

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

NOTES = "MKR-T5-notes-browser-S0001"


class SessionFlowInTheBrowserTests(StaticLiveServerTestCase):
    # The first slice's browser steps (its class is not imported here: pytest would run it twice).
    login = first_slice.BookingInTheBrowserTests.login
    signed_in = first_slice.BookingInTheBrowserTests.signed_in
    book = first_slice.BookingInTheBrowserTests.book

    def setUp(self) -> None:
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        setup_counseling(type(self))
        self.slots = add_time(self.psy, self.school, 1, room=self.room)  # tomorrow 09:00, 10:00, 11:00
        ARTIFACTS.mkdir(exist_ok=True)

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"counseling-sessions-{name}.png"), full_page=True)

    def test_book_remind_attend_record_and_who_sees_what(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                self.student_books_and_is_reminded(browser)
                self.counsellor_records_at_a_laptop(browser)
                self.director_sees_the_load_not_the_notes(browser)
                self.fudaoyuan_sees_nothing(browser)
                self.counsellor_in_english(browser)
                self.a_group_and_a_walk_in(browser)
            finally:
                browser.close()

    def student_books_and_is_reminded(self, browser) -> None:
        page = self.login(browser, "S0001", PHONE, "/counseling/")
        self.book(page, self.slots[0].pk, "考试前总是睡不着")
        self.assertIn("预约成功", page.inner_text("main"))
        booking = Booking.objects.get(client=self.student_a1.user)
        # The worker's reminder job, run the evening before.
        day_before = rules.at_local(rules.local_day(booking.starts_at) - dt.timedelta(days=1), dt.time(18))
        self.assertEqual(rules.send_reminders(now=day_before), 1)
        page.goto(f"{self.live_server_url}/inbox/")
        self.assertIn(rules.when_text(booking.starts_at), page.inner_text("main"))
        self.assertIn("提醒", page.inner_text("main"))
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the inbox overflows sideways on a phone")
        self.shot(page, "phone-reminder")
        page.context.close()

    def day_url(self) -> str:
        return f"/counseling/day/?date={self.slots[0].local_start.date().isoformat()}"

    def counsellor_records_at_a_laptop(self, browser) -> None:
        booking = Booking.objects.get(client=self.student_a1.user)
        page = self.signed_in(browser, self.psy, first_slice.LAPTOP, self.day_url())
        line = page.locator(f"li[data-booking='{booking.pk}']")
        self.assertIn("张小明", line.inner_text())
        self.shot(page, "laptop-day")
        line.locator("button[data-tap=attended]").click()  # htmx: the line is replaced in place
        page.wait_for_selector("li[data-session] button[data-tap=attended][aria-pressed=true]")
        session = Session.objects.get(booking=booking)
        self.assertEqual(session.attendance, "attended")
        page.click(f"a[data-record='{session.pk}']")
        page.wait_for_selector("#record-form")
        page.fill("#presenting", "考试焦虑，入睡困难")
        page.fill("#assessment", "中度焦虑")
        page.fill("#intervention", "认知调整与放松训练")
        page.fill("#plan", "一周后复谈")
        page.fill("#notes", NOTES)
        self.assertFalse(page.is_visible("#life-confirm"))
        page.check("#risk-life")
        self.assertTrue(page.is_visible("#life-confirm"))  # the confirmation appears for "risk to life"
        self.shot(page, "laptop-life-confirm")
        # No risk seen (a level would put the student on the register, where their 辅导员 may
        # learn "in counselling": tests/test_counseling_sessions.py covers that path).
        page.check("#risk-none")
        page.click("#save-record")
        page.wait_for_selector(".alert-success")
        self.assertIn("咨询已记录", page.inner_text("main"))
        self.shot(page, "laptop-recorded")
        session.refresh_from_db()
        self.assertEqual((session.notes, session.risk), (NOTES, "none"))
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{self.live_server_url}{self.day_url()}")
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the day view overflows sideways on a phone")
        self.shot(page, "phone-day")
        page.goto(f"{self.live_server_url}/counseling/sessions/{session.pk}/")
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the session form overflows sideways on a phone")
        self.shot(page, "phone-session")
        page.context.close()

    def director_sees_the_load_not_the_notes(self, browser) -> None:
        session = Session.objects.get(booking__client=self.student_a1.user)
        page = self.signed_in(browser, self.director, first_slice.LAPTOP, "/counseling/sessions/")
        row = page.locator(f"tr[data-session='{session.pk}']")
        self.assertIn("张小明", row.inner_text())
        self.assertIn("出席", row.inner_text())
        self.assertNotIn(NOTES, page.content())
        self.shot(page, "laptop-director-sessions")
        for path in ("/counseling/overview/", "/counseling/staff/?all=1", "/api/v1/counseling/sessions/"):
            page.goto(f"{self.live_server_url}{path}")
            self.assertNotIn(NOTES, page.content(), path)
        # The director is a reader of the record (tier 5): on the session's own page.
        page.goto(f"{self.live_server_url}/counseling/sessions/{session.pk}/")
        self.assertIn(NOTES, page.content())
        page.context.close()

    def fudaoyuan_sees_nothing(self, browser) -> None:
        session = Session.objects.get(booking__client=self.student_a1.user)
        page = self.signed_in(browser, self.counsellor_a, first_slice.LAPTOP, f"/students/{self.student_a1.pk}/")
        text = page.inner_text("main")
        self.assertIn("张小明", text)
        for word in ("咨询", NOTES, "沈咨询"):
            self.assertNotIn(word, text)
        self.shot(page, "laptop-fudaoyuan-student")
        for path in (self.day_url(), f"/counseling/sessions/{session.pk}/", "/counseling/sessions/",
                     f"/counseling/bookings/{session.booking_id}/", f"/api/v1/counseling/sessions/{session.pk}/"):
            response = page.goto(f"{self.live_server_url}{path}")
            self.assertEqual(response.status, 404, path)
            self.assertNotIn(NOTES, page.content())
        page.context.close()

    def counsellor_in_english(self, browser) -> None:
        other = Booking.objects.create(slot=self.slots[1], client=self.student_a2.user, student=self.student_a2,
                                       starts_at=self.slots[1].starts_at, topic="x")
        page = self.signed_in(browser, self.psy, first_slice.LAPTOP, self.day_url())
        page.click(".navbar-toggler") if page.is_visible(".navbar-toggler") else None
        page.click("#xl-nav button[value=en]")
        page.wait_for_selector("html[lang=en]")
        page.goto(f"{self.live_server_url}{self.day_url()}")
        line = page.locator(f"li[data-booking='{other.pk}']")
        self.assertIn("Did not come", line.inner_text())
        line.locator("button[data-tap=no_show]").click()
        page.wait_for_selector("li[data-session] button[data-tap=no_show][aria-pressed=true]")
        self.shot(page, "laptop-day-en")
        session = Session.objects.get(booking=other)
        page.goto(f"{self.live_server_url}/counseling/sessions/{session.pk}/")
        page.fill("#notes", "Did not come; call tomorrow.")
        page.check("#risk-life")
        page.click("#save-record")
        page.wait_for_selector("#refusal")
        self.assertIn("Confirm the risk to life", page.inner_text("main"))
        self.assertEqual(page.input_value("#notes"), "Did not come; call tomorrow.")  # nothing lost
        self.shot(page, "laptop-life-refused-en")
        session.refresh_from_db()
        self.assertEqual(session.notes, "")
        page.context.close()

    def a_group_and_a_walk_in(self, browser) -> None:
        from xinlian.counseling.models import CounselingGroup, GroupAttendance

        page = self.signed_in(browser, self.psy, first_slice.LAPTOP, "/counseling/groups/")
        page.fill("#name", "考试减压小组")
        page.fill("#capacity", "2")
        page.click("#group-form button[type=submit]")
        page.wait_for_selector("#member-form")
        for number in ("S0001", "S0004", "S0003"):
            page.fill("#member-form #client", number)
            page.click("#member-form button[type=submit]")
            page.wait_for_load_state()
        self.assertIn("团体已满（2 个名额）", page.inner_text("#refusal"))  # the third is refused
        page.click("#meeting-form button[type=submit]")
        page.wait_for_selector("#grid")
        page.locator("#grid tr[data-member] button[data-tap=attended]").first.click()
        page.wait_for_selector("#grid button[data-tap=attended].btn-success")
        self.shot(page, "laptop-group")
        group = CounselingGroup.objects.get()
        self.assertEqual(group.members.count(), 2)
        self.assertEqual(sorted(GroupAttendance.objects.values_list("attendance", flat=True)), ["attended", "planned"])
        page.set_viewport_size({"width": 390, "height": 844})
        page.reload()
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the group page overflows sideways on a phone")
        self.shot(page, "phone-group")
        page.goto(f"{self.live_server_url}/counseling/sessions/new/")
        page.fill("#client", "S0900")
        page.click("#walk-in-form button[type=submit]")
        page.wait_for_selector("#refusal")
        self.assertIn("本中心没有", page.inner_text("#refusal"))
        page.fill("#client", "S0003")
        page.select_option("#kind", "family")
        page.click("#walk-in-form button[type=submit]")
        page.wait_for_selector("#record-form #family_present")
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the session form overflows sideways on a phone")
        self.shot(page, "phone-family")
        page.context.close()
