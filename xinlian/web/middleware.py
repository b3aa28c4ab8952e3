"""The session and the user of every request, for the price of one hand-built query.

Every page and API call starts here, so the fixed cost of a logged-in request is what these
classes spend (bench/floor.py measures it against a bare Django app; issue 10 §4):

* ``IdleSessionMiddleware``: Django's session middleware with a sliding idle timeout that does
  not write on every request. The session engine (xinlian.web.sessions) loads and renews the
  row with SQL built once per process (``xinlian.lib.hotsql``) instead of compiling the ORM
  query each time, and records in the row whom the session is logged in as.
* ``UserMiddleware``: Django's ``AuthenticationMiddleware`` whose lazy ``request.user`` loads a
  user authenticated by the ModelBackend (or a subclass that keeps its ``get_user``) in the
  statement that loads the session, joined through the user the row records; the checks are
  Django's own
  (``django.contrib.auth.get_user``: the backend listed in settings, an active user, the session
  hash against the current and the fallback secrets). Any other backend goes through Django.
  A view may ask for a few scalars about the user in the same statement
  (``hotsql.user_columns``: the inbox badge's unread count), and every request loads those
  registered for all (``hotsql.register_user_columns``: what the two-step check needs).
* ``RecentConnectionMiddleware``: no health check for a connection that just answered.
* ``LocaleMiddleware`` and ``LazyMessageMiddleware``: Django's, without the work they did on
  every request for what Xinlian's requests rarely or never need (a language in the path, a
  message storage)."""

from __future__ import annotations

import re
import time
from typing import Any

from django.conf import settings
from django.conf.urls.i18n import is_language_prefix_patterns_used
from django.contrib import auth
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.messages.storage import default_storage
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import connection, connections
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.urls import Resolver404, resolve
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject, empty

from xinlian.lib import hotsql

from .sessions import SessionStore

# A persistent connection that answered a statement this recently is not health-checked again
# (CONN_HEALTH_CHECKS' "SELECT 1", a round trip on every request); see RecentConnectionMiddleware.
HEALTHY_SECONDS = 1.0


class IdleSessionMiddleware(SessionMiddleware):
    """Keeps the idle timeout (SESSION_COOKIE_AGE) sliding with the user's activity, like
    SESSION_SAVE_EVERY_REQUEST, but pushes the row's expiry back at most once per
    SESSION_RENEW_SECONDS and without writing the data again (``SessionStore.renew``):
    a student answering a questionnaire sends a request every few seconds, and each save was an
    UPDATE of the whole session row with its data encoded and signed. The session then expires
    between SESSION_COOKIE_AGE − SESSION_RENEW_SECONDS and SESSION_COOKIE_AGE after the last
    request. A session whose data changed is saved whole by Django, expiry included. Requests
    that never looked at the session (nobody asked who the user is) do not count as activity,
    nor do the views that drop the session (notify's background polls). A view marked
    ``hotsql.renews_session`` (the questionnaire's) has it renewed on PostgreSQL by the
    statement that loads it (``load_user``): one round trip fewer; nothing is left to renew here.

    The browser keeps the cookie until it closes (SESSION_EXPIRE_AT_BROWSER_CLOSE), so the
    renewal needs no new cookie; a cookie with a lifetime of its own is sent again by Django's
    save, as before."""

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        session = getattr(request, "session", None)
        if (isinstance(session, SessionStore) and session.accessed and not session.modified
                and response.status_code < 500 and session.renewal_due()):  # Django saves nothing on a 5xx
            if settings.SESSION_EXPIRE_AT_BROWSER_CLOSE:
                session.renew()
            else:
                session.modified = True  # the cookie's own lifetime moves too: Django's save sends it
        return super().process_response(request, response)


# (urlconf, path) → the scalars its view asks for and whether it renews the session with its load,
# for users loaded before Django resolves the URL; bounded: emptied when full.
_COLUMNS_OF_PATH: dict[tuple[Any, str], tuple[tuple[tuple[str, tuple[str, Any]], ...], bool]] = {}
COLUMNS_OF_PATH_MAX = 4_096
_DIGITS = re.compile(r"[0-9]+")


def _marks(view: Any) -> tuple[tuple[tuple[str, tuple[str, Any]], ...], bool]:
    return getattr(view, "user_columns", ()), getattr(view, "renews_session", False)


