"""企业微信 (WeCom) login against a local WeCom API server over real HTTP (the notification tests'
fake, tests/personal_receivers.py, taught the login's ``/cgi-bin/auth/getuserinfo``): the
button, the state used once, the code answered with the application's access token from the
shared token cache, the mapping (WeCom user id, else number), and each bad answer refused with
the page, an audit row and nothing created."""

from __future__ import annotations

import itertools
import socket
import time
from html import escape
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from django.contrib.auth import SESSION_KEY
from django.test import override_settings
from django.urls import reverse

from xinlian.access.models import AuditEvent, AuditResult
from xinlian.network.models import StudentStatus, User
from xinlian.notify.provider import tokens

from .base import NetworkTestCase, make_staff
from .personal_receivers import AGENT_ID, CORP_ID, Hit, WeComServer, settings_for

CALLBACK = "http://testserver/login/wecom/callback/"
IN_WECOM = {"HTTP_USER_AGENT": "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 MicroMessenger/8.0 "
                               "wxwork/4.1.20 MicroMessenger/7.0.1 Language/zh"}


class LoginWeComServer(WeComServer):
    """The fake WeCom API, with the login's code answered as WeCom documents it: a code is
    issued to one member (``userid``) or one visitor (``openid``), and answered once."""

    def __init__(self) -> None:
        super().__init__()
        self.codes: dict[str, dict[str, str]] = {}
        self._codes = itertools.count(1)

    def issue_code(self, userid: str = "", openid: str = "") -> str:
        code = f"CODE-{next(self._codes)}-{int(time.time())}"
        with self.lock:
            self.codes[code] = {"userid": userid} if userid else {"openid": openid}
        return code

    # The person signed in to the WeCom app on this "phone": who the authorization pages name.
    signed_in = ""

    def _back(self, hit: Hit, userid: str) -> str:
        code = f"CODE-{next(self._codes)}-{int(time.time())}"
        self.codes[code] = {"userid": userid}
        return f"{hit.query['redirect_uri']}?{urlencode({'code': code, 'state': hit.query.get('state', '')})}"

    def handle(self, method: str, hit: Hit, raw: bytes) -> tuple[int, Any]:
        # The two pages the browser is sent to (for the browser tests): inside the WeCom app the
        # authorization returns at once; the QR web login waits for the scan, here a button.
        if hit.path in ("/connect/oauth2/authorize", "/wwlogin/sso/login") and method == "GET":
            if hit.query.get("appid") != CORP_ID or not hit.query.get("redirect_uri"):
                return 400, b"<html><body>appid or redirect_uri missing</body></html>"
            back = escape(self._back(hit, self.signed_in))
            if hit.path == "/connect/oauth2/authorize":
                return 200, f'<html><head><meta http-equiv="refresh" content="0;url={back}"></head></html>'.encode()
            return 200, (f'<html><body><p>WeCom QR</p><a id="scan" href="{back}">scan as '
                         f'{escape(self.signed_in)}</a></body></html>').encode()
        if hit.path == "/cgi-bin/auth/getuserinfo" and method == "GET":
            error = self.token_error(hit.query.get("access_token", ""))
            if error:
                return 200, error
            scripted = self.scripted()
            if scripted:
                return scripted
            who = self.codes.pop(hit.query.get("code", ""), None)
            if who is None:
                return 200, {"errcode": 40029, "errmsg": "invalid code"}
            return 200, {"errcode": 0, "errmsg": "ok", **who}
        return super().handle(method, hit, raw)


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class WeComLoginTestCase(NetworkTestCase):
    wecom: LoginWeComServer

    @classmethod
    def setUpClass(cls) -> None:
        cls.wecom = LoginWeComServer().__enter__()
        cls._on = override_settings(**settings_for(wecom=cls.wecom), WECOM_LOGIN=True)
        cls._on.enable()
        try:
            super().setUpClass()
        except Exception:
            cls._on.disable()
            cls.wecom.__exit__(None, None, None)
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        cls._on.disable()
        cls.wecom.__exit__(None, None, None)

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        User.objects.filter(pk=cls.student_a1.user_id).update(wecom_userid="ZhangXiaoMing")

    def setUp(self) -> None:
        tokens.clear()
        self.wecom.down = False
        self.wecom.script = []
        self.people = User.objects.count()

    def begin(self, next_path: str | None = None, **headers: str) -> str:
        url = reverse("wecom-login") + (f"?next={quote(next_path, safe='')}" if next_path else "")
        response = self.client.get(url, **headers)
        self.assertEqual(response.status_code, 302)
        return response["Location"]

    def callback_path(self, code: str, next_path: str | None = None) -> str:
        state = query_of(self.begin(next_path))["state"]
        return f"{reverse('wecom-callback')}?code={quote(code)}&state={quote(state)}&appid={CORP_ID}"

    def login_with(self, userid: str = "", openid: str = "", next_path: str | None = None):
        return self.client.get(self.callback_path(self.wecom.issue_code(userid, openid), next_path))

    def assert_refused(self, response, reason: str, userid: str = "", status: int = 403,
                       logins: int = 0) -> None:
        self.assertEqual(response.status_code, status)
        self.assertNotIn(SESSION_KEY, self.client.session)
        row = AuditEvent.objects.filter(action="identity.sso_refused").latest("pk")
        self.assertEqual((row.result, row.object_id), (AuditResult.DENIED, "wecom"))
        self.assertEqual(row.detail, f"reason={reason};id={userid}")
        self.assertEqual(AuditEvent.objects.filter(action="identity.sso_login").count(), logins)
        self.assertEqual(User.objects.count(), self.people)  # nothing created
        page = response.content.decode()
        self.assertIn("企业微信", page)  # the refusal page names the way in
        self.assertIn('href="/login/"', page)  # the local login beside it


