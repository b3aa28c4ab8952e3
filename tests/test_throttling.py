"""Throttling (xinlian/access/throttle.py, xinlian/access/ratelimit.py):

- one address guessing passwords across many accounts is slowed, then blocked, on the login page
  and the token login, counted in the database (axes' AccessFailureLog);
- one account cannot flood the network with alerts: concerns and screening submissions are
  limited per user and hour in the verbs (page and API alike), with an audit row."""

from __future__ import annotations

import datetime as dt
import uuid

from axes.models import AccessFailureLog
from django.db.models import F
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from xinlian.access.models import AuditEvent, AuditResult
from xinlian.care.models import Alert, Concern
from xinlian.network.models import User
from xinlian.screening.models import (
    Assignment,
    AssignmentStatus,
    Campaign,
    CampaignInstrument,
    Instrument,
)

from .base import PASSWORD, NetworkTestCase
from .screening_base import PURPOSE, answers_for
from .test_care_api import SEEN, CareApiTestCase
from .test_screening_api import ScreeningApiTestCase, url

ATTACKER = "203.0.113.7"
NEIGHBOUR = "198.51.100.9"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def age_failures(seconds: int) -> None:
    """Move every recorded login failure back in time (as if the attacker had waited)."""
    AccessFailureLog.objects.update(attempt_time=F("attempt_time") - dt.timedelta(seconds=seconds))


