"""One-time first-login codes: made, hashed, checked and consumed. The rules, without access.

Why a keyed HMAC-SHA256 and not Django's password hasher: a code is 10 characters drawn at
random (``secrets``) from 31 unambiguous ones, about 49.5 bits of entropy, where a password
chosen by a person has perhaps 20–30. A slow hasher (Argon2, ~0.3 s here) exists to make
guessing low-entropy secrets offline expensive; for a random code that cost buys little and
makes printing 8,000 freshmen's slips take 40 minutes. The HMAC key is derived from
SECRET_KEY (``salted_hmac``), so a leaked database alone gives nothing to guess against;
online guessing goes through django-axes (the code backend below is an authentication backend,
so failures are counted like password failures) and a code lives only N days and works once.
The person's id is part of the hashed message: a hash is bound to its person."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import BaseBackend
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from .models import FirstLoginCode, User

# No 0/O, 1/I/l: a code is read off paper and typed on a phone.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 10
HMAC_SALT = "xinlian.network.first-login-code"
# What the first-login form accepts before it hashes anything: a longer input is no code.
MAX_INPUT = 32


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def display(code: str) -> str:
    """“ABCDE-FGHJK”: two groups of five are easier to read aloud and to type."""
    return f"{code[:5]}-{code[5:]}"


def normalise(typed: str) -> str:
    """What a person typed, as the code it stands for: case, spaces and dashes do not matter."""
    return "".join(ch for ch in typed.upper() if ch not in " -\t")[:MAX_INPUT]


def code_hash(user_id: int, code: str) -> str:
    return salted_hmac(HMAC_SALT, f"{user_id}:{code}", algorithm="sha256").hexdigest()


def default_days() -> int:
    return settings.FIRST_LOGIN_DAYS


@dataclass(frozen=True, slots=True)
class Issued:
    """One issued code; ``code`` is the only copy of the plain code, for the response alone."""

    user: User
    code: str
    expires_at: dt.datetime

    @property
    def shown(self) -> str:
        return display(self.code)


def issue(users: Sequence[User], *, days: int, issued_by: User | None) -> list[Issued]:
    """A new code for each of ``users``, replacing their unused ones; a few statements in all."""
    now = timezone.now()
    expires = now + dt.timedelta(days=days)
    issued = [Issued(u, new_code(), expires) for u in users]
    with transaction.atomic():
        ids = [u.pk for u in users]
        for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
            FirstLoginCode.objects.filter(user_id__in=ids[start:start + 900], used_at__isnull=True).delete()
        FirstLoginCode.objects.bulk_create(
            [FirstLoginCode(user=i.user, code_hash=code_hash(i.user.pk, i.code), expires_at=expires,
                            issued_by=issued_by) for i in issued], batch_size=900)
    return issued


def find(username: str, typed: str) -> FirstLoginCode | None:
    """The valid (unused, unexpired) code row for ``username`` and what they typed, or None.

    The hash is computed whether or not the number exists, so that the time taken says little."""
    code = normalise(typed)
    user = User.objects.filter(username=username[:150], is_active=True).only("pk").first()
    digest = code_hash(user.pk if user else 0, code)
    if user is None or len(code) != LENGTH:
        return None
    row = (FirstLoginCode.objects.filter(user=user, code_hash=digest, used_at__isnull=True,
                                         expires_at__gt=timezone.now()).select_related("user").first())
    if row is None or not constant_time_compare(row.code_hash, digest):
        return None
    return row


def consume(code_id: int, user_id: int) -> bool:
    """Mark the code used, once: of two concurrent calls exactly one gets True."""
    return bool(FirstLoginCode.objects.filter(pk=code_id, user_id=user_id, used_at__isnull=True,
                                              expires_at__gt=timezone.now())
                .update(used_at=timezone.now()))


def never_logged_in(users: Iterable[User]) -> list[User]:
    return [u for u in users if u.last_login is None]


class FirstLoginCodeBackend(BaseBackend):
    """Authenticates a student or staff number with a one-time code (``first_login_token``).

    Through ``django.contrib.auth.authenticate``, so django-axes sees each attempt: a wrong code
    is a failed login for that number and address, and a locked-out number is refused before
    the code is looked at. The keyword's name contains “token”, so Django masks it in the
    credentials it passes to the failure signal. The code is not consumed here: the first-login
    page consumes it when the new password is set."""

    def authenticate(self, request: Any, username: str | None = None,  # type: ignore[override]
                     first_login_token: str | None = None, **kwargs: Any) -> User | None:
        if not username or not first_login_token:
            return None
        row = find(username, first_login_token)
        if row is None or not row.user.is_active:
            return None
        row.user.first_login_code_id = row.pk  # type: ignore[attr-defined]
        return row.user

    def get_user(self, user_id: int) -> User | None:
        # Sessions name ModelBackend (the first-login page logs in through it); this is for
        # completeness, and grants no permissions (BaseBackend's defaults).
        return User.objects.filter(pk=user_id, is_active=True).first()
