"""``/me/tokens/``: a person's API tokens — list, make one (shown once), revoke one or all. The
same verbs as ``/api/v1/me/tokens/`` (xinlian/access/tokens.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from xinlian.access import tokens
from xinlian.access.adapters import page_errors
from xinlian.lib.actions import Conflict, NotFound


def _page(request: HttpRequest, *, status: int = 200, **extra: Any) -> HttpResponse:
    return render(request, "web/me_tokens.html", {
        "rows": tokens.list_my_tokens(request), "hours": settings.API_TOKEN_HOURS, **extra,
    }, status=status)


@never_cache  # the page that shows a new secret must not be kept by any cache
@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def my_tokens(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _page(request)
    try:
        token, secret = tokens.create_my_token(request)
    except Conflict as exc:
        return _page(request, status=409, error=exc.text)
    # Shown in this answer only: a reload does not show it again (the POST is not repeated
    # silently: browsers ask first, and each POST makes a new token).
    return _page(request, status=201, new={"secret": secret, "id": tokens.public_id(token),
                                           "expiry": token.expiry})


@require_POST
@login_required
@page_errors
def revoke_token(request: HttpRequest, token_id: str) -> HttpResponse:
    try:
        tokens.revoke_my_token(request, token_id)
    except NotFound as exc:
        return _page(request, status=404, error=exc.text)
    messages.success(request, _("The API token was revoked: it no longer works."))
    return redirect("my-tokens")


@require_POST
@login_required
@page_errors
def revoke_all_tokens(request: HttpRequest) -> HttpResponse:
    count = tokens.revoke_all_my_tokens(request)
    messages.success(request, _("All your API tokens were revoked (%(n)d).") % {"n": count})
    return redirect("my-tokens")
