"""The session engine (``SESSION_ENGINE = "xinlian.web.sessions"``): Django's database sessions,
in the table of :class:`xinlian.web.models.Session`, which also records the user the session is
logged in as; loaded and renewed by statements built once per process.

Every page and API call loads its session, so this is part of the fixed cost of a request
(bench/floor.py; issue 10 §4). The user middleware (xinlian.web.middleware) loads the session
and its user in one statement through the recorded user id."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from xinlian.lib import hotsql


def user_id_of(data: dict[str, Any]) -> Any:
    """The user id the session data names (as Django's login stored it), or None."""
    raw = data.get(auth.SESSION_KEY)
    if raw is None:
        return None
    try:
        return auth.get_user_model()._meta.pk.to_python(raw)
    except ValidationError:  # Django's get_user takes an unreadable id for nobody; so do we
        return None


def _due_by(expiry: dt.datetime) -> dt.datetime:
    """The latest loaded expiry for which a renewal to ``expiry`` is due: one that moves the
    expiry by at least SESSION_RENEW_SECONDS (the renewal's rule, once a minute at most)."""
    return expiry - dt.timedelta(seconds=settings.SESSION_RENEW_SECONDS)


class SessionStore(DbSessionStore):
    """The database session store (same encoding, same expiry rule) of the table that records
    the user: its load is one statement built once per process (compiling the ORM's query cost
    about as much CPU as the rest of a small request), and every save writes the user id.

    The idle timeout slides without writing the data again: ``renew`` pushes back only the row's
    expiry, when ``renewal_due`` (at most once per ``SESSION_RENEW_SECONDS``, judged by the
    expiry the load read: ``loaded_expiry``)."""

    # The row's expiry as loaded or last written by this store; None before either.
    loaded_expiry: dt.datetime | None = None

    @classmethod
    def get_model_class(cls) -> Any:
        # Imported here: the engine module may be imported before the app registry is ready.
        from .models import Session

        return Session

    def create_model_instance(self, data: dict[str, Any]) -> Any:
        obj = super().create_model_instance(data)
        obj.user_id = user_id_of(data)
        return obj

    async def acreate_model_instance(self, data: dict[str, Any]) -> Any:
        obj = await super().acreate_model_instance(data)
        obj.user_id = user_id_of(data)
        return obj

    def _get_session_from_db(self) -> Any:
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        row = hotsql.get_with(self.model, "", "t.session_key = %s AND t.expire_date > %s", [self.session_key, now])
        if row is None:
            self._session_key = None
        self.loaded_expiry = row.expire_date if row is not None else None
        return row

    def loaded(self, data: str | None, expiry: dt.datetime | None) -> None:
        """Take the row read elsewhere (the user middleware's statement) as ``load`` would: the
        encoded data and expiry of the unexpired row (or the expiry that statement renewed it
        to), or None for none (the key is dropped)."""
        if data is None:
            self._session_key = None
        self._session_cache = self.decode(data) if data is not None else {}
        self.loaded_expiry = expiry

    def renewal_with_load(self) -> tuple[dt.datetime, dt.datetime]:
        """For a renewal made by the statement that loads the row, before the data is read: the
        expiry it writes (a full idle timeout from now: Xinlian gives no session an expiry of
        its own) and the latest expiry for which it is due, by ``renewal_due``'s rule."""
        expiry = timezone.now() + dt.timedelta(seconds=self.get_session_cookie_age())
        return expiry, _due_by(expiry)

    def renewal_due(self) -> bool:
        """Whether the expiry a save would write now is at least SESSION_RENEW_SECONDS later
        than the row's (the idle timeout's renewal, once a minute at most)."""
        if self.loaded_expiry is None or self.session_key is None:
            return False
        return self.loaded_expiry <= _due_by(self.get_expiry_date())

    def renew(self) -> None:
        """Push the row's expiry back, and nothing else: one UPDATE, the data not encoded and
        signed again; on PostgreSQL an update of no indexed column, made in place (the table's
        pages keep room for it: migration web/0002). A row deleted meanwhile (a logout in
        another tab) stays deleted."""
        expiry = self.get_expiry_date()
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {connection.ops.quote_name(self.model._meta.db_table)} SET expire_date = %s "
                           "WHERE session_key = %s", [connection.ops.adapt_datetimefield_value(expiry), self.session_key])
        self.loaded_expiry = expiry

    def save(self, must_create: bool = False) -> None:
        """Saving an existing session's data (a login's, the two-step check's) as one
        UPDATE built once, like Django's forced update of the row: UpdateError when the
        row is gone. Creating one is Django's own code (through ``create_model_instance``)."""
        if must_create or self.session_key is None:
            super().save(must_create=must_create)
            return
        data = self._get_session()
        expiry = self.get_expiry_date()
        params = [self.encode(data), connection.ops.adapt_datetimefield_value(expiry), user_id_of(data), self.session_key]
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {connection.ops.quote_name(self.model._meta.db_table)} SET session_data = %s, "
                           "expire_date = %s, user_id = %s WHERE session_key = %s", params)
            if cursor.rowcount != 1:
                raise UpdateError
        self.loaded_expiry = expiry


# Expired sessions are deleted by the worker at most this often (Django leaves it to a cron job
# running ``clearsessions``; every login adds a row, and a school logs in tens of thousands).
CLEAR_EVERY_SECONDS = 3600
_last_clear = -float("inf")


def clear_expired_sessions(force: bool = False) -> int:
    """The worker's job: delete the expired sessions, at most once per CLEAR_EVERY_SECONDS in a
    worker process (``force`` for tests and commands). How many rows went."""
    global _last_clear
    now = time.monotonic()
    if not force and now - _last_clear < CLEAR_EVERY_SECONDS:
        return 0
    _last_clear = now
    gone, _by_model = SessionStore.get_model_class().objects.filter(expire_date__lt=timezone.now()).delete()
    return gone