class ButtonTests(WeComLoginTestCase):
    def test_button_on_the_login_page_keeps_next(self) -> None:
        page = self.client.get(reverse("login") + "?next=/me/posts/").content.decode()
        self.assertIn("企业微信登录", page)
        self.assertIn('href="/login/wecom/?next=%2Fme%2Fposts%2F"', page)

    def test_button_first_inside_the_wecom_app(self) -> None:
        with self.settings(OIDC_ISSUER="https://sso.example.edu", OIDC_RP_CLIENT_ID="xinlian"):
            page = self.client.get(reverse("login")).content.decode()
            self.assertLess(page.index("/login/oidc/"), page.index("/login/wecom/"))
            page = self.client.get(reverse("login"), **IN_WECOM).content.decode()
            self.assertLess(page.index("/login/wecom/"), page.index("/login/oidc/"))

    def test_no_button_and_404_while_off_or_unconfigured(self) -> None:
        for off in ({"WECOM_LOGIN": False}, {"WECOM_CORP_SECRET": ""}, {"WECOM_AGENT_ID": ""}):
            with self.subTest(off=off), self.settings(**off):
                page = self.client.get(reverse("login")).content.decode()
                self.assertNotIn("/login/wecom/", page)
                self.assertEqual(self.client.get(reverse("wecom-login")).status_code, 404)
                self.assertEqual(self.client.get(reverse("wecom-callback") + "?code=x&state=y").status_code, 404)

    def test_english_button(self) -> None:
        page = self.client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
        self.assertIn("Log in with WeCom (企业微信)", page)


