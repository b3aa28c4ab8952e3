"""Counselling sessions' pages: the counsellor's day view (one-tap attendance, htmx with a plain
form post underneath), the session form on a laptop (summary, notes, risk with a confirmation
for "risk to life"), a walk-in or family session, the groups (members, capacity, meetings, the
attendance grid). Thin adapters over :mod:`.actions_sessions`."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from xinlian.access.adapters import page_errors
from xinlian.lib.actions import Conflict, Invalid, NotFound

from . import access, rules
from . import actions_sessions as verbs
from .models import Attendance, Mode, SessionKind, SessionRisk
from .views import _nav

TAPS = [(Attendance.ATTENDED, "success"), (Attendance.NO_SHOW, "danger"), (Attendance.CANCELLED, "secondary")]


def _key(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


def _ctx(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {**_nav(request), "taps": [(v, Attendance(v).label, c) for v, c in TAPS], **extra}


# --- the day view -----------------------------------------------------------------------------------


@require_GET
@login_required
@page_errors
def day(request: HttpRequest) -> HttpResponse:
    """Today's (``?date=``) bookings and sessions of the counsellor, in time order."""
    try:
        d = verbs.day_view(request, date=request.GET.get("date") or None)
    except Invalid as exc:
        d = verbs.day_view(request)
        return render(request, "counseling/day.html", _ctx(request, d=d, refusal=exc.text, **_days(d.date)),
                      status=400)
    return render(request, "counseling/day.html", _ctx(request, d=d, **_days(d.date)))


def _days(d: dt.date) -> dict[str, Any]:
    return {"prev": d - dt.timedelta(days=1), "next": d + dt.timedelta(days=1),
            "is_today": d == rules.local_day(timezone.now())}


def _back_to_day(request: HttpRequest, at: dt.datetime) -> HttpResponse:
    return redirect(reverse("counseling:day") + f"?date={rules.local_day(at).isoformat()}")


def _item(request: HttpRequest, item: verbs.DayItem, status: int = 200, refusal: str = "") -> HttpResponse:
    return render(request, "counseling/day_item.html", _ctx(request, item=item, refusal=refusal), status=status)


@require_POST
@login_required
@page_errors
def booking_attendance(request: HttpRequest, pk: int) -> HttpResponse:
    """One tap on a booking: its session is opened and the attendance recorded."""
    try:
        session = verbs.attend_booking(request, pk, attendance=request.POST.get("attendance"))
    except (Conflict, Invalid) as exc:
        if request.headers.get("HX-Request"):
            return HttpResponse(exc.text, status=exc.status)
        messages.error(request, exc.text)
        return redirect("counseling:day")
    if request.headers.get("HX-Request"):
        return _item(request, verbs.DayItem(session.starts_at, session=_fresh(session.pk)))
    return _back_to_day(request, session.starts_at)


@require_POST
@login_required
@page_errors
def booking_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Open the booking's session (``kind``: individual or family) and go to its form."""
    try:
        session = verbs.open_from_booking(request, pk, kind=request.POST.get("kind") or SessionKind.INDIVIDUAL)
    except (Conflict, Invalid) as exc:
        messages.error(request, exc.text)
        return redirect("counseling:day")
    return redirect("counseling:session", session.pk)


def _fresh(pk: int) -> Any:
    from .models import Session

    return Session.objects.select_related("episode__client", "group", "room", "booking").get(pk=pk)


@require_POST
@login_required
@page_errors
def session_attendance(request: HttpRequest, pk: int) -> HttpResponse:
    member = request.POST.get("member") or None
    try:
        session = verbs.record_attendance(request, pk, attendance=request.POST.get("attendance"), member=member)
    except (Conflict, Invalid) as exc:
        if request.headers.get("HX-Request"):
            return HttpResponse(exc.text, status=exc.status)
        return _session_page(request, pk, refusal=exc.text, status=exc.status)
    back = request.POST.get("back", "")
    if request.headers.get("HX-Request") and back == "day":
        return _item(request, verbs.DayItem(session.starts_at, session=_fresh(session.pk)))
    if back == "group" and session.group_id:
        return redirect("counseling:group", session.group_id)
    if back == "day":
        return _back_to_day(request, session.starts_at)
    return redirect("counseling:session", session.pk)


# --- one session ----------------------------------------------------------------------------------------


def _session_page(request: HttpRequest, pk: int, *, errors: dict[str, list[Any]] | None = None,
                  data: dict[str, Any] | None = None, refusal: str = "", status: int = 200) -> HttpResponse:
    view = verbs.read_session(request, pk)
    shown = data if data is not None else (view.record or {})
    risk = data.get("risk") if data is not None else (view.session.risk or SessionRisk.NONE)
    return render(request, "counseling/session.html", _ctx(
        request, view=view, s=view.session, data=shown, risk=risk, errors=errors or {}, refusal=refusal,
        risks=SessionRisk.choices, is_group=view.session.kind == SessionKind.GROUP,
        is_family=view.session.kind == SessionKind.FAMILY), status=status)


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def session(request: HttpRequest, pk: int) -> HttpResponse:
    """The session and its record: the form for its counsellor (and the director); the record
    read-only for the named supervisor; neither for the rest of the staff."""
    if request.method == "GET":
        return _session_page(request, pk)
    data = {k: request.POST.get(k, "") for k in (*access.RECORD_FIELDS, "risk", "risk_confirmed")}
    try:
        done = verbs.record_session(request, pk, data)
    except (Conflict, Invalid) as exc:
        return _session_page(request, pk, errors=exc.errors, data=data,
                             refusal=str(exc.message) if exc.message else _("Please check the form."),
                             status=exc.status)
    text = _("The session is recorded.")
    if done.register_level:
        text += " " + _("The risk register is updated.")
    if done.alerted:
        text += " " + _("The duty counsellor has been alerted.")
    messages.success(request, text)
    return redirect("counseling:session", pk)


