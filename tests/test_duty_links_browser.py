""""My posts & duties" in a real browser (Debian's chromium), in zh-Hans and in English, at 390 px
and 1280 px: the 心理委员's weekly report due is listed under the weekly-report duty and one tap
opens its form, and home lists it under the same duty; a linked duty with nothing due says so;
the bureau viewer reads the bureau's duties. Screenshots go to test-artifacts/duty-links-*.png."""

from __future__ import annotations

import datetime as dt
import os
import re

from django.contrib.staticfiles.testing import StaticLiveServerTestCase

from xinlian.duties import cycles
from xinlian.network import catalogue
from xinlian.network.models import Post, Role

from .base import PASSWORD, NetworkTestCase
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .twostep import pass_second_step

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

LAPTOP = {"viewport": {"width": 1280, "height": 900}}
TEXT = {
    "zh": {"locale": "zh-CN", "cookie": "zh-hans", "weekly": "每周报告本班同学的心理状况",
           "training": "参加心理委员培训", "none": "目前没有到期事项", "due": "报告待交",
           "inspect": "督导检查各校心理健康工作的落实情况"},
    "en": {"locale": "en-US", "cookie": "en", "weekly": "Report the class's mental-health situation every week",
           "training": "Attend committee-member training", "none": "Nothing due now", "due": "Report due",
           "inspect": "Inspect how each school carries out its mental-health work"},
}


class MyDutiesInTheBrowserTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        # A live-server test case flushes the database after each test: build the personas here.
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        catalogue.seed_duties(self.school)
        cycles.ensure_default_cycles(self.school)
        ARTIFACTS.mkdir(exist_ok=True)

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"duty-links-{name}.png"), full_page=True)

    def open_my_posts(self, browser, number: str, device: dict, lang: str):
        context = browser.new_context(**device, locale=TEXT[lang]["locale"])
        context.add_cookies([{"name": "django_language", "value": TEXT[lang]["cookie"],
                              "url": self.live_server_url}])
        page = context.new_page()
        page.goto(f"{self.live_server_url}/login/?next=/me/posts/")
        page.fill("input[name=username]", number)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit].btn-primary")
        pass_second_step(page, number)
        page.wait_for_url(f"{self.live_server_url}/me/posts/")
        return page

    def committee_page(self, browser, device: dict, size: str, lang: str) -> None:
        t = TEXT[lang]
        post = Post.objects.get(person=self.committee_a1, role=Role.COMMITTEE_MEMBER)
        page = self.open_my_posts(browser, "S0006", device, lang)
        card = page.locator(f'section[aria-labelledby="mp-{post.pk}"]')
        weekly = card.locator("li[data-fulfilled-by=report]").filter(has_text=t["weekly"])
        link = weekly.locator("a.xl-duty-item").first
        self.assertTrue(link.is_visible())
        self.assertIn(t["due"], link.inner_text())
        training = card.locator("li[data-fulfilled-by=training]").filter(has_text=t["training"])
        self.assertIn(t["none"], training.inner_text())
        self.assertTrue(page.evaluate(NO_OVERFLOW), f"{size} {lang}: the page scrolls sideways")
        box = link.bounding_box()
        self.assertGreaterEqual(box["height"], 24)  # a tap target (WCAG 2.5.8)
        self.shot(page, f"committee-{size}-{lang}")
        href = link.get_attribute("href")
        # Home lists the same item under the post's duty, below the work list.
        page.goto(f"{self.live_server_url}/")
        home_card = page.locator(f'section[aria-labelledby="post-{post.pk}"]')
        self.assertEqual(home_card.locator("li[data-fulfilled-by=report] a.xl-duty-item").first.get_attribute("href"),
                         href)
        self.assertTrue(page.evaluate(NO_OVERFLOW), f"{size} {lang}: home scrolls sideways")
        self.shot(page, f"home-{size}-{lang}")
        page.goto(f"{self.live_server_url}/me/posts/")
        card.locator("li[data-fulfilled-by=report] a.xl-duty-item").first.click()
        page.wait_for_url(re.compile(re.escape(href) + "$"))
        page.context.close()

    def bureau_page(self, browser, device: dict, size: str, lang: str) -> None:
        page = self.open_my_posts(browser, "T1005", device, lang)
        self.assertIn(TEXT[lang]["inspect"], page.locator("main").inner_text())
        self.assertTrue(page.evaluate(NO_OVERFLOW))
        self.shot(page, f"bureau-{size}-{lang}")
        page.context.close()

    def run_flow(self, lang: str) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        # A second post makes the phone page long enough to be worth looking at.
        Post.objects.create(person=self.committee_a1, unit=self.dorm_a1, role=Role.DORM_LIAISON,
                            starts_on=dt.date(2024, 9, 1))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                self.committee_page(browser, PHONE, "390", lang)
                self.committee_page(browser, LAPTOP, "1280", lang)
                self.bureau_page(browser, PHONE, "390", lang)
                self.bureau_page(browser, LAPTOP, "1280", lang)
            finally:
                browser.close()

    def test_in_chinese(self) -> None:
        self.run_flow("zh")

    def test_in_english(self) -> None:
        self.run_flow("en")
