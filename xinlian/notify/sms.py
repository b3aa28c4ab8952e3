"""SMS to one person's mobile, through a pluggable provider backend (``SMS_BACKEND``).

Each backend sends one templated message: the template (``SMS_TEMPLATE_ID``, approved at the
provider with the signature ``SMS_SIGN_NAME``) takes three parameters — the level, the place
and the one-tap link — and nothing else, so no name or report can travel by SMS.

* ``aliyun`` — Alibaba Cloud SMS, ``SendSms`` (API version 2017-05-25), RPC style: a GET with
  the parameters in the query string, signed with HMAC-SHA1 over
  ``GET&%2F&<percent-encoded sorted query>`` with the key ``<AccessKeySecret>&`` (signature
  version 1.0). Answers ``{"Code": "OK", "Message": "OK", "BizId": …, "RequestId": …}``; a
  refusal carries another ``Code`` (``isv.BUSINESS_LIMIT_CONTROL`` and ``Throttling.*`` are
  frequency limits, ``isv.MOBILE_NUMBER_ILLEGAL`` a number it will never take).
* ``tencent`` — Tencent Cloud SMS, ``SendSms`` (API version 2021-01-11): a JSON POST signed
  with TC3-HMAC-SHA256 (canonical request over ``content-type;host``, the key derived from
  ``TC3<SecretKey>`` through the date, the service ``sms`` and ``tc3_request``). Answers
  ``{"Response": {"SendStatusSet": [{"Code": "Ok", …}], "RequestId": …}}``; a refusal is
  ``{"Response": {"Error": {"Code": …, "Message": …}}}`` or a status with another ``Code``
  (``RequestLimitExceeded`` and ``LimitExceeded.*`` are frequency limits).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext

from .models import Channel, Delivery
from .provider import NotConfigured, ProviderError, call_json, pace

MOBILE = re.compile(r"1[3-9][0-9]{9}")
ALIYUN_URL = "https://dysmsapi.aliyuncs.com"
TENCENT_URL = "https://sms.tencentcloudapi.com"


def sms_configured() -> bool:
    return settings.SMS_BACKEND in BACKENDS and bool(
        settings.SMS_ACCESS_KEY_ID and settings.SMS_ACCESS_KEY_SECRET and settings.SMS_TEMPLATE_ID)


def mobile_of(user: Any) -> str:
    """The person's mainland mobile number, or "" (a landline cannot take an SMS)."""
    phone = (getattr(user, "phone", "") or "").replace(" ", "").replace("-", "")
    phone = phone.removeprefix("+86")
    return phone if MOBILE.fullmatch(phone) else ""


def template_params(delivery: Delivery) -> tuple[str, str, str]:
    from .sending import absolute

    with translation.override(settings.LANGUAGE_CODE):
        level = gettext(delivery.params.get("level_label", ""))
    return level, str(delivery.params.get("place", "")), absolute(delivery.link)


# --- Alibaba Cloud --------------------------------------------------------------------------------


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as Alibaba Cloud's signature wants it (space %20, * %2A, ~ kept)."""
    return urllib.parse.quote(value, safe="~")


def aliyun_signature(secret: str, params: dict[str, str], method: str = "GET") -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def send_aliyun(delivery: Delivery, mobile: str, now: dt.datetime | None = None) -> None:
    level, place, link = template_params(delivery)
    now = now or dt.datetime.now(dt.UTC)
    params = {
        "AccessKeyId": settings.SMS_ACCESS_KEY_ID, "Action": "SendSms", "Format": "JSON",
        "PhoneNumbers": mobile, "RegionId": settings.SMS_REGION or "cn-hangzhou",
        "SignName": settings.SMS_SIGN_NAME, "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": str(uuid.uuid4()), "SignatureVersion": "1.0",
        "TemplateCode": settings.SMS_TEMPLATE_ID,
        "TemplateParam": json.dumps({"level": level, "place": place, "link": link}, ensure_ascii=False),
        "Timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "Version": "2017-05-25",
        # The delivery's key: a provider-side id for the message, kept in its records.
        "OutId": str(delivery.key),
    }
    signature = aliyun_signature(settings.SMS_ACCESS_KEY_SECRET, params)
    query = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    base = (settings.SMS_API_URL or ALIYUN_URL).rstrip("/")
    pace(Channel.SMS)
    answer = call_json(f"{base}/?Signature={percent_encode(signature)}&{query}")
    code = str(answer.get("Code", ""))
    if code == "OK":
        return
    if code.startswith("Throttling") or code in {"isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL"}:
        raise ProviderError(f"aliyun sms rate limit ({code})", rate_limited=True)
    raise ProviderError(f"aliyun sms {code or 'no code'}",
                        final=code in {"isv.MOBILE_NUMBER_ILLEGAL", "isv.BLACK_KEY_CONTROL_LIMIT"})


