"""API tokens: the verbs behind ``/me/tokens/`` and ``/api/v1/me/tokens/`` (django-rest-knox).

A token is 64 random hex characters, shown once when it is made; the database keeps only its
SHA-512 digest and its first characters (knox's lookup key). It expires after
``API_TOKEN_HOURS``. A token is named by its *public id*, the first 18 characters of the
digest: it says nothing about the secret and is safe in a URL or the audit trail.

All of a user's tokens are revoked when their password changes (any path: the pre-save signal
below sees ``set_password`` and any other write of the hash) and when they log out of the web;
the token logout endpoint revokes only the token it was called with."""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_out
from django.db.models import Q
from django.db.models.signals import pre_save
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.models import AuthToken

from xinlian.lib.actions import Conflict, NotAllowed, NotFound
from xinlian.network.models import User

from . import twofactor
from .models import AuditEvent, TokenUse
from .policy import client_ip

PUBLIC_ID_LENGTH = 18
PUBLIC_ID = re.compile(r"^[0-9a-f]{18}$")
TOKEN_TYPE = "knox.authtoken"


@dataclass(frozen=True)
class TokenRow:
    id: str        # public id: the digest's first 18 characters
    prefix: str    # the token's own first 8 characters, to tell it apart from the others
    created: dt.datetime
    expiry: dt.datetime | None
    current: bool  # the token this request came with
    last_used: dt.datetime | None = None  # to the minute (TokenUse)


def public_id(token: AuthToken) -> str:
    return token.digest[:PUBLIC_ID_LENGTH]


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _audit(request: HttpRequest | None, user: User, action: str, object_id: str,
           detail: str = "") -> None:
    AuditEvent.objects.record(actor=user, action=action, object_type=TOKEN_TYPE,
                              object_id=object_id, ip=client_ip(request), detail=detail)


def _current(request: HttpRequest) -> AuthToken | None:
    auth = getattr(request, "auth", None)
    return auth if isinstance(auth, AuthToken) else None


def _live(user: User):
    now = timezone.now()
    AuthToken.objects.filter(user=user, expiry__lt=now).delete()  # knox's own cleanup, early
    return AuthToken.objects.filter(user=user).select_related("use").order_by("-created")


def issue_token(request: HttpRequest, user: User) -> tuple[AuthToken, str]:
    """Make a token for ``user`` (who has just proved their password, or is logged in on the
    web). Returns the row and the secret, which is never readable again."""
    if _live(user).count() >= settings.API_TOKENS_PER_USER:
        raise Conflict(_("You already have %(n)d API tokens, the most allowed: revoke one you no "
                         "longer use first.") % {"n": settings.API_TOKENS_PER_USER})
    token, secret = AuthToken.objects.create(user=user, expiry=dt.timedelta(hours=settings.API_TOKEN_HOURS))
    _audit(request, user, "token.new", public_id(token))
    return token, secret


def create_my_token(request: HttpRequest) -> tuple[AuthToken, str]:
    """A new token for the logged-in user. A token cannot mint another: a stolen one would
    otherwise outlive its own expiry."""
    if _current(request) is not None:
        raise NotAllowed(_("A new API token needs a password login or the web page, not another token."))
    return issue_token(request, _user(request))


def list_my_tokens(request: HttpRequest) -> list[TokenRow]:
    current = _current(request)
    return [TokenRow(id=public_id(t), prefix=t.token_key[:8], created=t.created, expiry=t.expiry,
                     current=current is not None and current.digest == t.digest,
                     last_used=_last_used(t))
            for t in _live(_user(request))]


def _last_used(token: AuthToken) -> dt.datetime | None:
    try:
        return token.use.last_used
    except TokenUse.DoesNotExist:
        return None


def check_second_step(request: HttpRequest, user: User, otp: Any) -> None:
    """The token login's second step (access/twofactor.py): a person who uses two-step
    verification sends its code as ``otp`` with the password."""
    twofactor.check_token_login(request, user, None if otp is None else str(otp))


