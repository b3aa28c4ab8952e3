"""The in-app inbox with its live unread badge, and the centre's list of failed deliveries.

A message says only a level, a place and a link, so the inbox needs no tier check: a user
reads their own messages. What a link points at is guarded by the page it opens. Failed
deliveries are for the centre (holders of ``Cap.MANAGE_NETWORK``) within its subtree."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from xinlian.access.policy import Cap, scope_units
from xinlian.lib import hotsql
from xinlian.network.models import Unit, User

from . import hooks
from .models import Channel, Delivery

PAGE_SIZE = 30
HTMX_STOP_POLLING = 286  # htmx stops an `every …` trigger when answered with this status


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _not_activity(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A background poll is not the user's activity: it must not keep an idle session alive.

    The session middleware renews an active session (the idle timeout, see
    xinlian/web/middleware.py); it leaves the session alone when the request no longer carries
    one, so the attribute is dropped once the view has answered."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if hasattr(request, "session"):
            del request.session
        return response

    return wrapped


def _centre_units(request: HttpRequest) -> list[Unit]:
    units = scope_units(request.user, Cap.MANAGE_NETWORK)  # type: ignore[arg-type]
    if not units:
        raise PermissionDenied
    return units


def _local(link: str, request: HttpRequest) -> bool:
    return link.startswith("/") and url_has_allowed_host_and_scheme(
        link, allowed_hosts={request.get_host()}, require_https=request.is_secure())


# --- inbox ------------------------------------------------------------------------------------


@require_GET
@login_required
def inbox(request: HttpRequest) -> HttpResponse:
    mine = Delivery.objects.inbox_of(request.user)
    page = Paginator(mine.order_by("-created_at", "-pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    language = get_language()
    centre = scope_units(request.user, Cap.MANAGE_NETWORK)  # type: ignore[arg-type]
    failed = Delivery.objects.failed().outbound().for_units(centre).count() if centre else None
    deliveries = list(page)
    # What each alert message is about, from care through its hook (notify does not know care):
    # level and status, and the category only where the access policy lets the reader read it.
    about = hooks.inbox_summaries(request, deliveries)
    return render(request, "notify/inbox.html", {
        "page": page,
        "items": [(d, d.text(language), about.get(d.pk)) for d in deliveries],
        "unread": mine.unread().count(),
        "failed": failed,
    })


@require_POST
@login_required
def inbox_read(request: HttpRequest, pk: int) -> HttpResponse:
    """Open a message: mark it read, then go where it points (a path inside Xinlian)."""
    delivery = get_object_or_404(Delivery.objects.inbox_of(request.user), pk=pk)
    Delivery.objects.filter(pk=delivery.pk).mark_read()
    if delivery.link and _local(delivery.link, request):
        return redirect(delivery.link)
    return redirect("inbox")


@require_POST
@login_required
def inbox_read_all(request: HttpRequest) -> HttpResponse:
    Delivery.objects.inbox_of(request.user).mark_read()
    return redirect("inbox")


@require_GET
@never_cache
@_not_activity
@hotsql.user_columns(unread=(f"SELECT COUNT(*) FROM {Delivery._meta.db_table} d WHERE d.channel = %s "
                             "AND d.recipient_id = t.id AND d.read_at IS NULL", [Channel.INBOX.value]))
def inbox_badge(request: HttpRequest) -> HttpResponse:
    """The unread count for the navbar, polled by htmx."""
    if not request.user.is_authenticated:
        if _is_htmx(request):  # signed out meanwhile: stop polling, swap nothing in
            return HttpResponse(status=HTMX_STOP_POLLING)
        return redirect_to_login(request.get_full_path())
    # inbox_of(user).unread().count() as SQL built once: every page polls this, and compiling
    # the ORM's count cost a fifth of the request (bench/floor.py). Normally it came with the
    # user, in the statement that loaded them (hotsql.user_columns); else it is asked here.
    unread = getattr(request, "user_columns", {}).get("unread")
    if unread is None:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COUNT(*) FROM {Delivery._meta.db_table} WHERE channel = %s AND recipient_id = %s "
                           "AND read_at IS NULL", [Channel.INBOX.value, request.user.pk])
            unread = cursor.fetchone()[0]
    # No context processors: the fragment needs only the count (and the language, activated by
    # the locale middleware), and they cost a tenth of this request.
    return HttpResponse(render_to_string("notify/_badge_count.html", {"unread": unread}))


# --- failed deliveries (the centre) ------------------------------------------------------------


@require_GET
@login_required
def deliveries_failed(request: HttpRequest) -> HttpResponse:
    units = _centre_units(request)
    failed = (Delivery.objects.failed().outbound().for_units(units)
              .select_related("robot", "robot__unit", "recipient").order_by("-created_at", "-pk"))
    page = Paginator(failed, PAGE_SIZE).get_page(request.GET.get("page"))
    language = get_language()
    # Who no personal channel reaches (no WeCom/DingTalk id, no mobile): the centre fixes them.
    unreachable = (User.objects.filter(pk__in=failed.filter(channel=Channel.UNREACHABLE)
                                       .values("recipient_id")).order_by("username"))
    return render(request, "notify/failed.html", {
        "page": page,
        "items": [(d, d.text(language)) for d in page],
        "webhook": Channel.WEBHOOK,
        "unreachable_channel": Channel.UNREACHABLE,
        "unreachable": unreachable,
        "max_attempts": Delivery.MAX_ATTEMPTS,
    })


@require_POST
@login_required
def delivery_retry(request: HttpRequest, pk: int) -> HttpResponse:
    units = _centre_units(request)
    delivery = get_object_or_404(Delivery.objects.outbound().for_units(units), pk=pk)
    if delivery.channel == Channel.UNREACHABLE:
        messages.info(request, _("Nothing to retry: add the person's WeCom or DingTalk id or mobile "
                                 "number (roster import), and the next alert reaches them."))
        return redirect("deliveries-failed")
    if delivery.retry():
        messages.success(request, _("The message is queued again; the worker sends it shortly."))
    else:
        messages.info(request, _("This message is no longer failed."))
    return redirect("deliveries-failed")
