"""Accessibility in a real browser: axe-core (WCAG 2.1 A and AA rules) on the main pages, each seen
by the persona who uses it, at a laptop width (1280 px) and on a phone (390 px): zero violations
of any impact. Then what axe cannot judge alone: the navbar stays on one line on a laptop in both
languages, a keyboard focus ring is visible, and the questionnaire's Next/Back moves focus to the
new page and says which page it is.

axe-core comes from the PyPI package axe-playwright-python (pinned in pyproject's dev extras; it
bundles axe-core 4.12.1, MPL-2.0). Debian's chromium; never downloads a browser. Screenshots go
to test-artifacts/a11y-*.png."""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.utils import timezone

from xinlian.care.models import Case, Concern, DutyRole, DutyShift, RiskEntry, ShiftKind
from xinlian.screening.models import Assignment, Result

from .base import PASSWORD, NetworkTestCase
from .screening_base import ensure_sweep_objects
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .twostep import pass_second_step

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

LAPTOP = {"viewport": {"width": 1280, "height": 900}}
DEVICES = (("1280", LAPTOP), ("390", PHONE))
# WCAG 2.1 A and AA; the best-practice and AAA rules are not part of the promise.
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
               "resultTypes": ["violations"]}


def violations(page) -> list[str]:  # noqa: ANN001 — a Playwright page
    """axe-core's violations on the page as it stands, one line per element, any impact."""
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page, options=AXE_OPTIONS).response["violations"]
    lines = []
    for rule in found:
        for node in rule["nodes"]:
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"{page.url} [{rule['id']} {rule['impact']}] {node['target']}: {summary[:240]}")
    return lines


