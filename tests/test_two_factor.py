"""Two-step verification (xinlian/access/twofactor.py, web/twofactor_middleware.py,
web/views_twofactor.py): who must give it, the code page after any login, setting up an
authenticator with recovery codes, replayed and wrong codes, the throttle, the reset by an
administrator or the centre director, and the token login's ``otp``. The logins here go through
the password form (``force_login`` is the suite's shortcut past both steps: tests/conftest.py)."""

from __future__ import annotations

import datetime as dt
import re
import time
from base64 import b32encode

from django.contrib.auth import SESSION_KEY
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken

from xinlian.access import twofactor
from xinlian.access.models import AuditEvent, AuditResult
from xinlian.care.models import Case
from xinlian.lib.actions import NotAllowed, NotFound
from xinlian.network.models import Post, Role, Unit, UnitKind, User

from .base import PASSWORD, NetworkTestCase, make_staff
from .twostep import fresh_code

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
HOME = "/"


def code_now(device: TOTPDevice) -> str:
    return fresh_code(device)


class TwoStepTestCase(NetworkTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.psych = make_staff("T2001", "许咨询", Role.COUNSELLOR, cls.school)

    def password_login(self, number: str, client=None, next_url: str = HOME, **extra):
        client = client or self.client
        return client.post(f"{reverse('login')}?next={next_url}",
                           {"username": number, "password": PASSWORD}, **extra)

    def device_for(self, user: User) -> TOTPDevice:
        return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)

    def enrol(self, number: str, client=None) -> tuple[TOTPDevice, list[str]]:
        """Through the pages: password, the set-up page, a code from the new app."""
        client = client or self.client
        self.password_login(number, client)
        page = client.get(reverse("two-step-enrol"))
        self.assertEqual(page.status_code, 200)
        device = TOTPDevice.objects.get(user__username=number, confirmed=False)
        response = client.post(reverse("two-step-enrol"), {"code": code_now(device), "next": HOME})
        self.assertEqual(response.status_code, 200)
        codes = re.findall(r"<li>([A-Z2-9]{5}-[A-Z2-9]{5})</li>", response.content.decode())
        device.refresh_from_db()
        return device, codes

    def failed_rows(self, user: User):
        return AuditEvent.objects.filter(action="identity.2fa_failed", actor=user,
                                         result=AuditResult.DENIED)


