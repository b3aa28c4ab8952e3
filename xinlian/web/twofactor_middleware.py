"""The second step, enforced on every request whatever the way in (password, slip code, CAS,
OIDC, LDAP all end in ``django.contrib.auth.login``): until a session that needs it is verified,
a page answers with a redirect to the code page (or the set-up page), an htmx request with
``HX-Redirect``, an API call with 403 and where to go. The rule and the session's state are
``xinlian.access.twofactor``; this class only adapts them to HTTP. Sits after the authentication
middleware in ``settings.MIDDLEWARE``."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from xinlian.access import twofactor

# Paths a session waiting for its second step may still reach: leaving, the step itself,
# the language switch and static files.
OPEN_PREFIXES = ("/static/", "/i18n/")


def _open_paths() -> tuple[str, ...]:
    return (reverse("logout"), reverse("two-step-verify"), reverse("two-step-enrol"))


class SecondStepMiddleware:
    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self._open: tuple[str, ...] | None = None

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith(OPEN_PREFIXES):
            return self.get_response(request)
        if self._open is None:
            self._open = _open_paths()
        if path in self._open:
            return self.get_response(request)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        needs = twofactor.session_needs(request)
        if needs is None:
            return self.get_response(request)
        return self.refuse(request, needs)

    @staticmethod
    def refuse(request: HttpRequest, needs: str) -> HttpResponse:
        target = reverse("two-step-verify" if needs == twofactor.VERIFY else "two-step-enrol")
        if request.method == "GET" and not request.headers.get("HX-Request"):
            target += "?" + urlencode({"next": request.get_full_path()})
        if request.path_info.startswith("/api/"):
            return JsonResponse({"detail": _("Two-step verification is needed first: open the "
                                             "address in verify and give the code."),
                                 "verify": request.build_absolute_uri(target)}, status=403)
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return HttpResponseRedirect(target)
