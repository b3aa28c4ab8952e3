"""One-tap acknowledgement links in personal messages.

The token names the alert and the recipient and a random nonce, signed with the site's secret
(``django.core.signing``, its own salt) and dated: it expires after ``ONETAP_MAX_AGE_MINUTES``.
Using it stores the nonce (:class:`~xinlian.notify.models.OneTapUse`), so a second use is
refused. The token carries no name and nothing that was reported: only two ids."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse

from .models import OneTapUse

SALT = "xinlian.notify.onetap"


class OneTapError(Exception):
    """The token is not one of ours, or was altered."""


class OneTapExpired(OneTapError):
    pass


@dataclass(frozen=True)
class OneTap:
    alert_id: int
    user_id: int
    nonce: str


def max_age() -> int:
    return int(getattr(settings, "ONETAP_MAX_AGE_MINUTES", 30)) * 60


def make_token(alert_id: int, user_id: int) -> str:
    # Short enough for an SMS template variable: "<alert>.<user>.<nonce>:<time>:<signature>".
    value = f"{alert_id}.{user_id}.{secrets.token_urlsafe(9)}"
    return signing.TimestampSigner(salt=SALT).sign(value)


def onetap_link(alert_id: int, user_id: int) -> str:
    """The path of a fresh one-tap link (``/care/t/<token>/``); care mounts the view."""
    return reverse("alert-onetap", args=[make_token(alert_id, user_id)])


def _parse(value: str) -> OneTap:
    try:
        alert, user, nonce = value.split(".", 2)
        return OneTap(int(alert), int(user), nonce)
    except ValueError:
        raise OneTapError from None


def read_token(token: str) -> OneTap:
    """The token's content; :class:`OneTapExpired` when too old (its content still readable
    through ``exc.tap``), :class:`OneTapError` when not ours."""
    signer = signing.TimestampSigner(salt=SALT)
    try:
        return _parse(signer.unsign(token, max_age=max_age()))
    except signing.SignatureExpired:
        exc = OneTapExpired()
        exc.tap = _parse(signer.unsign(token))  # type: ignore[attr-defined]
        raise exc from None
    except signing.BadSignature:
        raise OneTapError from None


def claim(tap: OneTap) -> bool:
    """Mark the link used; False when it already was."""
    try:
        with transaction.atomic():
            OneTapUse.objects.create(nonce=tap.nonce, user_id=tap.user_id, alert_id=tap.alert_id)
    except IntegrityError:
        return False
    return True
