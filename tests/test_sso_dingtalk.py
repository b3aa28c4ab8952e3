"""钉钉 (DingTalk) login against a local DingTalk API server over real HTTP (the notification
tests' fake, tests/personal_receivers.py, taught the login's three calls): the button, the state
used once, authCode → user access token → unionId → the organisation's userid with the
application's token from the shared token cache, the mapping (DingTalk user id, else number),
and each bad answer refused with the page, an audit row and nothing created."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import quote

from django.contrib.auth import SESSION_KEY
from django.test import override_settings
from django.urls import reverse

from xinlian.access.models import AuditEvent, AuditResult
from xinlian.network.models import User
from xinlian.notify.provider import tokens

from .base import NetworkTestCase
from .personal_receivers import APP_KEY, APP_SECRET, DingTalkServer, Hit, settings_for
from .test_sso_wecom import closed_port_url, query_of

CALLBACK = "http://testserver/login/dingtalk/callback/"
IN_DINGTALK = {"HTTP_USER_AGENT": "Mozilla/5.0 (iPhone) AppleWebKit/605.1.15 AliApp(DingTalk/7.6.0) "
                                  "com.laiwang.DingTalk/1 Language/zh-Hans"}
OUTSIDER_UNION = "union-outsider"  # a DingTalk user who is not a member of the school's organisation


class LoginDingTalkServer(DingTalkServer):
    """The fake DingTalk API with the login's calls, as DingTalk documents them: an authCode is
    issued to a person (their unionId) and exchanged once; members' unionIds map to userids."""

    def __init__(self, members: dict[str, str]) -> None:
        super().__init__()
        self.members = dict(members)  # unionId -> userid
        self.codes: dict[str, str] = {}  # authCode -> unionId
        self.user_tokens: dict[str, str] = {}  # user access token -> unionId
        self._n = itertools.count(1)

    def issue_code(self, union_id: str) -> str:
        code = f"authcode-{next(self._n)}"
        with self.lock:
            self.codes[code] = union_id
        return code

    def handle(self, method: str, hit: Hit, raw: bytes) -> tuple[int, Any]:
        body = hit.body if isinstance(hit.body, dict) else {}
        if hit.path == "/v1.0/oauth2/userAccessToken" and method == "POST":
            if (body.get("clientId"), body.get("clientSecret")) != (APP_KEY, APP_SECRET):
                return 400, {"code": "invalidClientIdOrSecret", "message": "无效的clientId或clientSecret"}
            if body.get("grantType") != "authorization_code":
                return 400, {"code": "invalidParameter.grantType", "message": "grantType"}
            union = self.codes.pop(str(body.get("code", "")), None)
            if union is None:
                return 400, {"code": "invalidParameter.authCode.notFound", "message": "不合法的临时授权码"}
            token = f"uat-{next(self._n)}"
            self.user_tokens[token] = union
            return 200, {"accessToken": token, "refreshToken": "r", "expireIn": 7200, "corpId": "ding-corp"}
        if hit.path == "/v1.0/contact/users/me" and method == "GET":
            headers = {k.lower(): v for k, v in hit.headers.items()}
            union = self.user_tokens.get(headers.get("x-acs-dingtalk-access-token", ""))
            if union is None:
                return 401, {"code": "InvalidAuthentication", "message": "不合法的access_token"}
            return 200, {"nick": "某人", "unionId": union, "openId": f"open-{union}", "stateCode": "86"}
        if hit.path == "/topapi/user/getbyunionid" and method == "POST":
            error = self.token_error(hit.query.get("access_token", ""))
            if error:
                return 200, error
            scripted = self.scripted()
            if scripted:
                return scripted
            userid = self.members.get(str(body.get("unionid", "")))
            if userid is None:
                return 200, {"errcode": 60121, "errmsg": "找不到该用户"}
            return 200, {"errcode": 0, "errmsg": "ok", "result": {"contact_type": 0, "userid": userid},
                         "request_id": "r1"}
        return super().handle(method, hit, raw)