class AddressThrottleTests(NetworkTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.accounts = [User.objects.create_user(username=f"U{n:04d}", password=PASSWORD, full_name=f"学生{n}",
                                                 kind="student") for n in range(25)]

    def login_as(self, number: str, password: str = "wrong", ip: str = ATTACKER, **extra):
        return self.client.post(reverse("login"), {"username": number, "password": password},
                                REMOTE_ADDR=ip, **extra)

    def fail_across_accounts(self, count: int, *, wait: int = 31, ip: str = ATTACKER) -> None:
        """``count`` failed logins, each on another account, waiting out the slow-down."""
        for n in range(count):
            response = self.login_as(f"U{n:04d}", ip=ip)
            self.assertEqual(response.status_code, 200, f"attempt {n + 1}")
            age_failures(wait)

    def test_many_accounts_from_one_address_are_blocked_after_twenty_failures(self):
        self.fail_across_accounts(20)
        self.assertEqual(AccessFailureLog.objects.filter(ip_address=ATTACKER).count(), 20)
        # The 21st try is refused — even with the right password of a fresh account.
        response = self.login_as("U0024", PASSWORD)
        self.assertEqual(response.status_code, 429)
        self.assertTemplateUsed(response, "registration/locked_out_address.html")
        self.assertContains(response, "此网络地址的登录已暂时被封禁", status_code=429)
        self.assertContains(response, "Logins from this network address are blocked for a while",
                            status_code=429)  # the other language, below
        self.assertNotIn("_auth_user_id", self.client.session)
        english = self.login_as("U0024", PASSWORD, **EN)
        self.assertContains(english, "Please try again in", status_code=429)
        # Another address is not touched, nor is the account itself.
        response = self.login_as("U0024", PASSWORD, ip=NEIGHBOUR)
        self.assertEqual(response.status_code, 302)

    def test_the_block_ends_when_the_failures_leave_the_window(self):
        self.fail_across_accounts(20)
        self.assertEqual(self.login_as("U0024", PASSWORD).status_code, 429)
        age_failures(61 * 60)
        self.assertEqual(self.login_as("U0024", PASSWORD).status_code, 302)

    def test_after_ten_failures_each_try_waits(self):
        for n in range(10):
            self.assertEqual(self.login_as(f"U{n:04d}").status_code, 200)
        response = self.login_as("U0010", PASSWORD)  # at once: slowed, the right password too
        self.assertEqual(response.status_code, 429)
        self.assertContains(response, "请稍候再试", status_code=429)
        self.assertContains(response, "Please wait", status_code=429)
        age_failures(31)
        self.assertEqual(self.login_as("U0011", PASSWORD).status_code, 302)

    def test_failures_are_counted_in_the_database_with_the_limits_from_settings(self):
        with self.settings(LOGIN_IP_FAILURE_LIMIT=5, LOGIN_IP_SLOW_AFTER=3):
            self.fail_across_accounts(5)
            self.assertEqual(self.login_as("U0024", PASSWORD).status_code, 429)

    def test_a_trusted_network_is_exempt_from_the_address_rule_only(self):
        with self.settings(LOGIN_TRUSTED_NETWORKS=["203.0.113.0/24"]):
            for n in range(24):
                self.assertEqual(self.login_as(f"U{n:04d}").status_code, 200)
            self.assertEqual(self.login_as("U0024", PASSWORD).status_code, 302)
            self.client.logout()
            # The per-account lockout still holds there.
            for _ in range(5):
                self.login_as("U0000")
            response = self.login_as("U0000", PASSWORD)
            self.assertEqual(response.status_code, 429)
            self.assertTemplateUsed(response, "registration/locked_out.html")

    def test_the_token_login_is_blocked_too_and_hands_out_nothing(self):
        token_url = reverse("api:auth-token")
        for n in range(20):
            response = self.client.post(token_url, {"username": f"U{n:04d}", "password": "wrong"},
                                        REMOTE_ADDR=ATTACKER)
            self.assertEqual(response.status_code, 400, f"attempt {n + 1}")
            age_failures(31)
        response = self.client.post(token_url, {"username": "U0024", "password": PASSWORD},
                                    REMOTE_ADDR=ATTACKER, **EN)
        self.assertEqual(response.status_code, 403)
        self.assertIn("network address", response.json()["detail"])
        self.assertFalse(AuthToken.objects.exists())
        response = self.client.post(token_url, {"username": "U0024", "password": PASSWORD},
                                    REMOTE_ADDR=ATTACKER)
        self.assertIn("网络地址", response.json()["detail"])


@override_settings(CONCERN_RATE_PER_HOUR=2, CONCERN_URGENT_RATE_PER_HOUR=3)
class ConcernRateTests(CareApiTestCase):
    def file_concern(self, persona: str = "liaison_a1", extra: dict | None = None, **kw):
        self.login(persona)
        body = {"key": str(uuid.uuid4()), "student": self.student_a1.pk, "category": "emotional",
                "urgency": "routine", "seen": SEEN, **kw}
        return self.post(reverse("care-api:concern-list"), body, **(extra or {}))

    def test_the_api_answers_429_then_urgent_ones_still_go_through(self):
        first_key = str(uuid.uuid4())
        self.assertEqual(self.file_concern(key=first_key).status_code, 201)
        self.assertEqual(self.file_concern().status_code, 201)
        refused = self.file_concern(extra=EN)
        self.assertEqual(refused.status_code, 429)
        self.assertIn("You have reported 2 concerns in the last hour", refused.json()["detail"])
        self.assertIn("Urgent — now", refused.json()["detail"])
        self.assertIn("过去一小时内你已上报 2 条情况", self.file_concern().json()["detail"])
        self.assertEqual((Concern.objects.count(), Alert.objects.count()), (2, 2))  # nothing written
        row = AuditEvent.objects.filter(action="ratelimit.concern").first()
        self.assertEqual((row.actor_id, row.result), (self.liaison_a1.pk, AuditResult.DENIED))
        self.assertNotIn(SEEN, row.detail)
        # A replay of an earlier key is never refused: it files nothing.
        replay = self.file_concern(key=first_key)
        self.assertEqual(replay.status_code, 200)
        # An urgent one has its own, higher limit.
        self.assertEqual(self.file_concern(urgency="now").status_code, 201)
        refused = self.file_concern(urgency="now", extra=EN)
        self.assertEqual(refused.status_code, 429)
        self.assertIn("call the duty line", refused.json()["detail"])
        self.assertEqual(Concern.objects.count(), 3)

    def test_it_is_per_reporter_and_per_hour(self):
        self.file_concern()
        self.file_concern()
        self.assertEqual(self.file_concern().status_code, 429)
        self.assertEqual(self.file_concern("head_teacher_a1").status_code, 201)  # another reporter
        Concern.objects.update(created_at=F("created_at") - dt.timedelta(minutes=61))
        self.assertEqual(self.file_concern().status_code, 201)

    def test_the_page_shows_the_message_by_the_form(self):
        self.file_concern()
        self.file_concern()
        form = {"key": str(uuid.uuid4()), "student": self.student_a1.pk, "category": "emotional",
                "urgency": "routine", "seen": SEEN,
                "seen_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")}
        response = self.client.post(reverse("concern-new"), form)
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "过去一小时内你已上报 2 条情况", status_code=400)
        self.assertContains(response, 'name="seen"', status_code=400)  # the form is still there
        self.assertEqual(Concern.objects.count(), 2)
        response = self.client.post(reverse("concern-new"), {**form, "urgency": "now"})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(Concern.objects.count(), 3)


