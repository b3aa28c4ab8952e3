"""Campus single sign-on (CAS) on the page: the button's start and the ticket's return, the
logout that also ends the CAS session, and the CAS server's single-logout requests.

``/login/cas/`` is django-cas-ng's login view: without a ticket it sends the browser to the CAS
server; with one, ``xinlian.network.cas.CASBackend`` validates it and maps the number, Django
logs the person in on a new session key, and the view goes on to ``next`` (a local address
only) or home, as a password login does. A refusal (unknown, switched off or graduated person, a
used or forged ticket, a server that is down) is the refusal page of ``views_sso`` with its audit
row. The CAS server's single-logout POST arrives at the same address (the service URL) and ends
the session that ticket opened, with the person's API tokens, as a logout from Xinlian does.
Everything here is a 404 while CAS is off."""

from __future__ import annotations

from typing import Any

from cas import SingleLogoutMixin
from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.dispatch import receiver
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django_cas_ng import views as cas_views
from django_cas_ng.models import SESSION_KEY_MAXLENGTH, SessionTicket
from django_cas_ng.signals import cas_user_logout

from xinlian.access.models import AuditEvent
from xinlian.access.tokens import revoke_all
from xinlian.network import cas, oidc, sso
from xinlian.network.models import User

from .views_oidc import ID_TOKEN_KEY as OIDC_ID_TOKEN_KEY
from .views_sso import SSO_METHOD_KEY, refused


def safe_next(request: HttpRequest, url: str | None) -> str | None:
    """``url`` if it stays on this site (a path, or this host's own address), else None."""
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return url
    return None


class _SingleLogout(SingleLogoutMixin):
    """python-cas's reader of a ``logoutRequest``, as the client django-cas-ng's single logout
    expects; it answers None for a body that is not XML, which the library would crash on."""

    @classmethod
    def get_saml_slos(cls, logout_request: Any) -> Any:
        return super().get_saml_slos(logout_request) or []


# csrf_exempt as the library's own: the CAS server's single-logout POST carries no token (a
# POST without a logoutRequest is only sent back to the GET).
@method_decorator([never_cache, csrf_exempt], name="dispatch")
class LoginView(cas_views.LoginView):
    """django-cas-ng's login, with Xinlian's refusals, audit row and landing."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method in ("GET", "HEAD", "POST") and not cas.enabled():
            raise Http404  # any other method is a 405 either way
        # An unsafe next (another site, a scheme-relative //host) is dropped, not obeyed; the
        # library would answer it with an error instead of the login.
        if "next" in request.GET and not safe_next(request, request.GET["next"]):
            request.GET = request.GET.copy()
            del request.GET["next"]
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated and "ticket" not in request.GET:
            return HttpResponseRedirect(request.GET.get("next") or resolve_url(settings.LOGIN_REDIRECT_URL))
        if request.user.is_authenticated:
            # A ticket for someone already logged in here: validate it as a new login (it may be
            # another person on a shared phone), never wave it through on the old session.
            logout(request)
        try:
            return super().get(request)
        except sso.Refused as exc:
            return refused(request, exc)

    def post(self, request: HttpRequest) -> HttpResponse:
        """The CAS server's single logout: end the session its ticket opened. The library's own
        post would also follow a ``next`` from the form (an error page for a foreign one), and
        skips single logout under CAS 2, whose servers send the same ``logoutRequest``."""
        if not request.POST.get("logoutRequest"):
            return HttpResponseRedirect(reverse("cas-login"))
        cas_views.clean_sessions(_SingleLogout, request)
        return HttpResponse("ok\n", content_type="text/plain")

    def successful_login(self, request: HttpRequest, next_page: str) -> HttpResponse:
        user: User = request.user  # type: ignore[assignment]
        request.session[SSO_METHOD_KEY] = cas.METHOD
        sso.logged_in(request, cas.METHOD, user)
        return HttpResponseRedirect(next_page)


class LogoutView(auth_views.LogoutView):
    """Django's logout (POST only; the person's API tokens go with it, access/tokens.py), then,
    for a session opened through single sign-on, the provider's logout, which ends the campus
    session too: otherwise the next person on a shared phone would be let straight back in.
    CAS: the CAS server's ``/logout``. OpenID Connect: the provider's end-session endpoint with
    this login's ID token (RP-initiated logout). Both come back to the login page."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        method = request.session.get(SSO_METHOD_KEY)
        id_token = str(request.session.get(OIDC_ID_TOKEN_KEY) or "")
        session_key = (request.session.session_key or "")[:SESSION_KEY_MAXLENGTH]
        response = super().post(request, *args, **kwargs)  # the session is gone from here on
        back = request.build_absolute_uri(reverse("login"))
        if method == cas.METHOD and cas.enabled():
            SessionTicket.objects.filter(session_key=session_key).delete()
            return HttpResponseRedirect(cas.client(request).get_logout_url(back))
        if method == oidc.METHOD and oidc.enabled():
            url = oidc.logout_url(request, id_token=id_token, back=back)
            if url:
                return HttpResponseRedirect(url)
        return response


@receiver(cas_user_logout, dispatch_uid="xinlian-cas-single-logout")
def _single_logout(sender: Any, user: Any, session: Any, ticket: Any, **kwargs: Any) -> None:
    """The CAS server's single logout ended a session (django-cas-ng deletes it): revoke the
    person's API tokens as a logout from Xinlian does, and leave an audit row."""
    if sender != "slo" or not isinstance(user, User):
        return
    revoke_all(user, why="CAS single logout")
    AuditEvent.objects.record(actor=user, action="identity.sso_logout", obj=user,
                              detail=f"method={cas.METHOD}")
