"""Campus CAS single sign-on in a real browser (issue 13's Done-when): a student on a 390-px phone
taps 校园统一身份认证登录, logs in on the CAS server's own page and lands on home with the open
screening first; the same ticket address opened again elsewhere is refused; logging out of
Xinlian ends the CAS session too. A 辅导员 on a 1280-px laptop (in English); an unknown number;
the CAS server down. The CAS server is django-cas-server in its own project (tests/cas_server/)
on a free loopback port. Debian's chromium; never downloads a browser.
Screenshots: test-artifacts/cas-*.png."""

from __future__ import annotations

import datetime as dt
import os

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.test import override_settings
from django.utils import timezone

from xinlian.access.models import AuditEvent
from xinlian.network.models import User
from xinlian.screening.models import Campaign, CampaignInstrument, Instrument

from .base import PASSWORD, NetworkTestCase
from .cas_server import CasServer
from .screening_base import PURPOSE
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .test_sso_cas import CAS_PASSWORD, CAS_USERS, closed_port_url

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

LAPTOP = {"viewport": {"width": 1280, "height": 900}}


class CasInTheBrowserTests(StaticLiveServerTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.cas = CasServer(CAS_USERS).start()
        cls.addClassCleanup(cls.cas.stop)

    def setUp(self) -> None:
        # A live-server test case flushes the database after each test: build everything here.
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        Instrument.sync_builtin()
        now = timezone.now()
        self.campaign = Campaign.objects.create(
            school=self.school, name="2026秋季心理普查", opens_at=now - dt.timedelta(days=1),
            closes_at=now + dt.timedelta(days=13), purpose=PURPOSE, created_by=self.director)
        CampaignInstrument.objects.create(campaign=self.campaign, instrument=Instrument.latest("PHQ9"), order=0)
        self.campaign.launch(self.director)
        settings_cm = override_settings(CAS_SERVER_URL=self.cas.url)
        settings_cm.enable()
        self.addCleanup(settings_cm.disable)
        ARTIFACTS.mkdir(exist_ok=True)

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"cas-{name}.png"), full_page=True)

    def at_cas(self, page, number: str, name: str) -> None:
        """The CAS server's own login page: type the campus account and submit."""
        page.wait_for_url(f"{self.cas.url}login?service=*")
        self.shot(page, name)
        page.fill("input[name=username]", number)
        page.fill("input[name=password]", CAS_PASSWORD)
        page.click("#login_form button[type=submit]")

    def test_cas_in_the_browser(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                ticket_url = self.student_on_a_phone(browser)
                self.ticket_replayed(browser, ticket_url)
                self.fudaoyuan_on_a_laptop_in_english(browser)
                self.unknown_number(browser)
                self.cas_server_down(browser)
            finally:
                browser.close()

    def student_on_a_phone(self, browser) -> str:
        context = browser.new_context(**PHONE, locale="zh-CN")
        page = context.new_page()
        tickets: list[str] = []
        page.on("request", lambda r: tickets.append(r.url) if "ticket=" in r.url else None)
        page.goto(f"{self.live_server_url}/login/")
        button = page.locator("a.btn", has_text="校园统一身份认证登录")
        self.assertEqual(button.count(), 1)
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the login page overflows sideways on a phone")
        self.shot(page, "phone-login")
        button.tap()
        self.at_cas(page, "S0001", "phone-cas-page")
        page.wait_for_url(f"{self.live_server_url}/")
        # Home, with the open screening first: its card and its Start button.
        card = page.locator("section.border-primary", has_text="2026秋季心理普查")
        self.assertEqual(card.count(), 1)
        self.assertEqual(page.locator(".xl-user").first.text_content(), "张小明")
        self.assertTrue(page.evaluate(NO_OVERFLOW), "home overflows sideways on a phone")
        self.shot(page, "phone-home-screening")
        card.locator("a.btn", has_text="开始").tap()
        page.wait_for_url("**/screening/**")
        self.shot(page, "phone-screening")
        self.assertEqual(AuditEvent.objects.filter(action="identity.sso_login",
                                                   actor__username="S0001").count(), 1)
        self.assertEqual(len(tickets), 1, tickets)

        # Logging out of Xinlian ends the campus session too: the CAS server asks for the password
        # again instead of handing out a new ticket on its own.
        page.goto(f"{self.live_server_url}/")
        page.tap(".navbar-toggler")
        page.locator("details.xl-account summary").tap()
        visited: list[str] = []
        page.on("request", lambda r: visited.append(r.url))
        page.locator("form[action='/logout/'] button").tap()
        # Through the CAS server's logout, which sends the browser back to Xinlian's login page.
        page.wait_for_url(f"{self.live_server_url}/login/")
        self.assertTrue(any(url.startswith(f"{self.cas.url}logout?service=") for url in visited), visited)
        self.shot(page, "phone-logged-out")
        page.locator("a.btn", has_text="校园统一身份认证登录").tap()
        page.wait_for_url(f"{self.cas.url}login?service=*")
        self.assertEqual(page.locator("input[name=password]").count(), 1)
        context.close()
        return tickets[0]

    def ticket_replayed(self, browser, ticket_url: str) -> None:
        """The ticket address from the student's phone, opened on another device."""
        context = browser.new_context(**PHONE, locale="zh-CN")
        page = context.new_page()
        response = page.goto(ticket_url)
        self.assertEqual(response.status, 403)
        self.assertIn("已被使用", page.inner_text("main"))
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the refusal page overflows sideways on a phone")
        self.shot(page, "phone-replayed")
        page.goto(f"{self.live_server_url}/")
        page.wait_for_url(f"{self.live_server_url}/login/**")  # not logged in
        context.close()

    def fudaoyuan_on_a_laptop_in_english(self, browser) -> None:
        context = browser.new_context(**LAPTOP, locale="en-US")
        page = context.new_page()
        page.goto(f"{self.live_server_url}/care/alerts/")
        page.wait_for_url(f"{self.live_server_url}/login/?next=**")
        self.shot(page, "laptop-login-en")
        page.locator("a.btn", has_text="Log in with campus single sign-on").click()
        self.at_cas(page, "T1001", "laptop-cas-page")
        page.wait_for_url(f"{self.live_server_url}/care/alerts/")  # where they were going
        self.assertEqual(page.locator(".xl-user").first.text_content(), "周辅导")
        self.shot(page, "laptop-alerts-en")
        page.goto(f"{self.live_server_url}/")
        self.assertTrue(page.evaluate(NO_OVERFLOW))
        self.shot(page, "laptop-home-en")
        context.close()

    def unknown_number(self, browser) -> None:
        people = User.objects.count()
        context = browser.new_context(**PHONE, locale="zh-CN")
        page = context.new_page()
        page.goto(f"{self.live_server_url}/login/")
        page.locator("a.btn", has_text="校园统一身份认证登录").tap()
        self.at_cas(page, "S9999", "phone-cas-page-unknown")
        page.wait_for_selector("text=心联的名单中没有这个账号")
        self.assertIn("校园统一身份认证", page.inner_text("main"))
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the refusal page overflows sideways on a phone")
        self.shot(page, "phone-unknown")
        self.assertEqual(User.objects.count(), people)
        page.locator("a.btn", has_text="返回登录页").tap()
        page.wait_for_url(f"{self.live_server_url}/login/")
        context.close()

    def cas_server_down(self, browser) -> None:
        """The CAS server stops answering between the login and the ticket's validation: a clear
        page, and the password form still lets a back-office person in."""
        context = browser.new_context(**PHONE, locale="zh-CN")
        page = context.new_page()
        page.goto(f"{self.live_server_url}/login/")
        page.locator("a.btn", has_text="校园统一身份认证登录").tap()
        page.wait_for_url(f"{self.cas.url}login?service=*")
        page.fill("input[name=username]", "S0001")
        page.fill("input[name=password]", CAS_PASSWORD)
        with override_settings(CAS_SERVER_URL=closed_port_url()):
            page.click("#login_form button[type=submit]")
            page.wait_for_selector("text=暂时无法连接身份认证系统")
            self.shot(page, "phone-cas-down")
            page.locator("a.btn", has_text="返回登录页").tap()
            page.wait_for_url(f"{self.live_server_url}/login/")
            page.fill("input[name=username]", "T1002")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit].btn-primary")
            page.wait_for_url(f"{self.live_server_url}/**")
            self.assertNotIn("/login/", page.url)
        context.close()
