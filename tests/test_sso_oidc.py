"""OpenID Connect single sign-on against a real provider (django-oauth-toolkit in its own
project, tests/oidc_provider/, on a free loopback port): the whole code flow over HTTP with
PKCE, state and nonce, the RS256 ID token checked against the provider's JWKS, the mapping of
the number, and each bad answer refused with the page, an audit row and nothing created."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from urllib.parse import quote, urlsplit

from django.contrib.auth import SESSION_KEY
from django.test import override_settings
from django.urls import reverse

from xinlian.access.models import AuditEvent, AuditResult
from xinlian.network.models import StudentStatus, User

from .base import NetworkTestCase
from .oidc_provider import CLIENT_ID, Provider, query_of

CALLBACK = "http://testserver/login/oidc/callback/"
# Numbers the provider knows: Xinlian's personas, one it does not know, and a few it switches off.
PROVIDER_USERS = ["S0001", "S0004", "S0005", "T1001", "NOBODY-42"]


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


class OIDCTestCase(NetworkTestCase):
    op: Provider

    @classmethod
    def setUpClass(cls) -> None:
        cls.op = Provider([CALLBACK], PROVIDER_USERS).start()
        cls._oidc = override_settings(**cls.op.settings())
        cls._oidc.enable()
        try:
            super().setUpClass()
        except Exception:
            cls._oidc.disable()
            cls.op.stop()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        cls._oidc.disable()
        cls.op.stop()

    def setUp(self) -> None:
        self.people = User.objects.count()

    def tearDown(self) -> None:
        self.op.set_mode("normal")

    def begin(self, next_path: str | None = None, **headers: str) -> str:
        url = reverse("oidc-login") + (f"?next={quote(next_path, safe='')}" if next_path else "")
        response = self.client.get(url, **headers)
        self.assertEqual(response.status_code, 302)
        return response["Location"]

    def callback_path(self, number: str, next_path: str | None = None) -> str:
        back = self.op.authorize(self.begin(next_path), number)
        self.assertTrue(back.startswith(CALLBACK), back)
        parts = urlsplit(back)
        return f"{parts.path}?{parts.query}"

    def login_as(self, number: str, next_path: str | None = None, **headers: str):
        return self.client.get(self.callback_path(number, next_path), **headers)

    def assert_refused(self, response, reason: str, number: str = "", status: int = 403) -> None:
        self.assertEqual(response.status_code, status)
        self.assertNotIn(SESSION_KEY, self.client.session)
        row = AuditEvent.objects.filter(action="identity.sso_refused").latest("pk")
        self.assertEqual((row.result, row.object_id), (AuditResult.DENIED, "oidc"))
        self.assertEqual(row.detail, f"reason={reason};id={number}")
        self.assertFalse(AuditEvent.objects.filter(action="identity.sso_login").exists())
        self.assertEqual(User.objects.count(), self.people)  # nothing created


class LoginTests(OIDCTestCase):
    def test_button_on_the_login_page_keeps_next(self) -> None:
        page = self.client.get(reverse("login") + "?next=/me/posts/").content.decode()
        self.assertIn("使用学校账号登录", page)
        self.assertIn('href="/login/oidc/?next=%2Fme%2Fposts%2F"', page)
        with self.settings(OIDC_BUTTON_LABEL="企业微信登录"):
            self.assertIn("企业微信登录", self.client.get(reverse("login")).content.decode())

    def test_authorization_request_carries_pkce_state_and_nonce(self) -> None:
        location = self.begin()
        self.assertTrue(location.startswith(f"{self.op.issuer}/authorize/"), location)
        q = query_of(location)
        self.assertEqual((q["response_type"], q["client_id"], q["redirect_uri"]),
                         ("code", CLIENT_ID, CALLBACK))
        self.assertEqual(q["code_challenge_method"], "S256")
        self.assertEqual(set(q["scope"].split()), {"openid", "profile"})
        self.assertGreaterEqual(len(q["state"]), 32)
        self.assertGreaterEqual(len(q["nonce"]), 32)
        self.assertGreaterEqual(len(q["code_challenge"]), 43)

    def test_student_logs_in_on_a_new_session_key_and_lands_on_next(self) -> None:
        people = User.objects.count()
        path = self.callback_path("S0001", "/me/posts/")
        before = self.client.session.session_key
        response = self.client.get(path)
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response["Location"], "/me/posts/")
        session = self.client.session
        self.assertEqual(int(session[SESSION_KEY]), self.student_a1.user_id)
        self.assertNotEqual(session.session_key, before)
        self.assertNotIn("oidc_states", session)
        row = AuditEvent.objects.get(action="identity.sso_login")
        self.assertEqual((row.actor_id, row.detail, row.ip), (self.student_a1.user_id, "method=oidc", "127.0.0.1"))
        self.assertEqual(User.objects.count(), people)
        # The session is a working one: the page it was going to opens.
        self.assertEqual(self.client.get("/me/posts/").status_code, 200)

    def test_counsellor_logs_in_and_lands_home_without_next(self) -> None:
        response = self.login_as("T1001")
        self.assertEqual(response["Location"], reverse("home"))
        self.assertEqual(int(self.client.session[SESSION_KEY]), self.counsellor_a.pk)

    def test_client_secret_by_http_basic(self) -> None:
        with self.settings(OIDC_TOKEN_USE_BASIC_AUTH=True):
            response = self.login_as("S0001")
        self.assertEqual(response.status_code, 302)
        self.assertEqual(int(self.client.session[SESSION_KEY]), self.student_a1.user_id)
        # The same secret, wrong, is refused by the provider either way.
        self.client.logout()
        with self.settings(OIDC_TOKEN_USE_BASIC_AUTH=True, OIDC_RP_CLIENT_SECRET="wrong"):
            self.assert_refused_again(self.login_as("S0001"))

    def assert_refused_again(self, response) -> None:
        self.assertEqual(response.status_code, 403)
        self.assertNotIn(SESSION_KEY, self.client.session)
        row = AuditEvent.objects.filter(action="identity.sso_refused").latest("pk")
        self.assertEqual(row.detail, "reason=invalid;id=")

    def test_next_elsewhere_is_ignored(self) -> None:
        for bad in ("https://evil.example/", "//evil.example/x", "http://testserver.evil.example/"):
            self.client.logout()
            response = self.login_as("S0001", bad)
            self.assertEqual(response.status_code, 302)
            self.assertEqual(response["Location"], reverse("home"), bad)

    def test_replayed_callback_is_refused(self) -> None:
        path = self.callback_path("S0001")
        self.assertEqual(self.client.get(path).status_code, 302)
        self.client.logout()
        self.assert_refused_again(self.client.get(path))


class MappingRefusalTests(OIDCTestCase):
    def test_unknown_number_is_refused_and_nobody_created(self) -> None:
        people = User.objects.count()
        response = self.login_as("NOBODY-42")
        self.assert_refused(response, "unknown", "NOBODY-42")
        self.assertIn("心联的名单中没有这个账号", response.content.decode())
        self.assertIn("OpenID Connect 统一登录", response.content.decode())
        self.assertEqual(User.objects.count(), people)
        self.assertIsNone(AuditEvent.objects.get(action="identity.sso_refused").actor_id)

    def test_switched_off_person_is_refused(self) -> None:
        User.objects.filter(pk=self.student_b1.user_id).update(is_active=False)
        response = self.login_as("S0005")
        self.assert_refused(response, "disabled", "S0005")
        self.assertIn("这个账号在心联中已停用", response.content.decode())
        self.assertEqual(AuditEvent.objects.get(action="identity.sso_refused").actor_id, self.student_b1.user_id)

    def test_graduated_student_is_refused_in_english(self) -> None:
        type(self.student_a2).objects.filter(pk=self.student_a2.pk).update(status=StudentStatus.GRADUATED)
        response = self.login_as("S0004", HTTP_ACCEPT_LANGUAGE="en")
        self.assert_refused(response, "graduated", "S0004")
        self.assertIn("student who has graduated", response.content.decode())


class BadAnswerTests(OIDCTestCase):
    def refused_with_mode(self, mode: str, cause: str, **headers: str):
        path = self.callback_path("S0001")
        self.op.set_mode(mode)
        with self.assertLogs("xinlian.network.oidc", "WARNING") as logs:
            response = self.client.get(path, **headers)
        self.assert_refused(response, "invalid")
        # Refused for the reason the provider was made to give, named in the log only.
        self.assertIn(cause, "\n".join(logs.output))
        return response

    def test_forged_id_token_is_refused(self) -> None:
        response = self.refused_with_mode("forge", "InvalidSignatureError")
        self.assertIn("登录未能完成", response.content.decode())

    def test_expired_id_token_is_refused_in_english(self) -> None:
        response = self.refused_with_mode("expire", "ExpiredSignatureError", HTTP_ACCEPT_LANGUAGE="en")
        self.assertIn("The login could not be completed", response.content.decode())

    def test_wrong_nonce_is_refused(self) -> None:
        self.refused_with_mode("nonce", "nonce does not match")

    def test_token_of_another_issuer_or_client_is_refused(self) -> None:
        self.refused_with_mode("issuer", "InvalidIssuerError")
        self.refused_with_mode("audience", "InvalidAudienceError")

    def test_number_only_in_userinfo(self) -> None:
        path = self.callback_path("S0001")
        self.op.set_mode("bare")
        response = self.client.get(path)
        self.assertEqual(response.status_code, 302)
        self.assertEqual(int(self.client.session[SESSION_KEY]), self.student_a1.user_id)
        # It was userinfo that named them: without it the same answer cannot be completed.
        self.client.logout()
        path = self.callback_path("S0001")
        with self.settings(OIDC_OP_USER_ENDPOINT=f"{closed_port_url()}/o/userinfo/"):
            response = self.client.get(path)
        self.assertEqual(response.status_code, 503)
        self.assertNotIn(SESSION_KEY, self.client.session)

    def test_userinfo_for_another_subject_is_refused(self) -> None:
        self.refused_with_mode("othersub", "userinfo answers for another subject")

    def test_the_modes_are_undone_by_normal(self) -> None:
        # The bad answers above come from the mode, not from the flow: normal logs in.
        self.op.set_mode("forge")
        self.op.set_mode("normal")
        self.assertEqual(self.login_as("S0001").status_code, 302)

    def test_wrong_state_is_refused(self) -> None:
        path = self.callback_path("S0001")
        q = query_of(path)
        response = self.client.get(reverse("oidc-callback"), {"code": q["code"], "state": "x" * 32})
        self.assert_refused(response, "invalid")
        # A callback in a browser that never started a login (another session) is refused too.
        self.client.cookies.clear()
        self.assert_refused(self.client.get(path), "invalid")

    def test_code_without_the_pkce_verifier_is_refused_by_the_provider(self) -> None:
        path = self.callback_path("S0001")
        session = self.client.session
        states = session["oidc_states"]
        for entry in states.values():
            entry["code_verifier"] = "a" * 64  # not the verifier of the challenge sent
        session["oidc_states"] = states
        session.save()
        self.assert_refused(self.client.get(path), "invalid")

    def test_provider_error_answer_is_refused(self) -> None:
        state = query_of(self.begin())["state"]
        response = self.client.get(reverse("oidc-callback"), {"error": "access_denied", "state": state})
        self.assert_refused(response, "invalid")
        self.assertNotIn(state, self.client.session.get("oidc_states", {}))

    def test_provider_down_at_the_token_endpoint(self) -> None:
        path = self.callback_path("S0001")
        with self.settings(OIDC_OP_TOKEN_ENDPOINT=f"{closed_port_url()}/o/token/"):
            response = self.client.get(path)
        self.assert_refused(response, "unavailable", status=503)
        self.assertIn("暂时无法连接身份认证系统", response.content.decode())

    def test_provider_down_before_the_login_starts(self) -> None:
        with self.settings(OIDC_ISSUER=f"{closed_port_url()}/o"):
            response = self.client.get(reverse("oidc-login"), HTTP_ACCEPT_LANGUAGE="en")
        self.assert_refused(response, "unavailable", status=503)
        self.assertIn("cannot be reached", response.content.decode())


class OffTests(NetworkTestCase):
    @override_settings(OIDC_ISSUER="", OIDC_RP_CLIENT_ID="")
    def test_off_without_issuer_and_client(self) -> None:
        self.assertEqual(self.client.get(reverse("oidc-login")).status_code, 404)
        self.assertEqual(self.client.get(reverse("oidc-callback"), {"code": "x", "state": "y"}).status_code, 404)
        self.assertNotIn("/login/oidc/", self.client.get(reverse("login")).content.decode())

    def test_settings_from_the_environment(self) -> None:
        code = ("from django.conf import settings as s; import json; print(json.dumps([s.OIDC_ISSUER, "
                "s.OIDC_RP_CLIENT_ID, s.OIDC_RP_SCOPES, s.OIDC_NUMBER_CLAIM, s.OIDC_OP_TOKEN_ENDPOINT]))")
        env = {k: v for k, v in os.environ.items() if not k.startswith("XINLIAN_OIDC")}
        env.update(DJANGO_SETTINGS_MODULE="xinlian.settings", XINLIAN_OIDC_ISSUER="https://id.example.edu.cn/",
                   XINLIAN_OIDC_CLIENT_ID="xl", XINLIAN_OIDC_CLAIM="student_number",
                   XINLIAN_OIDC_TOKEN_ENDPOINT="https://id.example.edu.cn/token")
        out = subprocess.run([sys.executable, "-c", "import django; django.setup(); " + code],
                             env=env, capture_output=True, text=True, check=True)
        self.assertEqual(json.loads(out.stdout.strip().splitlines()[-1]),
                         ["https://id.example.edu.cn", "xl", "openid profile", "student_number",
                          "https://id.example.edu.cn/token"])
        env["XINLIAN_OIDC_SCOPES"] = "profile"
        bad = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env,
                             capture_output=True, text=True)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("XINLIAN_OIDC_SCOPES must include openid", bad.stderr)
        env["XINLIAN_OIDC_SCOPES"] = "openid email"
        env["XINLIAN_OIDC_CA_FILE"] = "/nonexistent/campus-ca.pem"
        bad = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env,
                             capture_output=True, text=True)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("XINLIAN_OIDC_CA_FILE='/nonexistent/campus-ca.pem' is not a file", bad.stderr)
        del env["XINLIAN_OIDC_CA_FILE"]
        env.update(XINLIAN_ENV="production", XINLIAN_SECRET_KEY="p" * 60, XINLIAN_ALLOWED_HOSTS="x.edu.cn",
                   XINLIAN_FIELD_KEYS="k1:" + base64.b64encode(b"k" * 32).decode(),
                   XINLIAN_OIDC_ISSUER="http://id.example.edu.cn")
        bad = subprocess.run([sys.executable, "-c", "import django; django.setup()"], env=env,
                             capture_output=True, text=True)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("Refusing OpenID Connect over plain HTTP in production", bad.stderr)


class CampusCATests(OIDCTestCase):
    """A provider on HTTPS whose certificate a campus CA signed (made at test start)."""

    @classmethod
    def setUpClass(cls) -> None:
        cls.op = Provider([CALLBACK], PROVIDER_USERS, tls=True).start()
        cls._oidc = override_settings(**cls.op.settings(), OIDC_VERIFY_SSL=cls.op.ca_file)
        cls._oidc.enable()
        try:
            super(OIDCTestCase, cls).setUpClass()
        except Exception:
            cls._oidc.disable()
            cls.op.stop()
            raise

    def test_logs_in_over_https_trusting_the_campus_ca(self) -> None:
        self.assertTrue(self.op.issuer.startswith("https://127.0.0.1:"))
        response = self.login_as("S0001")
        self.assertEqual(response.status_code, 302)
        self.assertEqual(int(self.client.session[SESSION_KEY]), self.student_a1.user_id)

    def test_a_certificate_nobody_vouches_for_is_refused(self) -> None:
        path = self.callback_path("S0001")
        with self.settings(OIDC_VERIFY_SSL=True), self.assertLogs("xinlian.network.oidc", "WARNING") as logs:
            response = self.client.get(path)
        self.assert_refused(response, "unavailable", status=503)
        self.assertIn("SSLError", "\n".join(logs.output))