class DingTalkLoginTestCase(NetworkTestCase):
    ding: LoginDingTalkServer

    @classmethod
    def setUpClass(cls) -> None:
        cls.ding = LoginDingTalkServer({"union-zhang": "ding-zhang", "union-t1001": "T1001",
                                        "union-nobody": "NOBODY-42"}).__enter__()
        cls._on = override_settings(**settings_for(dingtalk=cls.ding), DINGTALK_LOGIN=True,
                                    DINGTALK_LOGIN_API_URL=cls.ding.url)
        cls._on.enable()
        try:
            super().setUpClass()
        except Exception:
            cls._on.disable()
            cls.ding.__exit__(None, None, None)
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        cls._on.disable()
        cls.ding.__exit__(None, None, None)

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        User.objects.filter(pk=cls.student_a1.user_id).update(dingtalk_userid="ding-zhang")

    def setUp(self) -> None:
        tokens.clear()
        self.ding.down = False
        self.ding.script = []
        self.people = User.objects.count()

    def begin(self, next_path: str | None = None, **headers: str) -> str:
        url = reverse("dingtalk-login") + (f"?next={quote(next_path, safe='')}" if next_path else "")
        response = self.client.get(url, **headers)
        self.assertEqual(response.status_code, 302)
        return response["Location"]

    def callback_path(self, code: str, next_path: str | None = None) -> str:
        state = query_of(self.begin(next_path))["state"]
        return f"{reverse('dingtalk-callback')}?authCode={quote(code)}&state={quote(state)}"

    def login_with(self, union_id: str, next_path: str | None = None):
        return self.client.get(self.callback_path(self.ding.issue_code(union_id), next_path))

    def assert_refused(self, response, reason: str, userid: str = "", status: int = 403,
                       logins: int = 0) -> None:
        self.assertEqual(response.status_code, status)
        self.assertNotIn(SESSION_KEY, self.client.session)
        row = AuditEvent.objects.filter(action="identity.sso_refused").latest("pk")
        self.assertEqual((row.result, row.object_id), (AuditResult.DENIED, "dingtalk"))
        self.assertEqual(row.detail, f"reason={reason};id={userid}")
        self.assertEqual(AuditEvent.objects.filter(action="identity.sso_login").count(), logins)
        self.assertEqual(User.objects.count(), self.people)
        self.assertIn("钉钉", response.content.decode())


