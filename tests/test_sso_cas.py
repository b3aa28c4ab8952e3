"""Campus single sign-on through a real CAS server (issue 13): django-cas-server in its own small
project (tests/cas_server/), on a free loopback port for the whole class. The test client plays
the browser on Xinlian's side and a requests session plays it on the CAS server's login page;
Xinlian validates each ticket over HTTP with that server. Nothing of the protocol is mocked.

The browser version (a student on a phone, a 辅导员 on a laptop) is tests/test_sso_cas_browser.py."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import requests
from django.contrib.auth import SESSION_KEY
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.test import SimpleTestCase, override_settings
from django.urls import reverse
from django_cas_ng.models import SessionTicket
from knox.models import AuthToken

from xinlian.access.models import AuditEvent, AuditResult
from xinlian.network.models import StudentStatus, User
from xinlian.web.models import Session

from .base import PASSWORD, NetworkTestCase
from .cas_server import CasServer, ticket_of, wait_for

CAS_PASSWORD = "campus-pass-2026"
# The CAS server's own accounts: the roster's numbers, one it lacks, and a campus net id whose
# number travels in an attribute (released as "xh", 学号).
CAS_USERS = {
    "S0001": CAS_PASSWORD, "S0004": CAS_PASSWORD, "S0005": CAS_PASSWORD, "T1001": CAS_PASSWORD,
    "S9999": CAS_PASSWORD,
    "zhangxm": {"password": CAS_PASSWORD, "last_name": "S0001"},
    "nobodyxh": {"password": CAS_PASSWORD, "last_name": ""},
}


def closed_port_url() -> str:
    """A loopback address where nothing listens (the CAS server is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/cas/"


class CasServerMixin:
    cas: CasServer

    @classmethod
    def start_cas(cls) -> None:
        cls.cas = CasServer(CAS_USERS).start()
        cls.addClassCleanup(cls.cas.stop)  # type: ignore[attr-defined]


class CasLoginTests(CasServerMixin, NetworkTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.start_cas()

    def setUp(self) -> None:
        self.settings_cm = override_settings(CAS_SERVER_URL=self.cas.url)
        self.settings_cm.enable()
        self.addCleanup(self.settings_cm.disable)
        self.campus = requests.Session()  # the browser's cookies at the CAS server
        self.addCleanup(self.campus.close)

    # --- helpers ---------------------------------------------------------------------------

    def start(self, client=None, **query: str):
        client = client or self.client
        url = reverse("cas-login") + ("?" + urlencode(query) if query else "")
        response = client.get(url)
        self.assertEqual(response.status_code, 302)
        self.assertTrue(response["Location"].startswith(self.cas.url + "login?service="), response["Location"])
        return response["Location"]

    def ticket_url(self, number: str, **query: str) -> str:
        """The address CAS sends the browser back to, ticket included (not yet visited)."""
        # Started from an anonymous page (the ticket may come back to a session that is not).
        back = self.cas.login(self.campus, self.start(self.client_class(), **query), number, CAS_PASSWORD)
        self.assertTrue(back.startswith("http://testserver/login/cas/"), back)
        return back.removeprefix("http://testserver")

    def cas_login(self, number: str, client=None, **query: str):
        return (client or self.client).get(self.ticket_url(number, **query))

    def refusal(self, reason: str) -> AuditEvent:
        row = AuditEvent.objects.filter(action="identity.sso_refused").latest("pk")
        self.assertEqual((row.object_id, row.result), ("cas", AuditResult.DENIED))
        self.assertIn(f"reason={reason}", row.detail)
        self.assertNotIn("ST-", row.detail)  # never the ticket
        return row

    # --- the button ------------------------------------------------------------------------

    def test_button_on_the_login_page_in_both_languages(self) -> None:
        page = self.client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        self.assertIn("校园统一身份认证登录", page)
        self.assertIn('href="/login/cas/"', page)
        self.assertIn("或使用心联密码登录", page)
        page = self.client.get(reverse("login") + "?next=/me/posts/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        self.assertIn("Log in with campus single sign-on", page)
        self.assertIn('href="/login/cas/?next=%2Fme%2Fposts%2F"', page)

    @override_settings(CAS_BUTTON_LABEL="示范大学统一身份认证")
    def test_the_school_names_its_button(self) -> None:
        page = self.client.get(reverse("login")).content.decode()
        self.assertIn("示范大学统一身份认证", page)
        self.assertNotIn("校园统一身份认证登录", page)

    def test_off_without_a_server(self) -> None:
        with override_settings(CAS_SERVER_URL=""):
            self.assertEqual(self.client.get(reverse("cas-login")).status_code, 404)
            self.assertEqual(self.client.get(reverse("cas-login") + "?ticket=ST-1").status_code, 404)
            self.assertNotIn("校园统一身份认证登录", self.client.get(reverse("login")).content.decode())

    # --- getting in ------------------------------------------------------------------------

    def test_student_gets_in_on_a_new_session_and_lands_home(self) -> None:
        self.client.get(reverse("login"))
        self.client.session.save()
        before = self.client.session.session_key
        response = self.cas_login("S0001")
        self.assertRedirects(response, reverse("home"), fetch_redirect_response=False)
        session = self.client.session
        self.assertEqual(int(session[SESSION_KEY]), self.student_a1.user_id)
        self.assertNotEqual(session.session_key, before)  # no session fixation
        self.assertTrue(SessionTicket.objects.filter(session_key=session.session_key).exists())
        row = AuditEvent.objects.get(action="identity.sso_login")
        self.assertEqual((row.actor_id, row.detail), (self.student_a1.user_id, "method=cas"))
        home = self.client.get(reverse("home"))
        self.assertEqual(home.status_code, 200)
        self.assertContains(home, "张小明")

    def test_next_is_honoured_when_local_only(self) -> None:
        response = self.cas_login("T1001", next="/me/posts/")
        self.assertRedirects(response, "/me/posts/", fetch_redirect_response=False)
        self.client.logout()
        for evil in ("https://evil.example/", "//evil.example/x", "javascript:alert(1)"):
            with self.subTest(next=evil):
                self.client.logout()
                response = self.cas_login("T1001", next=evil)
                self.assertRedirects(response, reverse("home"), fetch_redirect_response=False)

    def test_cas_version_2(self) -> None:
        with override_settings(CAS_VERSION="2"):
            response = self.cas_login("S0001")
        self.assertRedirects(response, reverse("home"), fetch_redirect_response=False)
        self.assertEqual(int(self.client.session[SESSION_KEY]), self.student_a1.user_id)

    def test_number_from_an_attribute(self) -> None:
        with override_settings(CAS_NUMBER_ATTRIBUTE="xh"):
            response = self.cas_login("zhangxm")
            self.assertRedirects(response, reverse("home"), fetch_redirect_response=False)
            self.assertEqual(int(self.client.session[SESSION_KEY]), self.student_a1.user_id)
            self.client.logout()
            self.campus.cookies.clear()
            response = self.cas_login("nobodyxh")  # the attribute is empty: no number
            self.assertEqual(response.status_code, 403)
            self.assertIn("id=nobodyxh", self.refusal("invalid").detail)

    def test_another_person_on_the_same_phone(self) -> None:
        """A ticket arriving on a session that is already someone's logs that someone out first."""
        self.client.force_login(self.student_a2.user)
        response = self.cas_login("S0001")
        self.assertRedirects(response, reverse("home"), fetch_redirect_response=False)
        self.assertEqual(int(self.client.session[SESSION_KEY]), self.student_a1.user_id)

    # --- refused ---------------------------------------------------------------------------

    def test_unknown_number_is_refused_in_both_languages_and_nobody_is_created(self) -> None:
        people = User.objects.count()
        url = self.ticket_url("S9999")
        response = self.client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        self.assertEqual(response.status_code, 403)
        self.assertContains(response, "心联的名单中没有这个账号", status_code=403)
        self.assertContains(response, "校园统一身份认证", status_code=403)
        self.assertContains(response, 'href="/login/"', status_code=403)
        self.assertNotIn(SESSION_KEY, self.client.session)
        self.assertEqual(User.objects.count(), people)
        row = self.refusal("unknown")
        self.assertIsNone(row.actor_id)
        self.assertIn("id=S9999", row.detail)
        self.assertFalse(AuditEvent.objects.filter(action="identity.sso_login").exists())
        english = self.cas_login("S9999", client=self.client_class(HTTP_ACCEPT_LANGUAGE="en"))
        self.assertContains(english, "is not in Xinlian", status_code=403)

    def test_disabled_and_graduated_are_refused(self) -> None:
        User.objects.filter(pk=self.student_b1.user_id).update(is_active=False)
        response = self.cas_login("S0005", client=self.client_class(HTTP_ACCEPT_LANGUAGE="en"))
        self.assertContains(response, "switched off", status_code=403)
        self.assertEqual(self.refusal("disabled").actor_id, self.student_b1.user_id)
        type(self.student_a2).objects.filter(pk=self.student_a2.pk).update(status=StudentStatus.GRADUATED)
        self.campus.cookies.clear()
        response = self.cas_login("S0004")
        self.assertEqual(response.status_code, 403)
        self.assertEqual(self.refusal("graduated").actor_id, self.student_a2.user_id)
        self.assertNotIn(SESSION_KEY, self.client.session)

    def test_replayed_ticket_is_refused(self) -> None:
        url = self.ticket_url("S0001")
        self.assertEqual(self.client.get(url).status_code, 302)
        thief = self.client_class(HTTP_ACCEPT_LANGUAGE="zh-hans")
        response = thief.get(url)
        self.assertEqual(response.status_code, 403)
        self.assertContains(response, "已被使用", status_code=403)
        self.assertNotIn(SESSION_KEY, thief.session)
        self.refusal("invalid")
        self.assertEqual(AuditEvent.objects.filter(action="identity.sso_login").count(), 1)

    def test_forged_ticket_and_ticket_for_another_service(self) -> None:
        response = self.client.get(reverse("cas-login") + "?ticket=ST-forged-0000")
        self.assertEqual(response.status_code, 403)
        self.refusal("invalid")
        # A real ticket, but issued for a different address (next=/x), shown at ours (next=/).
        url = self.ticket_url("S0001", next="/me/posts/")
        ticket = ticket_of("http://testserver" + url)
        response = self.client.get(reverse("cas-login") + "?" + urlencode({"ticket": ticket}))
        self.assertEqual(response.status_code, 403)
        self.assertNotIn(SESSION_KEY, self.client.session)

    def test_cas_server_down_is_a_clear_page_and_the_password_still_works(self) -> None:
        url = self.ticket_url("S0001")
        with override_settings(CAS_SERVER_URL=closed_port_url()):
            response = self.client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        self.assertEqual(response.status_code, 503)
        self.assertContains(response, "暂时无法连接身份认证系统", status_code=503)
        self.refusal("unavailable")
        self.assertNotIn(SESSION_KEY, self.client.session)
        response = self.client.post(reverse("login"), {"username": "T1001", "password": PASSWORD})
        self.assertRedirects(response, reverse("home"), fetch_redirect_response=False)

    def test_cas_server_that_never_answers_times_out(self) -> None:
        with socket.socket() as silent:  # accepts connections, never says a word
            silent.bind(("127.0.0.1", 0))
            silent.listen(8)
            url = f"http://127.0.0.1:{silent.getsockname()[1]}/cas/"
            with override_settings(CAS_SERVER_URL=url, CAS_TIMEOUT=0.5):
                began = time.monotonic()
                response = self.client.get(reverse("cas-login") + "?ticket=ST-1", HTTP_ACCEPT_LANGUAGE="en")
                took = time.monotonic() - began
        self.assertEqual(response.status_code, 503)
        self.assertContains(response, "cannot be reached", status_code=503)
        self.assertLess(took, 5)
        self.refusal("unavailable")

    # --- logging out -----------------------------------------------------------------------

    def test_logout_ends_the_cas_session_and_revokes_tokens(self) -> None:
        self.cas_login("S0001")
        key = self.client.session.session_key
        AuthToken.objects.create(user=self.student_a1.user)
        response = self.client.post(reverse("logout"))
        self.assertEqual(response.status_code, 302)
        target = urlparse(response["Location"])
        self.assertEqual(f"{target.scheme}://{target.netloc}{target.path}", self.cas.url + "logout")
        self.assertEqual(parse_qs(target.query)["service"], ["http://testserver/login/"])
        self.assertFalse(Session.objects.filter(session_key=key).exists())
        self.assertFalse(SessionTicket.objects.filter(session_key=key).exists())
        self.assertFalse(AuthToken.objects.filter(user=self.student_a1.user).exists())
        # The browser follows to the CAS server's logout: the campus session is over too, so the
        # next CAS login asks for the password again instead of handing out a ticket.
        self.campus.get(response["Location"], allow_redirects=False, timeout=10)
        page = self.campus.get(self.start(), allow_redirects=False, timeout=10)
        self.assertEqual(page.status_code, 200)
        self.assertIn('name="password"', page.text)

    def test_password_logout_stays_at_xinlian(self) -> None:
        self.client.post(reverse("login"), {"username": "T1001", "password": PASSWORD})
        self.assertIn(SESSION_KEY, self.client.session)
        response = self.client.post(reverse("logout"))
        self.assertRedirects(response, reverse("login"), fetch_redirect_response=False)


class CasSingleLogoutTests(CasServerMixin, StaticLiveServerTestCase):
    """The CAS server's single logout: logging out at the campus portal ends the Xinlian session
    (the CAS server POSTs a logoutRequest to Xinlian's service address over HTTP)."""

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.start_cas()

    def setUp(self) -> None:
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        self.settings_cm = override_settings(CAS_SERVER_URL=self.cas.url)
        self.settings_cm.enable()
        self.addCleanup(self.settings_cm.disable)

    def test_logout_at_the_cas_server_ends_the_xinlian_session(self) -> None:
        for version in ("3", "2"):
            with self.subTest(version=version), override_settings(CAS_VERSION=version):
                self.single_logout()

    def test_post_without_a_logout_request(self) -> None:
        answer = requests.post(f"{self.live_server_url}/login/cas/", allow_redirects=False, timeout=10,
                               data={"next": "https://evil.example/"})
        self.assertEqual((answer.status_code, answer.headers["Location"]), (302, "/login/cas/"))
        answer = requests.post(f"{self.live_server_url}/login/cas/", timeout=10,
                               data={"logoutRequest": "<not-xml"})
        self.assertEqual(answer.status_code, 200)  # nothing to end, nothing broken

    def single_logout(self) -> None:
        browser = requests.Session()  # one cookie jar for both sites, as a browser has
        self.addCleanup(browser.close)
        start = browser.get(f"{self.live_server_url}/login/cas/", allow_redirects=False, timeout=10)
        back = self.cas.login(browser, start.headers["Location"], "S0001", CAS_PASSWORD)
        home = browser.get(back, timeout=20)
        self.assertEqual(home.url, f"{self.live_server_url}/")
        self.assertIn("张小明", home.text)
        user = User.objects.get(username="S0001")
        AuthToken.objects.create(user=user)
        self.assertTrue(SessionTicket.objects.exists())
        logouts = AuditEvent.objects.filter(action="identity.sso_logout", actor=user)
        before = logouts.count()

        browser.get(self.cas.url + "logout", timeout=10)  # at the campus portal, not at Xinlian

        self.assertTrue(wait_for(lambda: not SessionTicket.objects.exists()), self.cas.log())
        again = browser.get(f"{self.live_server_url}/", allow_redirects=False, timeout=10)
        self.assertEqual(again.status_code, 302)
        self.assertTrue(again.headers["Location"].startswith("/login/"))
        self.assertFalse(AuthToken.objects.filter(user=user).exists())
        self.assertEqual(logouts.count(), before + 1)


class CasSettingsTests(SimpleTestCase):
    def test_settings_from_the_environment(self) -> None:
        from .test_settings import run_cli
        shown = run_cli("shell", "-v", "0", "-c", "from django.conf import settings as s; "
                        "print(s.CAS_SERVER_URL, s.CAS_VERSION, s.CAS_NUMBER_ATTRIBUTE, s.CAS_TIMEOUT, "
                        "s.CAS_CREATE_USER)",
                        env={"XINLIAN_CAS_SERVER_URL": "https://ids.example.edu.cn/authserver",
                             "XINLIAN_CAS_VERSION": "2", "XINLIAN_CAS_NUMBER_ATTRIBUTE": "xh",
                             "XINLIAN_CAS_TIMEOUT": "3"})
        self.assertEqual(shown.returncode, 0, shown.stderr)
        # The final "/" is added: the client joins "login" and "serviceValidate" onto the URL.
        self.assertEqual(shown.stdout.split(), ["https://ids.example.edu.cn/authserver/", "2", "xh", "3.0", "False"])
        wrong = run_cli("check", env={"XINLIAN_CAS_VERSION": "4"})
        self.assertNotEqual(wrong.returncode, 0)
        self.assertIn("XINLIAN_CAS_VERSION='4'", wrong.stderr)

    def test_every_setting_is_documented(self) -> None:
        root = Path(__file__).resolve().parent.parent
        readme = (root / "README.md").read_text()
        config = (root / "docs" / "configuration.md").read_text()
        for name in ("CAS_SERVER_URL", "CAS_VERSION", "CAS_NUMBER_ATTRIBUTE", "CAS_BUTTON_LABEL",
                     "CAS_TIMEOUT"):
            with self.subTest(name=name):
                self.assertIn(f"`XINLIAN_{name}`", readme)
                self.assertIn(f"`XINLIAN_{name}`", config)