class WhoMustTests(TwoStepTestCase):
    def test_tier_four_and_five_readers_must_and_the_others_need_not(self):
        must = {"director": True, "counsellor_a": False, "head_teacher_a1": False,
                "committee_a1": False, "student_a1_user": False, "bureau_viewer": False}
        for name, expected in must.items():
            with self.subTest(name):
                self.assertEqual(twofactor.requires_second_factor(self.persona(name)), expected)
        self.assertTrue(twofactor.requires_second_factor(User.objects.get(pk=self.psych.pk)))
        root = User.objects.create_superuser(username="root", password=PASSWORD, full_name="管理员")
        self.assertTrue(twofactor.requires_second_factor(root))

    def test_an_open_case_team_must_until_the_case_is_closed(self):
        head = self.persona("head_teacher_a1")
        case = Case.open_for(self.student_a1, by=self.director)
        self.assertFalse(twofactor.requires_second_factor(head))
        case.members.add(head)
        self.assertTrue(twofactor.requires_second_factor(self.persona("head_teacher_a1")))
        Case.objects.filter(pk=case.pk).update(status="closed")
        self.assertFalse(twofactor.requires_second_factor(self.persona("head_teacher_a1")))
        Case.objects.filter(pk=case.pk).update(status="open", lead=head)
        self.assertTrue(twofactor.requires_second_factor(self.persona("head_teacher_a1")))

    def state_in_sql(self, user: User) -> int:
        """What the statement that loads the user says (``twofactor.state_columns``)."""
        from xinlian.lib import hotsql

        sql, params = twofactor.state_columns()[twofactor.STATE_COLUMN]
        _user, values = hotsql.get_with_columns(User, "", "t.id = %s", [user.pk], (sql,),
                                                hotsql.column_params(params))
        return values[0]

    def state_in_python(self, user: User) -> int:
        fresh = User.objects.get(pk=user.pk)
        if twofactor.has_device(fresh):
            return twofactor.STATE_VERIFY
        return twofactor.STATE_ENROL if twofactor.requires_second_factor(fresh) else twofactor.STATE_NONE

    def assert_same_rule(self, label: str) -> None:
        users = [*(self.persona(name) for name in ("director", "counsellor_a", "head_teacher_a1", "committee_a1",
                                                    "student_a1_user", "bureau_viewer")),
                 User.objects.get(pk=self.psych.pk), *User.objects.filter(is_superuser=True)]
        for user in users:
            with self.subTest(label, user=user.username):
                self.assertEqual(self.state_in_sql(user), self.state_in_python(user))

    def test_the_rule_loaded_with_the_user_is_the_rule_in_python(self):
        """The SQL expression and requires_second_factor/has_device are two writings of one rule
        (the SQL for every request, Python where the user is not loaded by that statement)."""
        User.objects.create_superuser(username="root", password=PASSWORD, full_name="管理员")
        self.assert_same_rule("as seeded")
        self.assertEqual(self.state_in_sql(self.director), twofactor.STATE_ENROL)
        self.assertEqual(self.state_in_sql(self.student_a1.user), twofactor.STATE_NONE)
        case = Case.open_for(self.student_a1, by=self.director)
        case.members.add(self.head_teacher_a1)
        self.device_for(self.student_a1.user)  # a student who turned it on
        Post.objects.filter(person=self.psych).update(ends_on=dt.date(2020, 1, 1))  # a term that ended
        self.assert_same_rule("changed")
        self.assertEqual(self.state_in_sql(self.head_teacher_a1), twofactor.STATE_ENROL)
        self.assertEqual(self.state_in_sql(self.psych), twofactor.STATE_NONE)
        Case.objects.filter(pk=case.pk).update(status="closed")
        self.assert_same_rule("case closed")
        with self.settings(TWO_FACTOR_REQUIRED=False):
            self.assert_same_rule("optional")
            self.assertEqual(self.state_in_sql(self.director), twofactor.STATE_NONE)

    @override_settings(TWO_FACTOR_REQUIRED=False)
    def test_the_setting_makes_it_optional_for_everyone(self):
        self.assertFalse(twofactor.requires_second_factor(self.persona("director")))
        response = self.password_login("T1004")
        self.assertRedirects(response, HOME, fetch_redirect_response=False)
        self.assertEqual(self.client.get(HOME).status_code, 200)

    def test_the_rule_costs_no_query_once_the_session_is_confirmed(self):
        self.password_login("T1002")
        self.client.get(HOME)
        request = RequestFactory().get("/")
        request.session = self.client.session
        request.session.load()
        request.user = self.persona("head_teacher_a1")
        self.assertIn(twofactor.CHECKED_KEY, request.session)
        with self.assertNumQueries(0):
            self.assertIsNone(twofactor.session_needs(request))