# --- walk-in and family sessions ----------------------------------------------------------------------


def _new_page(request: HttpRequest, data: dict[str, Any], errors: dict[str, list[Any]] | None = None,
              refusal: str = "", status: int = 200) -> HttpResponse:
    return render(request, "counseling/session_new.html", _ctx(
        request, data=data, errors=errors or {}, refusal=refusal, rooms=verbs.rooms_of(request),
        modes=Mode.choices, kinds=[(SessionKind.INDIVIDUAL, SessionKind.INDIVIDUAL.label),
                                   (SessionKind.FAMILY, SessionKind.FAMILY.label)],
        key=data.get("key") or uuid.uuid4().hex), status=status)


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def session_new(request: HttpRequest) -> HttpResponse:
    """A walk-in or duty session without a booking (or a family session)."""
    if request.method == "GET":
        verbs.require_staff(request)  # counselling staff only (NotFound otherwise)
        now = timezone.localtime(timezone.now(), rules.zone())
        return _new_page(request, {"kind": request.GET.get("kind", SessionKind.INDIVIDUAL),
                                   "starts_at": now.strftime("%Y-%m-%dT%H:%M"), "minutes": "50", "mode": "room"})
    data = {k: request.POST.get(k, "") for k in ("client", "kind", "starts_at", "minutes", "mode", "room", "key")}
    try:
        s = verbs.open_walk_in(request, client=data["client"], kind=data["kind"], starts_at=data["starts_at"],
                               minutes=data["minutes"], mode=data["mode"], room=data["room"] or None,
                               key=_key(data["key"]))
    except (NotFound, Conflict, Invalid) as exc:
        if isinstance(exc, NotFound) and not exc.errors:
            raise
        return _new_page(request, data, exc.errors, exc.text, exc.status)
    return redirect("counseling:session", s.pk)


@require_GET
@login_required
@page_errors
def session_list(request: HttpRequest) -> HttpResponse:
    """Sessions of the centre (no record): the director's and counsellors' list."""
    try:
        rows = verbs.list_sessions(request, date=request.GET.get("date") or None)
    except Invalid as exc:
        rows, refusal = verbs.list_sessions(request), exc.text
        return render(request, "counseling/session_list.html", _ctx(request, rows=rows, refusal=refusal), status=400)
    return render(request, "counseling/session_list.html", _ctx(request, rows=rows))


# --- groups -----------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def groups(request: HttpRequest) -> HttpResponse:
    errors: dict[str, list[Any]] = {}
    data: dict[str, Any] = {"capacity": "8"}
    status = 200
    if request.method == "POST":
        data = {k: request.POST.get(k, "") for k in ("name", "capacity")}
        try:
            g = verbs.create_group(request, name=data["name"], capacity=data["capacity"])
        except Invalid as exc:
            errors, status = exc.errors, 400
        else:
            return redirect("counseling:group", g.pk)
    rows = verbs.list_groups(request)
    return render(request, "counseling/session_groups.html", _ctx(request, rows=rows, data=data, errors=errors),
                  status=status)


def _group_page(request: HttpRequest, pk: int, *, refusal: str = "", errors: dict[str, list[Any]] | None = None,
                data: dict[str, Any] | None = None, status: int = 200) -> HttpResponse:
    g = verbs.read_group(request, pk)
    now = timezone.localtime(timezone.now(), rules.zone()) + dt.timedelta(days=7)
    return render(request, "counseling/session_group.html", _ctx(
        request, g=g, refusal=refusal, errors=errors or {}, rooms=verbs.rooms_of(request), modes=Mode.choices,
        data=data or {"starts_at": now.strftime("%Y-%m-%dT15:00"), "minutes": "90", "mode": "room"},
        key=uuid.uuid4().hex), status=status)


@require_GET
@login_required
@page_errors
def group(request: HttpRequest, pk: int) -> HttpResponse:
    return _group_page(request, pk)


@require_POST
@login_required
@page_errors
def group_members(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        verbs.add_member(request, pk, client=request.POST.get("client", ""))
    except (NotFound, Conflict, Invalid) as exc:
        if isinstance(exc, NotFound) and not exc.errors:
            raise
        return _group_page(request, pk, refusal=exc.text, status=exc.status)
    return redirect("counseling:group", pk)


@require_POST
@login_required
@page_errors
def group_member_remove(request: HttpRequest, pk: int, member: int) -> HttpResponse:
    verbs.remove_member(request, pk, member)
    return redirect("counseling:group", pk)


@require_POST
@login_required
@page_errors
def group_meetings(request: HttpRequest, pk: int) -> HttpResponse:
    data = {k: request.POST.get(k, "") for k in ("starts_at", "minutes", "mode", "room", "key")}
    try:
        verbs.schedule_meeting(request, pk, starts_at=data["starts_at"], minutes=data["minutes"], mode=data["mode"],
                               room=data["room"] or None, key=_key(data["key"]))
    except (Conflict, Invalid) as exc:
        return _group_page(request, pk, refusal=exc.text, errors=exc.errors, data=data, status=exc.status)
    return redirect("counseling:group", pk)
