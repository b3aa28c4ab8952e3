"""The home page is the work, in a real browser (Debian's chromium; never downloads a browser).

A 辅导员 on a phone (390 px) opens Xinlian: the red alert is the first thing on the screen, big,
with its 签收 button inside the first screenful; one tap acknowledges it. The same page at a
laptop width and in English; a peer reporter's large "上报情况" button on top. axe-core (WCAG 2.1
A/AA) finds nothing in the work list or the report button. Screenshots go to
test-artifacts/home-*.png."""

from __future__ import annotations

import datetime as dt
import os
import uuid

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.utils import timezone

from xinlian.care.models import Alert, AlertStatus, Concern, RiskEntry

from .base import PASSWORD, NetworkTestCase
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .twostep import pass_second_step

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

LAPTOP = {"viewport": {"width": 1280, "height": 900}}
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
               "resultTypes": ["violations"]}


def violations(page, *selectors: str) -> list[str]:  # noqa: ANN001 — a Playwright page
    """axe-core's violations inside ``selectors``, one line per element, any impact."""
    from axe_playwright_python.sync_playwright import Axe

    context = {"include": [[s] for s in selectors]}
    found = Axe().run(page, context=context, options=AXE_OPTIONS).response["violations"]
    return [f"[{rule['id']} {rule['impact']}] {node['target']}: "
            f"{' '.join((node.get('failureSummary') or '').split())[:200]}"
            for rule in found for node in rule["nodes"]]


class HomeInTheBrowserTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        # A live-server test case flushes the database after each test: build the personas here.
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        # An orange report first, then a red one: the red one must still be on top.
        orange, _ = Concern.submit(key=uuid.uuid4(), reporter=self.liaison_a1, student=self.classmate_a1,
                                   category="academic", urgency="soon", seen="最近总是一个人，不去上课")
        red, _ = Concern.submit(key=uuid.uuid4(), reporter=self.liaison_a1, student=self.roommate_a1,
                                category="self_harm", urgency="soon", seen="昨晚在宿舍说不想活了")
        self.red = red.alerts.get()
        Alert.objects.filter(pk=orange.alerts.get().pk).update(
            due_at=timezone.now() - dt.timedelta(hours=2, minutes=5))
        RiskEntry.set_level(self.student_a2, "orange", by=self.director)
        RiskEntry.objects.current().filter(student=self.student_a2).update(
            follow_up_due_at=timezone.now() + dt.timedelta(hours=6))
        ARTIFACTS.mkdir(exist_ok=True)

    def shot(self, page, name: str) -> None:  # noqa: ANN001
        page.screenshot(path=str(ARTIFACTS / f"home-{name}.png"), full_page=True)

    def login(self, browser, number: str, device: dict, language: str = "zh-CN"):  # noqa: ANN001, ANN201
        context = browser.new_context(**device, locale=language)
        if language.startswith("en"):
            context.add_cookies([{"name": "django_language", "value": "en", "url": self.live_server_url}])
        page = context.new_page()
        page.goto(f"{self.live_server_url}/login/?next=/")
        page.fill("input[name=username]", number)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit].btn-primary")
        pass_second_step(page, number)
        page.wait_for_url(f"{self.live_server_url}/")
        return page

    def test_the_fudaoyuans_home_on_a_phone_and_a_laptop(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                for name, device, language in (("390-en", PHONE, "en-US"), ("1280-zh", LAPTOP, "zh-CN"),
                                               ("1280-en", LAPTOP, "en-US")):
                    page = self.login(browser, "T1001", device, language)
                    first = page.locator("#work-list > li").first
                    self.assertIn("xl-work-urgent", first.get_attribute("class"))
                    self.assertIn("李华", first.inner_text())
                    self.assertTrue(page.evaluate(NO_OVERFLOW), f"home overflows sideways ({name})")
                    self.assertEqual(violations(page, "#home-work"), [], name)
                    self.shot(page, name)
                    page.context.close()
                self.fudaoyuan_acknowledges_on_the_phone(browser)
                self.committee_member_reports_from_the_top(browser)
            finally:
                browser.close()

    def fudaoyuan_acknowledges_on_the_phone(self, browser) -> None:  # noqa: ANN001
        page = self.login(browser, "T1001", PHONE)
        first = page.locator("#work-list > li").first
        text = first.inner_text()
        self.assertIn("李华", text)
        self.assertIn("自伤或自杀言论", text)  # what it is about, for the person routed to act
        self.assertNotIn("不想活了", page.inner_text("main"))  # what was reported: on the alert page only
        self.assertRegex(text, r"还剩 \d+ 分钟")
        overdue = page.locator("#work-list > li").nth(1).inner_text()
        self.assertIn("王芳", overdue)
        self.assertIn("已逾期 2 小时", overdue)
        button = first.locator("button.xl-ack")
        self.assertEqual(button.inner_text().strip(), "签收")
        box = button.bounding_box()
        self.assertIsNotNone(box)
        self.assertLess(box["y"] + box["height"], PHONE["viewport"]["height"],
                        "the red alert's 签收 button is below the first screenful")
        self.assertGreaterEqual(box["height"], 44)
        self.assertTrue(page.evaluate(NO_OVERFLOW), "home overflows sideways on a phone")
        self.assertEqual(violations(page, "#home-work"), [])
        self.shot(page, "390-zh")
        button.click()
        page.wait_for_url(f"**/care/alerts/{self.red.pk}/")
        self.red.refresh_from_db()
        self.assertEqual((self.red.status, self.red.acknowledged_by_id),
                         (AlertStatus.ACKNOWLEDGED, self.counsellor_a.pk))
        page.goto(f"{self.live_server_url}/")
        self.assertNotIn("李华", page.inner_text("#home-work"))
        self.shot(page, "390-zh-after")
        page.context.close()

    def committee_member_reports_from_the_top(self, browser) -> None:  # noqa: ANN001
        page = self.login(browser, "S0006", PHONE)
        button = page.locator("#home-report")
        self.assertEqual(button.inner_text().strip(), "上报情况")
        box = button.bounding_box()
        self.assertIsNotNone(box)
        self.assertGreaterEqual(box["height"], 60)
        self.assertGreaterEqual(box["width"], 300)
        self.assertLess(box["y"], 250)  # right under the greeting
        self.assertEqual(violations(page, "#home-report"), [])
        self.shot(page, "390-committee")
        button.click()
        page.wait_for_url("**/care/report/")
        page.context.close()
