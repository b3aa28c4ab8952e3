"""Training in a real browser (Debian's chromium), in zh-Hans and in English: at 390 px the
centre director opens the session from their home page's work item and records, with one tap,
that the class A1 心理委员 attended; at 1280 px the college's 辅导员 saw him "not yet
trained" before and sees him "trained" after, on the not-yet-trained list and on the class's
network page; the hours table shows his hours.

Screenshots go to test-artifacts/training-*.png."""

from __future__ import annotations

import datetime as dt
import os

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.utils import timezone

from xinlian.network.models import Post, Role
from xinlian.training.models import Attendance, Audience, Requirement, TrainingSession

from .base import PASSWORD, NetworkTestCase, make_student
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .twostep import pass_second_step

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

LAPTOP = {"viewport": {"width": 1280, "height": 900}}
TEXT = {
    "zh": {"locale": "zh-CN", "attended": "出席", "trained": "已培训", "untrained": "未培训", "hours": "培训学时"},
    "en": {"locale": "en-US", "attended": "Attended", "trained": "trained", "untrained": "not yet trained",
           "hours": "Training hours"},
}


class TrainingInTheBrowserTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        peer = make_student("S0101", "钱多多", self.class_a2)
        Post.objects.create(person=peer.user, unit=self.class_a2, role=Role.COMMITTEE_MEMBER,
                            starts_on=dt.date(2024, 9, 1))
        Requirement.objects.create(school=self.school, role=Role.COMMITTEE_MEMBER, valid_from=dt.date(2024, 1, 1))
        self.session = TrainingSession.objects.create(
            organiser=self.school, title="新任心理委员岗前培训", audience=Audience.COMMITTEE, is_pre_service=True,
            starts_at=timezone.now() - dt.timedelta(hours=1), hours=3, place="报告厅", created_by=self.director)
        for user in (self.committee_a1, peer.user):
            Attendance.objects.create(session=self.session, person=user)
        self.upcoming = TrainingSession.objects.create(
            organiser=self.college_a, title="心理委员进阶培训", audience=Audience.COMMITTEE,
            starts_at=timezone.now() + dt.timedelta(days=4), hours=2, place="A101", created_by=self.counsellor_a)
        Attendance.objects.create(session=self.upcoming, person=self.committee_a1)
        ARTIFACTS.mkdir(exist_ok=True)

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"training-{name}.png"), full_page=True)

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
                self.committee_sees_their_trainings(browser, lang)
                fudaoyuan = self.login(browser, "T1001", LAPTOP, "/training/untrained/", lang)
                self.assertIn("刘洋", fudaoyuan.inner_text("#untrained-list"))
                self.shot(fudaoyuan, f"{lang}-1280-untrained-before")
                self.director_records(browser, lang)
                fudaoyuan.reload()
                listed = fudaoyuan.inner_text("#untrained-list")
                self.assertNotIn("刘洋", listed)
                self.assertIn("钱多多", listed)
                self.shot(fudaoyuan, f"{lang}-1280-untrained-after")
                fudaoyuan.goto(f"{self.live_server_url}/units/{self.class_a1.pk}/")
                badge = fudaoyuan.locator("#posts-title ~ dl .xl-trained")
                self.assertEqual(badge.inner_text().strip(), TEXT[lang]["trained"])
                self.shot(fudaoyuan, f"{lang}-1280-unit")
                fudaoyuan.goto(f"{self.live_server_url}/training/hours/")
                self.assertIn(TEXT[lang]["hours"], fudaoyuan.inner_text("h1"))
                self.assertIn("3.0", fudaoyuan.inner_text("#hours-table tfoot"))
                self.shot(fudaoyuan, f"{lang}-1280-hours")
                fudaoyuan.set_viewport_size({"width": 390, "height": 844})
                self.assertTrue(fudaoyuan.evaluate(NO_OVERFLOW), "the hours table overflows sideways on a phone")
                self.shot(fudaoyuan, f"{lang}-390-hours")
            finally:
                browser.close()

    def committee_sees_their_trainings(self, browser, lang: str) -> None:
        page = self.login(browser, "S0006", PHONE, "/", lang)  # 刘洋, 心理委员 of class A1
        items = page.inner_text("#home-work")
        self.assertIn("心理委员进阶培训", items)
        self.shot(page, f"{lang}-390-committee-home")
        page.goto(f"{self.live_server_url}/training/")
        self.assertIn("心理委员进阶培训", page.inner_text("#upcoming-list"))
        self.assertEqual(page.locator("[id^=missing-]").count(), 1)  # his pre-service training is missing
        self.assertTrue(page.evaluate(NO_OVERFLOW), "my trainings overflow sideways on a phone")
        self.shot(page, f"{lang}-390-my-trainings")
        page.context.close()

    def director_records(self, browser, lang: str) -> None:
        page = self.login(browser, "T1004", PHONE, "/", lang)
        page.click("#home-work li[data-kind=training_record] a.xl-work-title")
        page.wait_for_url(f"**/training/sessions/{self.session.pk}/")
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the attendance list overflows sideways on a phone")
        self.shot(page, f"{lang}-390-session")
        row = page.locator(f"#p{self.committee_a1.pk}")
        row.get_by_role("button", name=TEXT[lang]["attended"], exact=False).first.click()
        page.wait_for_selector(f"#p{self.committee_a1.pk}[data-status=attended]")
        self.assertEqual(Attendance.objects.get(session=self.session, person=self.committee_a1).status, "attended")
        self.shot(page, f"{lang}-390-session-recorded")
        page.goto(f"{self.live_server_url}/training/")
        page.click("a[href='/training/sessions/new/']")
        page.wait_for_url("**/training/sessions/new/")
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the session form overflows sideways on a phone")
        self.shot(page, f"{lang}-390-session-new")
        page.context.close()

    def test_in_chinese(self) -> None:
        self.run_flow("zh")

    def test_in_english(self) -> None:
        self.run_flow("en")
