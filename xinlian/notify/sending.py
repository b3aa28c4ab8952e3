"""Sending outbox deliveries: email over SMTP and the group robots (WeCom, DingTalk, Feishu)
in their own message formats.

Delivery is at-least-once, and a message is never sent by two workers at once:

* PostgreSQL: each delivery is claimed with ``SELECT … FOR UPDATE SKIP LOCKED`` and sent while
  the row stays locked; the result is recorded in the same transaction. A second worker skips
  the locked row. If the worker dies mid-send its transaction — and its lock — die with it and
  the row is sent again later.
* SQLite cannot lock one row: a write transaction locks the whole database, and holding it
  through a slow robot would stall every page that writes. There the claim is a short
  transaction that moves the row's ``next_attempt_at`` a lease into the future; the send runs
  outside any transaction, and the result is recorded only if the lease is still ours. A
  worker that dies leaves the row to be picked up when the lease runs out.

Either way a repeat can only happen when a worker dies between sending and recording; every
message carries its idempotency key (``X-Xinlian-Delivery`` header, and the e-mail's
Message-ID) so that a receiver can drop the repeat."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext

from . import hooks
from .models import PUSH_CHANNELS, Channel, Delivery, DeliveryStatus, RobotKind
from .personal import send_dingtalk, send_wecom
from .provider import ProviderError
from .sms import send_sms

log = logging.getLogger("xinlian.worker")

# A lease outlives the longest send (connect + read, each bounded by the timeout) by a margin
# that also covers SQLite's busy wait when the result is recorded.
LEASE_MARGIN = dt.timedelta(seconds=30)
ANSWER_LIMIT = 4096  # robots answer a few dozen bytes; never read an unbounded body


class RobotRefused(Exception):
    """The robot answered, but not with success (HTTP 200 carrying an error code, or garbage)."""


def webhook_timeout() -> float:
    return float(getattr(settings, "WEBHOOK_TIMEOUT", 5.0))


def absolute(link: str) -> str:
    return settings.SITE_URL.rstrip("/") + link if link else settings.SITE_URL


# --- the robots' formats ------------------------------------------------------------------------
#
# WeCom group robot:    POST {"msgtype": "text", "text": {"content": …}} to …/webhook/send?key=…;
#                       answers {"errcode": 0, "errmsg": "ok"}. No signature: the key is the secret.
# DingTalk custom robot: the same body to …/robot/send?access_token=…; with "加签" security the
#                       URL also carries timestamp (ms) and sign = urlencode(base64(
#                       HMAC-SHA256(key=secret, msg=f"{timestamp}\n{secret}"))), timestamp within
#                       an hour. Answers {"errcode": 0, "errmsg": "ok"} (e.g. 310000 on a bad sign).
# Feishu custom bot:    POST {"msg_type": "text", "content": {"text": …}} to …/bot/v2/hook/…; with
#                       signature security the body also carries "timestamp" (seconds, as a
#                       string) and "sign" = base64(HMAC-SHA256(key=f"{timestamp}\n{secret}",
#                       msg=b"")). Answers {"code": 0, "msg": "success", …} (older servers
#                       {"StatusCode": 0, …}); e.g. 19021 on a bad sign.


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature (base64, before URL-encoding)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu's signature: the timestamp and secret are the HMAC *key*, the message is empty."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def robot_payload(kind: str, text: str, secret: str = "", now: float | None = None) -> dict[str, Any]:
    """The text message body in the robot's own format (Feishu's signature travels in it)."""
    if kind == RobotKind.FEISHU:
        payload: dict[str, Any] = {"msg_type": "text", "content": {"text": text}}
        if secret:
            ts = int(now if now is not None else time.time())
            payload = {"timestamp": str(ts), "sign": feishu_sign(secret, ts), **payload}
        return payload
    return {"msgtype": "text", "text": {"content": text}}  # WeCom and DingTalk share this shape


def robot_url(kind: str, url: str, secret: str = "", now: float | None = None) -> str:
    """The address to post to (DingTalk's signature travels in its query string)."""
    if kind != RobotKind.DINGTALK or not secret:
        return url
    ms = int((now if now is not None else time.time()) * 1000)
    sign = urllib.parse.quote_plus(dingtalk_sign(secret, ms))
    return f"{url}{'&' if '?' in url else '?'}timestamp={ms}&sign={sign}"


def check_answer(kind: str, body: bytes) -> None:
    """Robots answer HTTP 200 even when they refuse a message: the code in the body decides."""
    try:
        answer = json.loads(body or b"")
    except ValueError:
        raise RobotRefused("answer is not JSON") from None
    if not isinstance(answer, dict):
        raise RobotRefused("answer is not a JSON object")
    if kind == RobotKind.FEISHU:
        code = answer.get("code", answer.get("StatusCode"))
    else:
        code = answer.get("errcode")
    if code is None:
        raise RobotRefused("answer carries no status code")
    if str(code) != "0":
        # The code only: an errmsg may quote the message back.
        raise RobotRefused(f"error code {code}")


def robot_text(delivery: Delivery) -> str:
    """What the group reads: a brand tag (DingTalk's keyword security can match it), the
    level-and-place sentence, and the link. Rendered in the site's language."""
    with translation.override(settings.LANGUAGE_CODE):
        brand = gettext("Xinlian")
    return f"【{brand}】{delivery.text(settings.LANGUAGE_CODE)}\n{absolute(delivery.link)}"


def post_webhook(delivery: Delivery) -> None:
    robot = delivery.robot
    if robot is None:
        raise RobotRefused("the robot was removed")
    payload = robot_payload(robot.kind, robot_text(delivery), robot.secret)
    req = urllib.request.Request(
        robot_url(robot.kind, robot.url, robot.secret),
        data=json.dumps(payload, ensure_ascii=False).encode(), method="POST",
        headers={"Content-Type": "application/json; charset=utf-8",
                 "X-Xinlian-Delivery": str(delivery.key)})
    with urllib.request.urlopen(req, timeout=webhook_timeout()) as resp:  # noqa: S310 — admin-set URL
        body = resp.read(ANSWER_LIMIT)
    check_answer(robot.kind, body)


def send_email(delivery: Delivery) -> None:
    from django.core.mail import EmailMessage, get_connection

    text = delivery.text(settings.LANGUAGE_CODE)
    # Django's SMTP backend waits forever by default; a hung server must not hang the worker.
    timeout = getattr(settings, "EMAIL_TIMEOUT", None) or webhook_timeout()
    EmailMessage(subject=text, body=f"{text}\n\n{absolute(delivery.link)}",
                 to=[delivery.address], connection=get_connection(timeout=timeout),
                 headers={"Message-ID": f"<{delivery.key}@xinlian>",
                          "X-Xinlian-Delivery": str(delivery.key)}).send(fail_silently=False)


SENDERS = {Channel.EMAIL: send_email, Channel.WEBHOOK: post_webhook, Channel.WECOM_APP: send_wecom,
           Channel.DINGTALK_APP: send_dingtalk, Channel.SMS: send_sms}


def describe(exc: BaseException) -> str:
    """A short, safe account of a failure for the failed-deliveries page: never the robot's
    address (it embeds the robot's key), the message or the recipient."""
    if isinstance(exc, RobotRefused):
        return f"robot refused: {exc}"
    if isinstance(exc, ProviderError):
        return str(exc)
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"timed out after {webhook_timeout():g} s"
    if isinstance(reason, BaseException) and reason is not exc:
        return f"{type(exc).__name__}: {type(reason).__name__}"
    return type(exc).__name__


class Outcome:
    """How one attempt went: sent, skipped (its condition no longer held), or failed."""

    def __init__(self, error: str | None = None, *, skipped: bool = False, final: bool = False,
                 rate_limited: bool = False) -> None:
        self.error, self.skipped, self.final, self.rate_limited = error, skipped, final, rate_limited

    @property
    def sent(self) -> bool:
        return self.error is None and not self.skipped


def _attempt(delivery: Delivery) -> Outcome:
    """Send once (unless a conditional message is no longer needed)."""
    try:
        if delivery.only_if_open and delivery.alert_id and not hooks.alert_is_open(delivery.alert_id):
            return Outcome(skipped=True)
        # The personal channels keep to the provider's rate limit themselves, just before the
        # request goes out (provider.limiter), so that nothing slow comes between the two.
        SENDERS[delivery.channel](delivery)
    except ProviderError as exc:
        return Outcome(describe(exc), final=exc.final, rate_limited=exc.rate_limited)
    except Exception as exc:  # noqa: BLE001 — every failure is recorded and retried with backoff
        return Outcome(describe(exc))
    return Outcome()


def fallback_after() -> int:
    return int(getattr(settings, "PUSH_FALLBACK_AFTER_ATTEMPTS", 2))


def _hand_over(delivery: Delivery) -> None:
    """A personal push that does not get through hands over to its fallback (SMS), once: the
    fallback's key derives from the push's, so a repeat of this step creates nothing."""
    from .services import personal_link

    key = uuid.uuid5(delivery.key, "fallback")
    if Delivery.objects.filter(key=key).exists():
        return
    # The later "if still not acknowledged" SMS to the same person would repeat this one.
    Delivery.objects.filter(recipient_id=delivery.recipient_id, alert_id=delivery.alert_id,
                            channel=delivery.fallback, only_if_open=True,
                            status=DeliveryStatus.PENDING).update(status=DeliveryStatus.SKIPPED)
    Delivery.objects.create(
        key=key, channel=delivery.fallback, recipient=delivery.recipient, message=delivery.message,
        params=delivery.params, alert_id=delivery.alert_id,
        link=personal_link(delivery.alert_id, delivery.recipient_id, delivery.link))


def _record(delivery: Delivery, outcome: Outcome) -> None:
    if outcome.skipped:
        delivery.mark_skipped()
        return
    if outcome.error is None:
        delivery.mark_sent()
        return
    delivery.mark_failed_attempt(outcome.error, final=outcome.final)
    if (delivery.channel in PUSH_CHANNELS and delivery.fallback and delivery.recipient_id
            and (outcome.final or delivery.status == DeliveryStatus.FAILED
                 or (not outcome.rate_limited and delivery.attempts >= fallback_after()))):
        _hand_over(delivery)
    if delivery.status == DeliveryStatus.FAILED:
        log.warning("delivery %s failed for good after %s attempts: %s",
                    delivery.pk, delivery.attempts, outcome.error)


def _send_one_locked() -> bool | None:
    """PostgreSQL: claim the oldest due row nobody holds and send it under the row lock.
    True if sent, False if the attempt failed, None when nothing was due."""
    with transaction.atomic():
        delivery = (Delivery.objects.select_for_update(skip_locked=True, of=("self",))
                    .due().order_by("next_attempt_at", "pk").select_related("robot", "recipient").first())
        if delivery is None:
            return None
        outcome = _attempt(delivery)
        _record(delivery, outcome)
    return outcome.sent


def _send_one_leased() -> bool | None:
    """SQLite: claim with a lease in a short transaction, send outside it, record if still ours."""
    now = timezone.now()
    lease_until = now + dt.timedelta(seconds=webhook_timeout() * 2) + LEASE_MARGIN
    with transaction.atomic():  # BEGIN IMMEDIATE: no other writer between the read and the claim
        delivery = (Delivery.objects.due(now).order_by("next_attempt_at", "pk")
                    .select_related("robot", "recipient").first())
        if delivery is None:
            return None
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=lease_until)
    outcome = _attempt(delivery)
    with transaction.atomic():
        held = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING,
                                       next_attempt_at=lease_until).first()
        if held is None:  # the lease ran out and another worker took the row over
            log.warning("delivery %s: lease lost before its result was recorded", delivery.pk)
            return False
        _record(held, outcome)
    return outcome.sent


def send_due(batch: int = 100) -> int:
    """Send up to ``batch`` due deliveries, one claim at a time, stopping when nothing is due;
    returns how many were sent (a failed attempt is rescheduled with backoff, not counted)."""
    holds_row_locks = connection.features.has_select_for_update_skip_locked
    send_one = _send_one_locked if holds_row_locks else _send_one_leased
    sent = 0
    for _ in range(batch):
        outcome = send_one()
        if outcome is None:
            break
        sent += outcome
    return sent
