"""The session and the user of every request, for the price of two hand-built queries.

Every page and API call starts here, so the fixed cost of a logged-in request is what these
classes spend (bench/floor.py measures it against a bare Django app; issue 10 §4):

* ``IdleSessionMiddleware``: Django's session middleware with a sliding idle timeout that does
  not write on every request, and a session store that loads and renews the row with SQL built
  once per process (``xinlian.lib.hotsql``) instead of compiling the ORM query each time.
* ``UserMiddleware``: Django's ``AuthenticationMiddleware`` whose lazy ``request.user`` loads a
  user authenticated by the ModelBackend (or a subclass that keeps its ``get_user``) with a
  statement built once per process; the checks are Django's own
  (``django.contrib.auth.get_user``: the backend listed in settings, an active user, the session
  hash against the current and the fallback secrets). Any other backend goes through Django.
  A view may ask for a few scalars about the user in the same statement
  (``hotsql.user_columns``: the inbox badge's unread count), and every request loads those
  registered for all (``hotsql.register_user_columns``: what the two-step check needs)."""

from __future__ import annotations

import re
import time
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.signals import user_logged_in
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DbSessionStore
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import connection, connections
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject

from xinlian.lib import hotsql

# The key in the session data that remembers when the session was last written.
RENEWED_KEY = "_renewed"
# A persistent connection that answered a statement this recently is not health-checked again
# (CONN_HEALTH_CHECKS' "SELECT 1", a round trip on every request); see RecentConnectionMiddleware.
HEALTHY_SECONDS = 1.0


class SessionStore(DbSessionStore):
    """The database session store (same table, same encoding, same expiry rule) whose load is
    one statement built once per process: compiling the ORM's query cost about as much CPU as
    the rest of a small request."""

    def _get_session_from_db(self) -> Any:
        now = connection.ops.adapt_datetimefield_value(timezone.now())
        row = hotsql.get_with(self.model, "", "t.session_key = %s AND t.expire_date > %s", [self.session_key, now])
        if row is None:
            self._session_key = None
        return row

    def save(self, must_create: bool = False) -> None:
        """Renewing an existing session (the idle timeout's once a minute, a login's data) as
        one UPDATE built once, like Django's forced update of the row: UpdateError when the
        row is gone. Creating one is Django's own code."""
        if must_create or self.session_key is None:
            super().save(must_create=must_create)
            return
        data = self._get_session()
        params = [self.encode(data), connection.ops.adapt_datetimefield_value(self.get_expiry_date()),
                  self.session_key]
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {connection.ops.quote_name(self.model._meta.db_table)} SET session_data = %s, "
                           "expire_date = %s WHERE session_key = %s", params)
            if cursor.rowcount != 1:
                raise UpdateError


class IdleSessionMiddleware(SessionMiddleware):
    """Keeps the idle timeout (SESSION_COOKIE_AGE) sliding with the user's activity, like
    SESSION_SAVE_EVERY_REQUEST, but re-saves the session at most once per
    SESSION_RENEW_SECONDS: a student answering a questionnaire sends a request every few
    seconds, and each save was an UPDATE of the whole session row. The session then expires
    between SESSION_COOKIE_AGE − SESSION_RENEW_SECONDS and SESSION_COOKIE_AGE after the last
    request. Requests that never looked at the session (nobody asked who the user is) do not
    count as activity, nor do the views that drop the session (notify's background polls)."""

    def __init__(self, get_response: Any) -> None:
        super().__init__(get_response)
        if settings.SESSION_ENGINE == "django.contrib.sessions.backends.db":
            self.SessionStore = SessionStore

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and session.accessed and not session.is_empty():
            now = int(time.time())
            if now - int(session.get(RENEWED_KEY, 0)) >= settings.SESSION_RENEW_SECONDS:
                session[RENEWED_KEY] = now  # modified: the parent saves it and renews the expiry
        return super().process_response(request, response)


# Session key → primary key of the user that session was last found to hold, in this process:
# the guess that lets the session and its user come in one statement
# (``hotsql.session_with_user``). Only a guess: the user row is used only when the session's own
# signed data names that user, and any other answer takes the two-statement path. Bounded:
# emptied when full (each entry then costs one two-statement request to come back).
_USER_OF_SESSION: dict[str, Any] = {}
USER_OF_SESSION_MAX = 20_000