class AccessibilityTests(StaticLiveServerTestCase):
    def setUp(self) -> None:
        # A live-server test case flushes the database after each test: build everything here.
        cls = type(self)
        NetworkTestCase.setUpTestData.__func__(cls)  # type: ignore[attr-defined]
        # A red alert from a dorm liaison's report, a case opened from it, a register line.
        concern, _ = Concern.submit(key=uuid.uuid4(), reporter=self.liaison_a1, student=self.student_a1,
                                    category="self_harm", urgency="soon", seen="说不想活了")
        self.care_alert = concern.alerts.get()
        self.care_case = Case.open_for(self.student_a1, by=self.director, alert=self.care_alert)
        RiskEntry.set_level(self.student_a1, "orange", by=self.director, reason="访谈后评估")
        DutyShift.objects.create(unit=self.college_a, date=timezone.localdate() + dt.timedelta(days=3),
                                 kind=ShiftKind.NIGHT, role=DutyRole.FIRST_LINE, person=self.counsellor_a)
        cls.scr_campaign = None  # made again after each flush
        ensure_sweep_objects(cls)  # a campaign: student_a1 submitted (red), student_b1 under way
        # A second report, still waiting for the 辅导员: its page shows the acknowledge form.
        concern, _ = Concern.submit(key=uuid.uuid4(), reporter=self.liaison_a1, student=self.roommate_a1,
                                    category="low_mood", urgency="soon", seen="最近总是一个人，不去上课")
        self.pending_alert = concern.alerts.get()
        self.result = Result.objects.filter(assignment=self.scr_assignment_a1).first()
        self.consent_assignment = Assignment.objects.get(campaign=self.scr_campaign,
                                                         user=self.classmate_a1.user)
        ARTIFACTS.mkdir(exist_ok=True)

    # --- helpers ---------------------------------------------------------------------------

    def open_browser(self, p):  # noqa: ANN001, ANN201
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        return p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)

    def page_as(self, browser, username: str | None, device: dict, language: str = "zh-hans"):  # noqa: ANN001, ANN201
        context = browser.new_context(**device, locale="zh-CN")
        context.add_cookies([{"name": "django_language", "value": language, "url": self.live_server_url}])
        page = context.new_page()
        if username:
            page.goto(f"{self.live_server_url}/login/")
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit].btn-primary")
            pass_second_step(page, username)
            page.wait_for_url(f"{self.live_server_url}/")
        return page

    def shot(self, page, name: str) -> None:  # noqa: ANN001
        page.screenshot(path=str(ARTIFACTS / f"a11y-{name}.png"), full_page=True)

    def check_pages(self, browser, username: str | None, paths: list[str], found: list[str]) -> None:  # noqa: ANN001
        for width, device in DEVICES:
            page = self.page_as(browser, username, device)
            for path in paths:
                response = page.goto(f"{self.live_server_url}{path}")
                page.wait_for_load_state("networkidle")  # htmx fragments (badge, lazy lists) in
                self.assertIsNotNone(response)
                found.extend(violations(page))
                name = re.sub(r"[^a-z]+", "-", path.lower()).strip("-") or "home"  # ids vary
                self.shot(page, f"{username or 'anon'}-{name}-{width}")
            page.context.close()

    # --- axe on every main page ---------------------------------------------------------------

    def test_main_pages_have_no_violations(self) -> None:
        c, college, klass = self.scr_campaign.pk, self.college_a.pk, self.class_a1.pk
        by_persona = {
            None: ["/login/", "/no-such-page/"],
            "T1004": [  # the centre director sees the most
                "/", "/network/", f"/units/{college}/", f"/units/{klass}/",
                f"/students/{self.student_a1.pk}/", "/care/alerts/", f"/care/alerts/{self.care_alert.pk}/",
                "/care/register/", "/care/cases/", f"/care/cases/{self.care_case.pk}/", "/care/rota/",
                "/screening/campaigns/", "/screening/campaigns/new/", f"/screening/campaigns/{c}/",
                f"/screening/campaigns/{c}/unit/{college}/", f"/screening/campaigns/{c}/report/",
                "/screening/interviews/", f"/screening/interviews/{self.scr_interview.pk}/",
                "/roster/import/", "/inbox/", "/me/posts/", "/care/alerts/999999999/",
            ],
            "T1001": ["/", "/care/alerts/", f"/care/alerts/{self.pending_alert.pk}/", "/inbox/"],  # 辅导员
            "T1002": ["/", f"/units/{klass}/"],  # 班主任
            "S0007": ["/", "/care/report/", "/care/reports/"],  # dorm liaison
            "S0005": ["/", "/screening/", f"/screening/a/{self.scr_assignment_b1.pk}/"],  # answering
            "S0003": [f"/screening/a/{self.consent_assignment.pk}/"],  # asked for consent
        }
        if self.result is not None:
            by_persona["T1004"].append(f"/screening/results/{self.result.pk}/")
        from playwright.sync_api import sync_playwright

        found: list[str] = []
        with sync_playwright() as p:
            browser = self.open_browser(p)
            try:
                for username, paths in by_persona.items():
                    self.check_pages(browser, username, paths, found)
            finally:
                browser.close()
        self.assertEqual(found, [], "axe-core found WCAG 2.1 A/AA violations:\n" + "\n".join(found))

    def test_open_menus_have_no_violations(self) -> None:
        # What is folded away is checked unfolded: the account menu on a laptop, the whole
        # menu on a phone, in English (the longer labels).
        from playwright.sync_api import sync_playwright

        found: list[str] = []
        with sync_playwright() as p:
            browser = self.open_browser(p)
            try:
                page = self.page_as(browser, "T1004", LAPTOP, "en")
                page.click(".xl-account > summary")
                self.assertTrue(page.is_visible(".xl-account-menu button[type=submit]"))  # Log out
                found.extend(violations(page))
                self.shot(page, "account-menu-en-1280")
                page.keyboard.press("Escape")
                self.assertFalse(page.is_visible(".xl-account-menu"))
                page.context.close()

                page = self.page_as(browser, "T1004", PHONE, "en")
                page.click(".navbar-toggler")
                page.wait_for_selector("#xl-nav.show")
                page.click(".xl-account > summary")
                self.assertTrue(page.is_visible(".xl-account-menu a[href='/roster/import/']"))
                self.assertTrue(page.evaluate(NO_OVERFLOW), "the open menu overflows sideways")
                found.extend(violations(page))
                self.shot(page, "menu-en-390")
                page.context.close()
            finally:
                browser.close()
        self.assertEqual(found, [], "\n".join(found))

    def test_network_tree_toggles_and_links_are_apart(self) -> None:
        # The arrow opens a branch (its classes or dormitories come in on demand); the unit's
        # name beside it is a link of its own, not inside the toggle.
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = self.open_browser(p)
            try:
                page = self.page_as(browser, "T1004", PHONE)
                page.goto(f"{self.live_server_url}/network/")
                self.assertEqual(page.locator(".xl-tree summary a").count(), 0)
                branch = page.locator(f"li.xl-branch:has(> .xl-node a[href='/units/{self.class_a1.pk}/'])")
                self.assertIsNone(branch.locator("> details").get_attribute("open"))
                toggle = branch.locator("> details > summary")
                self.assertIn(self.class_a1.name, toggle.inner_text())  # named for screen readers
                toggle.click()
                page.wait_for_selector(f"a[href='/units/{self.dorm_a1.pk}/']")
                self.assertTrue(page.evaluate(NO_OVERFLOW), "the open tree overflows on a phone")
                found = violations(page)
                self.shot(page, "network-open-390")
                page.click(f".xl-tree a[href='/units/{self.class_a1.pk}/']")
                page.wait_for_url(f"**/units/{self.class_a1.pk}/")
                page.context.close()
            finally:
                browser.close()
        self.assertEqual(found, [], "\n".join(found))

    def test_a_table_wider_than_the_phone_is_reachable_by_keyboard(self) -> None:
        # The campaign report's tables scroll sideways on a phone: their box is a tab stop.
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = self.open_browser(p)
            try:
                page = self.page_as(browser, "T1001", {**PHONE, "viewport": {"width": 320, "height": 700}})
                page.goto(f"{self.live_server_url}/screening/campaigns/{self.scr_campaign.pk}/report/")
                page.wait_for_load_state("networkidle")
                boxes = page.evaluate("""() => [...document.querySelectorAll('.table-responsive')].map(
                    b => [b.scrollWidth > b.clientWidth, b.getAttribute('tabindex')])""")
                self.assertIn([True, "0"], boxes)  # one does scroll, and is focusable
                for scrolls, tabindex in boxes:
                    self.assertEqual(tabindex, "0" if scrolls else None, boxes)
                found = violations(page)
                page.context.close()
            finally:
                browser.close()
        self.assertEqual(found, [], "\n".join(found))

    # --- what axe does not measure -----------------------------------------------------------

    def test_navbar_is_one_line_on_a_laptop_in_both_languages(self) -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = self.open_browser(p)
            try:
                for language in ("en", "zh-hans"):
                    for width in (1280, 1366):
                        device = {"viewport": {"width": width, "height": 800}}
                        page = self.page_as(browser, "T1004", device, language)
                        height = page.evaluate("document.querySelector('nav.xl-navbar').offsetHeight")
                        self.assertLess(height, 70, f"the navbar wraps at {width} px in {language}: {height} px")
                        self.assertTrue(page.evaluate(NO_OVERFLOW), f"sideways scroll at {width} px")
                        self.assertTrue(page.is_visible("#xl-nav a[href='/care/alerts/']"))
                        page.screenshot(path=str(ARTIFACTS / f"a11y-navbar-{language}-{width}.png"),
                                        clip={"x": 0, "y": 0, "width": width, "height": 80})
                        page.context.close()
                page = self.page_as(browser, "T1004", PHONE, "en")
                self.assertTrue(page.evaluate(NO_OVERFLOW), "the navbar overflows on a phone")
                self.assertTrue(page.is_visible(".navbar-toggler"))
                self.assertFalse(page.is_visible("#xl-nav a[href='/care/alerts/']"))  # folded
                page.click(".navbar-toggler")
                page.click("#xl-nav a[href='/care/alerts/']")
                page.wait_for_url("**/care/alerts/")
                page.context.close()
            finally:
                browser.close()

    def test_keyboard_focus_ring_is_visible(self) -> None:
        # Tab to the first link of the page: a 3 px ring at least 3:1 against the page.
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = self.open_browser(p)
            try:
                page = self.page_as(browser, "T1004", LAPTOP)
                page.goto(f"{self.live_server_url}/care/alerts/")
                page.focus("main a")
                page.keyboard.press("Shift+Tab")
                page.keyboard.press("Tab")  # a keyboard move: :focus-visible applies
                ring = page.evaluate("""() => { const s = getComputedStyle(document.activeElement);
                    return [s.outlineStyle, parseFloat(s.outlineWidth), s.outlineColor]; }""")
                self.assertEqual(ring[0], "solid", ring)
                self.assertGreaterEqual(ring[1], 3, ring)
                self.assertEqual(ring[2], "rgb(23, 76, 72)", ring)  # #174c48: 9:1 on the page
                # On the teal navbar the ring is white.
                page.focus(".xl-navbar a.navbar-brand")
                page.keyboard.press("Tab")
                page.keyboard.press("Shift+Tab")
                color = page.evaluate("getComputedStyle(document.activeElement).outlineColor")
                self.assertEqual(color, "rgb(255, 255, 255)")
                page.context.close()
            finally:
                browser.close()

    def test_questionnaire_next_and_back_move_focus_and_announce_the_page(self) -> None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = self.open_browser(p)
            try:
                page = self.page_as(browser, "S0005", PHONE)
                page.goto(f"{self.live_server_url}/screening/a/{self.scr_assignment_b1.pk}/")
                page.wait_for_selector("#scr-next:visible")
                page.focus("#scr-next")
                page.keyboard.press("Enter")
                focused = page.evaluate("""() => { const e = document.activeElement;
                    return [e.tagName, e.className, e.getBoundingClientRect().top, window.innerHeight]; }""")
                self.assertEqual(focused[0], "FIELDSET", focused)  # page 2 starts with a question
                self.assertIn("xl-q", focused[1])
                self.assertTrue(0 <= focused[2] < focused[3], f"focus is off-screen: {focused}")
                announced = page.inner_text("#scr-announce")
                self.assertRegex(announced, r"2\D+\d")  # 第 2 页，共 N 页
                self.assertEqual(page.get_attribute("#scr-announce", "aria-live"), "polite")
                found = violations(page)
                self.shot(page, "questionnaire-page2-390")

                page.focus("#scr-back")
                page.keyboard.press("Enter")
                focused = page.evaluate("""() => { const e = document.activeElement;
                    return [e.tagName, e.textContent.trim(), e.getBoundingClientRect().top]; }""")
                self.assertEqual(focused[0], "H2", focused)  # back on page 1: the questionnaire's name
                self.assertGreaterEqual(focused[2], 0, focused)
                self.assertRegex(page.inner_text("#scr-announce"), r"1\D+\d")
                page.context.close()
            finally:
                browser.close()
        self.assertEqual(found, [], "\n".join(found))
