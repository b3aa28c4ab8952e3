"""Sending outbox deliveries: email over SMTP and the group-robot webhooks in their formats.

Delivery is at-least-once. Each delivery is claimed and sent inside its own transaction with
the row locked (``SKIP LOCKED``), so a second worker never sends a message another holds; if a
worker dies mid-send the lock goes with it and the row is sent again later. A repeat can only
happen when a worker dies between sending and committing; every message carries its
idempotency key (``X-Xinlian-Delivery`` header, and in the e-mail's Message-ID) so that a
receiver can drop the repeat."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import urllib.parse
import urllib.request

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import Channel, Delivery, RobotKind

WEBHOOK_TIMEOUT = 5.0


def absolute(link: str) -> str:
    return settings.SITE_URL.rstrip("/") + link if link else settings.SITE_URL


def robot_payload(kind: str, text: str) -> dict:
    """The group robots' own message formats (text messages)."""
    if kind == RobotKind.FEISHU:
        return {"msg_type": "text", "content": {"text": text}}
    return {"msgtype": "text", "text": {"content": text}}  # WeCom and DingTalk share this shape


def signed_url(kind: str, url: str, secret: str, payload: dict) -> str:
    """DingTalk signs in the query string; Feishu in the body (payload is updated in place)."""
    if not secret:
        return url
    ts = int(time.time())
    if kind == RobotKind.DINGTALK:
        ms = ts * 1000
        digest = hmac.new(secret.encode(), f"{ms}\n{secret}".encode(), hashlib.sha256).digest()
        sign = urllib.parse.quote_plus(base64.b64encode(digest))
        return f"{url}{'&' if '?' in url else '?'}timestamp={ms}&sign={sign}"
    if kind == RobotKind.FEISHU:
        digest = hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()
        payload.update(timestamp=str(ts), sign=base64.b64encode(digest).decode())
    return url


def post_webhook(delivery: Delivery) -> None:
    robot = delivery.robot
    assert robot is not None
    text = f"{delivery.text(settings.LANGUAGE_CODE)}\n{absolute(delivery.link)}"
    payload = robot_payload(robot.kind, text)
    url = signed_url(robot.kind, robot.url, robot.secret, payload)
    req = urllib.request.Request(
        url, data=json.dumps(payload, ensure_ascii=False).encode(), method="POST",
        headers={"Content-Type": "application/json", "X-Xinlian-Delivery": str(delivery.key)})
    with urllib.request.urlopen(req, timeout=WEBHOOK_TIMEOUT) as resp:  # noqa: S310 — admin-set URL
        body = resp.read(4096)
    # The robots answer 200 with an error code in the body when they refuse a message.
    try:
        answer = json.loads(body or b"{}")
    except ValueError:
        return
    code = answer.get("errcode", answer.get("code", answer.get("StatusCode", 0)))
    if code not in (0, None):
        raise RuntimeError(f"robot refused: {code}")


def send_email(delivery: Delivery) -> None:
    from django.core.mail import EmailMessage

    text = delivery.text(settings.LANGUAGE_CODE)
    EmailMessage(subject=text, body=f"{text}\n\n{absolute(delivery.link)}",
                 to=[delivery.address],
                 headers={"Message-ID": f"<{delivery.key}@xinlian>",
                          "X-Xinlian-Delivery": str(delivery.key)}).send(fail_silently=False)


SENDERS = {Channel.EMAIL: send_email, Channel.WEBHOOK: post_webhook}


def send_due(batch: int = 100) -> int:
    """Send the due deliveries, one locked transaction each; returns how many were sent."""
    sent = 0
    ids = list(Delivery.objects.due().order_by("next_attempt_at").values_list("pk", flat=True)[:batch])
    for pk in ids:
        with transaction.atomic():
            delivery = (Delivery.objects.select_for_update(skip_locked=True)
                        .due().filter(pk=pk).select_related("robot").first())
            if delivery is None:  # another worker has it, or sent it already
                continue
            try:
                SENDERS[delivery.channel](delivery)
            except Exception as exc:  # noqa: BLE001 — every failure is retried with backoff
                # The error class only: robot answers and SMTP errors may echo the message.
                delivery.mark_failed_attempt(type(exc).__name__ + (
                    f": {exc}" if isinstance(exc, RuntimeError) else ""))
                continue
            delivery.mark_sent()
            sent += 1
    return sent


def now() -> str:
    return timezone.now().isoformat()