@receiver(user_logged_in, dispatch_uid="xinlian.web.middleware.user_of_session")
def _learn_at_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """A login in this process: its next request already comes in one statement."""
    session = getattr(request, "session", None)
    if isinstance(session, DbSessionStore) and session.session_key and getattr(user, "pk", None) is not None:
        _remember(session.session_key, user.pk)


def _remember(key: str, pk: Any) -> None:
    if len(_USER_OF_SESSION) >= USER_OF_SESSION_MAX:
        _USER_OF_SESSION.clear()
    _USER_OF_SESSION[key] = pk


# (urlconf, path) → the scalars its view asks for, for users loaded before Django resolves the
# URL; bounded like the guesses above.
_COLUMNS_OF_PATH: dict[tuple[Any, str], tuple[tuple[str, tuple[str, Any]], ...]] = {}
COLUMNS_OF_PATH_MAX = 4_096
_DIGITS = re.compile(r"[0-9]+")


def _view_columns(request: HttpRequest) -> tuple[tuple[str, tuple[str, Any]], ...]:
    """The scalars the view of this request asks for with the user (``hotsql.user_columns``).
    Django resolves the URL before the view; for a user asked for earlier (by the two-step
    middleware, say) the URL is resolved here, once per path and process."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return getattr(match.func, "user_columns", ())
    urlconf = getattr(request, "urlconf", None)
    # Keyed by the path with its numbers as 0: one entry for /screening/a/<pk>/submit/ whatever
    # the pk (each submit's own path used to miss, and resolve twice). Two views whose paths
    # differ only in digits would share an entry: harmless, as columns are only an offer (a
    # view without its column loaded computes it itself; an extra one is never read).
    key = (urlconf or settings.ROOT_URLCONF, _DIGITS.sub("0", request.path_info))
    columns = _COLUMNS_OF_PATH.get(key)
    if columns is None:
        try:
            columns = getattr(resolve(request.path_info, urlconf).func, "user_columns", ())
        except Resolver404:
            columns = ()
        if len(_COLUMNS_OF_PATH) >= COLUMNS_OF_PATH_MAX:
            _COLUMNS_OF_PATH.clear()
        _COLUMNS_OF_PATH[key] = columns
    return columns


def _with_guessed_user(session: SessionStore, model: Any, extra: tuple[str, ...],
                       extra_params: list[Any]) -> tuple[Any, tuple[Any, ...]] | None:
    """Load the session (not loaded yet) together with the user this process last saw holding
    it. The session is then loaded exactly as ``SessionStore.load`` would (an expired or unknown
    key: empty, key dropped). Returns (user row or None, scalars) for the caller to check
    against the session's data; None when there is no guess."""
    key = session._session_key
    guess = _USER_OF_SESSION.get(key) if key else None
    if guess is None:
        return None
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    data, user, values = hotsql.session_with_user(session.model, model, key, now, guess, extra, extra_params)
    if data is None:
        session._session_key = None
        _USER_OF_SESSION.pop(key, None)
    session._session_cache = session.decode(data) if data is not None else {}
    return user, values


