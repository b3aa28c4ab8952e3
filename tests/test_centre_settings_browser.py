"""The settings pages in a real browser on a phone (390×844), in Chinese: the centre director
changes a level's deadline (a wrong value first, then a right one), the channel policy, pastes
the holiday calendar and sets the hotline (a wrong number first); a 辅导员 sets their WeCom id and
mobile, sees what reaches them at night, and sends a test message that the local WeCom and SMS
servers receive; the 辅导员 is refused the centre's pages. Every page: no horizontal scrolling
and no axe-core WCAG 2.1 A/AA violation, at 390 px and 1280 px.

Screenshots: test-artifacts/settings-*.png."""

from __future__ import annotations

import datetime as dt
import os

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.test import override_settings

from xinlian.care.models import LevelSetting
from xinlian.network.models import User
from xinlian.notify.models import ChannelPolicy, Delivery, DeliveryStatus, Holiday
from xinlian.notify.sending import send_due
from xinlian.screening.models import CentreSettings

from .base import PASSWORD, NetworkTestCase
from .personal_receivers import AliyunSmsServer, WeComServer, settings_for
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .twostep import pass_second_step

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

LAPTOP = {"viewport": {"width": 1280, "height": 900}}
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
               "resultTypes": ["violations"]}
CENTRE_PAGES = ("/settings/", "/settings/channels/", "/settings/hours/", "/settings/help/")


def violations(page) -> list[str]:  # noqa: ANN001 — a Playwright page
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page, options=AXE_OPTIONS).response["violations"]
    return [f"{page.url} [{rule['id']}] {node['target']}" for rule in found for node in rule["nodes"]]


class SettingsInTheBrowserTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        # A live-server test case flushes the database after each test: build the personas here.
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        ARTIFACTS.mkdir(exist_ok=True)
        self.problems: list[str] = []

    def shot(self, page, name: str) -> None:  # noqa: ANN001
        page.screenshot(path=str(ARTIFACTS / f"settings-{name}.png"), full_page=True)

    def check(self, page, name: str) -> None:  # noqa: ANN001
        """No sideways scrolling, no axe violation, and a screenshot to look at."""
        page.wait_for_load_state("networkidle")
        if not page.evaluate(NO_OVERFLOW):
            self.problems.append(f"{page.url}: wider than the screen")
        self.problems.extend(violations(page))
        self.shot(page, name)

    def login(self, browser, number: str, device: dict, language: str = "zh-hans"):  # noqa: ANN001, ANN201
        context = browser.new_context(**device, locale="zh-CN")
        context.add_cookies([{"name": "django_language", "value": language, "url": self.live_server_url}])
        page = context.new_page()
        page.goto(f"{self.live_server_url}/login/")
        page.fill("input[name=username]", number)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit].btn-primary")
        pass_second_step(page, number)
        page.wait_for_url(f"{self.live_server_url}/")
        return page

    def open_account_menu(self, page, name: str) -> None:  # noqa: ANN001
        """On a phone the navbar is folded: open it, then the menu under the person's name."""
        if page.is_visible(".navbar-toggler"):
            page.click(".navbar-toggler")
        page.click(f"summary:has-text('{name}')")

    def test_settings_on_a_phone(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                self.director_keeps_the_settings(browser)
                self.counsellor_sets_their_channels(browser)
                self.every_page_at_a_laptop_width(browser)
            finally:
                browser.close()
        self.assertEqual(self.problems, [], "\n".join(self.problems))

    def director_keeps_the_settings(self, browser) -> None:  # noqa: ANN001
        page = self.login(browser, "T1004", PHONE)
        # The settings are in the menu under the director's name.
        self.open_account_menu(page, "钱主任")
        page.click("a.xl-menu-link[href='/settings/']")
        page.wait_for_url("**/settings/")
        self.assertIn("时限按每一级计算", page.inner_text("#levels-help"))
        self.assertIn("已在处理中的预警保留原有时限", page.inner_text("#levels-help"))
        self.check(page, "levels-390")
        # A deadline of nothing: refused, in Chinese, nothing written.
        page.fill("#f-red-ack_hours", "0")
        page.fill("#f-red-ack_minutes", "0")
        page.click("#level-red button[type=submit]")
        page.wait_for_selector("#level-red .invalid-feedback")
        self.assertIn("每一级时限至少 1 分钟", page.inner_text("#level-red"))
        self.check(page, "levels-error-390")
        self.assertEqual(LevelSetting.for_level("red").ack_minutes, 30)
        page.fill("#f-red-ack_minutes", "20")
        page.click("#level-red button[type=submit]")
        page.wait_for_selector(".xl-messages .alert-success")
        self.assertEqual(LevelSetting.for_level("red").ack_minutes, 20)

        page.click("#settings-tabs a[href='/settings/channels/']")
        page.wait_for_url("**/settings/channels/")
        page.fill("#c-orange-after", "15")
        page.click("#channels-orange button[type=submit]")
        page.wait_for_selector(".xl-messages .alert-success")
        self.assertEqual(ChannelPolicy.for_level("orange").sms_after_minutes, 15)
        self.check(page, "channels-390")

        page.click("#settings-tabs a[href='/settings/hours/']")
        page.wait_for_url("**/settings/hours/")
        year = dt.date.today().year + 1
        page.fill("#d-text", f"{year}-01-01 休 元旦\n{year}-02-30\n")
        page.click("#holiday-import button[type=submit]")
        page.wait_for_selector("#holiday-import-errors")
        self.assertIn("第 2 行", page.inner_text("#holiday-import-errors"))
        self.assertFalse(Holiday.objects.exists())
        page.fill("#d-text", f"{year}-01-01 休 元旦\n{year}-02-06 班")
        page.click("#holiday-import button[type=submit]")
        page.wait_for_selector(f"#holiday-list [data-date='{year}-02-06'][data-kind='workday']")
        self.assertEqual(Holiday.objects.count(), 2)
        self.check(page, "hours-390")

        page.click("#settings-tabs a[href='/settings/help/']")
        page.wait_for_url("**/settings/help/")
        page.fill("#p-hotline", "热线")
        page.click("#help-form button[type=submit]")
        page.wait_for_selector("#help-form .invalid-feedback")
        self.assertIn("请输入电话号码", page.inner_text("#help-form"))
        self.check(page, "help-error-390")
        page.fill("#p-hotline", "400-161-9995")
        page.fill("#p-phone", "0571-88881234")
        page.click("#help-form button[type=submit]")
        page.wait_for_selector(".xl-messages .alert-success")
        self.assertEqual(CentreSettings.objects.get(school=self.school).hotline, "400-161-9995")
        page.context.close()

    def counsellor_sets_their_channels(self, browser) -> None:  # noqa: ANN001
        page = self.login(browser, "T1001", PHONE)
        response = page.goto(f"{self.live_server_url}/settings/")
        self.assertEqual(response.status, 403)
        page.goto(f"{self.live_server_url}/")
        self.open_account_menu(page, "周辅导")
        page.click("a.xl-menu-link[href='/me/notifications/']")
        page.wait_for_url("**/me/notifications/")
        self.assertTrue(page.is_visible("#reach-nothing"))
        self.check(page, "mine-empty-390")
        page.fill("#m-phone", "1380000")
        page.click("#mine-form button[type=submit]")
        page.wait_for_selector("#mine-form .invalid-feedback")
        self.assertIn("请输入电话号码", page.inner_text("#mine-form"))
        with WeComServer(users=("zhoufudao",)) as wecom, AliyunSmsServer() as sms, \
                override_settings(**settings_for(wecom=wecom, sms=sms)):
            page.fill("#m-wecom", "zhoufudao")
            page.fill("#m-phone", "13800000001")
            page.click("#mine-form button[type=submit]")
            page.wait_for_selector(".xl-messages .alert-success")
            night = page.inner_text("#reach-at-night")
            self.assertIn("企业微信应用消息", night)
            self.assertIn("仅当 15 分钟内未签收才发短信", night)  # the director's orange setting
            self.check(page, "mine-390")
            page.click("#send-test")
            page.wait_for_selector(".xl-messages .alert-success")
            for _ in range(3):
                if not send_due():
                    break
            page.reload()
            page.wait_for_selector("#test-list [data-channel='wecom_app'][data-status='sent']")
            self.check(page, "mine-tested-390")
        self.assertEqual([h.body["touser"] for h in wecom.messages], ["zhoufudao"])
        self.assertEqual([h.query["PhoneNumbers"] for h in sms.messages], ["13800000001"])
        user = User.objects.get(username="T1001")
        self.assertEqual(set(Delivery.objects.filter(recipient=user).values_list("status", flat=True)),
                         {DeliveryStatus.SENT})
        page.context.close()

    def every_page_at_a_laptop_width(self, browser) -> None:  # noqa: ANN001
        for language in ("zh-hans", "en"):
            page = self.login(browser, "T1004", LAPTOP, language)
            for path in CENTRE_PAGES:
                page.goto(f"{self.live_server_url}{path}")
                self.check(page, f"{path.strip('/').replace('/', '-')}-1280-{language}")
            page.goto(f"{self.live_server_url}/me/notifications/")
            self.check(page, f"mine-1280-{language}")
            page.context.close()
