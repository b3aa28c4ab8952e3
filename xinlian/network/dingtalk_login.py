"""钉钉 (DingTalk) login: a small OAuth 2.0 adapter, then the one mapping rule of ``sso``.

DingTalk's login for a school's internal application (企业内部应用) is an OAuth 2.0
authorization code without an ID token:

* The button goes to ``https://login.dingtalk.com/oauth2/auth?redirect_uri=…&response_type=code
  &client_id=<AppKey>&scope=openid&state=…&prompt=consent``: a QR code in a browser, a login
  without a question inside the DingTalk app. DingTalk returns with ``?authCode=…&state=…``
  (``?error=…&state=…`` when the person declines).
* ``POST {DINGTALK_LOGIN_API_URL}/v1.0/oauth2/userAccessToken`` ``{"clientId", "clientSecret",
  "code", "grantType": "authorization_code"}`` → ``{"accessToken", "expireIn", …}`` (HTTP 400
  with ``{"code", "message"}`` for a code that is invalid or used).
* ``GET {DINGTALK_LOGIN_API_URL}/v1.0/contact/users/me`` with the header
  ``x-acs-dingtalk-access-token`` → ``{"unionId", "openId", "nick", …}``: the person across
  DingTalk, not yet their id in the school's organisation.
* ``POST {DINGTALK_API_URL}/topapi/user/getbyunionid?access_token=<application token>``
  ``{"unionid"}`` → ``{"errcode": 0, "result": {"userid"}}``; errcode 60121 when the person is
  not a member of the organisation. The application's token is the one the DingTalk
  notifications share (same AppKey and AppSecret), from the caller (:class:`TokenSource`).

The ``userid`` names the person: the one whose ``dingtalk_userid`` it is, else the one whose
number it is (``sso.user_for_external_id`` with ``field``). Nobody is created."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from . import sso
from .models import User
from .wecom_login import TIMEOUT, TokenSource, Unavailable

log = logging.getLogger(__name__)

METHOD = "dingtalk"
TOKEN_ERRORS = {40014, 42001, 41001, 88}
NOT_MEMBER = {60121, 33012}


def enabled() -> bool:
    """On when XINLIAN_DINGTALK_LOGIN is set and the DingTalk application is configured."""
    return bool(settings.DINGTALK_LOGIN and settings.DINGTALK_APP_KEY and settings.DINGTALK_APP_SECRET)


def in_dingtalk(request: HttpRequest) -> bool:
    """Is this request from the DingTalk app's own browser?"""
    return "dingtalk" in request.headers.get("User-Agent", "").lower()


def button_label() -> Any:
    return _("Log in with DingTalk (钉钉)")


def authorize_url(*, redirect_uri: str, state: str) -> str:
    query = urlencode({"redirect_uri": redirect_uri, "response_type": "code",
                       "client_id": settings.DINGTALK_APP_KEY, "scope": "openid", "state": state,
                       "prompt": "consent"})
    return f"{settings.DINGTALK_OAUTH_URL}?{query}"


class _CodeRefused(Exception):
    pass


def _union_id(code: str) -> str:
    base = settings.DINGTALK_LOGIN_API_URL.rstrip("/")
    response = requests.post(f"{base}/v1.0/oauth2/userAccessToken", timeout=TIMEOUT, json={
        "clientId": settings.DINGTALK_APP_KEY, "clientSecret": settings.DINGTALK_APP_SECRET,
        "code": code, "grantType": "authorization_code"})
    if 400 <= response.status_code < 500:
        raise _CodeRefused(f"HTTP {response.status_code}")
    response.raise_for_status()
    answer = response.json()
    if not isinstance(answer, dict) or not answer.get("accessToken"):
        raise ValueError("userAccessToken answer without accessToken")
    response = requests.get(f"{base}/v1.0/contact/users/me", timeout=TIMEOUT,
                            headers={"x-acs-dingtalk-access-token": str(answer["accessToken"])})
    response.raise_for_status()
    me = response.json()
    if not isinstance(me, dict) or not me.get("unionId"):
        raise ValueError("users/me answer without unionId")
    return str(me["unionId"])


def _getbyunionid(union_id: str, tokens: TokenSource) -> dict[str, Any]:
    base = settings.DINGTALK_API_URL.rstrip("/")
    answer: dict[str, Any] = {}
    for _round in range(2):  # a second round only after the token was refused
        token = tokens.get()
        response = requests.post(f"{base}/topapi/user/getbyunionid", params={"access_token": token},
                                 json={"unionid": union_id}, timeout=TIMEOUT)
        response.raise_for_status()
        answer = response.json()
        if not isinstance(answer, dict):
            raise ValueError("getbyunionid answer is not an object")
        if answer.get("errcode", 0) in TOKEN_ERRORS:
            tokens.drop(token)
            continue
        break
    return answer


def user_for_code(request: HttpRequest, code: str, tokens: TokenSource) -> User:
    """The person DingTalk's authCode names (not yet logged in), or :class:`sso.Refused` with
    its audit row: ``invalid`` for a code DingTalk refuses, ``unavailable`` when DingTalk does
    not answer or answers with another error, ``unknown`` for a person outside the
    organisation, and the mapping's own refusals."""
    if not code:
        raise sso.refuse(request, METHOD, "invalid")
    try:
        answer = _getbyunionid(_union_id(code), tokens)
    except _CodeRefused as exc:
        log.info("DingTalk refused the login code (%s)", exc)
        raise sso.refuse(request, METHOD, "invalid") from exc
    except (requests.RequestException, ValueError, Unavailable) as exc:
        log.warning("DingTalk login failed: %s", type(exc).__name__)
        raise sso.refuse(request, METHOD, "unavailable") from exc
    errcode = answer.get("errcode", 0)
    if errcode in NOT_MEMBER:
        raise sso.refuse(request, METHOD, "unknown")
    if errcode != 0:
        log.warning("DingTalk getbyunionid errcode %s", errcode)
        raise sso.refuse(request, METHOD, "unavailable")
    result = answer.get("result")
    userid = result.get("userid") if isinstance(result, dict) else None
    if not userid:
        raise sso.refuse(request, METHOD, "unknown")
    return sso.user_for_external_id(request, METHOD, userid, field="dingtalk_userid")