class StartTests(WeComLoginTestCase):
    def test_qr_web_login_outside_wecom(self) -> None:
        location = self.begin()
        self.assertTrue(location.startswith("https://login.work.weixin.qq.com/wwlogin/sso/login?"), location)
        q = query_of(location)
        self.assertEqual((q["login_type"], q["appid"], q["agentid"], q["redirect_uri"]),
                         ("CorpApp", CORP_ID, AGENT_ID, CALLBACK))
        self.assertGreaterEqual(len(q["state"]), 32)

    def test_in_app_authorization_inside_wecom(self) -> None:
        location = self.begin(**IN_WECOM)
        self.assertTrue(location.startswith("https://open.weixin.qq.com/connect/oauth2/authorize?"), location)
        self.assertTrue(location.endswith("#wechat_redirect"), location)
        q = query_of(location.split("#")[0])
        self.assertEqual((q["appid"], q["redirect_uri"], q["response_type"], q["scope"], q["agentid"]),
                         (CORP_ID, CALLBACK, "code", "snsapi_base", AGENT_ID))

    def test_each_start_a_new_state_and_only_a_few_kept(self) -> None:
        states = [query_of(self.begin())["state"] for _ in range(7)]
        self.assertEqual(len(set(states)), 7)
        kept = self.client.session["wecom_login_states"]
        self.assertEqual(set(kept), set(states[-5:]))


class LoginTests(WeComLoginTestCase):
    def test_student_by_wecom_user_id_on_a_new_session_key_and_lands_on_next(self) -> None:
        path = self.callback_path(self.wecom.issue_code("ZhangXiaoMing"), "/me/posts/")
        before = self.client.session.session_key
        response = self.client.get(path)
        self.assertEqual(response.status_code, 302)
        self.assertEqual(response["Location"], "/me/posts/")
        session = self.client.session
        self.assertEqual(int(session[SESSION_KEY]), self.student_a1.user_id)
        self.assertNotEqual(session.session_key, before)
        self.assertNotIn("wecom_login_states", session)
        row = AuditEvent.objects.get(action="identity.sso_login")
        self.assertEqual((row.actor_id, row.detail), (self.student_a1.user_id, "method=wecom"))
        self.assertEqual(User.objects.count(), self.people)
        # Asked with the application's access token, fetched with the corp's credentials.
        asked = [h for h in self.wecom.hits if h.path == "/cgi-bin/auth/getuserinfo"][-1]
        self.assertIn(asked.query["access_token"], self.wecom.tokens)
        self.assertEqual(self.client.get("/me/posts/").status_code, 200)

    def test_counsellor_by_number_lands_home(self) -> None:
        response = self.login_with("T1001")
        self.assertEqual(response["Location"], reverse("home"))
        self.assertEqual(int(self.client.session[SESSION_KEY]), self.counsellor_a.pk)

    def test_wecom_user_id_comes_before_the_number(self) -> None:
        # A staff member whose WeCom id is another person's number: the WeCom id wins.
        other = make_staff("T2001", "卫老师")
        User.objects.filter(pk=other.pk).update(wecom_userid="S0004")
        self.login_with("S0004")
        self.assertEqual(int(self.client.session[SESSION_KEY]), other.pk)

    def test_foreign_next_is_dropped(self) -> None:
        response = self.login_with("T1001", next_path="https://evil.example/")
        self.assertEqual(response["Location"], reverse("home"))

    def test_expired_token_is_fetched_again(self) -> None:
        self.assertEqual(self.login_with("T1001").status_code, 302)
        self.client.logout()
        self.wecom.expire_tokens()
        fetched = self.wecom.token_requests
        response = self.login_with("T1001")
        self.assertEqual(response.status_code, 302)
        self.assertEqual(self.wecom.token_requests, fetched + 1)
        self.assertEqual(int(self.client.session[SESSION_KEY]), self.counsellor_a.pk)


