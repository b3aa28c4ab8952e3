"""OpenID Connect single sign-on on the page: the button's start, and the provider's return.

``/login/oidc/`` sends the browser to the provider with a fresh state, nonce and PKCE challenge
(mozilla-django-oidc's view, kept in the session); ``/login/oidc/callback/`` takes the state
back once, has ``xinlian.network.oidc`` exchange the code and check the ID token, logs the
person in on a new session key and goes on to ``next`` (a local address only). Every failure
is the refusal page of ``views_sso`` with an audit row; both paths are a 404 while OIDC is off."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import auth
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from mozilla_django_oidc.views import OIDCAuthenticationRequestView

from xinlian.network import oidc, sso

from .views_sso import SSO_METHOD_KEY, refused

log = logging.getLogger(__name__)

STATES_KEY = "oidc_states"  # mozilla-django-oidc's: state -> {nonce, code_verifier, added_on}
NEXT_KEY = "oidc_login_next"
# The ID token of this session's login, sent back as id_token_hint at logout (views_cas.LogoutView).
ID_TOKEN_KEY = "oidc_id_token"
# The session backend of a person logged in through OIDC: the same as after a password login,
# so that the next requests load them (and drop them once they are switched off) alike.
SESSION_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _safe_next(request: HttpRequest, url: str | None) -> str | None:
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return url
    return None


class _Start(OIDCAuthenticationRequestView):
    def __init__(self, authorization_endpoint: str) -> None:
        super().__init__()
        self.OIDC_OP_AUTH_ENDPOINT = authorization_endpoint


@require_GET
@never_cache
def start(request: HttpRequest) -> HttpResponse:
    """The button: off to the provider's authorization endpoint."""
    if not oidc.enabled():
        raise Http404
    try:
        ends = oidc.endpoints(request)
    except sso.Refused as exc:
        return refused(request, exc)
    view = _Start(ends.authorization)
    view.setup(request)
    response = view.get(request)
    # The library keeps only a next address on this host; keep only a local path or URL.
    request.session[NEXT_KEY] = _safe_next(request, request.session.get(NEXT_KEY))
    return response


@require_GET
@never_cache
def callback(request: HttpRequest) -> HttpResponse:
    """The provider's return: one use of the state, then the code, the token, the person."""
    if not oidc.enabled():
        raise Http404
    states = request.session.get(STATES_KEY)
    state = request.GET.get("state", "")
    entry = states.pop(state, None) if isinstance(states, dict) and state else None
    if entry is not None:
        # Used once, whatever happens next: saved now, before the provider is asked (a second
        # request with the same answer finds it gone; the provider takes the code once too).
        request.session.save()
    try:
        if request.GET.get("error"):
            # The person cancelled, or the provider would not let them in.
            log.info("OIDC provider returned an error answer")
            raise sso.refuse(request, oidc.METHOD, "invalid")
        code = request.GET.get("code", "")
        if entry is None or not code:
            log.warning("OIDC callback with an unknown, used or missing state")
            raise sso.refuse(request, oidc.METHOD, "invalid")
        backend = oidc.OIDCBackend(oidc.endpoints(request))
        user = backend.login_with_code(
            request, code=code, nonce=entry.get("nonce") or "",
            code_verifier=entry.get("code_verifier"),
            redirect_uri=request.build_absolute_uri(reverse("oidc-callback")),
        )
    except sso.Refused as exc:
        return refused(request, exc)
    next_url = _safe_next(request, request.session.pop(NEXT_KEY, None))
    auth.login(request, user, backend=SESSION_BACKEND)  # a new session key
    request.session.pop(STATES_KEY, None)
    # For the logout: end the provider's session too, naming this login's ID token.
    request.session[SSO_METHOD_KEY] = oidc.METHOD
    request.session[ID_TOKEN_KEY] = backend.id_token
    sso.logged_in(request, oidc.METHOD, user)
    return HttpResponseRedirect(next_url or resolve_url(settings.LOGIN_REDIRECT_URL))
