"""钉钉 (DingTalk) login on the page: the button's start, and DingTalk's return.

The same as the WeCom login (views_wecom.py: a state in the session used once, ``next`` kept
local, a new session key, the refusal page), with DingTalk's flow (``xinlian.network.
dingtalk_login``) and the DingTalk application's access token from the token cache the DingTalk
notifications share. Both paths are a 404 while DingTalk login is off."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from xinlian.network import dingtalk_login, sso, wecom_login
from xinlian.network.models import User
from xinlian.notify import personal
from xinlian.notify.provider import ProviderError, tokens

from .views_wecom import begin, finish

STATES_KEY = "dingtalk_login_states"


class AppTokens:
    """The DingTalk application's access token from the cache the notifications share."""

    def get(self) -> str:
        try:
            return personal.dingtalk_token()
        except (ProviderError, OSError) as exc:
            raise wecom_login.Unavailable(type(exc).__name__) from exc

    def drop(self, token: str) -> None:
        tokens.drop(personal.dingtalk_key(), token)


@require_GET
@never_cache
def start(request: HttpRequest) -> HttpResponse:
    """The button: off to DingTalk with a fresh state."""
    if not dingtalk_login.enabled():
        raise Http404
    return begin(request, STATES_KEY, "dingtalk-callback", lambda redirect_uri, state:
                 dingtalk_login.authorize_url(redirect_uri=redirect_uri, state=state))


def _person(request: HttpRequest) -> User:
    if request.GET.get("error"):  # the person declined at DingTalk
        raise sso.refuse(request, dingtalk_login.METHOD, "invalid")
    code = request.GET.get("authCode") or request.GET.get("code", "")
    return dingtalk_login.user_for_code(request, code, AppTokens())


@require_GET
@never_cache
def callback(request: HttpRequest) -> HttpResponse:
    """DingTalk's return: one use of the state, then the code, the person."""
    if not dingtalk_login.enabled():
        raise Http404
    return finish(request, STATES_KEY, dingtalk_login.METHOD, _person)