class RefusalTests(WeComLoginTestCase):
    def test_unknown_user_id(self) -> None:
        self.assert_refused(self.login_with("NOBODY-42"), "unknown", "NOBODY-42")

    def test_visitor_outside_the_organisation(self) -> None:
        self.assert_refused(self.login_with(openid="oAbCdEf"), "unknown")

    def test_wecom_user_id_two_people_hold(self) -> None:
        User.objects.filter(pk=self.student_b1.user_id).update(wecom_userid="ZhangXiaoMing")
        self.assert_refused(self.login_with("ZhangXiaoMing"), "unknown", "ZhangXiaoMing")

    def test_only_the_roster_account_fields(self) -> None:
        from xinlian.network.sso import user_for_external_id

        with self.assertRaises(ValueError):
            user_for_external_id(None, "wecom", "S0001", field="password")

    def test_disabled(self) -> None:
        User.objects.filter(pk=self.counsellor_a.pk).update(is_active=False)
        self.assert_refused(self.login_with("T1001"), "disabled", "T1001")

    def test_graduated(self) -> None:
        type(self.student_a1).objects.filter(pk=self.student_a1.pk).update(status=StudentStatus.GRADUATED)
        self.assert_refused(self.login_with("ZhangXiaoMing"), "graduated", "ZhangXiaoMing")

    def test_replayed_state(self) -> None:
        path = self.callback_path(self.wecom.issue_code("T1001"))
        self.assertEqual(self.client.get(path).status_code, 302)
        # The same answer again in the same (now logged-in) session: the state is gone.
        response = self.client.get(path)
        self.assertEqual(response.status_code, 403)
        row = AuditEvent.objects.filter(action="identity.sso_refused").latest("pk")
        self.assertEqual((row.object_id, row.detail), ("wecom", "reason=invalid;id="))
        self.client.logout()
        self.assert_refused(self.client.get(path), "invalid", logins=1)

    def test_state_used_once_even_when_the_first_use_failed(self) -> None:
        state = query_of(self.begin())["state"]
        callback = reverse("wecom-callback")
        self.assert_refused(self.client.get(f"{callback}?code=forged&state={state}"), "invalid")
        asked = len([h for h in self.wecom.hits if h.path == "/cgi-bin/auth/getuserinfo"])
        code = self.wecom.issue_code("T1001")
        self.assert_refused(self.client.get(f"{callback}?code={code}&state={state}"), "invalid")
        # Refused before WeCom was asked: the good code was not spent.
        self.assertEqual(len([h for h in self.wecom.hits if h.path == "/cgi-bin/auth/getuserinfo"]), asked)
        self.assertIn(code, self.wecom.codes)

    def test_state_of_another_session_or_none(self) -> None:
        path = self.callback_path(self.wecom.issue_code("T1001"))
        self.client.logout()  # a new session: the state was the old one's
        self.assert_refused(self.client.get(path), "invalid")
        self.assert_refused(self.client.get(reverse("wecom-callback") + "?code=x"), "invalid")

    def test_expired_state(self) -> None:
        path = self.callback_path(self.wecom.issue_code("T1001"))
        session = self.client.session
        states = session["wecom_login_states"]
        for entry in states.values():
            entry["at"] -= 601
        session["wecom_login_states"] = states
        session.save()
        self.assert_refused(self.client.get(path), "invalid")

    def test_replayed_code_with_a_new_state(self) -> None:
        code = self.wecom.issue_code("T1001")
        self.assertEqual(self.client.get(self.callback_path(code)).status_code, 302)
        self.client.logout()
        self.assert_refused(self.client.get(self.callback_path(code)), "invalid", logins=1)

    def test_bad_or_missing_code(self) -> None:
        self.assert_refused(self.client.get(self.callback_path("forged")), "invalid")
        self.assert_refused(self.client.get(self.callback_path("")), "invalid")

    def test_wecom_down(self) -> None:
        self.wecom.down = True
        self.assert_refused(self.login_with("T1001"), "unavailable", status=503)

    def test_wecom_unreachable(self) -> None:
        with self.settings(WECOM_API_URL=closed_port_url()):
            self.assert_refused(self.login_with("T1001"), "unavailable", status=503)

    def test_wecom_errcode(self) -> None:
        self.wecom.script = [(200, {"errcode": -1, "errmsg": "system busy"})]
        self.assert_refused(self.login_with("T1001"), "unavailable", status=503)

    def test_wrong_corp_secret(self) -> None:
        with self.settings(WECOM_CORP_SECRET="wrong"):
            self.assert_refused(self.login_with("T1001"), "unavailable", status=503)

    def test_english_refusal(self) -> None:
        response = self.client.get(self.callback_path(self.wecom.issue_code("NOBODY-42")),
                                   HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(response.status_code, 403)
        self.assertIn("not in Xinlian", response.content.decode())