class SubmitRateTests(ScreeningApiTestCase):
    def submitted_elsewhere(self) -> Assignment:
        """The same student submitted another campaign's screening a moment ago."""
        now = timezone.now()
        other = Campaign.objects.create(school=self.school, name="第二次普查", opens_at=now - dt.timedelta(days=1),
                                        closes_at=now + dt.timedelta(days=13), purpose=PURPOSE,
                                        created_by=self.director)
        ci = CampaignInstrument.objects.create(campaign=other, instrument=Instrument.latest("PHQ9"), order=0)
        other.launch(self.director)
        a2 = Assignment.objects.get(campaign=other, user=self.student_a1.user)
        a2.consent(True, other.consent_version)
        for item, value in answers_for(ci.instrument, 0).items():
            a2.save_answer(ci.pk, item, value, 3.0)
        a2.submit("elsewhere")
        return a2

    @override_settings(SCREENING_SUBMIT_RATE_PER_HOUR=1)
    def test_the_api_answers_429_and_a_replay_still_answers(self):
        a2 = self.submitted_elsewhere()
        self.consent_and_answer("student_a1_user", self.a1, 0)
        response = self.post(url("submit", self.a1.pk), {"key": "k-limited"}, **EN)
        self.assertEqual(response.status_code, 429)
        self.assertIn("You have submitted 1 questionnaire", response.json()["detail"])
        self.a1.refresh_from_db()
        self.assertNotEqual(self.a1.status, AssignmentStatus.SUBMITTED)
        self.assertTrue(AuditEvent.objects.filter(action="ratelimit.screening_submit",
                                                  result=AuditResult.DENIED).exists())
        replay = self.post(url("submit", a2.pk), {"key": "again"})
        self.assertEqual((replay.status_code, replay.json()["replay"]), (200, True))
        # An hour later it goes through.
        Assignment.objects.filter(pk=a2.pk).update(submitted_at=F("submitted_at") - dt.timedelta(minutes=61))
        response = self.post(url("submit", self.a1.pk), {"key": "k-later"})
        self.assertEqual(response.status_code, 200)

    @override_settings(SCREENING_SUBMIT_RATE_PER_HOUR=1)
    def test_the_page_shows_the_message_with_the_questionnaire_and_keeps_the_answers(self):
        self.submitted_elsewhere()
        self.consent_and_answer("student_a1_user", self.a1, 0)
        response = self.client.post(reverse("screening:submit", args=[self.a1.pk]), {"key": "page-k"})
        self.assertEqual(response.status_code, 409)
        self.assertContains(response, "过去一小时内你已提交 1 份问卷", status_code=409)
        self.a1.refresh_from_db()
        self.assertNotEqual(self.a1.status, AssignmentStatus.SUBMITTED)
        self.assertTrue(self.a1.responses.exists())  # what was answered stays
        self.assertContains(response, 'name="key"', status_code=409)  # the questionnaire, to submit later
