"""Notifications: the robots' formats and signatures against a real local HTTP server, retries
and the failed list, the inbox with its badge — and that no message names a student."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import time
import uuid
from urllib.parse import parse_qs, urlsplit

from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from xinlian.care.models import Concern
from xinlian.network.models import Role, Unit, UnitKind
from xinlian.notify.models import Channel, Delivery, DeliveryStatus, Robot
from xinlian.notify.sending import robot_payload, robot_url, send_due
from xinlian.web.models import Session

from .base import PASSWORD, NetworkTestCase, make_staff
from .robot_receiver import Receiver
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .twostep import pass_second_step

MSG = "A %(level_label)s alert for a student in %(place)s needs your acknowledgement."
DING_SECRET = "SECdingtalk-test-secret-0123456789"
FEISHU_SECRET = "feishu-test-secret"


class NotifyTestCase(NetworkTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.receiver = Receiver()
        self.receiver.__enter__()
        self.addCleanup(self.receiver.__exit__)

    def robot(self, mode: str = "ok", kind: str = "wecom", secret: str = "", unit: Unit | None = None,
              name: str = "2023级1班心理群") -> Robot:
        return Robot.objects.create(unit=unit or self.class_a1, name=name, kind=kind, secret=secret,
                                    url=self.receiver.url(mode, kind))

    def webhook(self, robot: Robot, **kw) -> Delivery:
        return Delivery.objects.create(channel=Channel.WEBHOOK, robot=robot, message=MSG,
                                       params={"level_label": "red", "place": self.class_a1.breadcrumb()},
                                       link="/care/alerts/7/", **kw)

    def make_due(self, delivery: Delivery) -> None:
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


class RobotFormatTests(NotifyTestCase):
    def report_self_harm(self) -> Concern:
        concern, _ = Concern.submit(key=uuid.uuid4(), reporter=self.persona("liaison_a1"),
                                    student=self.student_a1, category="self_harm", urgency="now",
                                    seen="他在宿舍说不想活了")
        return concern

    def test_each_kind_is_posted_in_its_own_format_with_its_key(self):
        wecom = self.robot(kind="wecom")
        ding = self.robot(kind="dingtalk", secret=DING_SECRET)
        feishu = self.robot(kind="feishu", secret=FEISHU_SECRET)
        alert = self.report_self_harm().alerts.get()
        deliveries = {d.robot_id: d for d in Delivery.objects.filter(channel=Channel.WEBHOOK)}
        self.assertEqual(set(deliveries), {wecom.pk, ding.pk, feishu.pk})
        self.assertEqual(send_due(), 3)

        by_kind = {r.path.split("/")[2]: r for r in self.receiver.received}
        self.assertEqual(set(by_kind), {"wecom", "dingtalk", "feishu"})
        for kind, robot in (("wecom", wecom), ("dingtalk", ding), ("feishu", feishu)):
            got = by_kind[kind]
            self.assertEqual(got.key, str(deliveries[robot.pk].key), kind)
            self.assertTrue(got.headers["Content-Type"].startswith("application/json"))
        # WeCom and DingTalk: {"msgtype": "text", "text": {"content": …}}
        for kind in ("wecom", "dingtalk"):
            body = by_kind[kind].body
            self.assertEqual(set(body), {"msgtype", "text"})
            self.assertEqual(body["msgtype"], "text")
            self.assertIsInstance(body["text"]["content"], str)
        # Feishu: {"msg_type": "text", "content": {"text": …}} with its signature in the body.
        fbody = by_kind["feishu"].body
        self.assertEqual(set(fbody), {"msg_type", "content", "timestamp", "sign"})
        self.assertEqual(fbody["msg_type"], "text")
        texts = [by_kind["wecom"].body["text"]["content"], by_kind["dingtalk"].body["text"]["content"],
                 fbody["content"]["text"]]
        for text in texts:
            self.assertIn("计算机学院 2023级1班", text)
            self.assertIn(f"/care/alerts/{alert.pk}/", text)
            for secret_word in ("张小明", "S0001", "不想活", "self", "Self-harm", "自伤", "自杀", "孙悦"):
                self.assertNotIn(secret_word, text)
        for d in Delivery.objects.filter(channel=Channel.WEBHOOK):
            self.assertEqual((d.status, d.attempts), (DeliveryStatus.SENT, 1))

    def test_dingtalk_signature_verifies(self):
        self.webhook(self.robot(kind="dingtalk", secret=DING_SECRET))
        self.assertEqual(send_due(), 1)
        got = self.receiver.received[0]
        ts = got.query["timestamp"][0]
        self.assertLess(abs(int(ts) - time.time() * 1000), 60_000)  # milliseconds, and recent
        # As DingTalk checks it: base64(HMAC-SHA256(secret, "timestamp\nsecret")).
        expected = base64.b64encode(hmac.new(DING_SECRET.encode(), f"{ts}\n{DING_SECRET}".encode(),
                                             hashlib.sha256).digest()).decode()
        self.assertEqual(got.query["sign"][0], expected)  # parse_qs undid the URL-encoding
        self.assertEqual(got.query["key"], ["test"])  # the robot's own query string is kept

    def test_feishu_signature_verifies(self):
        self.webhook(self.robot(kind="feishu", secret=FEISHU_SECRET))
        self.assertEqual(send_due(), 1)
        body = self.receiver.received[0].body
        ts = body["timestamp"]
        self.assertIsInstance(ts, str)
        self.assertLess(abs(int(ts) - time.time()), 60)  # seconds, and recent
        # As Feishu checks it: the HMAC key is "timestamp\nsecret", the message empty.
        expected = base64.b64encode(hmac.new(f"{ts}\n{FEISHU_SECRET}".encode(), b"",
                                             hashlib.sha256).digest()).decode()
        self.assertEqual(body["sign"], expected)

    def test_signatures_only_with_a_secret(self):
        base = "https://oapi.dingtalk.com/robot/send?access_token=x"
        self.assertEqual(robot_url("dingtalk", base), base)
        self.assertEqual(robot_url("wecom", base, "s"), base)  # WeCom has no signing
        self.assertEqual(set(robot_payload("feishu", "hi")), {"msg_type", "content"})
        query = parse_qs(urlsplit(robot_url("dingtalk", base, "s", now=1.5)).query)
        expected = base64.b64encode(hmac.new(b"s", b"1500\ns", hashlib.sha256).digest()).decode()
        self.assertEqual(query, {"access_token": ["x"], "timestamp": ["1500"], "sign": [expected]})

    @override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
    def test_email_names_no_student_either(self):
        counsellor = self.persona("counsellor_a")
        counsellor.email = "zhou@example.edu.cn"
        counsellor.save()
        self.report_self_harm()
        send_due()
        self.assertEqual(len(mail.outbox), 1)
        message = mail.outbox[0]
        key = Delivery.objects.get(channel=Channel.EMAIL).key
        self.assertEqual(message.extra_headers["X-Xinlian-Delivery"], str(key))
        for part in (message.subject, message.body):
            self.assertIn("2023级1班", part)
            for secret_word in ("张小明", "S0001", "不想活", "Self-harm"):
                self.assertNotIn(secret_word, part)


class RetryTests(NotifyTestCase):
    def fail_for_good(self, delivery: Delivery) -> None:
        for _ in range(Delivery.MAX_ATTEMPTS):
            self.make_due(delivery)
            send_due()

    def test_500_backs_off_then_fails_and_shows_on_the_failed_page(self):
        d = self.webhook(self.robot(mode="500"))
        self.assertEqual(send_due(), 0)
        d.refresh_from_db()
        self.assertEqual((d.status, d.attempts, d.last_error), (DeliveryStatus.PENDING, 1, "HTTP 500"))
        self.assertGreater(d.next_attempt_at, timezone.now() + dt.timedelta(seconds=5))
        self.assertEqual(send_due(), 0)  # not due again yet: nothing was posted
        self.assertEqual(len(self.receiver.received), 1)

        self.fail_for_good(d)
        d.refresh_from_db()
        self.assertEqual((d.status, d.attempts), (DeliveryStatus.FAILED, Delivery.MAX_ATTEMPTS))
        # Every attempt carried the same idempotency key; no attempt after the last.
        self.assertEqual(self.receiver.keys(), [str(d.key)] * Delivery.MAX_ATTEMPTS)
        self.make_due(d)
        send_due()
        self.assertEqual(len(self.receiver.received), Delivery.MAX_ATTEMPTS)

        self.login("director")
        page = self.client.get(reverse("deliveries-failed"))
        self.assertContains(page, "2023级1班心理群")
        self.assertContains(page, "HTTP 500")
        self.assertContains(page, reverse("delivery-retry", args=[d.pk]))
        self.assertNotContains(page, "127.0.0.1")  # the robot's address embeds its key

    def test_timeout_is_a_failed_attempt(self):
        d = self.webhook(self.robot(mode="hang"))
        with override_settings(WEBHOOK_TIMEOUT=0.2):
            self.assertEqual(send_due(), 0)
        d.refresh_from_db()
        self.assertEqual((d.status, d.attempts), (DeliveryStatus.PENDING, 1))
        self.assertEqual(d.last_error, "timed out after 0.2 s")
        self.assertGreater(d.next_attempt_at, timezone.now())

    def test_robot_error_bodies_are_failures(self):
        ding = self.webhook(self.robot(mode="refuse", kind="dingtalk"))
        feishu = self.webhook(self.robot(mode="refuse", kind="feishu"))
        wecom = self.webhook(self.robot(mode="refuse", kind="wecom"))
        garbage = self.webhook(self.robot(mode="garbage", kind="wecom"))
        self.assertEqual(send_due(), 0)
        errors = {d.pk: (d.status, d.last_error) for d in Delivery.objects.all()}
        self.assertEqual(errors[ding.pk], (DeliveryStatus.PENDING, "robot refused: error code 310000"))
        self.assertEqual(errors[feishu.pk], (DeliveryStatus.PENDING, "robot refused: error code 19021"))
        self.assertEqual(errors[wecom.pk], (DeliveryStatus.PENDING, "robot refused: error code 93000"))
        self.assertEqual(errors[garbage.pk], (DeliveryStatus.PENDING, "robot refused: answer is not JSON"))

    def test_retry_sends_again(self):
        robot = self.robot(mode="500")
        d = self.webhook(robot)
        self.fail_for_good(d)
        robot.url = self.receiver.url("ok", "wecom")  # the centre fixed the robot
        robot.save()
        self.login("director")
        response = self.client.post(reverse("delivery-retry", args=[d.pk]))
        self.assertRedirects(response, reverse("deliveries-failed"))
        d.refresh_from_db()
        self.assertEqual((d.status, d.attempts), (DeliveryStatus.PENDING, 0))
        self.assertEqual(send_due(), 1)
        d.refresh_from_db()
        self.assertEqual(d.status, DeliveryStatus.SENT)
        self.client.cookies["django_language"] = "en"
        again = self.client.post(reverse("delivery-retry", args=[d.pk]), follow=True)
        self.assertContains(again, "no longer failed")
        d.refresh_from_db()
        self.assertEqual(d.status, DeliveryStatus.SENT)

    def test_failed_page_and_retry_are_for_the_centre_in_its_scope(self):
        d = self.webhook(self.robot(mode="500"), status=DeliveryStatus.FAILED, attempts=6)
        other_school = self.bureau.add_unit(kind=UnitKind.SCHOOL, code="SCH2", name="第二中学",
                                            name_en="Second School")
        elsewhere = self.webhook(self.robot(unit=other_school, name="二中群"),
                                 status=DeliveryStatus.FAILED, attempts=6)
        other_director = make_staff("T3001", "何主任", Role.CENTRE_DIRECTOR, other_school)
        for persona in ("counsellor_a", "head_teacher_a1", "student_a1_user", "bureau_viewer"):
            self.login(persona)
            self.assertEqual(self.client.get(reverse("deliveries-failed")).status_code, 403, persona)
            self.assertEqual(self.client.post(reverse("delivery-retry", args=[d.pk])).status_code, 403)
        self.login("director")
        page = self.client.get(reverse("deliveries-failed"))
        self.assertContains(page, "2023级1班心理群")
        self.assertNotContains(page, "二中群")
        self.assertEqual(self.client.post(reverse("delivery-retry", args=[elsewhere.pk])).status_code, 404)
        self.assertEqual(self.client.get(reverse("delivery-retry", args=[d.pk])).status_code, 405)
        self.client.force_login(other_director)
        self.assertContains(self.client.get(reverse("deliveries-failed")), "二中群")
        elsewhere.refresh_from_db()
        self.assertEqual(elsewhere.status, DeliveryStatus.FAILED)

    def test_inbox_points_the_centre_at_failures(self):
        self.webhook(self.robot(mode="500"), status=DeliveryStatus.FAILED, attempts=6)
        self.login("director")
        self.assertContains(self.client.get(reverse("inbox")), reverse("deliveries-failed"))
        self.login("counsellor_a")
        self.assertNotContains(self.client.get(reverse("inbox")), reverse("deliveries-failed"))


class InboxTests(NetworkTestCase):
    def message(self, persona: str, link: str = "/care/alerts/12/", minutes_ago: int = 0,
                place: str = "计算机学院 2023级1班") -> Delivery:
        d = Delivery.objects.create(channel=Channel.INBOX, recipient=getattr(self, persona),
                                    message=MSG, params={"level_label": "red", "place": place},
                                    link=link, status=DeliveryStatus.SENT)
        Delivery.objects.filter(pk=d.pk).update(created_at=timezone.now() - dt.timedelta(minutes=minutes_ago))
        return d

    def test_inbox_lists_own_messages_newest_first_unread_bold(self):
        old = self.message("counsellor_a", place="旧消息班", minutes_ago=30)
        new = self.message("counsellor_a", place="新消息班")
        self.message("outsider_b", place="别人的班")
        Delivery.objects.filter(pk=old.pk).update(read_at=timezone.now())
        self.login("counsellor_a")
        body = self.client.get(reverse("inbox")).content.decode()
        self.assertLess(body.index("新消息班"), body.index("旧消息班"))
        self.assertNotIn("别人的班", body)
        new_item = body[body.index(reverse("inbox-read", args=[new.pk])):body.index("新消息班")]
        old_item = body[body.index(reverse("inbox-read", args=[old.pk])):body.index("旧消息班")]
        self.assertIn("fw-bold", new_item)
        self.assertNotIn("fw-bold", old_item)
        self.assertNotIn("/care/alerts/12/", body)  # links are followed through the POST

    def test_opening_marks_read_and_follows_the_link(self):
        d = self.message("counsellor_a")
        self.login("counsellor_a")
        self.assertEqual(self.client.get(reverse("inbox-read", args=[d.pk])).status_code, 405)
        response = self.client.post(reverse("inbox-read", args=[d.pk]))
        self.assertEqual((response.status_code, response["Location"]), (302, "/care/alerts/12/"))
        d.refresh_from_db()
        self.assertIsNotNone(d.read_at)

    def test_someone_elses_message_is_404(self):
        d = self.message("outsider_b")
        self.login("counsellor_a")
        self.assertEqual(self.client.post(reverse("inbox-read", args=[d.pk])).status_code, 404)
        d.refresh_from_db()
        self.assertIsNone(d.read_at)

    def test_a_link_leaving_the_site_is_not_followed(self):
        d = self.message("counsellor_a", link="https://evil.example/phish")
        self.login("counsellor_a")
        response = self.client.post(reverse("inbox-read", args=[d.pk]))
        self.assertRedirects(response, reverse("inbox"))

    def test_mark_all_read(self):
        mine = [self.message("counsellor_a"), self.message("counsellor_a")]
        theirs = self.message("outsider_b")
        self.login("counsellor_a")
        self.assertEqual(self.client.get(reverse("inbox-read-all")).status_code, 405)
        self.assertRedirects(self.client.post(reverse("inbox-read-all")), reverse("inbox"))
        self.assertFalse(Delivery.objects.filter(pk__in=[d.pk for d in mine], read_at__isnull=True).exists())
        theirs.refresh_from_db()
        self.assertIsNone(theirs.read_at)

    def test_badge_counts_unread(self):
        self.message("counsellor_a")
        self.message("counsellor_a")
        Delivery.objects.filter(pk=self.message("counsellor_a").pk).update(read_at=timezone.now())
        self.message("outsider_b")
        self.login("counsellor_a")
        body = self.client.get(reverse("inbox-badge"), HTTP_HX_REQUEST="true").content.decode()
        self.assertIn(">2<", body)
        self.client.post(reverse("inbox-read-all"))
        self.assertNotIn("badge", self.client.get(reverse("inbox-badge")).content.decode())

    def test_badge_polls_without_keeping_the_session_alive(self):
        self.login("counsellor_a")
        key = self.client.session.session_key
        stale = timezone.now() + dt.timedelta(minutes=5)  # last renewed 25 minutes ago
        Session.objects.filter(session_key=key).update(expire_date=stale)
        self.assertEqual(self.client.get(reverse("inbox-badge"), HTTP_HX_REQUEST="true").status_code, 200)
        self.assertEqual(Session.objects.get(session_key=key).expire_date, stale)
        self.client.get(reverse("inbox"))  # a real page view is activity
        self.assertGreater(Session.objects.get(session_key=key).expire_date, stale)

    def test_badge_when_signed_out(self):
        response = self.client.get(reverse("inbox-badge"), HTTP_HX_REQUEST="true")
        self.assertEqual((response.status_code, response.content), (286, b""))  # htmx stops polling
        response = self.client.get(reverse("inbox-badge"))
        self.assertEqual(response.status_code, 302)
        self.assertTrue(response["Location"].startswith(reverse("login")))

    def test_badge_markup_polls_every_30_seconds(self):
        from django.template.loader import render_to_string
        from django.test import RequestFactory

        request = RequestFactory().get("/")
        request.user = self.persona("counsellor_a")
        html = render_to_string("notify/_badge.html", {"user": request.user, "request": request})
        self.assertIn(f'hx-get="{reverse("inbox-badge")}"', html)
        self.assertIn('hx-trigger="load, every 30s"', html)
        self.assertIn('hx-swap="innerHTML"', html)  # the polling element itself stays put

    def test_message_in_the_readers_language(self):
        self.message("counsellor_a")
        self.login("counsellor_a")
        self.client.cookies["django_language"] = "en"
        self.assertContains(self.client.get(reverse("inbox")), "alert for a student in 计算机学院 2023级1班")


class DirectorOnPhoneTests(StaticLiveServerTestCase):
    """The centre director on a phone, in Debian's chromium: the badge counts, the inbox opens a
    message, the failed list offers a retry — with no sideways scrolling."""

    def setUp(self) -> None:
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        ARTIFACTS.mkdir(exist_ok=True)

    def test_director_phone_journey(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        place = self.class_a1.breadcrumb()
        for minutes in (10, 0):
            d = Delivery.objects.create(channel=Channel.INBOX, recipient=self.director, message=MSG,
                                        params={"level_label": "red", "place": place},
                                        link=reverse("my-posts"), status=DeliveryStatus.SENT)
            Delivery.objects.filter(pk=d.pk).update(created_at=timezone.now() - dt.timedelta(minutes=minutes))
        robot = Robot.objects.create(unit=self.class_a1, name="2023级1班心理群", kind="dingtalk",
                                     url="http://127.0.0.1:9/robot/send?access_token=x")
        failed = Delivery.objects.create(channel=Channel.WEBHOOK, robot=robot, message=MSG,
                                         params={"level_label": "red", "place": place}, link="/",
                                         status=DeliveryStatus.FAILED, attempts=6,
                                         last_error="timed out after 5 s")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_context(**PHONE, locale="zh-CN").new_page()
                page.goto(f"{self.live_server_url}/login/")
                page.fill("input[name=username]", "T1004")
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit].btn-primary")
                pass_second_step(page, "T1004")
                page.wait_for_url(f"{self.live_server_url}/")
                # The badge sits in the menu (collapsed on a phone), filled in by htmx.
                page.click(".navbar-toggler")
                badge = page.locator(".xl-inbox-link .badge")
                badge.wait_for()
                self.assertEqual(badge.inner_text(), "2")
                page.click(".xl-inbox-link")
                page.wait_for_url("**/inbox/")
                self.assertTrue(page.evaluate(NO_OVERFLOW), "inbox overflows sideways on a phone")
                self.assertEqual(page.locator("form[action*='/read/'] button.fw-bold").count(), 2)
                page.screenshot(path=str(ARTIFACTS / "phone-inbox.png"), full_page=True)
                page.locator("form[action*='/read/'] button").first.click()
                page.wait_for_url(f"**{reverse('my-posts')}")
                page.wait_for_function("document.querySelector('.xl-inbox-link .badge')"
                                       " && document.querySelector('.xl-inbox-link .badge').innerText === '1'")
                page.goto(f"{self.live_server_url}{reverse('deliveries-failed')}")
                self.assertIn("2023级1班心理群", page.inner_text("main"))
                self.assertIn("timed out after 5 s", page.inner_text("main"))
                self.assertTrue(page.evaluate(NO_OVERFLOW), "failed list overflows sideways on a phone")
                page.screenshot(path=str(ARTIFACTS / "phone-failed-deliveries.png"), full_page=True)
                page.click(f"form[action='{reverse('delivery-retry', args=[failed.pk])}'] button")
                page.wait_for_url("**/inbox/failed/")
                # Queued again: no longer on the failed list.
                retry = f"form[action='{reverse('delivery-retry', args=[failed.pk])}']"
                self.assertEqual(page.locator(retry).count(), 0)
                self.assertEqual(page.locator(".alert-success").count(), 1)
                page.wait_for_load_state("networkidle")  # the badge's htmx request is done
            finally:
                browser.close()
