"""The session safety items of issue 13: a new session key at every way in (password, slip code,
the second step), every other session of a person ended when their password changes, an API
token's "last used" (at most one write a minute), failed logins counted per IPv6 /64, and the
first-login codes listed in the back office without their hashes."""

from __future__ import annotations

import datetime as dt

from axes.models import AccessFailureLog
from django.contrib.auth import SESSION_KEY
from django.db import connection
from django.db.models import F
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from xinlian.access import throttle, twofactor
from xinlian.access.models import TokenUse
from xinlian.network import identity
from xinlian.network.models import FirstLoginCode, Unit, UnitKind, User

from .base import PASSWORD, NetworkTestCase, make_staff
from .twostep import fresh_code

NEW_PASSWORD = "choose-a-long-one-2026"


def anonymous_session_key(client) -> str:
    """A session the visitor holds before logging in (as an attacker might have planted)."""
    session = client.session
    session["planted"] = 1
    session.save()
    client.cookies["sessionid"] = session.session_key
    return session.session_key


class SessionFixationTests(NetworkTestCase):
    def test_the_password_login_gives_a_new_session_key(self):
        before = anonymous_session_key(self.client)
        response = self.client.post(reverse("login"), {"username": "T1002", "password": PASSWORD})
        self.assertEqual(response.status_code, 302)
        self.assertNotEqual(self.client.session.session_key, before)
        self.assertIn(SESSION_KEY, self.client.session)

    def test_the_slip_code_login_gives_a_new_session_key_at_each_step(self):
        request = RequestFactory().post("/")
        request.user = self.persona("head_teacher_a1")
        request.session = {}
        User.objects.filter(pk=self.student_a1.user_id).update(last_login=None)
        code = identity.issue_slips(request, self.class_a1.pk).slips[0].code
        before = anonymous_session_key(self.client)
        step1 = self.client.post(reverse("first-login"), {"username": "S0001", "code": code})
        self.assertEqual(step1.status_code, 302)
        middle = self.client.session.session_key
        self.assertNotEqual(middle, before)
        done = self.client.post(reverse("first-login-password"),
                                {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
        self.assertRedirects(done, reverse("home"), fetch_redirect_response=False)
        self.assertNotEqual(self.client.session.session_key, middle)
        self.assertEqual(int(self.client.session[SESSION_KEY]), self.student_a1.user_id)

    def test_the_second_step_gives_a_new_session_key(self):
        device = TOTPDevice.objects.create(user=self.director, name="phone", confirmed=True)
        self.client.post(reverse("login"), {"username": "T1004", "password": PASSWORD})
        after_password = self.client.session.session_key
        self.client.post(reverse("two-step-verify"), {"code": fresh_code(device)})
        self.assertNotEqual(self.client.session.session_key, after_password)
        self.assertEqual(self.client.get("/").status_code, 200)


class LogoutEverywhereTests(NetworkTestCase):
    def test_a_new_password_ends_the_persons_other_sessions(self):
        laptop, phone = self.client_class(), self.client_class()
        for client in (laptop, phone):
            client.post(reverse("login"), {"username": "T1002", "password": PASSWORD})
            self.assertEqual(client.get("/").status_code, 200)
        # A password reset by the centre, used on the laptop: the slip code, a new password.
        request = RequestFactory().post("/")
        request.user = self.persona("director")
        request.session = {}
        code = identity.reset_password(request, self.head_teacher_a1.pk).slips[0].code
        laptop.post(reverse("first-login"), {"username": "T1002", "code": code})
        laptop.post(reverse("first-login-password"), {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
        self.assertEqual(laptop.get("/").status_code, 200)  # the session that changed it goes on
        gone = phone.get("/")
        self.assertEqual(gone.status_code, 302)
        self.assertTrue(gone["Location"].startswith(reverse("login")))
        self.assertNotIn(SESSION_KEY, phone.session)
        # And by any other path (the back office, a script): every session of the person ends.
        user = User.objects.get(pk=self.head_teacher_a1.pk)
        user.set_password("yet-another-long-one-2026")
        user.save()
        self.assertEqual(laptop.get("/").status_code, 302)


class TokenLastUsedTests(NetworkTestCase):
    def test_the_token_list_shows_when_each_was_last_used_written_at_most_once_a_minute(self):
        token = self.client.post(reverse("api:auth-token"), {"username": "T1002", "password": PASSWORD},
                                 content_type="application/json").json()
        auth = {"HTTP_AUTHORIZATION": f"Token {token['token']}"}
        rows = self.client.get(reverse("api:my-tokens"), **auth).json()
        self.assertIsNotNone(rows[0]["last_used"])
        first = TokenUse.objects.get().last_used
        with CaptureQueriesContext(connection) as queries:
            self.assertEqual(self.client.get(reverse("api:me"), **auth).status_code, 200)
        writes = [q["sql"] for q in queries.captured_queries if "access_tokenuse" in q["sql"]]
        self.assertEqual(writes, [])  # within the minute: not even asked
        self.assertEqual(TokenUse.objects.get().last_used, first)
        # A minute later (another process, or this one after its minute) writes it once.
        from xinlian.access import tokens

        tokens._noted.clear()
        TokenUse.objects.update(last_used=F("last_used") - dt.timedelta(seconds=61))
        self.client.get(reverse("api:me"), **auth)
        self.assertGreater(TokenUse.objects.get().last_used, first - dt.timedelta(seconds=1))
        # The page lists it too.
        self.client.force_login(self.head_teacher_a1)
        page = self.client.get(reverse("my-tokens"))
        self.assertContains(page, "最近使用")


class IPv6Tests(NetworkTestCase):
    def test_addresses_of_one_slash_64_count_as_one(self):
        self.assertEqual(throttle.address_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::")
        self.assertEqual(throttle.address_key("2001:db8:1:2:ffff:ffff:ffff:ffff"), "2001:db8:1:2::")
        self.assertEqual(throttle.address_key("::ffff:203.0.113.7"), "203.0.113.7")
        self.assertEqual(throttle.address_key("203.0.113.7"), "203.0.113.7")
        for n in range(20):  # each failure from another address of the same /64
            response = self.client.post(reverse("login"), {"username": f"X{n}", "password": "wrong"},
                                        REMOTE_ADDR=f"2001:db8:1:2::{n + 1:x}")
            self.assertIn(response.status_code, (200, 429))
            AccessFailureLog.objects.update(attempt_time=F("attempt_time") - dt.timedelta(seconds=31))
        self.assertEqual(AccessFailureLog.objects.filter(ip_address="2001:db8:1:2::").count(), 20)
        blocked = self.client.post(reverse("login"), {"username": "T1002", "password": PASSWORD},
                                   REMOTE_ADDR="2001:db8:1:2:dead:beef:0:1")
        self.assertEqual(blocked.status_code, 429)
        neighbour = self.client.post(reverse("login"), {"username": "T1002", "password": PASSWORD},
                                     REMOTE_ADDR="2001:db8:1:3::1")
        self.assertEqual(neighbour.status_code, 302)


class FirstLoginCodeAdminTests(NetworkTestCase):
    def test_listed_without_hashes_and_never_added_or_changed(self):
        request = RequestFactory().post("/")
        request.user = self.persona("head_teacher_a1")
        request.session = {}
        identity.issue_slips(request, self.class_a1.pk, everyone=True)
        code = FirstLoginCode.objects.select_related("user").first()
        other_school = Unit.add_top(kind=UnitKind.SCHOOL, code="SCH2", name="另一所学校")
        stranger = make_staff("T9001", "外校老师")
        FirstLoginCode.objects.create(user=stranger, code_hash="f" * 64,
                                      expires_at=timezone.now() + dt.timedelta(days=3))
        root = User.objects.create_superuser(username="root", password=PASSWORD, full_name="管理员")
        self.client.force_login(root)
        listing = self.client.get(reverse("admin:network_firstlogincode_changelist"))
        self.assertEqual(listing.status_code, 200)
        self.assertContains(listing, code.user.username)
        for row in FirstLoginCode.objects.all():
            self.assertNotContains(listing, row.code_hash)
        self.assertNotContains(listing, "code_hash")
        change = self.client.get(reverse("admin:network_firstlogincode_change", args=[code.pk]))
        self.assertEqual(change.status_code, 200)
        self.assertNotContains(change, code.code_hash)
        self.assertEqual(self.client.get(reverse("admin:network_firstlogincode_add")).status_code, 403)
        posted = self.client.post(reverse("admin:network_firstlogincode_change", args=[code.pk]),
                                  {"expires_at_0": "2030-01-01", "expires_at_1": "00:00:00"})
        self.assertEqual(posted.status_code, 403)
        # The centre director sees the codes of the people they manage, not another school's.
        self.client.force_login(self.director)
        mine = self.client.get(reverse("admin:network_firstlogincode_changelist"))
        self.assertContains(mine, code.user.username)
        self.assertNotContains(mine, "T9001")
        self.assertTrue(other_school.pk)
        self.assertIsNotNone(twofactor.totp_device(self.director))  # force_login's authenticator
