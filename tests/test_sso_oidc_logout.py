"""Logging out after an OpenID Connect login ends the provider's session too (RP-initiated
logout), against the real test provider (django-oauth-toolkit with its end-session endpoint on):
on a shared phone, the next "log in with the school account" must ask for the password again."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests
from django.contrib.auth import SESSION_KEY
from django.test import override_settings
from django.urls import reverse
from knox.models import AuthToken

from xinlian.network import oidc
from xinlian.web.models import Session

from .base import PASSWORD
from .oidc_provider import CLIENT_ID, Provider
from .test_sso_oidc import CALLBACK, PROVIDER_USERS, OIDCTestCase, closed_port_url

LOGIN_PAGE = "http://testserver/login/"


class OIDCLogoutTests(OIDCTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls.op = Provider([CALLBACK], PROVIDER_USERS, post_logout_redirect_uris=[LOGIN_PAGE]).start()
        cls._oidc = override_settings(**cls.op.settings())
        cls._oidc.enable()
        try:
            super(OIDCTestCase, cls).setUpClass()
        except Exception:
            cls._oidc.disable()
            cls.op.stop()
            raise

    def setUp(self) -> None:
        super().setUp()
        # The phone's browser at the provider: it keeps the provider's session cookie.
        self.phone = requests.Session()
        self.addCleanup(self.phone.close)

    def login_on_the_phone(self, number: str) -> None:
        back = self.op.authorize(self.begin(), number, browser=self.phone)
        self.assertTrue(back.startswith(CALLBACK), back)
        parts = urlsplit(back)
        self.assertEqual(self.client.get(f"{parts.path}?{parts.query}").status_code, 302)
        self.assertIn(SESSION_KEY, self.client.session)

    def test_logout_ends_the_provider_session_and_comes_back_to_the_login_page(self) -> None:
        self.login_on_the_phone("S0001")
        # While the provider's session lasts, a new login goes straight through, no password.
        self.assertTrue(self.op.follow(self.begin(), self.phone).startswith(CALLBACK))
        self.login_on_the_phone("S0001")
        key = self.client.session.session_key
        AuthToken.objects.create(user=self.student_a1.user)

        response = self.client.post(reverse("logout"))
        self.assertEqual(response.status_code, 302)
        target = urlsplit(response["Location"])
        self.assertEqual(f"{target.scheme}://{target.netloc}{target.path}", f"{self.op.issuer}/logout/")
        query = parse_qs(target.query)
        self.assertEqual(query["post_logout_redirect_uri"], [LOGIN_PAGE])
        self.assertEqual(query["client_id"], [CLIENT_ID])
        self.assertEqual(len(query["id_token_hint"][0].split(".")), 3)  # the login's signed ID token
        # Xinlian's side is over before the browser even leaves.
        self.assertFalse(Session.objects.filter(session_key=key).exists())
        self.assertFalse(AuthToken.objects.filter(user=self.student_a1.user).exists())

        # The phone follows: the provider ends its session without asking (the hint names the
        # person logged in there) and sends it back to Xinlian's login page.
        ended = self.phone.get(response["Location"], allow_redirects=False, timeout=10)
        self.assertEqual(ended.status_code, 302, ended.text[-1500:])
        self.assertEqual(ended.headers["Location"], LOGIN_PAGE)
        # The next "log in with the school account" on this phone asks for the password again.
        again = self.op.follow(self.begin(), self.phone)
        self.assertTrue(again.startswith(f"{self.op.url}/accounts/login/"), again)

    def test_a_password_login_logs_out_at_xinlian_only(self) -> None:
        self.client.post(reverse("login"), {"username": "T1001", "password": PASSWORD})
        self.assertIn(SESSION_KEY, self.client.session)
        response = self.client.post(reverse("logout"))
        self.assertEqual(response["Location"], reverse("login"))

    def test_logout_at_the_provider_can_be_switched_off(self) -> None:
        self.login_on_the_phone("S0001")
        with override_settings(OIDC_OP_LOGOUT_ENDPOINT="off"):
            response = self.client.post(reverse("logout"))
        self.assertEqual(response["Location"], reverse("login"))
        self.assertNotIn(SESSION_KEY, self.client.session)

    def test_a_provider_that_cannot_be_reached_does_not_stop_the_logout(self) -> None:
        self.login_on_the_phone("S0001")
        oidc._discovered.clear()  # the provider's document is fetched again, and fails
        with override_settings(OIDC_ISSUER=closed_port_url(), OIDC_TIMEOUT=2):
            with self.assertLogs("xinlian.network.oidc", "WARNING"):
                response = self.client.post(reverse("logout"))
        self.assertEqual(response["Location"], reverse("login"))
        self.assertNotIn(SESSION_KEY, self.client.session)

    def test_an_endpoint_set_in_the_settings_is_used_as_given(self) -> None:
        self.login_on_the_phone("S0001")
        with override_settings(OIDC_OP_LOGOUT_ENDPOINT="https://id.example.edu.cn/logout?realm=campus"):
            response = self.client.post(reverse("logout"))
        target = urlsplit(response["Location"])
        self.assertEqual((target.netloc, target.path), ("id.example.edu.cn", "/logout"))
        query = parse_qs(target.query)
        self.assertEqual(query["realm"], ["campus"])
        self.assertEqual(query["post_logout_redirect_uri"], [LOGIN_PAGE])