class EnforcementTests(TwoStepTestCase):
    def test_a_director_without_a_device_is_sent_to_set_one_up_from_every_page(self):
        response = self.password_login("T1004", next_url="/care/alerts/")
        self.assertRedirects(response, "/care/alerts/", fetch_redirect_response=False)
        self.assertIn(SESSION_KEY, self.client.session)  # the password step is done
        for path in ("/", "/care/alerts/", "/network/", "/me/tokens/", "/admin/"):
            with self.subTest(path):
                page = self.client.get(path)
                self.assertEqual(page.status_code, 302)
                self.assertTrue(page["Location"].startswith(reverse("two-step-enrol") + "?next="))
        htmx = self.client.get(reverse("inbox-badge"), HTTP_HX_REQUEST="true")
        self.assertEqual(htmx.status_code, 204)
        self.assertEqual(htmx["HX-Redirect"], reverse("two-step-enrol"))
        api = self.client.get("/api/v1/me/")
        self.assertEqual(api.status_code, 403)
        self.assertIn(reverse("two-step-enrol"), api.json()["verify"])
        post = self.client.post("/care/report/", {})
        self.assertEqual(post.status_code, 302)
        # Open: the set-up page, the language switch, static files, leaving.
        self.assertEqual(self.client.get(reverse("two-step-enrol")).status_code, 200)
        self.assertEqual(self.client.get("/static/xinlian.css").status_code, 200)
        self.assertEqual(self.client.post("/i18n/setlang/", {"language": "en", "next": "/"}).status_code, 302)
        self.client.post(reverse("logout"))
        self.assertNotIn(SESSION_KEY, self.client.session)

    def test_the_code_page_shows_no_menu_and_the_others_log_in_as_before(self):
        self.device_for(self.director)
        self.password_login("T1004")
        page = self.client.get(reverse("two-step-verify"))
        self.assertContains(page, "6 位验证码")
        self.assertNotContains(page, 'id="xl-nav"')  # no menu, no inbox badge polling before the step
        self.assertNotContains(page, "xl-inbox")
        other = self.client_class()
        response = self.password_login("T1002", other)
        self.assertRedirects(response, HOME, fetch_redirect_response=False)
        self.assertEqual(other.get(HOME).status_code, 200)

    def test_a_person_put_on_a_case_team_is_asked_within_the_minute(self):
        self.password_login("T1002")
        self.assertEqual(self.client.get(HOME).status_code, 200)
        case = Case.open_for(self.student_a1, by=self.director)
        case.members.add(self.head_teacher_a1)
        self.assertEqual(self.client.get(HOME).status_code, 200)  # confirmed less than a minute ago
        self.age_the_check(61)
        response = self.client.get(HOME)
        self.assertTrue(response["Location"].startswith(reverse("two-step-enrol")))
        case.members.remove(self.head_teacher_a1)
        self.assertEqual(self.client.get(HOME).status_code, 200)

    def test_a_session_not_verified_is_checked_in_the_statement_that_loads_its_user(self):
        """No query of its own, whichever process the poll lands on (the badge never saves its
        session): what the second step asks comes with the user; a device set up in another
        session counts at the next poll."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        self.password_login("T1002")
        self.assertEqual(self.client.get(HOME).status_code, 200)
        session = self.client.session
        del session[twofactor.CHECKED_KEY]  # as if checked by another process long ago
        session.save()
        twofactor._passed.clear()
        badge = reverse("inbox-badge")
        with CaptureQueriesContext(connection) as poll:
            self.assertEqual(self.client.get(badge, HTTP_HX_REQUEST="true").status_code, 200)
        sql = [q["sql"] for q in poll.captured_queries]
        self.assertEqual(len([q for q in sql if "otp_" in q or "network_post" in q]), 1, sql)
        self.assertIn("network_post", sql[0])  # inside the session-and-user statement
        self.assertNotIn(twofactor.CHECKED_KEY, self.client.session)  # nothing kept, nothing saved
        self.device_for(self.head_teacher_a1)  # set up elsewhere
        response = self.client.get(badge, HTTP_HX_REQUEST="true")
        self.assertEqual(response["HX-Redirect"], reverse("two-step-verify"))

    def test_a_verified_session_still_notices_a_reset_within_the_minute(self):
        device = self.device_for(self.director)
        self.password_login("T1004")
        self.assertEqual(self.client.post(reverse("two-step-verify"), {"code": code_now(device)}).status_code, 302)
        self.assertEqual(self.client.get(HOME).status_code, 200)
        device.delete()  # a reset by the centre
        self.assertEqual(self.client.get(HOME).status_code, 200)  # confirmed less than a minute ago
        self.age_the_check(61)
        response = self.client.get(HOME)
        self.assertTrue(response["Location"].startswith(reverse("two-step-enrol")))

    def age_the_check(self, seconds: int) -> None:
        """A minute passes: for the session's own record and for the process's memory of it."""
        session = self.client.session
        session[twofactor.CHECKED_KEY] -= seconds
        session.save()
        for key in list(twofactor._passed):
            twofactor._passed[key] -= seconds


class EnrolmentTests(TwoStepTestCase):
    def test_set_up_with_a_qr_code_then_ten_recovery_codes_shown_once(self):
        self.password_login("T1004")
        page = self.client.get(reverse("two-step-enrol"))
        self.assertContains(page, "data:image/svg+xml")
        device = TOTPDevice.objects.get(user=self.director, confirmed=False)
        self.assertContains(page, b32encode(device.bin_key).decode())
        self.assertIn("no-store", page["Cache-Control"])
        self.assertEqual(self.client.get(reverse("two-step-enrol")).context["secret"],
                         page.context["secret"])  # a reload shows the same key
        wrong = self.client.post(reverse("two-step-enrol"), {"code": "000000", "next": HOME})
        self.assertContains(wrong, "验证码不对", status_code=400)
        self.assertEqual(self.failed_rows(self.director).count(), 1)
        device.throttle_reset()
        keeps = self.client.get(reverse("two-step-enrol"))
        self.assertEqual(keeps.context["secret"], page.context["secret"])
        key_before = self.client.session.session_key
        done = self.client.post(reverse("two-step-enrol"), {"code": code_now(device), "next": "/network/"})
        self.assertEqual(done.status_code, 200)
        self.assertIn("no-store", done["Cache-Control"])
        codes = re.findall(r"<li>([A-Z2-9]{5}-[A-Z2-9]{5})</li>", done.content.decode())
        self.assertEqual(len(set(codes)), 10)
        self.assertContains(done, 'href="/network/"')
        self.assertNotEqual(self.client.session.session_key, key_before)  # a step up: a new key
        self.assertEqual(self.client.get(HOME).status_code, 200)
        device.refresh_from_db()
        self.assertTrue(device.confirmed)
        stored = set(StaticToken.objects.filter(device__user=self.director).values_list("token", flat=True))
        self.assertEqual(len(stored), 10)
        self.assertFalse(stored & {c.replace("-", "") for c in codes})  # only keyed hashes
        self.assertTrue(AuditEvent.objects.filter(action="identity.2fa_enrolled", actor=self.director).exists())

    def test_a_password_alone_never_replaces_an_existing_authenticator(self):
        self.device_for(self.director)
        self.password_login("T1004")
        response = self.client.get(reverse("two-step-enrol"))
        self.assertEqual(response.status_code, 403)
        self.assertFalse(TOTPDevice.objects.filter(user=self.director, confirmed=False).exists())
        self.assertEqual(self.client.post(reverse("two-step-enrol"), {"code": "123456"}).status_code, 403)

    def test_a_head_teacher_turns_it_on_and_off_at_me(self):
        self.password_login("T1002")
        page_before = self.client.get(reverse("my-two-step"))
        self.assertContains(page_before, 'id="turn-on"')
        device, codes = self.enrol("T1002", self.client_class())
        # From now on their logins ask for the code as well.
        other = self.client_class()
        self.password_login("T1002", other)
        self.assertTrue(other.get(HOME)["Location"].startswith(reverse("two-step-verify")))
        self.assertEqual(other.post(reverse("two-step-verify"), {"code": code_now(device)}).status_code, 302)
        mine = other.get(reverse("my-two-step"))
        self.assertContains(mine, "还剩 10 个恢复码")
        wrong = other.post(reverse("my-two-step-off"), {"off-code": "999999"})
        self.assertEqual(wrong.status_code, 400)
        self.assertTrue(twofactor.has_device(self.head_teacher_a1))
        TOTPDevice.objects.filter(user=self.head_teacher_a1).update(throttling_failure_count=0)
        off = other.post(reverse("my-two-step-off"), {"off-code": codes[0]})
        self.assertRedirects(off, reverse("my-two-step"), fetch_redirect_response=False)
        self.assertFalse(twofactor.has_device(self.head_teacher_a1))
        self.assertTrue(AuditEvent.objects.filter(action="identity.2fa_removed").exists())

    def test_a_director_cannot_turn_it_off_and_renews_recovery_codes_with_a_code(self):
        device, codes = self.enrol("T1004")
        mine = self.client.get(reverse("my-two-step"))
        self.assertNotContains(mine, 'id="turn-off"')
        refused = self.client.post(reverse("my-two-step-off"), {"off-code": codes[0]})
        self.assertContains(refused, "两步验证必须保持开启", status_code=400)
        self.assertTrue(twofactor.has_device(self.director))
        renewed = self.client.post(reverse("my-two-step-codes"), {"code": code_now(device)})
        new_codes = re.findall(r"<li>([A-Z2-9]{5}-[A-Z2-9]{5})</li>", renewed.content.decode())
        self.assertEqual(len(new_codes), 10)
        self.assertFalse(set(new_codes) & set(codes))
        self.assertEqual(twofactor.recovery_left(self.director), 10)


class VerificationTests(TwoStepTestCase):
    def setUp(self) -> None:
        self.device = self.device_for(self.director)

    def test_the_code_lets_the_director_in_to_where_they_were_going(self):
        self.password_login("T1004", next_url="/care/alerts/")
        page = self.client.get("/care/alerts/")
        self.assertEqual(page["Location"], f"{reverse('two-step-verify')}?next=%2Fcare%2Falerts%2F")
        key = self.client.session.session_key
        response = self.client.post(reverse("two-step-verify"), {"code": code_now(self.device),
                                                                 "next": "/care/alerts/"})
        self.assertRedirects(response, "/care/alerts/", fetch_redirect_response=False)
        self.assertNotEqual(self.client.session.session_key, key)
        self.assertEqual(self.client.get("/care/alerts/").status_code, 200)
        self.assertEqual(self.client.session[twofactor.DEVICE_KEY], self.device.persistent_id)

    def test_a_replayed_code_is_refused_with_its_own_message_and_audited(self):
        code = code_now(self.device)
        self.password_login("T1004")
        self.assertEqual(self.client.post(reverse("two-step-verify"), {"code": code}).status_code, 302)
        other = self.client_class()
        self.password_login("T1004", other)
        replay = other.post(reverse("two-step-verify"), {"code": code})
        self.assertContains(replay, "这个验证码刚刚用过", status_code=400)
        row = self.failed_rows(self.director).get()
        self.assertEqual(row.detail, "replay")
        self.assertEqual(other.get(HOME).status_code, 302)
        for r in AuditEvent.objects.all():
            self.assertNotIn(code, f"{r.action} {r.object_id} {r.detail}")

    def test_a_wrong_code_is_refused_then_throttled_in_both_languages(self):
        self.password_login("T1004")
        wrong = self.client.post(reverse("two-step-verify"), {"code": "000000"}, **EN)
        self.assertContains(wrong, "That code is not right", status_code=400)
        right_too_soon = self.client.post(reverse("two-step-verify"), {"code": code_now(self.device)})
        self.assertContains(right_too_soon, "错误次数太多", status_code=400)
        self.assertEqual([r.detail for r in self.failed_rows(self.director).order_by("at")],
                         ["wrong", "throttled"])
        self.device.refresh_from_db()
        TOTPDevice.objects.filter(pk=self.device.pk).update(
            throttling_failure_timestamp=self.device.throttling_failure_timestamp - dt.timedelta(seconds=5))
        ok = self.client.post(reverse("two-step-verify"), {"code": code_now(self.device)})
        self.assertEqual(ok.status_code, 302)

    def test_a_recovery_code_works_once(self):
        codes = twofactor._new_recovery_codes(self.director)
        self.password_login("T1004")
        response = self.client.post(reverse("two-step-verify"), {"code": codes[3].lower().replace("-", " ")})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(self.client.get(HOME).status_code, 200)
        self.assertEqual(twofactor.recovery_left(self.director), 9)
        used = AuditEvent.objects.get(action="identity.2fa_recovery_used")
        self.assertEqual(used.detail, "left=9")
        other = self.client_class()
        self.password_login("T1004", other)
        again = other.post(reverse("two-step-verify"), {"code": codes[3]})
        self.assertEqual(again.status_code, 400)
        self.assertEqual(other.get(HOME).status_code, 302)

    def test_an_unknown_next_is_not_followed(self):
        self.password_login("T1004")
        response = self.client.post(reverse("two-step-verify"), {"code": code_now(self.device),
                                                                 "next": "https://evil.example/"})
        self.assertRedirects(response, HOME, fetch_redirect_response=False)


class ResetTests(TwoStepTestCase):
    def request_as(self, user: User):
        request = RequestFactory().post("/")
        request.user = User.objects.get(pk=user.pk)
        request.session = {}
        return request

    def test_the_director_resets_a_psychology_teacher_who_lost_their_phone(self):
        device = self.device_for(self.psych)
        twofactor._new_recovery_codes(self.psych)
        client = self.client_class()
        self.password_login("T2001", client)
        self.assertEqual(client.post(reverse("two-step-verify"), {"code": code_now(device)}).status_code, 302)
        self.assertEqual(client.get(HOME).status_code, 200)
        twofactor.reset_for(self.request_as(self.director), self.psych.pk)
        self.assertFalse(TOTPDevice.objects.filter(user=self.psych).exists())
        self.assertFalse(StaticDevice.objects.filter(user=self.psych).exists())
        row = AuditEvent.objects.get(action="identity.2fa_reset", result=AuditResult.ALLOWED)
        self.assertEqual((row.actor_id, row.object_id), (self.director.pk, str(self.psych.pk)))
        # Their verified session keeps going at most a minute, then must set up again.
        session = client.session
        session[twofactor.CHECKED_KEY] -= 61
        session.save()
        self.assertTrue(client.get(HOME)["Location"].startswith(reverse("two-step-enrol")))

    def test_never_oneself_and_never_outside_ones_scope(self):
        self.device_for(self.director)
        with self.assertRaises(NotAllowed):
            twofactor.reset_for(self.request_as(self.director), self.director.pk)
        other_school = Unit.add_top(kind=UnitKind.SCHOOL, code="SCH2", name="另一所学校")
        stranger = make_staff("T9001", "外校老师", Role.COUNSELLOR, other_school)
        self.device_for(stranger)
        with self.assertRaises(NotFound):
            twofactor.reset_for(self.request_as(self.director), stranger.pk)
        with self.assertRaises(NotFound):
            twofactor.reset_for(self.request_as(self.head_teacher_a1), self.psych.pk)
        self.assertTrue(twofactor.has_device(self.director))
        self.assertTrue(twofactor.has_device(stranger))
        self.assertEqual(AuditEvent.objects.filter(action="identity.2fa_reset", result=AuditResult.DENIED).count(), 3)

    def test_the_back_office_action(self):
        self.device_for(self.psych)
        root = User.objects.create_superuser(username="root", password=PASSWORD, full_name="管理员")
        self.device_for(root)
        self.client.force_login(root)
        url = reverse("admin:network_user_changelist")
        response = self.client.post(url, {"action": "reset_two_step",
                                          "_selected_action": [self.psych.pk, root.pk]}, follow=True)
        self.assertContains(response, "已为 1 人重置两步验证")
        self.assertFalse(twofactor.has_device(self.psych))
        self.assertTrue(twofactor.has_device(root))  # never oneself
        # django-otp's own admins (secret keys on screen) are not in the back office.
        self.assertEqual(self.client.get("/admin/otp_totp/totpdevice/").status_code, 404)


class TokenLoginTests(TwoStepTestCase):
    def obtain(self, number: str, **extra):
        return self.client.post(reverse("api:auth-token"), {"username": number, "password": PASSWORD, **extra},
                                content_type="application/json")

    def test_the_director_sends_the_code_with_the_password(self):
        refused = self.obtain("T1004")
        self.assertEqual(refused.status_code, 403)
        self.assertIn("/me/two-step/", refused.json()["detail"])
        device = self.device_for(self.director)
        missing = self.obtain("T1004")
        self.assertEqual(missing.status_code, 400)
        self.assertIn("otp", missing.json())
        wrong = self.obtain("T1004", otp="000000")
        self.assertEqual(wrong.status_code, 400)
        self.assertEqual(self.failed_rows(self.director).filter(detail="wrong").count(), 1)
        self.assertFalse(AuthToken.objects.exists())
        TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)
        ok = self.obtain("T1004", otp=code_now(device))
        self.assertEqual(ok.status_code, 200)
        self.assertEqual(AuthToken.objects.filter(user=self.director).count(), 1)
        # A token made this way works without any further step (it was made with both).
        me = self.client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {ok.json()['token']}")
        self.assertEqual(me.status_code, 200)

    def test_others_log_in_with_the_password_alone(self):
        self.assertEqual(self.obtain("T1002").status_code, 200)


class SessionBudgetTests(TwoStepTestCase):
    def test_a_confirmed_session_asks_again_only_after_a_minute(self):
        self.device_for(self.director)
        self.password_login("T1004")
        device = TOTPDevice.objects.get(user=self.director)
        self.client.post(reverse("two-step-verify"), {"code": code_now(device)})
        checked = self.client.session[twofactor.CHECKED_KEY]
        self.assertLessEqual(abs(checked - int(time.time())), 2)
        Post.objects.filter(person=self.director).delete()  # no longer required: still verified
        self.assertEqual(self.client.get(HOME).status_code, 200)


class DemoTests(TwoStepTestCase):
    def test_demo_accounts_that_must_get_the_published_key(self):
        users = User.objects.filter(pk__in=[self.director.pk, self.psych.pk, self.head_teacher_a1.pk])
        self.assertEqual(sorted(twofactor.seed_demo_devices(users)), ["T1004", "T2001"])
        self.assertEqual(twofactor.seed_demo_devices(users), [])  # once
        self.assertEqual(twofactor.demo_device_holders(users), ["T1004", "T2001"])
        self.password_login("T1004")
        from .twostep import current_code

        ok = self.client.post(reverse("two-step-verify"), {"code": current_code(twofactor.DEMO_KEY)})
        self.assertEqual(ok.status_code, 302)
        self.assertEqual(self.client.get(HOME).status_code, 200)


class DocumentedTests(TwoStepTestCase):
    def test_the_settings_have_their_rows(self):
        from pathlib import Path

        from django.conf import settings

        root = Path(__file__).resolve().parent.parent
        for doc in ("README.md", "docs/configuration.md"):
            text = (root / doc).read_text()
            for name in ("XINLIAN_2FA_REQUIRED", "XINLIAN_2FA_ISSUER"):
                self.assertIn(f"`{name}`", text, f"{doc}: {name}")
        self.assertTrue(settings.TWO_FACTOR_REQUIRED)
        self.assertEqual(settings.OTP_TOTP_ISSUER, "心联 Xinlian")
