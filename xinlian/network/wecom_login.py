"""企业微信 (WeCom) login: a small OAuth 2.0 adapter, then the one mapping rule of ``sso``.

WeCom is no OpenID Connect provider (no ID token, no discovery), but its login is an OAuth 2.0
authorization code, documented for a school's own application (自建应用):

* Inside the WeCom app (its browser's User-Agent names ``wxwork``), the web page authorization
  ``https://open.weixin.qq.com/connect/oauth2/authorize?appid=CORPID&redirect_uri=…
  &response_type=code&scope=snsapi_base&state=…&agentid=AGENTID#wechat_redirect``: no question
  is asked, WeCom returns at once with ``?code=…&state=…``.
* In any other browser, the QR web login ``https://login.work.weixin.qq.com/wwlogin/sso/login
  ?login_type=CorpApp&appid=CORPID&agentid=AGENTID&redirect_uri=…&state=…``: the person scans
  the code with the WeCom app and the browser returns the same way.
* Either way the code (valid five minutes, usable once) is answered by
  ``GET {WECOM_API_URL}/cgi-bin/auth/getuserinfo?access_token=…&code=…`` with the
  application's access token (the same corp id and secret as the WeCom notifications) →
  ``{"errcode": 0, "userid": "…"}`` for a member of the organisation, ``{"errcode": 0,
  "openid": "…"}`` for a visitor outside it, ``errcode`` 40029 for a code that is invalid or
  already used, 40014/42001 for an access token that is invalid or expired.

The ``userid`` names the person: the one whose ``wecom_userid`` is that id, else the one whose
student or staff number is (``sso.user_for_external_id`` with ``field``). Nobody is created.

This module is in ``network`` and may not import ``notify``; the application's access token
comes from the caller (:class:`TokenSource`), which in ``xinlian.web.views_wecom`` is the token
cache the WeCom notifications share (``notify.provider.tokens``)."""

from __future__ import annotations

import logging
import secrets
from typing import Any, Protocol
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from . import sso
from .models import User

log = logging.getLogger(__name__)

METHOD = "wecom"
# errcodes of getuserinfo: the access token refused (fetch a new one and ask once more) ...
TOKEN_ERRORS = {40014, 42001, 41001}
# ... the code refused: invalid, expired or already used (40163: "oauth_code already used").
CODE_ERRORS = {40029, 40163}
# Seconds to wait for WeCom's answer.
TIMEOUT = 5.0
# How long a state waits for WeCom's return; a code itself lives five minutes.
STATE_SECONDS = 600
# Login attempts one session may have under way at once (tabs); the oldest is dropped.
STATES_KEPT = 5


class Unavailable(Exception):
    """The application's access token could not be had (raised by a :class:`TokenSource`)."""


class TokenSource(Protocol):
    def get(self) -> str:
        """The application's access token; raises :class:`Unavailable`."""

    def drop(self, token: str) -> None:
        """Forget a token WeCom refused."""


def enabled() -> bool:
    """On when XINLIAN_WECOM_LOGIN is set and the WeCom application is configured."""
    return bool(settings.WECOM_LOGIN and settings.WECOM_CORP_ID and settings.WECOM_CORP_SECRET
                and settings.WECOM_AGENT_ID)


def in_wecom(request: HttpRequest) -> bool:
    """Is this request from the WeCom app's own browser?"""
    return "wxwork" in request.headers.get("User-Agent", "").lower()


def button_label() -> Any:
    return _("Log in with WeCom (企业微信)")


def new_state() -> str:
    return secrets.token_urlsafe(24)


def authorize_url(request: HttpRequest, *, redirect_uri: str, state: str) -> str:
    """Where the button sends the browser: the in-app authorization inside WeCom, else the QR
    web login."""
    if in_wecom(request):
        query = urlencode({"appid": settings.WECOM_CORP_ID, "redirect_uri": redirect_uri,
                           "response_type": "code", "scope": "snsapi_base", "state": state,
                           "agentid": settings.WECOM_AGENT_ID})
        return f"{settings.WECOM_OAUTH_URL}?{query}#wechat_redirect"
    query = urlencode({"login_type": "CorpApp", "appid": settings.WECOM_CORP_ID,
                       "agentid": settings.WECOM_AGENT_ID, "redirect_uri": redirect_uri,
                       "state": state})
    return f"{settings.WECOM_SSO_URL}?{query}"


def _getuserinfo(code: str, tokens: TokenSource) -> dict[str, Any]:
    base = settings.WECOM_API_URL.rstrip("/")
    answer: dict[str, Any] = {}
    for _round in range(2):  # a second round only after the token was refused
        token = tokens.get()
        response = requests.get(f"{base}/cgi-bin/auth/getuserinfo",
                                params={"access_token": token, "code": code}, timeout=TIMEOUT)
        response.raise_for_status()
        answer = response.json()
        if not isinstance(answer, dict):
            raise ValueError("getuserinfo answer is not an object")
        if answer.get("errcode", 0) in TOKEN_ERRORS:
            tokens.drop(token)
            continue
        break
    return answer


def user_for_code(request: HttpRequest, code: str, tokens: TokenSource) -> User:
    """The person WeCom's code names (not yet logged in), or :class:`sso.Refused` with its
    audit row: ``invalid`` for a code WeCom refuses, ``unavailable`` when WeCom does not answer
    or answers with another error, ``unknown`` for a visitor outside the organisation, and the
    mapping's own refusals."""
    if not code:
        raise sso.refuse(request, METHOD, "invalid")
    try:
        answer = _getuserinfo(code, tokens)
    except (requests.RequestException, ValueError, Unavailable) as exc:
        log.warning("WeCom getuserinfo failed: %s", type(exc).__name__)
        raise sso.refuse(request, METHOD, "unavailable") from exc
    errcode = answer.get("errcode", 0)
    if errcode in CODE_ERRORS:
        log.info("WeCom refused the login code (errcode %s)", errcode)
        raise sso.refuse(request, METHOD, "invalid")
    if errcode != 0:
        log.warning("WeCom getuserinfo errcode %s", errcode)
        raise sso.refuse(request, METHOD, "unavailable")
    userid = answer.get("userid") or answer.get("UserId")  # the older API's spelling
    if not userid:
        # A visitor outside the organisation (only an openid): nobody on the roster.
        raise sso.refuse(request, METHOD, "unknown")
    return sso.user_for_external_id(request, METHOD, userid, field="wecom_userid")
