"""Referral in, out and closing in a real browser (issue 11): the 辅导员 refers a student in from
an alert on a phone (390 px, Chinese); the centre director accepts at a laptop (1280 px) and
hands it to a counsellor; the counsellor (in English) refers the student out to a hospital,
prints the letter, records the leave, the return and the return-to-school assessment, and closes
the episode; the student answers the satisfaction page from the inbox link on a phone, in
Chinese, and a second student in English. Debian's chromium; never downloads a browser.

Screenshots go to /tmp/shots-Z3/ and test-artifacts/referral-*.png."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.utils import timezone

from xinlian.care.models import Alert, AlertSource, Level
from xinlian.counseling.models import (
    Episode,
    Feedback,
    Hospital,
    ReferralIn,
    ReferralOut,
    ReturnAssessment,
)
from xinlian.notify.models import Delivery

from .base import NetworkTestCase
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .test_counseling_base import setup_counseling

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

LAPTOP = {"viewport": {"width": 1280, "height": 900}}
SHOTS = Path("/tmp/shots-Z3")


class ReferralInTheBrowserTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        setup_counseling(type(self))
        self.hospital = Hospital.objects.create(school=self.school, name="市精神卫生中心", department="心理门诊",
                                                address="解放路 1 号", phone="020-12345678")
        self.alert = Alert.raise_for(self.student_a1, Level.YELLOW, AlertSource.COUNSELLOR)
        ARTIFACTS.mkdir(exist_ok=True)
        SHOTS.mkdir(exist_ok=True)

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        page.screenshot(path=str(ARTIFACTS / f"referral-{name}.png"), full_page=True)

    def signed_in(self, browser, user, device: dict, path: str, locale: str = "zh-CN"):
        from urllib.parse import urlsplit

        self.client.force_login(user)
        session = self.client.session
        context = browser.new_context(**device, locale=locale)
        context.add_cookies([{"name": "sessionid", "value": session.session_key,
                              "domain": urlsplit(self.live_server_url).hostname, "path": "/"},
                             {"name": "django_language", "value": "en" if locale.startswith("en") else "zh-hans",
                              "domain": urlsplit(self.live_server_url).hostname, "path": "/"}])
        page = context.new_page()
        page.goto(f"{self.live_server_url}{path}")
        return page

    def test_refer_in_accept_refer_out_return_close_and_answer(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                self.fudaoyuan_refers_on_a_phone(browser)
                episode = self.director_accepts_at_a_laptop(browser)
                self.counsellor_refers_out_and_closes(browser, episode)
                self.student_answers_on_a_phone(browser, episode)
            finally:
                browser.close()

    def fudaoyuan_refers_on_a_phone(self, browser) -> None:
        page = self.signed_in(browser, self.counsellor_a, PHONE, f"/care/alerts/{self.alert.pk}/")
        page.click("#refer-to-counselling")
        page.wait_for_selector("#referral-form")
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the referral form overflows sideways on a phone")
        self.assertIn("转介心理咨询", page.inner_text("h1"))
        page.click("#referral-submit")  # empty: the browser's own check stops it
        self.assertFalse(ReferralIn.objects.exists())
        page.fill("#reason", "近两周情绪低落，多次缺课，建议心理咨询。")
        self.shot(page, "refer-in-phone-zh")
        page.click("#referral-submit")
        page.wait_for_url(f"{self.live_server_url}/care/alerts/{self.alert.pk}/")
        self.assertIn("已将该学生转介至心理咨询中心", page.inner_text(".xl-messages"))
        self.shot(page, "refer-in-done-phone-zh")
        page.context.close()

    def director_accepts_at_a_laptop(self, browser) -> Episode:
        referral = ReferralIn.objects.get()
        page = self.signed_in(browser, self.director, LAPTOP, "/counseling/referrals/")
        card = page.locator(f"[data-referral='{referral.pk}']")
        self.assertIn("近两周情绪低落", card.inner_text())
        card.locator("select[name=counsellor]").select_option(str(self.psy.pk))
        self.shot(page, "queue-laptop-zh")
        card.locator(".xl-accept").click()
        episode = Episode.objects.get()
        page.wait_for_url(f"{self.live_server_url}/counseling/episodes/{episode.pk}/close/")
        self.assertEqual((episode.counsellor_id, episode.source), (self.psy.pk, "referral"))
        self.shot(page, "accepted-laptop-zh")
        # The hospital directory: the director adds one.
        page.goto(f"{self.live_server_url}/counseling/hospitals/")
        page.fill("#h-name", "市第一人民医院")
        page.fill("#h-dept", "精神心理科")
        page.fill("#h-phone", "020-81048888")
        page.click("#hospital-add")
        page.wait_for_selector(".xl-messages")
        self.assertTrue(Hospital.objects.filter(name="市第一人民医院", is_active=True).exists())
        self.shot(page, "hospitals-laptop-zh")
        page.context.close()
        phone = self.signed_in(browser, self.director, PHONE, "/counseling/hospitals/")
        self.assertIn("市第一人民医院", phone.inner_text("#hospitals"))
        self.shot(phone, "hospitals-phone-zh")
        phone.context.close()
        return episode

    def counsellor_refers_out_and_closes(self, browser, episode: Episode) -> None:
        page = self.signed_in(browser, self.psy, LAPTOP, f"/counseling/episodes/{episode.pk}/close/", locale="en-US")
        page.click("#refer-out")
        page.wait_for_selector("#refer-out-form")
        page.select_option("#hospital", str(self.hospital.pk))
        page.fill("#letter", "Dear colleague,\nplease see the student for an assessment of low mood.\n\nThank you.")
        self.shot(page, "refer-out-laptop-en")
        page.click("#refer-out-submit")
        out = ReferralOut.objects.get()
        page.wait_for_url(f"{self.live_server_url}/counseling/referrals-out/{out.pk}/")
        with page.context.expect_page() as letter_info:
            page.click("#print-letter")
        letter = letter_info.value
        letter.wait_for_load_state()
        self.assertIn("please see the student", letter.inner_text("#letter"))
        self.assertIn("市精神卫生中心", letter.inner_text("body"))
        letter.emulate_media(media="print")
        self.shot(letter, "letter-print-en")
        letter.close()
        page.select_option("#f-outcome", "seen")
        page.fill("#diagnosis_note", "Outpatient: adjustment disorder, follow-up in 4 weeks.")
        page.click("#outcome-submit")
        page.wait_for_selector(".xl-messages")
        out.refresh_from_db()
        self.assertEqual(out.outcome, "seen")

        # A leave during the episode, back three days ago: closing waits for the assessment.
        Episode.objects.filter(pk=episode.pk).update(opened_at=timezone.now() - dt.timedelta(days=90))
        page.goto(f"{self.live_server_url}/counseling/students/{self.student_a1.pk}/return/?episode={episode.pk}")
        today = timezone.localdate()
        page.fill("#left_on", (today - dt.timedelta(days=40)).isoformat())
        page.fill("#returned_on", (today - dt.timedelta(days=3)).isoformat())
        page.click("#leave-submit")
        page.wait_for_selector(".xl-messages")
        page.goto(f"{self.live_server_url}/counseling/episodes/{episode.pk}/close/")
        self.assertTrue(page.is_visible("#needs-return"))
        page.fill("#summary", "Six sessions; mood improved.")
        page.click("#close-submit")
        page.wait_for_selector("#refusal")
        self.assertIn("return-to-school assessment", page.inner_text("#refusal"))
        self.shot(page, "close-refused-laptop-en")
        self.assertEqual(Episode.objects.get().status, "open")
        page.click("#return-link")
        page.wait_for_selector("#assessment-form")
        page.fill("#text", "Sleeping and attending; can return with weekly sessions.")
        page.check("#rec-support")
        self.shot(page, "return-laptop-en")
        page.click("#assessment-submit")
        page.wait_for_url(f"{self.live_server_url}/counseling/episodes/{episode.pk}/close/")
        self.assertEqual(ReturnAssessment.objects.get().recommendation, "support")
        page.fill("#summary", "Six sessions; mood improved; returned to school with support.")
        page.click("#close-submit")
        page.wait_for_selector("#closing-summary")
        self.assertEqual(Episode.objects.get().status, "closed")
        self.assertTrue(page.is_visible("#invite-sent"))
        self.shot(page, "closed-laptop-en")
        page.context.close()

    def student_answers_on_a_phone(self, browser, episode: Episode) -> None:
        delivery = Delivery.objects.get(recipient=self.student_a1.user, channel="inbox", link__contains="/feedback/")
        link = delivery.link
        page = self.signed_in(browser, self.student_a1.user, PHONE, "/inbox/")
        self.assertIn("匿名", page.inner_text("main"))
        self.shot(page, "inbox-phone-zh")
        page.click(f"form[action='/inbox/{delivery.pk}/read/'] button")
        page.wait_for_selector("#feedback-form")
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the satisfaction page overflows sideways on a phone")
        self.assertIn("匿名", page.inner_text("main"))
        page.click("label[for=score-5]")
        page.fill("#comment", "谢谢老师")
        self.shot(page, "feedback-phone-zh")
        page.click("#feedback-submit")
        page.wait_for_selector("#feedback-done")
        self.shot(page, "feedback-done-phone-zh")
        self.assertEqual(Feedback.objects.get().score, 5)
        page.goto(f"{self.live_server_url}{link}")
        self.assertIn("已经回答过", page.inner_text("#feedback-done"))
        page.context.close()

        # The same page in English, for a second client (a member of staff).
        other = Episode.objects.create(school=self.school, client=self.teacher_a, counsellor=self.psy2)
        self.client.force_login(self.psy2)
        closed = self.client.post(f"/counseling/episodes/{other.pk}/close/", {"summary": "ok", "send_feedback": "on"})
        self.assertEqual(closed.status_code, 302)
        link = Delivery.objects.get(recipient=self.teacher_a, channel="inbox", link__contains="/feedback/").link
        page = self.signed_in(browser, self.teacher_a, PHONE, link, locale="en-US")
        page.wait_for_selector("#feedback-form")
        self.assertIn("Anonymous", page.inner_text("main"))
        self.assertTrue(page.evaluate(NO_OVERFLOW))
        page.click("label[for=score-4]")
        self.shot(page, "feedback-phone-en")
        page.click("#feedback-submit")
        page.wait_for_selector("#feedback-done")
        self.assertIn("Thank you", page.inner_text("#feedback-done"))
        self.assertEqual(Feedback.objects.count(), 2)
        page.context.close()