class DingTalkTests(DingTalkLoginTestCase):
    def test_button_keeps_next_and_comes_first_inside_dingtalk(self) -> None:
        page = self.client.get(reverse("login") + "?next=/me/posts/").content.decode()
        self.assertIn("钉钉登录", page)
        self.assertIn('href="/login/dingtalk/?next=%2Fme%2Fposts%2F"', page)
        with self.settings(OIDC_ISSUER="https://sso.example.edu", OIDC_RP_CLIENT_ID="xinlian"):
            page = self.client.get(reverse("login")).content.decode()
            self.assertLess(page.index("/login/oidc/"), page.index("/login/dingtalk/"))
            page = self.client.get(reverse("login"), **IN_DINGTALK).content.decode()
            self.assertLess(page.index("/login/dingtalk/"), page.index("/login/oidc/"))

    def test_no_button_and_404_while_off(self) -> None:
        for off in ({"DINGTALK_LOGIN": False}, {"DINGTALK_APP_SECRET": ""}):
            with self.subTest(off=off), self.settings(**off):
                self.assertNotIn("/login/dingtalk/", self.client.get(reverse("login")).content.decode())
                self.assertEqual(self.client.get(reverse("dingtalk-login")).status_code, 404)
                self.assertEqual(self.client.get(reverse("dingtalk-callback")).status_code, 404)

    def test_authorization_request(self) -> None:
        location = self.begin()
        self.assertTrue(location.startswith("https://login.dingtalk.com/oauth2/auth?"), location)
        q = query_of(location)
        self.assertEqual((q["client_id"], q["redirect_uri"], q["response_type"], q["scope"], q["prompt"]),
                         (APP_KEY, CALLBACK, "code", "openid", "consent"))
        self.assertGreaterEqual(len(q["state"]), 32)

    def test_student_by_dingtalk_user_id_lands_on_next(self) -> None:
        path = self.callback_path(self.ding.issue_code("union-zhang"), "/me/posts/")
        before = self.client.session.session_key
        response = self.client.get(path)
        self.assertEqual((response.status_code, response["Location"]), (302, "/me/posts/"))
        session = self.client.session
        self.assertEqual(int(session[SESSION_KEY]), self.student_a1.user_id)
        self.assertNotEqual(session.session_key, before)
        self.assertNotIn("dingtalk_login_states", session)
        row = AuditEvent.objects.get(action="identity.sso_login")
        self.assertEqual((row.actor_id, row.detail), (self.student_a1.user_id, "method=dingtalk"))

    def test_counsellor_by_number_lands_home(self) -> None:
        response = self.login_with("union-t1001")
        self.assertEqual(response["Location"], reverse("home"))
        self.assertEqual(int(self.client.session[SESSION_KEY]), self.counsellor_a.pk)

    def test_expired_application_token_is_fetched_again(self) -> None:
        self.assertEqual(self.login_with("union-t1001").status_code, 302)
        self.client.logout()
        self.ding.expire_tokens()
        fetched = self.ding.token_requests
        self.assertEqual(self.login_with("union-t1001").status_code, 302)
        self.assertEqual(self.ding.token_requests, fetched + 1)

    def test_not_a_member_and_not_on_the_roster(self) -> None:
        self.assert_refused(self.login_with(OUTSIDER_UNION), "unknown")
        self.assert_refused(self.login_with("union-nobody"), "unknown", "NOBODY-42")

    def test_disabled(self) -> None:
        User.objects.filter(pk=self.counsellor_a.pk).update(is_active=False)
        self.assert_refused(self.login_with("union-t1001"), "disabled", "T1001")

    def test_replayed_state_and_replayed_code(self) -> None:
        code = self.ding.issue_code("union-t1001")
        path = self.callback_path(code)
        self.assertEqual(self.client.get(path).status_code, 302)
        self.client.logout()
        self.assert_refused(self.client.get(path), "invalid", logins=1)
        self.assert_refused(self.client.get(self.callback_path(code)), "invalid", logins=1)

    def test_bad_code_declined_or_none(self) -> None:
        self.assert_refused(self.client.get(self.callback_path("forged")), "invalid")
        state = query_of(self.begin())["state"]
        self.assert_refused(self.client.get(f"{reverse('dingtalk-callback')}?error=access_denied&state={state}"),
                            "invalid")
        self.assert_refused(self.client.get(self.callback_path("")), "invalid")

    def test_dingtalk_down_unreachable_or_errcode(self) -> None:
        self.ding.down = True
        self.assert_refused(self.login_with("union-t1001"), "unavailable", status=503)
        self.ding.down = False
        with self.settings(DINGTALK_LOGIN_API_URL=closed_port_url()):
            self.assert_refused(self.login_with("union-t1001"), "unavailable", status=503)
        self.ding.script = [(200, {"errcode": -1, "errmsg": "系统繁忙"})]
        self.assert_refused(self.login_with("union-t1001"), "unavailable", status=503)

    def test_english_refusal(self) -> None:
        response = self.client.get(self.callback_path(self.ding.issue_code(OUTSIDER_UNION)),
                                   HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(response.status_code, 403)
        self.assertIn("not in Xinlian", response.content.decode())
        self.assertIn("DingTalk (钉钉)", response.content.decode())
