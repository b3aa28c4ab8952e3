"""The duty rota page (值班): a week or a month of shifts for one school or college, the gaps of
the next nights, the add and remove forms, the .xlsx import and its template, and the school's
numbers. Thin adapters over the rota actions in :mod:`xinlian.care.actions`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from xinlian.access.adapters import page_errors
from xinlian.lib.actions import Conflict, Invalid
from xinlian.network.models import UnitKind, User

from . import actions, rota
from .models import DutyLine, DutyRole, DutyShift, ShiftKind

SPANS = {"week": 7, "month": 28}


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _listing(request: HttpRequest, unit: Any, span: int) -> tuple[actions.RotaShifts, dict[str, list[str]]]:
    """The verb's listing from ``?start=``; a start it refuses shows today's, with its message."""
    try:
        return actions.list_shifts(request, unit.pk, start=request.GET.get("start"), days=span), {}
    except Invalid as exc:
        return actions.list_shifts(request, unit.pk, days=span), exc.errors


def _render(request: HttpRequest, unit: Any, *, errors: dict[str, list[str]] | None = None,
            data: dict[str, Any] | None = None, import_report: Any = None, status: int = 200) -> HttpResponse:
    user = _user(request)
    units = rota.editable_units(user)
    today = timezone.localdate()
    span_name = request.GET.get("span") if request.GET.get("span") in SPANS else "week"
    listing, start_errors = _listing(request, unit, SPANS[span_name])
    if start_errors and status == 200:
        status = 400
    start = listing.start
    days = [start + dt.timedelta(days=i) for i in range(SPANS[span_name])]
    by_day: dict[dt.date, list[DutyShift]] = {d: [] for d in days}
    for shift in listing.shifts:
        by_day[shift.date].append(shift)
    line = DutyLine.objects.filter(school=unit).first() if unit.kind == UnitKind.SCHOOL else None
    summaries = rota.gap_summary(units if unit.kind == UnitKind.SCHOOL else [unit], today)
    return render(request, "care/rota.html", {
        "unit": unit, "units": units, "span": span_name, "start": start,
        "prev": start - dt.timedelta(days=SPANS[span_name]),
        "next": start + dt.timedelta(days=SPANS[span_name]),
        "days": [(d, by_day[d]) for d in days], "today": today,
        "own_gaps": next((g for g in summaries if g.unit.pk == unit.pk), None),
        "other_gaps": [g for g in summaries if g.unit.pk != unit.pk],
        "gap_dates": {d for g in summaries if g.unit.pk == unit.pk for d in g.dates},
        "people": rota.eligible_people(unit), "kinds": ShiftKind.choices, "roles": DutyRole.choices,
        "errors": {**start_errors, **(errors or {})},
        "data": data or {"date": today.isoformat(), "kind": ShiftKind.NIGHT, "role": DutyRole.FIRST_LINE},
        "import_report": import_report, "line": line,
    }, status=status)


def _unit_or_first(request: HttpRequest, pk: Any) -> Any:
    if pk is None:
        units = rota.editable_units(_user(request))
        if not units:
            raise Http404
        return units[0]
    return actions.rota_unit_for(request, pk)


@require_GET
@login_required
@page_errors
def rota_page(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    return _render(request, _unit_or_first(request, pk))


@require_POST
@login_required
@page_errors
def rota_add(request: HttpRequest, pk: int) -> HttpResponse:
    data = {k: request.POST.get(k, "") for k in ("date", "kind", "role", "person", "phone")}
    try:
        actions.add_shift(request, actions.ShiftInput(unit_id=pk, **data))
    except Invalid as exc:
        return _render(request, actions.rota_unit_for(request, pk), errors=exc.errors, data=data,
                       status=400)
    except Conflict as exc:
        return _render(request, actions.rota_unit_for(request, pk), errors={"person": [str(exc)]},
                       data=data, status=409)
    messages.success(request, _("The shift was added."))
    return redirect(reverse("rota-unit", args=[pk]) + f"?start={data['date'][:10]}")


@require_POST
@login_required
@page_errors
def rota_remove(request: HttpRequest, pk: int, shift: int) -> HttpResponse:
    actions.remove_shift(request, pk, shift)
    messages.success(request, _("The shift was removed."))
    return redirect("rota-unit", pk=pk)


@require_POST
@login_required
@page_errors
def rota_line(request: HttpRequest, pk: int) -> HttpResponse:
    data = {k: request.POST.get(k, "") for k in ("night_phone", "centre_phone")}
    try:
        actions.set_duty_line(request, pk, **data)
    except Invalid as exc:
        return _render(request, actions.rota_unit_for(request, pk), errors=exc.errors, status=400)
    messages.success(request, _("The numbers were saved."))
    return redirect("rota-unit", pk=pk)


@require_http_methods(["POST"])
@login_required
@page_errors
def rota_import(request: HttpRequest, pk: int) -> HttpResponse:
    upload = request.FILES.get("file")
    report = actions.import_rota(request, pk, upload, (upload.name or "") if upload else "")
    if report.errors:
        return _render(request, actions.rota_unit_for(request, pk), import_report=report, status=400)
    messages.success(request, _("%(n)d shifts were imported.") % {"n": report.created})
    return redirect("rota-unit", pk=pk)


@require_GET
@login_required
@page_errors
def rota_template(request: HttpRequest) -> HttpResponse:
    if not rota.editable_units(_user(request)):
        raise Http404
    response = HttpResponse(actions.rota_template(), content_type=(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    response["Content-Disposition"] = 'attachment; filename="rota-template.xlsx"'
    return response
