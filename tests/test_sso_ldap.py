"""LDAP bind on the password form (xinlian/network/ldapauth.py), against a real OpenLDAP slapd
started for this module on 127.0.0.1 (tests/ldap_server.py): bind by DN template and by
search-then-bind, StartTLS and ldaps:// with certificate checking; a directory that is down
(closed port, stopped server) or hangs (timeout); the mapping rule's refusals; axes counting."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth import SESSION_KEY, authenticate, get_user
from django.test import RequestFactory, SimpleTestCase
from django.urls import reverse

from xinlian.access.models import AuditEvent, AuditResult
from xinlian.network.ldapauth import BACKEND
from xinlian.network.models import StudentStatus, User

from .base import PASSWORD, NetworkTestCase
from .ldap_server import (
    PEOPLE,
    READER_DN,
    READER_PASSWORD,
    SilentServer,
    Slapd,
    free_port,
    password_of,
)

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
WRONG = "This student or staff number and password do not match"
WRONG_ZH = "学号/工号与密码不匹配"
DOWN = "The school directory (LDAP) cannot be reached right now"
DOWN_ZH = "无法连接学校目录（LDAP）"
NOT_IN_ROSTER = "Xinlian does not create accounts from a login"


def template_mode(url: str, **extra: object) -> dict[str, object]:
    return {"LDAP_URL": url, "LDAP_USER_DN_TEMPLATE": f"uid={{number}},{PEOPLE}", "LDAP_SEARCH_BASE": "",
            "LDAP_TIMEOUT": 3, **extra}


def search_mode(url: str, **extra: object) -> dict[str, object]:
    return {"LDAP_URL": url, "LDAP_USER_DN_TEMPLATE": "", "LDAP_SEARCH_BASE": PEOPLE,
            "LDAP_SEARCH_FILTER": "(uid={number})", "LDAP_BIND_DN": READER_DN,
            "LDAP_BIND_PASSWORD": READER_PASSWORD, "LDAP_TIMEOUT": 3, **extra}


class LdapTestCase(NetworkTestCase):
    slapd: Slapd

    @classmethod
    def setUpClass(cls) -> None:
        cls.slapd = Slapd().start()
        cls.addClassCleanup(cls.slapd.stop)
        super().setUpClass()

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        # As after a roster import: students have no usable local password.
        for user in User.objects.filter(kind="student"):
            user.set_unusable_password()
            user.save(update_fields=["password"])

    def post_login(self, number: str, password: str, lang: dict[str, str] = EN, **extra: object):
        return self.client.post(reverse("login"), {"username": number, "password": password},
                                REMOTE_ADDR="10.9.8.7", **lang, **extra)

    def assert_logged_in_as(self, number: str, backend: str = BACKEND) -> None:
        self.assertEqual(int(self.client.session[SESSION_KEY]), User.objects.get(username=number).pk)
        self.assertEqual(self.client.session["_auth_user_backend"], backend)

    def assert_not_logged_in(self) -> None:
        self.assertNotIn(SESSION_KEY, self.client.session)

    def refusals(self) -> list[str]:
        return list(AuditEvent.objects.filter(action="identity.sso_refused").values_list("detail", flat=True))


class BindByTemplateTests(LdapTestCase):
    def settings_on(self, **extra: object):
        return self.settings(**template_mode(self.slapd.url, **extra))

    def test_student_logs_in_with_the_directory_password_and_it_is_audited(self) -> None:
        with self.settings_on():
            response = self.post_login("S0001", password_of("S0001"))
        self.assertRedirects(response, reverse("home"), fetch_redirect_response=False)
        self.assert_logged_in_as("S0001")
        row = AuditEvent.objects.get(action="identity.sso_login")
        self.assertEqual((row.actor_id, row.detail, row.ip),
                         (self.student_a1.user_id, "method=ldap", "10.9.8.7"))
        # The session keeps working on the next request (the backend's get_user).
        request = RequestFactory().get("/")
        request.session = self.client.session
        self.assertEqual(get_user(request).pk, self.student_a1.user_id)

    def test_the_id_is_the_directorys_spelling_of_the_number(self) -> None:
        # Directories compare uid without case; the roster's number is "S0001".
        with self.settings_on():
            self.post_login("s0001", password_of("S0001"))
        self.assert_logged_in_as("S0001")

    def test_wrong_password_gets_the_usual_message_and_counts_as_a_failure(self) -> None:
        with self.settings_on():
            response = self.post_login("S0001", "not-it")
        self.assertContains(response, WRONG)
        self.assert_not_logged_in()
        self.assertEqual(AccessFailureLog.objects.filter(username="S0001").count(), 1)
        self.assertEqual(self.refusals(), [])

    def test_unknown_everywhere_gets_the_usual_message(self) -> None:
        with self.settings_on():
            response = self.post_login("Z0000", "whatever", lang=ZH)
        self.assertContains(response, WRONG_ZH)
        self.assertEqual(self.refusals(), [])

    def test_known_in_the_directory_only_is_refused_audited_and_not_created(self) -> None:
        people = User.objects.count()
        with self.settings_on():
            en = self.post_login("X9999", password_of("X9999"))
            zh = self.post_login("X9999", password_of("X9999"), lang=ZH)
        self.assertContains(en, NOT_IN_ROSTER)
        self.assertContains(zh, "心联的名单中没有这个账号")
        self.assertNotContains(en, WRONG)
        self.assert_not_logged_in()
        self.assertEqual(User.objects.count(), people)
        row = AuditEvent.objects.filter(action="identity.sso_refused").first()
        self.assertEqual((row.result, row.object_id, row.actor_id), (AuditResult.DENIED, "ldap", None))
        self.assertEqual(self.refusals(), ["reason=unknown;id=X9999"] * 2)

    def test_known_in_the_directory_only_with_a_wrong_password_says_nothing_more(self) -> None:
        with self.settings_on():
            response = self.post_login("X9999", "guess")
        self.assertContains(response, WRONG)
        self.assertNotContains(response, NOT_IN_ROSTER)
        self.assertEqual(self.refusals(), [])

    def test_switched_off_and_graduated_people_are_refused(self) -> None:
        User.objects.filter(username="S0005").update(is_active=False)
        type(self.student_a2).objects.filter(pk=self.student_a2.pk).update(status=StudentStatus.GRADUATED)
        with self.settings_on():
            off = self.post_login("S0005", password_of("S0005"))
            gone = self.post_login("S0004", password_of("S0004"), lang=ZH)
        self.assertContains(off, "This account is switched off in Xinlian")
        self.assertContains(gone, "已毕业")
        self.assert_not_logged_in()
        self.assertEqual(sorted(self.refusals()), ["reason=disabled;id=S0005", "reason=graduated;id=S0004"])

    def test_the_local_password_still_works_and_comes_first(self) -> None:
        # T1001 has a Xinlian password (the back office); the directory is not asked.
        with self.settings_on():
            self.post_login("T1001", PASSWORD)
        self.assert_logged_in_as("T1001", "django.contrib.auth.backends.ModelBackend")
        self.assertFalse(AuditEvent.objects.filter(action="identity.sso_login").exists())

    def test_directory_failures_count_towards_the_lockout(self) -> None:
        with self.settings_on(AXES_FAILURE_LIMIT=3):
            for _ in range(3):
                self.post_login("S0001", "not-it")
            locked = self.post_login("S0001", password_of("S0001"))
        self.assertEqual(locked.status_code, 429)
        self.assert_not_logged_in()
        # Three wrong passwords, then the refused right one.
        self.assertEqual(AccessAttempt.objects.get(username="S0001").failures_since_start, 4)

    def test_an_empty_password_never_reaches_the_directory(self) -> None:
        # An LDAP simple bind with an empty password is an anonymous bind, which succeeds.
        request = RequestFactory().post("/login/")
        with self.settings_on():
            self.assertIsNone(authenticate(request, username="S0001", password=""))
        with self.settings(**template_mode(f"ldap://127.0.0.1:{free_port()}")):
            from xinlian.network.ldapauth import LDAPBackend
            self.assertIsNone(LDAPBackend().authenticate(request, username="S0001", password=""))
        self.assertEqual(self.refusals(), [])  # the closed port was not even tried

    def test_a_number_with_dn_syntax_is_escaped_and_finds_nobody(self) -> None:
        with self.settings_on():
            response = self.post_login("S0001,ou=people", password_of("S0001"))
        self.assertContains(response, WRONG)

    def test_off_when_the_url_is_empty(self) -> None:
        with self.settings(LDAP_URL=""):
            response = self.post_login("S0001", password_of("S0001"))
        self.assertContains(response, WRONG)
        self.assert_not_logged_in()


class SearchThenBindTests(LdapTestCase):
    def test_staff_logs_in_through_the_service_accounts_search(self) -> None:
        User.objects.filter(username="T1001").update(password="!")  # no local password
        with self.settings(**search_mode(self.slapd.url)):
            response = self.post_login("T1001", password_of("T1001"))
        self.assertEqual(response.status_code, 302)
        self.assert_logged_in_as("T1001")

    def test_filter_characters_are_escaped(self) -> None:
        # Unescaped, "S00*1" would find S0001 and bind as them with S0001's password.
        with self.settings(**search_mode(self.slapd.url)):
            response = self.post_login("S00*1", password_of("S0001"))
        self.assertContains(response, WRONG)
        self.assert_not_logged_in()

    def test_wrong_password_and_unknown_number(self) -> None:
        with self.settings(**search_mode(self.slapd.url)):
            self.assertContains(self.post_login("S0001", "nope"), WRONG)
            self.assertContains(self.post_login("Q1234", "nope"), WRONG)
            self.assertContains(self.post_login("X9999", password_of("X9999")), NOT_IN_ROSTER)
        self.assertEqual(self.refusals(), ["reason=unknown;id=X9999"])

    def test_a_refused_service_account_is_a_directory_that_cannot_be_used(self) -> None:
        with self.settings(**search_mode(self.slapd.url, LDAP_BIND_PASSWORD="wrong")):
            response = self.post_login("S0001", password_of("S0001"))
        self.assertContains(response, DOWN)
        self.assertEqual(self.refusals(), ["reason=unavailable;id=S0001"])


class TlsTests(LdapTestCase):
    def test_start_tls_with_the_schools_ca(self) -> None:
        with self.settings(**template_mode(self.slapd.url, LDAP_START_TLS=True, LDAP_CA_FILE=self.slapd.ca_file)):
            self.post_login("S0001", password_of("S0001"))
        self.assert_logged_in_as("S0001")

    def test_ldaps_with_the_schools_ca(self) -> None:
        with self.settings(**search_mode(self.slapd.ldaps_url, LDAP_CA_FILE=self.slapd.ca_file)):
            self.post_login("T1001", password_of("T1001"))
        self.assert_logged_in_as("T1001")

    def test_an_untrusted_certificate_sends_no_password(self) -> None:
        # Without the school's CA the self-signed certificate is not trusted: no bind happens.
        with self.settings(**template_mode(self.slapd.url, LDAP_START_TLS=True, LDAP_CA_FILE="")):
            response = self.post_login("S0001", password_of("S0001"))
        self.assertContains(response, DOWN)
        with self.settings(**template_mode(self.slapd.ldaps_url, LDAP_CA_FILE="")):
            self.assertContains(self.post_login("S0001", password_of("S0001")), DOWN)
        self.assert_not_logged_in()
        self.assertEqual(self.refusals(), ["reason=unavailable;id=S0001"] * 2)


class DirectoryDownTests(NetworkTestCase):
    """A closed port (connection refused) and a server that never answers (timeout)."""

    def post_login(self, number: str, password: str, lang: dict[str, str] = EN):
        return self.client.post(reverse("login"), {"username": number, "password": password},
                                REMOTE_ADDR="10.9.8.7", **lang)

    def test_connection_refused_says_so_in_both_languages_and_local_login_works(self) -> None:
        User.objects.filter(username="S0001").update(password="!")
        with self.settings(**template_mode(f"ldap://127.0.0.1:{free_port()}")):
            en = self.post_login("S0001", "anything")
            zh = self.post_login("S0001", "anything", lang=ZH)
            unknown = self.post_login("my-password-typed-here", "x")
            self.assertContains(en, DOWN)
            self.assertContains(zh, DOWN_ZH)
            self.assertContains(unknown, DOWN)
            self.assertNotIn(SESSION_KEY, self.client.session)
            local = self.post_login("T1002", PASSWORD)
        self.assertEqual(local.status_code, 302)
        self.assertEqual(self.client.session["_auth_user_backend"], "django.contrib.auth.backends.ModelBackend")
        rows = AuditEvent.objects.filter(action="identity.sso_refused").order_by("pk")
        self.assertEqual([r.detail for r in rows], ["reason=unavailable;id=S0001"] * 2 + ["reason=unavailable;id="])
        self.assertEqual({(r.object_id, r.result, r.ip) for r in rows}, {("ldap", AuditResult.DENIED, "10.9.8.7")})

    def test_a_directory_that_hangs_times_out(self) -> None:
        silent = SilentServer()
        self.addCleanup(silent.close)
        with self.settings(**template_mode(silent.url, LDAP_TIMEOUT=1)):
            started = time.monotonic()
            response = self.post_login("S0001", "anything")
            took = time.monotonic() - started
        self.assertContains(response, DOWN)
        self.assertLess(took, 8)
        self.assertTrue(AuditEvent.objects.filter(action="identity.sso_refused",
                                                  detail="reason=unavailable;id=S0001").exists())


class ServerStoppedTests(LdapTestCase):
    def test_stopping_the_server_between_two_logins(self) -> None:
        with self.settings(**template_mode(self.slapd.url)):
            self.post_login("S0001", password_of("S0001"))
            self.assert_logged_in_as("S0001")
            self.client.logout()
            self.slapd.stop()
            response = self.post_login("S0001", password_of("S0001"), lang=ZH)
            self.assertContains(response, DOWN_ZH)
            self.assert_not_logged_in()
            self.post_login("T1001", PASSWORD)
        self.assert_logged_in_as("T1001", "django.contrib.auth.backends.ModelBackend")


def _settings_error(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("XINLIAN_")}
    clean.update({f"XINLIAN_{k}": v for k, v in env.items()})
    result = subprocess.run([sys.executable, "-c", "import xinlian.settings"], env=clean,
                            capture_output=True, text=True, timeout=60)
    return result.stderr if result.returncode else ""


class LdapSettingsTests(SimpleTestCase):
    def test_a_url_needs_exactly_one_way_to_find_the_person(self) -> None:
        self.assertIn("exactly one of", _settings_error(LDAP_URL="ldap://127.0.0.1:1"))
        self.assertIn("exactly one of", _settings_error(LDAP_URL="ldap://127.0.0.1:1",
                                                        LDAP_USER_DN_TEMPLATE="uid={number},o=x",
                                                        LDAP_SEARCH_BASE="o=x"))
        self.assertIn("{number}", _settings_error(LDAP_URL="ldap://127.0.0.1:1", LDAP_USER_DN_TEMPLATE="uid=x"))
        self.assertIn("ldap:// or ldaps://", _settings_error(LDAP_URL="http://dir", LDAP_SEARCH_BASE="o=x"))
        self.assertEqual(_settings_error(LDAP_URL="ldap://127.0.0.1:1", LDAP_SEARCH_BASE="o=x"), "")

    def test_production_refuses_passwords_in_clear(self) -> None:
        prod = {"ENV": "production", "SECRET_KEY": "k" * 60, "ALLOWED_HOSTS": "x.test",
                "FIELD_KEYS": "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                "LDAP_SEARCH_BASE": "o=x"}
        self.assertIn("in clear", _settings_error(LDAP_URL="ldap://dir.school.test", **prod))
        self.assertEqual(_settings_error(LDAP_URL="ldap://dir.school.test", LDAP_START_TLS="1", **prod), "")
        self.assertEqual(_settings_error(LDAP_URL="ldaps://dir.school.test", **prod), "")
