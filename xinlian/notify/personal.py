"""Messages to one person through the school's WeCom (企业微信) or DingTalk (钉钉) application.

WeCom application message:
    GET  {WECOM_API_URL}/cgi-bin/gettoken?corpid=…&corpsecret=…
         → {"errcode": 0, "errmsg": "ok", "access_token": "…", "expires_in": 7200}
    POST {WECOM_API_URL}/cgi-bin/message/send?access_token=…
         {"touser": "<userid>", "msgtype": "textcard", "agentid": <int>,
          "textcard": {"title", "description", "url", "btntxt"}}
         → {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": "…"}
    errcodes: 40014 invalid / 42001 expired access_token (fetch a new one and send again);
    45009 / 45033 / 45011 frequency limits (retry with backoff); 81013 and a non-empty
    "invaliduser" (no such user in the agent's range: final, hand over to SMS).

DingTalk work notification (工作通知):
    GET  {DINGTALK_API_URL}/gettoken?appkey=…&appsecret=…
         → {"errcode": 0, "errmsg": "ok", "access_token": "…", "expires_in": 7200}
    POST {DINGTALK_API_URL}/topapi/message/corpconversation/asyncsend_v2?access_token=…
         {"agent_id": <int>, "userid_list": "<userid>", "msg": {"msgtype": "text", "text": {"content"}}}
         → {"errcode": 0, "errmsg": "ok", "task_id": …, "request_id": "…"}
    errcodes: 40014 / 42001 / 88 with an invalid token (fetch again); 90002, 90005, 90006,
    90018, 90019 and the gateway's {"status": 1111, "punish": "deny"} are frequency limits;
    33012 / 60121 no such user (final).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from .models import Channel, Delivery
from .provider import NotConfigured, ProviderError, call_json, pace, tokens

WECOM_TOKEN_ERRORS = {40014, 42001, 41001}
WECOM_RATE_LIMITS = {45009, 45011, 45033, 45047, -1}  # -1: "system busy, try again"
WECOM_FINAL = {81013, 60111, 40003, 82001}
DINGTALK_TOKEN_ERRORS = {40014, 42001, 41001, 88}
DINGTALK_RATE_LIMITS = {90002, 90005, 90006, 90018, 90019, -1}
DINGTALK_FINAL = {33012, 60121, 40103}


def wecom_configured() -> bool:
    return bool(settings.WECOM_CORP_ID and settings.WECOM_CORP_SECRET and settings.WECOM_AGENT_ID)


def dingtalk_configured() -> bool:
    return bool(settings.DINGTALK_APP_KEY and settings.DINGTALK_APP_SECRET and settings.DINGTALK_AGENT_ID)


def push_channel(user: Any) -> str | None:
    """The personal push that reaches ``user``: WeCom, else DingTalk, else None."""
    if user.wecom_userid and wecom_configured():
        return Channel.WECOM_APP
    if user.dingtalk_userid and dingtalk_configured():
        return Channel.DINGTALK_APP
    return None


def _texts(delivery: Delivery) -> tuple[str, str, str, str]:
    """Brand-and-level title (short: WeCom allows 128 bytes), the sentence, the link, the button."""
    from .sending import absolute

    with translation.override(settings.LANGUAGE_CODE):
        brand = gettext("Xinlian")
        button = gettext("Acknowledge")
        level = gettext(delivery.params.get("level_label", ""))
        title = f"【{brand}】" + gettext("%(level)s alert") % {"level": level}
    return title, delivery.text(settings.LANGUAGE_CODE), absolute(delivery.link), button


def _agent(value: str) -> int | str:
    return int(value) if value.strip().isdigit() else value


# --- WeCom -------------------------------------------------------------------------------------


def wecom_key() -> tuple[str, ...]:
    """The shared token cache's key: a change of address or credentials fetches a new token."""
    return ("wecom", settings.WECOM_API_URL.rstrip("/"), settings.WECOM_CORP_ID,
            settings.WECOM_CORP_SECRET)