def _view_marks(request: HttpRequest) -> tuple[tuple[tuple[str, tuple[str, Any]], ...], bool]:
    """What the view of this request asks of the statement that loads the user: scalars
    (``hotsql.user_columns``), and whether to renew the session (``hotsql.renews_session``).
    Django resolves the URL before the view; for a user asked for earlier (by the two-step
    middleware, say) the URL is resolved here, once per path and process."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return _marks(match.func)
    urlconf = getattr(request, "urlconf", None)
    # Keyed by the path with its numbers as 0: one entry for /screening/a/<pk>/submit/ whatever
    # the pk (each submit's own path used to miss, and resolve twice). Two views whose paths
    # differ only in digits would share an entry: harmless, as columns are only an offer (a
    # view without its column loaded computes it itself; an extra one is never read), and the
    # renewal mark is only on the questionnaire's paths, which no background poll's path
    # matches whatever its digits.
    key = (urlconf or settings.ROOT_URLCONF, _DIGITS.sub("0", request.path_info))
    marks = _COLUMNS_OF_PATH.get(key)
    if marks is None:
        try:
            marks = _marks(resolve(request.path_info, urlconf).func)
        except Resolver404:
            marks = ((), False)
        if len(_COLUMNS_OF_PATH) >= COLUMNS_OF_PATH_MAX:
            _COLUMNS_OF_PATH.clear()
        _COLUMNS_OF_PATH[key] = marks
    return marks


def _with_session(session: SessionStore, model: Any, extra: tuple[str, ...],
                  extra_params: list[Any], renews: bool) -> tuple[Any, tuple[Any, ...]]:
    """Load the session (not loaded yet) together with the user its row records, exactly as
    ``SessionStore.load`` would load it (an expired or unknown key: empty, key dropped), and
    for a view that ``renews`` renew it when due (where the database can, and the cookie
    lasts until the browser closes: no cookie to send again). Returns (that user or None,
    scalars), for the caller to check against the session's data."""
    adapt = connection.ops.adapt_datetimefield_value
    renewal = None
    if renews and settings.SESSION_EXPIRE_AT_BROWSER_CLOSE and hotsql.can_renew_with_load():
        renewal = session.renewal_with_load()
    data, expiry, user, values, renewed = hotsql.session_with_user(
        session.model, model, session._session_key, adapt(timezone.now()), extra, extra_params,
        renew=None if renewal is None else (adapt(renewal[0]), adapt(renewal[1])))
    session.loaded(data, renewal[0] if renewed and renewal is not None else expiry)
    return user, values


def load_user(request: HttpRequest) -> Any:
    """``django.contrib.auth.get_user`` with the ModelBackend's ``User.objects.get(pk=…)`` done by
    a statement built once per process — the statement that loads the session, which records
    its user; every check is Django's, in Django's order."""
    session = request.session
    model = auth.get_user_model()
    # No cookie: nobody to load. Else the scalars every request loads, then the view's own.
    view_columns, renews = _view_marks(request) if session.session_key else ((), False)
    columns = (*hotsql.every_request_columns(), *view_columns) if session.session_key else ()
    extra = tuple(sql for _name, (sql, _params) in columns)
    extra_params = [p for _name, (_sql, params) in columns for p in hotsql.column_params(params)]
    joined = None
    if isinstance(session, SessionStore) and session._session_key and not hasattr(session, "_session_cache"):
        joined = _with_session(session, model, extra, extra_params, renews)
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
    # The row's copy of the user id is only a pointer: the signed data decides whom the session
    # is logged in as (a row that disagrees, or a session loaded before, goes the long way).
    if joined is not None and joined[0] is not None and joined[0].pk == user_id:
        user, values = joined
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
    return user


def _cached_user(request: HttpRequest) -> Any:
    if not hasattr(request, "_cached_user"):
        request._cached_user = load_user(request)  # type: ignore[attr-defined]
    return request._cached_user  # type: ignore[attr-defined]


class UserMiddleware(AuthenticationMiddleware):
    """``request.user`` as Django's AuthenticationMiddleware sets it (lazy, cached on the
    request, ``request.auser`` unchanged), loaded by :func:`load_user`: with the scalars the
    view marked with ``hotsql.user_columns`` asks for (the inbox badge's unread count, the
    submit's count of the last hour), in the statement that loads the session."""

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


class LazyMessageMiddleware(MessageMiddleware):
    """Django's MessageMiddleware, whose storage is made when a message is first added or read,
    not on every request: most requests (a submit, a poll, an API call) never touch messages,
    and Django's default storage signs its cookie with a key it derives for each request."""

    def process_request(self, request: HttpRequest) -> None:
        request._messages = SimpleLazyObject(lambda: default_storage(request))  # type: ignore[attr-defined]

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        messages = getattr(request, "_messages", None)
        if isinstance(messages, SimpleLazyObject) and messages._wrapped is empty:
            return response  # never used: nothing to store
        return super().process_response(request, response)


class LocaleMiddleware(DjangoLocaleMiddleware):
    """Django's LocaleMiddleware, which looks for a language code at the start of every path
    twice a request (for "/screening/…", a failed lookup of the language "screening" each time)
    even where no URL carries one. Xinlian's URLs carry none (the language comes from the
    cookie the language switch sets, else the browser's): then only what Django's does in
    that case — activate the request's language, and say so in the response."""

    def process_request(self, request: HttpRequest) -> None:
        if is_language_prefix_patterns_used(getattr(request, "urlconf", settings.ROOT_URLCONF))[0]:
            return super().process_request(request)
        translation.activate(translation.get_language_from_request(request))
        request.LANGUAGE_CODE = translation.get_language()  # type: ignore[attr-defined]

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        if is_language_prefix_patterns_used(getattr(request, "urlconf", settings.ROOT_URLCONF))[0]:
            return super().process_response(request, response)
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response
