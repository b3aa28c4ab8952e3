"""The caseload pages of counselling staff: a counsellor's caseload, the centre director's
overview, and the week calendar. Thin adapters over :mod:`.caseload` (read-only queries, a
constant number of them; one audit row per page view). Outside counselling staff: 404."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from xinlian.access.adapters import page_errors
from xinlian.network.models import User

from . import access, caseload, rules


def _nav(request: HttpRequest) -> dict[str, object]:
    user: User = request.user  # type: ignore[assignment]
    return {"is_staff_counsellor": access.is_counselling_staff(user), "is_director": access.is_director(user)}


@require_GET
@login_required
@page_errors
def caseload_page(request: HttpRequest) -> HttpResponse:
    """``?counsellor=`` (the director): another counsellor's caseload — names and counts, no notes."""
    data = caseload.read_caseload(request, counsellor=request.GET.get("counsellor") or None)
    return render(request, "counseling/caseload.html", {**_nav(request), "c": data, "url_name": "caseload"})


@require_GET
@login_required
@page_errors
def overview_page(request: HttpRequest) -> HttpResponse:
    data = caseload.read_overview(request)
    return render(request, "counseling/overview.html", {**_nav(request), "o": data, "url_name": "overview"})


@require_GET
@login_required
@page_errors
def week_page(request: HttpRequest) -> HttpResponse:
    """``?start=YYYY-MM-DD`` (default: this week's Monday), ``?counsellor=`` (the director: one
    counsellor, or ``all``)."""
    today = rules.local_day(timezone.now())
    error = ""
    try:
        start = caseload.parse_start(request.GET.get("start"), today)
    except caseload.BadWeek:
        error = _("Give the first day of the week as YYYY-MM-DD, for example %(example)s.") % {
            "example": today.isoformat()}
        start = caseload.parse_start(None, today)
    counsellor = request.GET.get("counsellor") or None
    week = caseload.read_week(request, start=start, counsellor=counsellor)
    return render(request, "counseling/week.html", {
        **_nav(request), "w": week, "error": error, "url_name": "week",
        "picked": "all" if week.counsellor is None else str(week.counsellor.pk)}, status=400 if error else 200)
