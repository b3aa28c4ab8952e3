"""Map a verb's outcome (:mod:`xinlian.lib.actions`) to HTTP, the same way for pages and API.

- API: :func:`api_exception_handler` is DRF's exception handler (settings.REST_FRAMEWORK), so a
  viewset simply calls the verb: NotFound → 404, NotAllowed → 403, Conflict → 409,
  Invalid → 400, each with ``{"detail": ..., <field>: [...]}``.
- Pages: :func:`page_errors` turns NotFound into Django's 404 page and NotAllowed into its 403
  page; a Conflict or Invalid is for the view to show as a message next to the form, so the
  decorator lets it through only when the view did not catch it (then it is a 409 / 400 page
  with the message)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import render
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from xinlian.lib.actions import ActionError, NotAllowed, NotFound


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, ActionError):
        body: dict[str, Any] = {"detail": exc.text}
        for field, errors in exc.errors.items():
            body[field] = [str(e) for e in errors]
        return Response(body, status=exc.status)
    return drf_exception_handler(exc, context)


def page_errors(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @functools.wraps(view)
    def wrapped(request: Any, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404 from exc
        except NotAllowed as exc:
            raise PermissionDenied(exc.text) from exc
        except ActionError as exc:
            return render(request, "action_refused.html", {"message": exc.text}, status=exc.status)
    return wrapped