def load_user(request: HttpRequest) -> Any:
    """``django.contrib.auth.get_user`` with the ModelBackend's ``User.objects.get(pk=…)`` done by
    a statement built once per process — for a session this process has seen before, the same
    statement that loads the session; every check is Django's, in Django's order."""
    session = request.session
    model = auth.get_user_model()
    # No cookie: nobody to load. Else the scalars every request loads, then the view's own.
    columns = (*hotsql.every_request_columns(), *_view_columns(request)) if session.session_key else ()
    extra = tuple(sql for _name, (sql, _params) in columns)
    extra_params = [p for _name, (_sql, params) in columns for p in hotsql.column_params(params)]
    guessed = None
    if isinstance(session, SessionStore) and not hasattr(session, "_session_cache"):
        guessed = _with_guessed_user(session, model, extra, extra_params)
    try:
        user_id = model._meta.pk.to_python(session[auth.SESSION_KEY])
        backend_path = session[auth.BACKEND_SESSION_KEY]
    except KeyError:
        return auth.get_user(request)  # anonymous: Django's AnonymousUser
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return auth.get_user(request)  # Django's answer: anonymous
    backend = auth.load_backend(backend_path)
    if getattr(type(backend), "get_user", None) is not ModelBackend.get_user:  # Django's path
        return auth.get_user(request)
    from django.contrib.auth.models import AnonymousUser

    # ModelBackend.get_user: the user by primary key, if the backend lets them authenticate —
    # with the scalars the view asked for (``hotsql.user_columns``) in the same statement.
    if guessed is not None and guessed[0] is not None and guessed[0].pk == user_id:
        user, values = guessed
    else:
        user, values = hotsql.get_with_columns(
            model, "", f"t.{connection.ops.quote_name(model._meta.pk.column)} = %s", [user_id], extra, extra_params)
    if user is not None and not backend.user_can_authenticate(user):
        user = None
    if user is not None:
        session_hash = session.get(auth.HASH_SESSION_KEY)
        session_auth_hash = user.get_session_auth_hash()
        if not (session_hash and constant_time_compare(session_hash, session_auth_hash)):
            if session_hash and any(constant_time_compare(session_hash, fallback)
                                    for fallback in user.get_session_auth_fallback_hash()):
                session.cycle_key()
                session[auth.HASH_SESSION_KEY] = session_auth_hash
            else:
                session.flush()
                user = None
    if user is None:
        return AnonymousUser()
    if columns:
        request.user_columns = {name: value for (name, _c), value in zip(columns, values, strict=True)}  # type: ignore[attr-defined]
        request.user_columns_of = user.pk  # type: ignore[attr-defined]
    if isinstance(session, SessionStore) and session.session_key:
        _remember(session.session_key, user.pk)
    return user


def _cached_user(request: HttpRequest) -> Any:
    if not hasattr(request, "_cached_user"):
        request._cached_user = load_user(request)  # type: ignore[attr-defined]
    return request._cached_user  # type: ignore[attr-defined]


class UserMiddleware(AuthenticationMiddleware):
    """``request.user`` as Django's AuthenticationMiddleware sets it (lazy, cached on the
    request, ``request.auser`` unchanged), loaded by :func:`load_user`: with the scalars the
    view marked with ``hotsql.user_columns`` asks for (the inbox badge's unread count, the
    submit's count of the last hour), and for a session seen before in the statement that
    loads the session."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _cached_user(request))


def _note_answer(execute: Any, sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
    result = execute(sql, params, many, context)
    context["connection"].xinlian_answered_at = time.monotonic()
    return result


def _watch(sender: Any, connection: Any, **kwargs: Any) -> None:
    connection.xinlian_answered_at = float("-inf")  # a new connection: nothing answered yet
    if _note_answer not in connection.execute_wrappers:
        connection.execute_wrappers.append(_note_answer)


connection_created.connect(_watch, dispatch_uid="xinlian.web.middleware.watch")


class RecentConnectionMiddleware:
    """CONN_HEALTH_CHECKS asks the database "SELECT 1" before the first statement of every
    request that reuses a persistent connection: on a small page, one round trip in three or
    four (bench/floor.py). The check is there for a connection that died while it sat idle (a
    database restart, a firewall's idle timeout). This skips it for a connection that answered
    a statement less than HEALTHY_SECONDS ago — a busy worker — and keeps it for any connection
    idle longer, or whose last request saw a database error (Django's own rule then closes or
    checks it). A connection lost within that second fails one request, as it would between
    Django's check and the request's first statement; the next request reconnects."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        for conn in connections.all(initialized_only=True):  # opened before this loaded
            if conn.connection is not None and _note_answer not in conn.execute_wrappers:
                _watch(None, conn)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        now = time.monotonic()
        for conn in connections.all(initialized_only=True):
            if (conn.connection is not None and conn.health_check_enabled and not conn.health_check_done
                    and not conn.errors_occurred
                    and now - getattr(conn, "xinlian_answered_at", float("-inf")) < HEALTHY_SECONDS):
                conn.health_check_done = True
        return self.get_response(request)
