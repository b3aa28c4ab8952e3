"""The linkage in a real browser on a phone (390×844): a dorm liaison reports a roommate in a few
taps, the 辅导员 acknowledges it from the alert inbox, the centre director opens a case from the
red alert and records a risk assessment. Debian's chromium; never downloads a browser.

Screenshots go to test-artifacts/care-*.png (phone, and a laptop width for the director)."""

from __future__ import annotations

import os

from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from xinlian.care.models import Alert, AlertStatus, CaseRecord, Concern

from .base import PASSWORD, NetworkTestCase
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .twostep import pass_second_step

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

LAPTOP = {"viewport": {"width": 1280, "height": 900}}


class LinkageInTheBrowserTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        # A live-server test case flushes the database after each test: build the personas here.
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        ARTIFACTS.mkdir(exist_ok=True)

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"care-{name}.png"), full_page=True)

    def login(self, browser, number: str, device: dict, next_path: str):
        page = browser.new_context(**device, locale="zh-CN").new_page()
        page.goto(f"{self.live_server_url}/login/?next={next_path}")
        page.fill("input[name=username]", number)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit].btn-primary")
        pass_second_step(page, number)
        page.wait_for_url(f"{self.live_server_url}{next_path}")
        return page

    def test_report_acknowledge_open_a_case(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                self.liaison_reports_a_roommate(browser)
                self.fudaoyuan_acknowledges(browser)
                self.director_opens_a_case(browser)
            finally:
                browser.close()

    def liaison_reports_a_roommate(self, browser) -> None:
        # The liaison (孙悦, dorm 101) opens the menu, taps "report", picks 李华, two big
        # buttons, one sentence, send: six taps and a sentence.
        page = self.login(browser, "S0007", PHONE, "/")
        page.click(".navbar-toggler")
        page.click("#xl-nav a[href='/care/report/']")
        page.wait_for_url("**/care/report/")
        choices = page.inner_text("#student-choices")
        self.assertIn("李华", choices)
        self.assertNotIn("王芳", choices)  # a classmate from another dorm is not offered
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the report form overflows sideways on a phone")
        self.shot(page, "phone-report-empty")
        page.click(f"label[for=st-{self.roommate_a1.pk}]")
        page.click("label[for=cat-self_harm]")
        page.click("label[for=urg-soon]")
        page.fill("textarea[name=seen]", "昨晚在宿舍说不想活了，把东西都送人了")
        self.shot(page, "phone-report-filled")
        page.click("#send-report")
        page.wait_for_url("**/care/reports/?sent=*")
        self.assertIn("120", page.inner_text(".xl-urgent"))  # who was alerted, and what to do
        self.assertIn("李华", page.inner_text("main"))
        self.assertTrue(page.evaluate(NO_OVERFLOW), "my reports overflows sideways on a phone")
        self.shot(page, "phone-my-reports")
        concern = Concern.objects.get()
        self.assertEqual((concern.student_id, concern.reporter_id), (self.roommate_a1.pk, self.liaison_a1.pk))
        self.assertEqual(concern.alerts.get().level, "red")
        page.context.close()

    def fudaoyuan_acknowledges(self, browser) -> None:
        alert = Alert.objects.get()
        page = self.login(browser, "T1001", PHONE, "/care/alerts/")
        cards = page.inner_text("#alert-list")
        self.assertIn("李华", cards)
        self.assertNotIn("昨晚", cards)  # what was seen stays on the alert itself
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the inbox overflows sideways on a phone")
        self.shot(page, "phone-inbox")
        page.click(f"#alert-list a[href='/care/alerts/{alert.pk}/']")
        page.wait_for_url(f"**/care/alerts/{alert.pk}/")
        self.assertIn("昨晚在宿舍", page.inner_text("#concern-detail"))  # the 辅导员 reads it
        self.shot(page, "phone-alert")
        page.fill("#ack-form textarea", "已到宿舍见到学生，陪同中")
        page.click("#ack-form button[type=submit]")
        page.wait_for_selector("#resolve-form")
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the alert page overflows sideways on a phone")
        self.shot(page, "phone-alert-acknowledged")
        alert.refresh_from_db()
        self.assertEqual((alert.status, alert.acknowledged_by_id),
                         (AlertStatus.ACKNOWLEDGED, self.counsellor_a.pk))
        page.context.close()

    def director_opens_a_case(self, browser) -> None:
        alert = Alert.objects.get()
        page = self.login(browser, "T1004", PHONE, "/care/alerts/")
        page.click(f"#alert-list a[href='/care/alerts/{alert.pk}/']")
        page.wait_for_url(f"**/care/alerts/{alert.pk}/")
        page.click("label[for=tri-case]")
        page.click("#triage-form button[type=submit]")
        page.wait_for_url("**/care/cases/*/")
        case = alert.cases.get()
        self.shot(page, "phone-case-new")
        page.click("#add-assessment summary")
        for field, answer in (("ideation", "yes"), ("plan", "no"), ("means", "no"),
                              ("past_attempts", "no")):
            page.click(f"label[for=id_assessment-{field}_{0 if answer == 'yes' else 1}]")
        page.fill("textarea[name=assessment-protective]", "与室友关系好，愿意接受帮助")
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the case page overflows sideways on a phone")
        self.shot(page, "phone-case-assessment-form")
        page.click("#add-assessment button[type=submit]")
        page.wait_for_selector("#case-records .xl-record")
        records = page.inner_text("#case-records")
        self.assertIn("与室友关系好", records)
        self.shot(page, "phone-case-assessment")
        record = CaseRecord.objects.get(case=case, kind="assessment")
        self.assertEqual((record.content["ideation"], record.content["plan"]), (True, False))

        # From the case to the student page: put the student on the register at red.
        page.click(f"a.xl-name[href='/students/{self.roommate_a1.pk}/']")
        page.wait_for_url(f"**/students/{self.roommate_a1.pk}/")
        page.click("#set-level summary")
        page.click("label[for=lv-red]")
        page.fill("#id_risk_reason", "评估：有自杀意念，无计划")
        page.click("#set-level button[type=submit]")
        page.wait_for_selector("#risk-level .xl-level-red")
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the student page overflows sideways on a phone")
        self.shot(page, "phone-student")
        page.goto(f"{self.live_server_url}/care/register/")
        self.assertIn("李华", page.inner_text("#register-list"))
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the register overflows sideways on a phone")
        self.shot(page, "phone-register")
        page.context.close()

        # The same director at a desk: the case, the inbox and the student page at 1280 px.
        desk = self.login(browser, "T1004", LAPTOP, f"/care/cases/{case.pk}/")
        self.shot(desk, "laptop-case")
        desk.goto(f"{self.live_server_url}/care/alerts/")
        self.shot(desk, "laptop-inbox")
        desk.goto(f"{self.live_server_url}/students/{self.roommate_a1.pk}/")
        # concern, alert, acknowledgement, triage, case opened, case record: newest first
        self.assertGreaterEqual(desk.locator("#chronology li").count(), 6)
        self.assertTrue(desk.is_visible("#risk-level") or desk.is_visible(".xl-risk-placeholder"))
        self.shot(desk, "laptop-student")
        desk.goto(f"{self.live_server_url}/care/register/")
        self.shot(desk, "laptop-register")
        desk.goto(f"{self.live_server_url}/care/report/")
        self.shot(desk, "laptop-report")
        desk.context.close()


class BreakGlassInTheBrowserTests(StaticLiveServerTestCase):
    """A head teacher outside the case team opens a case on a phone: the restricted page, a
    typed reason, then the case with the note form only (break-glass reads and adds a note)."""

    def setUp(self) -> None:
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        ARTIFACTS.mkdir(exist_ok=True)

    def test_break_glass_reads_and_adds_a_note_only(self) -> None:
        from playwright.sync_api import sync_playwright

        from xinlian.access.models import AuditEvent, AuditResult
        from xinlian.care.models import BreakGlass, Case

        case = Case.open_for(self.student_a1, by=self.director)
        case.add_record("safety_plan", author=self.director,
                        data={"warning_signs": "夜里不睡、反复道歉", "contacts": "母亲、辅导员"})
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_context(**PHONE, locale="zh-CN").new_page()
                page.goto(f"{self.live_server_url}/login/?next=/care/cases/{case.pk}/")
                page.fill("input[name=username]", "T1002")  # 吴老师, head teacher of A1
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit].btn-primary")
                pass_second_step(page, "T1002")
                page.wait_for_url(f"**/care/cases/{case.pk}/")
                self.assertNotIn("夜里不睡", page.inner_text("main"))  # restricted until the glass
                self.assertTrue(page.evaluate(NO_OVERFLOW), "the restricted page overflows on a phone")
                page.screenshot(path=str(ARTIFACTS / "care-phone-break-glass.png"), full_page=True)
                page.fill("textarea[name=reason]", "晚自习后学生情绪激动，需要立即了解安全计划")
                page.click("button.xl-call")
                page.wait_for_selector("#case-records")
                main = page.inner_text("main")
                self.assertIn("夜里不睡", main)  # the safety plan is readable now
                # Only the note form is offered: no other record kind, no team, no closure.
                self.assertEqual(page.locator(".xl-adders details").count(), 1)
                self.assertEqual(page.locator("#add-note").count(), 1)
                self.assertEqual(page.locator("#team-title, #close-title").count(), 0)
                page.click("#add-note summary")
                page.fill("#add-note textarea", "已电话联系宿舍，学生在室友陪同下")
                page.click("#add-note button[type=submit]")
                page.wait_for_selector("#case-records .xl-record >> text=已电话联系宿舍")
                self.assertTrue(page.evaluate(NO_OVERFLOW), "the case page overflows on a phone")
                page.screenshot(path=str(ARTIFACTS / "care-phone-break-glass-note.png"),
                                full_page=True)
            finally:
                browser.close()
        self.assertEqual(BreakGlass.objects.filter(case=case, user=self.head_teacher_a1).count(), 1)
        self.assertEqual(case.records.filter(kind="note", author=self.head_teacher_a1).count(), 1)
        self.assertTrue(AuditEvent.objects.filter(action="case.break_glass",
                                                  result=AuditResult.BREAK_GLASS).exists())
