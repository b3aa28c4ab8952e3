"""Work plans and meetings in a real browser (Debian's chromium), in zh-Hans and in English: the
centre director drafts a plan, adds a task and submits it at 1280 px; the leader (组长) opens it
from their home page and approves it on a 390 px phone; the director records a meeting with an
action item for the 辅导员, which shows on the 辅导员's home page until they mark it done.

Each page is checked by axe-core (WCAG 2.1 A and AA, as tests/test_a11y.py). Screenshots go to
/tmp/shots-Y3/planning-*.png."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.utils import timezone

from xinlian.planning.models import ActionItem, Meeting, PlanStatus, WorkPlan

from .base import PASSWORD, NetworkTestCase
from .test_a11y import violations
from .test_browser import CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .test_planning_verbs import add_leadership
from .twostep import pass_second_step

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

SHOTS = Path("/tmp/shots-Y3")
LAPTOP = {"viewport": {"width": 1280, "height": 900}}
TEXT = {
    "zh": {"locale": "zh-CN", "submitted": "待审批", "approved": "已批准"},
    "en": {"locale": "en-US", "submitted": "Waiting for approval", "approved": "Approved"},
}


class PlanningInTheBrowserTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        # A live-server test case flushes the database after each test: build the personas here.
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        add_leadership(type(self))
        SHOTS.mkdir(exist_ok=True)

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(SHOTS / f"planning-{name}.png"), full_page=True)

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
                self.director_drafts_and_submits(browser, lang)
                self.leader_approves_on_a_phone(browser, lang)
                self.director_records_a_meeting(browser, lang)
                self.owner_sees_and_closes_the_item(browser, lang)
            finally:
                browser.close()

    def test_in_chinese(self) -> None:
        self.run_flow("zh")

    def test_in_english(self) -> None:
        self.run_flow("en")

    def director_drafts_and_submits(self, browser, lang: str) -> None:
        today = timezone.localdate()
        page = self.login(browser, "T1004", LAPTOP, "/", lang)
        page.click("details.xl-account summary")
        page.click("#menu-planning")
        page.wait_for_url("**/planning/")
        page.click("#new-plan")
        page.wait_for_url("**/planning/plans/new/")
        page.select_option("#id_kind", "term")
        page.fill("#id_label", "2026–2027 学年第一学期")
        page.fill("#id_starts_on", (today - dt.timedelta(days=20)).isoformat())
        page.fill("#id_ends_on", (today + dt.timedelta(days=60)).isoformat())
        page.fill("#id_title", "心理健康教育工作计划")
        page.fill("#id_goals", "一、落实四级网络周报制度；\n二、完成心理委员培训。")
        self.shot(page, f"{lang}-1280-plan-form")
        self.assertEqual(violations(page), [])
        page.click("#plan-form button[type=submit]")
        page.wait_for_selector("#task-form")
        # Bad input first: a due date outside the plan's period is refused beside the form.
        page.fill("#id_task_title", "心理委员培训")
        page.select_option("#id_task_owner", str(self.counsellor_a.pk))
        page.fill("#id_task_due", (today + dt.timedelta(days=100)).isoformat())
        page.evaluate("document.getElementById('id_task_due').removeAttribute('max')")
        page.click("#task-form button[type=submit]")
        page.wait_for_selector("#form-errors")
        self.assertIn("2026" if lang == "zh" else "within the plan's period", page.inner_text("#form-errors"))
        self.assertIn("截止日期" if lang == "zh" else "due date", page.inner_text("#form-errors"))
        self.shot(page, f"{lang}-1280-task-refused")
        page.fill("#id_task_due", (today + dt.timedelta(days=10)).isoformat())
        page.click("#task-form button[type=submit]")
        page.wait_for_selector("#task-list")
        self.assertIn("周辅导", page.inner_text("#task-list"))
        page.click("#submit-form button")
        page.wait_for_selector("#plan-status")
        self.assertEqual(page.inner_text("#plan-status").strip(), TEXT[lang]["submitted"])
        self.shot(page, f"{lang}-1280-plan-submitted")
        self.assertEqual(violations(page), [])
        self.assertEqual(WorkPlan.objects.get().status, PlanStatus.SUBMITTED)
        page.context.close()

    def leader_approves_on_a_phone(self, browser, lang: str) -> None:
        plan = WorkPlan.objects.get()
        page = self.login(browser, "T3001", PHONE, "/", lang)
        self.shot(page, f"{lang}-390-leader-home")
        page.click("#home-work li[data-kind=plan_approval] a.xl-work-title")
        page.wait_for_url(f"**/planning/plans/{plan.pk}/")
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the plan page overflows sideways on a phone")
        self.assertIn("落实四级网络周报制度", page.inner_text("#plan-goals"))
        self.shot(page, f"{lang}-390-plan-to-approve")
        self.assertEqual(violations(page), [])
        page.click("#approve-form button")
        page.wait_for_selector("#plan-status")
        self.assertEqual(page.inner_text("#plan-status").strip(), TEXT[lang]["approved"])
        self.assertTrue(page.evaluate(NO_OVERFLOW))
        self.shot(page, f"{lang}-390-plan-approved")
        plan.refresh_from_db()
        self.assertEqual((plan.status, plan.decided_by_id), (PlanStatus.APPROVED, self.leader.pk))
        page.context.close()

    def director_records_a_meeting(self, browser, lang: str) -> None:
        today = timezone.localdate()
        page = self.login(browser, "T1004", LAPTOP, "/planning/meetings/", lang)
        page.click("#new-meeting")
        page.wait_for_url("**/planning/meetings/new/")
        page.fill("#id_title", "领导小组例会")
        page.select_option("#id_attendees", [str(self.leader.pk), str(self.director.pk)])
        page.fill("#id_minutes", "研判近期重点关注学生情况")
        page.fill("#id_decisions", "月底前完成月报")
        self.shot(page, f"{lang}-1280-meeting-form")
        self.assertEqual(violations(page), [])
        page.click("#meeting-form button[type=submit]")
        page.wait_for_selector("#item-form")
        self.assertIn("研判近期重点关注学生情况", page.inner_text("#minutes"))
        page.fill("#id_item_text", "提交本班心理委员培训名单")
        page.select_option("#id_item_owner", str(self.counsellor_a.pk))
        page.fill("#id_item_due", (today + dt.timedelta(days=5)).isoformat())
        page.click("#item-form button[type=submit]")
        page.wait_for_selector("#item-list")
        self.assertIn("周辅导", page.inner_text("#item-list"))
        self.shot(page, f"{lang}-1280-meeting")
        self.assertEqual(violations(page), [])
        self.assertEqual(Meeting.objects.get().minutes, "研判近期重点关注学生情况")
        page.context.close()

    def owner_sees_and_closes_the_item(self, browser, lang: str) -> None:
        page = self.login(browser, "T1001", PHONE, "/", lang)  # 周辅导, 辅导员 of college A
        item = page.locator("#home-work li[data-kind=action_item]")
        self.assertIn("提交本班心理委员培训名单", item.inner_text())
        self.shot(page, f"{lang}-390-owner-home")
        item.locator("a.xl-work-title").click()
        page.wait_for_url("**/planning/mine/")
        self.assertTrue(page.evaluate(NO_OVERFLOW), "my action items overflow sideways on a phone")
        self.assertNotIn("研判", page.content())  # the minutes stay with the group
        self.shot(page, f"{lang}-390-my-items")
        self.assertEqual(violations(page), [])
        page.click("#my-items form button")
        page.wait_for_url("**/planning/mine/")
        self.assertTrue(ActionItem.objects.get().done)
        page.goto(f"{self.live_server_url}/")
        self.assertEqual(page.locator("#home-work li[data-kind=action_item]").count(), 0)
        self.assertNotIn("提交本班心理委员培训名单", page.content())
        self.shot(page, f"{lang}-390-owner-home-after")
        page.context.close()
