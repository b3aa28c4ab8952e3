"""An activity in a real browser (Debian's chromium), in zh-Hans and in English, on a 390 px phone:
class A1's 心理委员 opens the activity from the home page and records it with two real photo
files (the thumbnail grid shows both, decoded); the 班主任 shows the sign-in QR code and a
student signs in through the scan address with one tap; the centre's "which units have done it"
table shows class A1 done with one sign-in (at 390 px and 1280 px).

Screenshots go to test-artifacts/activities-*.png."""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import tempfile
from pathlib import Path

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.test import override_settings
from django.utils import timezone
from PIL import Image

from xinlian.activities.models import Activity, Assignment, AssignmentStatus, Photo, SignIn

from .base import PASSWORD, NetworkTestCase
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .twostep import pass_second_step

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop

LAPTOP = {"viewport": {"width": 1280, "height": 900}}
TEXT = {
    "zh": {"locale": "zh-CN", "saved": "活动已记录", "signed": "你已签到", "confirm": "确认签到"},
    "en": {"locale": "en-US", "saved": "The activity is recorded", "signed": "You are signed in",
           "confirm": "Sign me in"},
}
MEDIA = Path(tempfile.mkdtemp(prefix="xl-act-browser-"))


@override_settings(PRIVATE_MEDIA_ROOT=MEDIA)
class ActivityInTheBrowserTests(StaticLiveServerTestCase):
    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        shutil.rmtree(MEDIA, ignore_errors=True)

    def setUp(self) -> None:
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        self.activity = Activity.objects.create(kind="class_meeting", title="主题班会：学会求助",
                                                planner_unit=self.school, planned_by=self.director)
        for unit in (self.class_a1, self.class_a2):
            Assignment.objects.create(activity=self.activity, unit=unit, assigned_by=self.director,
                                      due_on=timezone.localdate() + dt.timedelta(days=3))
        self.files = Path(tempfile.mkdtemp(prefix="xl-act-files-"))
        self.addCleanup(shutil.rmtree, self.files, True)
        for i, fmt in enumerate(("JPEG", "PNG")):
            image = Image.new("RGB", (1200, 800), (30 + 90 * i, 140, 200 - 60 * i))
            exif = Image.Exif()
            exif[0x8825] = {1: "N", 2: (31.0, 14.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)}
            out = io.BytesIO()
            image.save(out, fmt, exif=exif.tobytes())
            (self.files / f"photo{i}.{fmt.lower().replace('jpeg', 'jpg')}").write_bytes(out.getvalue())
        ARTIFACTS.mkdir(exist_ok=True)

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"activities-{name}.png"), full_page=True)

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
                self.record_with_photos(browser, lang)
                scan = self.show_the_code(browser, lang)
                self.student_signs_in(browser, lang, scan)
                self.centre_sees_it_done(browser, lang)
            finally:
                browser.close()

    def test_in_chinese(self) -> None:
        self.run_flow("zh")

    def test_in_english(self) -> None:
        self.run_flow("en")

    def record_with_photos(self, browser, lang: str) -> None:
        page = self.login(browser, "S0006", PHONE, "/", lang)  # 刘洋, 心理委员 of class A1
        self.shot(page, f"{lang}-390-home")
        page.click("#home-work li[data-kind=activity] a.xl-work-title")
        page.wait_for_url("**/activities/assignments/**")
        self.assertTrue(page.evaluate(NO_OVERFLOW), "the record form overflows sideways on a phone")
        page.fill("#held_on", timezone.localdate().isoformat())
        page.fill("#attendance", "36")
        page.fill("#place", "教学楼 A203")
        page.fill("#audience", "2023级1班全体同学")
        page.fill("#summary", "同学们讨论了遇到困难时可以向谁求助。")
        page.set_input_files("#photos", [str(self.files / "photo0.jpg"), str(self.files / "photo1.png")])
        self.shot(page, f"{lang}-390-record-form")
        page.click("#save-record")
        page.wait_for_selector("#thumbs")
        self.assertIn(TEXT[lang]["saved"], page.inner_text("main"))
        widths = page.eval_on_selector_all("#thumbs img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : -1)")
        page.wait_for_function("() => [...document.querySelectorAll('#thumbs img')].every(i => i.complete && i.naturalWidth > 0)")
        widths = page.eval_on_selector_all("#thumbs img", "imgs => imgs.map(i => i.naturalWidth)")
        self.assertEqual(len(widths), 2)
        self.assertTrue(all(w > 0 for w in widths), widths)
        self.assertTrue(page.evaluate(NO_OVERFLOW))
        self.assertEqual(Photo.objects.count(), 2)
        self.assertEqual(Assignment.objects.get(activity=self.activity, unit=self.class_a1).status,
                         AssignmentStatus.DONE)
        self.shot(page, f"{lang}-390-recorded")
        page.context.close()

    def show_the_code(self, browser, lang: str) -> str:
        a1 = Assignment.objects.get(activity=self.activity, unit=self.class_a1)
        page = self.login(browser, "T1002", PHONE, f"/activities/assignments/{a1.pk}/", lang)  # 吴老师, 班主任
        page.click("#open-sign-in")
        page.wait_for_selector("#qr")
        box = page.eval_on_selector("#qr", "img => img.getBoundingClientRect().width")
        self.assertGreater(box, 300)  # big enough to scan across a classroom
        self.assertEqual(page.get_attribute("#qr-box", "hx-trigger"), "every 30s")
        self.assertTrue(page.evaluate(NO_OVERFLOW))
        self.shot(page, f"{lang}-390-sign-in-screen")
        href = page.get_attribute("#sign-in-link", "href")
        page.context.close()
        return href.removeprefix(self.live_server_url)

    def student_signs_in(self, browser, lang: str, scan: str) -> None:
        page = self.login(browser, "S0001", PHONE, scan, lang)  # 张小明, a student of class A1
        self.assertIn(self.activity.title, page.inner_text("#activity-title"))
        self.shot(page, f"{lang}-390-scan")
        page.click("#confirm-sign-in")
        page.wait_for_selector("#signed-in")
        self.assertIn(TEXT[lang]["signed"], page.inner_text("#signed-in"))
        self.assertEqual(SignIn.objects.filter(person__username="S0001").count(), 1)
        self.shot(page, f"{lang}-390-signed-in")
        page.context.close()

    def centre_sees_it_done(self, browser, lang: str) -> None:
        for device, width in ((PHONE, 390), (LAPTOP, 1280)):
            page = self.login(browser, "T1004", device, f"/activities/{self.activity.pk}/", lang)  # 钱主任
            rows = page.locator("#units-table tbody tr")
            self.assertEqual(rows.count(), 2)
            done = page.locator("#units-table tbody tr:has(.xl-status-done)")
            self.assertEqual(done.count(), 1)
            self.assertIn("2023级1班" if lang == "zh" else "Class A1", done.inner_text())
            if width == 1280:
                self.assertIn("1", done.locator("td").nth(4).inner_text())  # signed in
            self.assertTrue(page.evaluate(NO_OVERFLOW))
            self.shot(page, f"{lang}-{width}-centre-table")
            page.context.close()