def wecom_token() -> str:
    base = settings.WECOM_API_URL.rstrip("/")

    def fetch() -> tuple[str, int]:
        query = urllib.parse.urlencode({"corpid": settings.WECOM_CORP_ID,
                                        "corpsecret": settings.WECOM_CORP_SECRET})
        answer = call_json(f"{base}/cgi-bin/gettoken?{query}")
        code = answer.get("errcode", 0)
        if code != 0 or not answer.get("access_token"):
            raise ProviderError(f"wecom gettoken errcode {code}",
                                rate_limited=code in WECOM_RATE_LIMITS)
        return str(answer["access_token"]), int(answer.get("expires_in", 7200))

    return tokens.get(wecom_key(), fetch)


def send_wecom(delivery: Delivery) -> None:
    if not wecom_configured():
        raise NotConfigured("WeCom")
    user = delivery.recipient
    userid = getattr(user, "wecom_userid", "") or ""
    if not userid:
        raise ProviderError("no WeCom user id", final=True)
    base = settings.WECOM_API_URL.rstrip("/")
    title, text, url, button = _texts(delivery)
    body = {"touser": userid, "msgtype": "textcard", "agentid": _agent(settings.WECOM_AGENT_ID),
            "textcard": {"title": title, "description": text, "url": url, "btntxt": button},
            "enable_duplicate_check": 1, "duplicate_check_interval": 1800}
    for _round in range(2):  # a second round only after the token was refused
        token = wecom_token()
        pace(Channel.WECOM_APP)
        answer = call_json(f"{base}/cgi-bin/message/send?access_token={urllib.parse.quote(token)}",
                           body=body, method="POST")
        code = answer.get("errcode")
        if code in WECOM_TOKEN_ERRORS:
            tokens.drop(wecom_key(), token)
            continue
        break
    if code == 0:
        if answer.get("invaliduser"):
            raise ProviderError("wecom: unknown user id", final=True)
        return
    if code in WECOM_RATE_LIMITS:
        raise ProviderError(f"wecom rate limit (errcode {code})", rate_limited=True)
    raise ProviderError(f"wecom errcode {code}", final=code in WECOM_FINAL)


# --- DingTalk ----------------------------------------------------------------------------------


def _dingtalk_rate_limited(answer: dict[str, Any]) -> bool:
    return answer.get("errcode") in DINGTALK_RATE_LIMITS or answer.get("status") == 1111


def dingtalk_key() -> tuple[str, ...]:
    return ("dingtalk", settings.DINGTALK_API_URL.rstrip("/"), settings.DINGTALK_APP_KEY,
            settings.DINGTALK_APP_SECRET)


def dingtalk_token() -> str:
    base = settings.DINGTALK_API_URL.rstrip("/")

    def fetch() -> tuple[str, int]:
        query = urllib.parse.urlencode({"appkey": settings.DINGTALK_APP_KEY,
                                        "appsecret": settings.DINGTALK_APP_SECRET})
        answer = call_json(f"{base}/gettoken?{query}")
        code = answer.get("errcode", 0)
        if code != 0 or not answer.get("access_token"):
            raise ProviderError(f"dingtalk gettoken errcode {code}",
                                rate_limited=_dingtalk_rate_limited(answer))
        return str(answer["access_token"]), int(answer.get("expires_in", 7200))

    return tokens.get(dingtalk_key(), fetch)


def send_dingtalk(delivery: Delivery) -> None:
    if not dingtalk_configured():
        raise NotConfigured("DingTalk")
    userid = getattr(delivery.recipient, "dingtalk_userid", "") or ""
    if not userid:
        raise ProviderError("no DingTalk user id", final=True)
    base = settings.DINGTALK_API_URL.rstrip("/")
    title, text, url, _button = _texts(delivery)
    body = {"agent_id": _agent(settings.DINGTALK_AGENT_ID), "userid_list": userid,
            "msg": {"msgtype": "text", "text": {"content": f"{title}\n{text}\n{url}"}}}
    for _round in range(2):
        token = dingtalk_token()
        pace(Channel.DINGTALK_APP)
        answer = call_json(
            f"{base}/topapi/message/corpconversation/asyncsend_v2?access_token={urllib.parse.quote(token)}",
            body=body, method="POST")
        code = answer.get("errcode")
        if code in DINGTALK_TOKEN_ERRORS:
            tokens.drop(dingtalk_key(), token)
            continue
        break
    if code == 0:
        return
    if _dingtalk_rate_limited(answer):
        raise ProviderError(f"dingtalk rate limit (errcode {code})", rate_limited=True)
    raise ProviderError(f"dingtalk errcode {code}", final=code in DINGTALK_FINAL)