# --- "last used", at most one write per token per minute ----------------------------------------

USE_GRAIN_SECONDS = 60
_noted: dict[str, float] = {}  # this process: digest → when it last wrote (or saw written) the time


def note_use(token: AuthToken) -> None:
    """Record that ``token`` was used now, to the minute. Within a minute of its last note this
    process asks nothing; the conditional UPDATE lets one process in all write it each minute."""
    now = time.monotonic()
    if now - _noted.get(token.digest, float("-inf")) < USE_GRAIN_SECONDS:
        return
    if len(_noted) > 10_000:
        _noted.clear()
    _noted[token.digest] = now
    at = timezone.now()
    stale = Q(last_used__isnull=True) | Q(last_used__lt=at - dt.timedelta(seconds=USE_GRAIN_SECONDS))
    if not TokenUse.objects.filter(stale, token_id=token.digest).update(last_used=at):
        TokenUse.objects.get_or_create(token_id=token.digest, defaults={"last_used": at})


class TokenAuthentication(KnoxTokenAuthentication):
    """knox's token authentication, noting when each token was last used."""

    def authenticate_credentials(self, token: bytes) -> tuple[Any, AuthToken]:
        user, auth_token = super().authenticate_credentials(token)
        note_use(auth_token)
        return user, auth_token


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI schema names it as knox's (``Authorization: Token …``)."""

    target_class = "xinlian.access.tokens.TokenAuthentication"


def revoke_my_token(request: HttpRequest, token_id: Any) -> None:
    """Revoke one of the user's own tokens; anyone else's, or an unknown id, is NotFound."""
    user = _user(request)
    token_id = str(token_id or "").lower()
    if not PUBLIC_ID.match(token_id):
        raise NotFound(_("No such API token."))
    _total, rows = AuthToken.objects.filter(user=user, digest__startswith=token_id).delete()
    if not rows.get(AuthToken._meta.label):  # the count of tokens, not of their use rows
        raise NotFound(_("No such API token."))
    _audit(request, user, "token.revoke", token_id)


def revoke_all_my_tokens(request: HttpRequest) -> int:
    user = _user(request)
    return revoke_all(user, request=request, why="by the user")


def revoke_current_token(request: HttpRequest) -> None:
    """The token logout: revoke the token the request came with, and only that one."""
    token = _current(request)
    if token is None:
        raise NotAllowed(_("Only a request made with an API token can log that token out."))
    token_id = public_id(token)
    token.delete()
    _audit(request, _user(request), "token.revoke", token_id, detail="logout")


def revoke_all(user: User, *, request: HttpRequest | None = None, why: str = "") -> int:
    _total, rows = AuthToken.objects.filter(user=user).delete()
    deleted = rows.get(AuthToken._meta.label, 0)  # tokens, not their use rows (access.TokenUse)
    if deleted:
        _audit(request, user, "token.revoke_all", str(user.pk), detail=f"{deleted} {why}".strip())
    return deleted


# --- revocation on password change and on web logout ---------------------------------------------


@receiver(pre_save, sender=User, dispatch_uid="xinlian-tokens-password-change")
def _revoke_on_password_change(sender: type, instance: User, raw: bool = False,
                               update_fields: Any = None, **kwargs: Any) -> None:
    if raw or instance.pk is None:
        return
    if update_fields is not None and "password" not in update_fields:
        return
    if getattr(instance, "_rehashing", False):  # a hash upgrade at login (network.User)
        return
    changed = getattr(instance, "_password", None) is not None  # set_password() was called
    if not changed:
        old = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
        changed = old is not None and old != instance.password
    if changed:
        revoke_all(instance, why="password changed")


@receiver(user_logged_out, dispatch_uid="xinlian-tokens-web-logout")
def _revoke_on_logout(sender: type, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    if isinstance(user, User):
        revoke_all(user, request=request, why="web logout")