# --- Tencent Cloud --------------------------------------------------------------------------------


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def tc3_authorization(secret_id: str, secret_key: str, host: str, payload: bytes, timestamp: int,
                      service: str = "sms", content_type: str = "application/json; charset=utf-8") -> str:
    """The ``Authorization`` header of a TC3-HMAC-SHA256 signed POST to ``/``."""
    date = dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d")
    canonical = "\n".join([
        "POST", "/", "",
        f"content-type:{content_type.lower()}\nhost:{host.lower()}\n",
        "content-type;host",
        hashlib.sha256(payload).hexdigest(),
    ])
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), service), "tc3_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
            f"SignedHeaders=content-type;host, Signature={signature}")


def send_tencent(delivery: Delivery, mobile: str, now: dt.datetime | None = None) -> None:
    level, place, link = template_params(delivery)
    base = (settings.SMS_API_URL or TENCENT_URL).rstrip("/")
    host = urllib.parse.urlsplit(base).netloc
    payload = json.dumps({
        "PhoneNumberSet": [f"+86{mobile}"], "SmsSdkAppId": settings.SMS_SDK_APP_ID,
        "SignName": settings.SMS_SIGN_NAME, "TemplateId": settings.SMS_TEMPLATE_ID,
        "TemplateParamSet": [level, place, link], "SessionContext": str(delivery.key),
    }, ensure_ascii=False).encode()
    timestamp = int((now or dt.datetime.now(dt.UTC)).timestamp())
    content_type = "application/json; charset=utf-8"
    headers = {
        "Authorization": tc3_authorization(settings.SMS_ACCESS_KEY_ID, settings.SMS_ACCESS_KEY_SECRET,
                                           host, payload, timestamp, content_type=content_type),
        "Content-Type": content_type, "Host": host, "X-TC-Action": "SendSms",
        "X-TC-Timestamp": str(timestamp), "X-TC-Version": "2021-01-11",
        "X-TC-Region": settings.SMS_REGION or "ap-guangzhou",
    }
    pace(Channel.SMS)
    answer = call_json(f"{base}/", data=payload, method="POST", headers=headers)
    response = answer.get("Response") if isinstance(answer.get("Response"), dict) else {}
    error = response.get("Error") if isinstance(response.get("Error"), dict) else None
    if error is None:
        statuses = response.get("SendStatusSet") or [{}]
        status = statuses[0] if isinstance(statuses[0], dict) else {}
        code = str(status.get("Code", ""))
        if code == "Ok":
            return
    else:
        code = str(error.get("Code", ""))
    if code == "RequestLimitExceeded" or code.startswith("LimitExceeded"):
        raise ProviderError(f"tencent sms rate limit ({code})", rate_limited=True)
    raise ProviderError(f"tencent sms {code or 'no code'}",
                        final=code in {"InvalidParameterValue.IncorrectPhoneNumber",
                                       "FailedOperation.PhoneNumberInBlacklist"})


BACKENDS: dict[str, Callable[..., None]] = {"aliyun": send_aliyun, "tencent": send_tencent}


def send_sms(delivery: Delivery) -> None:
    if not sms_configured():
        raise NotConfigured("SMS")
    mobile = mobile_of(delivery.recipient)
    if not mobile:
        raise ProviderError("no mobile number", final=True)
    BACKENDS[settings.SMS_BACKEND](delivery, mobile)
