"""企业微信 (WeCom) login on the page: the button's start, and WeCom's return.

``/login/wecom/`` keeps a fresh state (and the ``next`` address, local only) in the session and
sends the browser to WeCom: the in-app authorization inside the WeCom app, the QR web login
elsewhere (``xinlian.network.wecom_login``). ``/login/wecom/callback/`` takes the state back
once, has WeCom name the person behind the code with the application's access token (the token
cache the WeCom notifications share), logs them in on a new session key and goes on to
``next``. Every failure is the refusal page of ``views_sso`` with an audit row; both paths are
a 404 while WeCom login is off. :func:`begin` and :func:`finish` are shared with the DingTalk
login (views_dingtalk.py)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import auth
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from xinlian.network import sso, wecom_login
from xinlian.network.models import User
from xinlian.notify import personal
from xinlian.notify.provider import ProviderError, tokens

from .views_oidc import SESSION_BACKEND, _safe_next
from .views_sso import refused

log = logging.getLogger(__name__)

STATES_KEY = "wecom_login_states"  # state -> {"next": local address or None, "at": epoch seconds}


class CorpTokens:
    """The WeCom application's access token from the cache the notifications share."""

    def get(self) -> str:
        try:
            return personal.wecom_token()
        except (ProviderError, OSError) as exc:
            raise wecom_login.Unavailable(type(exc).__name__) from exc

    def drop(self, token: str) -> None:
        tokens.drop(personal.wecom_key(), token)


def _states(request: HttpRequest, key: str) -> dict[str, dict]:
    states = request.session.get(key)
    if not isinstance(states, dict):
        return {}
    now = time.time()
    return {k: v for k, v in states.items()
            if isinstance(v, dict) and now - float(v.get("at", 0)) < wecom_login.STATE_SECONDS}


def begin(request: HttpRequest, key: str, callback_name: str,
          authorize: Callable[[str, str], str]) -> HttpResponse:
    """Keep a fresh state (and the local ``next``) under ``key`` of the session; off to
    ``authorize(redirect_uri, state)``. Shared with the DingTalk login (views_dingtalk.py)."""
    states = _states(request, key)
    while len(states) >= wecom_login.STATES_KEPT:
        states.pop(min(states, key=lambda k: states[k]["at"]))
    state = wecom_login.new_state()
    states[state] = {"next": _safe_next(request, request.GET.get("next")), "at": time.time()}
    request.session[key] = states
    return HttpResponseRedirect(authorize(request.build_absolute_uri(reverse(callback_name)), state))


def finish(request: HttpRequest, key: str, method: str,
           person: Callable[[HttpRequest], User]) -> HttpResponse:
    """Take the state back once, then ``person(request)`` (which asks the platform and maps the
    answer, or raises ``sso.Refused``), log them in on a new session key, go on to ``next``."""
    states = _states(request, key)
    state = request.GET.get("state", "")
    entry = states.pop(state, None) if state else None
    if entry is not None:
        # Used once, whatever happens next: saved before the platform is asked.
        request.session[key] = states
        request.session.save()
    try:
        if entry is None:
            log.warning("%s callback with an unknown, used or expired state", method)
            raise sso.refuse(request, method, "invalid")
        user = person(request)
    except sso.Refused as exc:
        return refused(request, exc)
    next_url = _safe_next(request, entry.get("next"))
    auth.login(request, user, backend=SESSION_BACKEND)  # a new session key
    request.session.pop(key, None)
    sso.logged_in(request, method, user)
    return HttpResponseRedirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))


@require_GET
@never_cache
def start(request: HttpRequest) -> HttpResponse:
    """The button: off to WeCom with a fresh state."""
    if not wecom_login.enabled():
        raise Http404
    return begin(request, STATES_KEY, "wecom-callback", lambda redirect_uri, state: wecom_login.authorize_url(
        request, redirect_uri=redirect_uri, state=state))


@require_GET
@never_cache
def callback(request: HttpRequest) -> HttpResponse:
    """WeCom's return: one use of the state, then the code, the person."""
    if not wecom_login.enabled():
        raise Http404
    return finish(request, STATES_KEY, wecom_login.METHOD,
                  lambda r: wecom_login.user_for_code(r, r.GET.get("code", ""), CorpTokens()))
