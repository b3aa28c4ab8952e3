"""The web layer's one table: the login sessions.

Django's database session with one column more, the user the session is logged in as, so that
the session and its user come in one statement on every request (xinlian.web.sessions,
xinlian.web.middleware.load_user). Django's documented way to extend the database session
engine (``AbstractBaseSession`` and a ``SessionStore`` naming the model)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.utils.translation import gettext_lazy as _


class Session(AbstractBaseSession):
    """A login session: Django's key, signed data and expiry, and ``user``, a copy of the user
    id the signed data names (None for a session nobody is logged in on). The copy is only a
    pointer for the join; whom the session is logged in as is always read from its signed
    data, and a row whose copy disagrees is loaded the long way.

    No database constraint on ``user``: a session saved by a request that raced the deletion of
    its user must not fail (Django would take the failed insert for a key collision and try
    new keys without end); deleting a user through Django still deletes their sessions."""

    # Not indexed, unlike Django's: the renewal once a minute per active session changes only
    # this column, and on PostgreSQL an update of no indexed column is made in place on its page
    # (a "HOT" update: no new entry in the key's and the user's indexes). Only the worker's hourly
    # deletion of expired sessions filters on it; it reads the table through.
    expire_date = models.DateTimeField(_("expire date"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
                             db_constraint=False, related_name="+", verbose_name=_("user"))

    @classmethod
    def get_session_store_class(cls) -> Any:
        from .sessions import SessionStore

        return SessionStore
