"""The training pages: my trainings, the sessions with their one-tap attendance list, the
not-yet-trained list and the hours table. Thin adapters over :mod:`xinlian.training.actions`:
each parses its input, calls the verb and renders or redirects."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from xinlian.access.adapters import page_errors
from xinlian.lib.actions import Conflict, Invalid
from xinlian.network.models import Role, User

from . import actions
from .models import AUDIENCE_INVITE_ROLES, ROLE_AUDIENCE, AttendanceStatus, Audience


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """My trainings (upcoming first), my hours this term, the pre-service training my posts lack;
    for organisers, their sessions and the links to the lists."""
    user = _user(request)
    mine = actions.my_trainings(user)
    term = actions.Term.of(timezone.localdate())
    term_hours = sum((a.hours for a in mine if a.status == AttendanceStatus.ATTENDED
                      and term.starts_on <= a.session.day <= term.ends_on), start=0)
    organises = bool(actions.overseen_units(user))
    if not mine and not organises and not user.posts.exists():
        raise PermissionDenied
    now = timezone.now()
    sessions = list(actions.list_sessions(request).filter(
        actions.paths_q("organiser__path", actions.overseen_units(user)))[:30]) if organises else []
    return render(request, "training/home.html", {
        "upcoming": [a for a in mine if a.session.starts_at >= now],
        "past": [a for a in mine if a.session.starts_at < now],
        "term": term, "term_hours": term_hours, "missing": actions.missing_own(user),
        "organises": organises, "creates": bool(actions.organiser_units(user)), "sessions": sessions, "now": now,
    })


def _session_form(request: HttpRequest, posted: Any = None, errors: dict | None = None, status: int = 200) -> HttpResponse:
    return render(request, "training/session_form.html", {
        "units": actions.organiser_units(_user(request)), "audiences": Audience.choices,
        "posted": posted or {}, "errors": errors or {},
    }, status=status)


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def session_new(request: HttpRequest) -> HttpResponse:
    if not actions.organiser_units(_user(request)):
        raise PermissionDenied
    if request.method == "GET":
        return _session_form(request)
    p = request.POST
    date, time = p.get("date", "").strip(), p.get("time", "").strip()
    data = actions.SessionInput(title=p.get("title", ""), audience=p.get("audience", ""),
                                organiser=p.get("organiser", ""), starts_at=f"{date} {time}" if date else "",
                                hours=p.get("hours", ""), place=p.get("place", ""),
                                is_pre_service=p.get("is_pre_service") == "1")
    try:
        session = actions.create_session(request, data)
    except Invalid as exc:
        return _session_form(request, p, exc.errors, status=400)
    messages.success(request, _("The session is planned. Now invite its audience."))
    return redirect(session.get_absolute_url())


def _session_page(request: HttpRequest, pk: int, *, errors: dict | None = None, status: int = 200) -> HttpResponse:
    view = actions.read_session(request, pk)
    session = view.session
    roles = [(r, Role(r).label) for r in AUDIENCE_INVITE_ROLES[session.audience]]
    return render(request, "training/session.html", {
        "v": view, "s": session, "errors": errors or {}, "roles": roles,
        "untrained_option": session.audience in ROLE_AUDIENCE.values(),
        "units": actions.invite_units(_user(request), session) if view.manages else [],
        "started": session.has_started(), "parents": session.audience == Audience.PARENTS,
    }, status=status)


@require_GET
@login_required
@page_errors
def session(request: HttpRequest, pk: int) -> HttpResponse:
    return _session_page(request, pk)


@require_POST
@login_required
@page_errors
def session_invite(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        n = actions.invite(request, pk, role=request.POST.get("role", ""), unit_id=request.POST.get("unit", ""),
                           only_untrained=request.POST.get("only_untrained") == "1")
    except (Invalid, Conflict) as exc:
        return _session_page(request, pk, errors=exc.errors or {"__all__": [exc.text]}, status=exc.status)
    messages.success(request, _("%(n)d people invited.") % {"n": n} if n else _("Everyone chosen was already invited."))
    return redirect(reverse("training:session", args=[pk]))


@require_POST
@login_required
@page_errors
def attendance(request: HttpRequest, pk: int) -> HttpResponse:
    """One tap: attended or absent for one person; the list comes back at that person's row."""
    person = request.POST.get("person", "")
    try:
        actions.record_attendance(request, pk, person=person, status=request.POST.get("status", ""),
                                  hours=request.POST.get("hours") or None)
    except (Invalid, Conflict) as exc:
        return _session_page(request, pk, errors=exc.errors or {"__all__": [exc.text]}, status=exc.status)
    return redirect(f"{reverse('training:session', args=[pk])}#p{actions._id(person) or ''}")


@require_POST
@login_required
@page_errors
def parents(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        actions.record_parents(request, pk, request.POST.get("parents_count", ""))
    except (Invalid, Conflict) as exc:
        return _session_page(request, pk, errors=exc.errors or {"__all__": [exc.text]}, status=exc.status)
    messages.success(request, _("The parents' headcount is saved."))
    return redirect(reverse("training:session", args=[pk]))


@require_GET
@login_required
@page_errors
def untrained(request: HttpRequest) -> HttpResponse:
    result = actions.untrained(request, unit_id=request.GET.get("unit"))
    return render(request, "training/untrained.html", {
        "u": result, "roles": [(r, Role(r).label) for r in ROLE_AUDIENCE],
        "by_role": {r.role: r for r in result.requirements}, "errors": {},
    })


@require_POST
@login_required
@page_errors
def requirement_set(request: HttpRequest) -> HttpResponse:
    try:
        actions.set_requirement(request, role=request.POST.get("role", ""), valid_from=request.POST.get("valid_from", ""),
                                active=request.POST.get("active") == "1")
    except Invalid as exc:
        messages.error(request, exc.text)
    else:
        messages.success(request, _("The training requirement is saved."))
    return redirect("training:untrained")


@require_GET
@login_required
@page_errors
def hours(request: HttpRequest) -> HttpResponse:
    try:
        table = actions.hours(request, unit_id=request.GET.get("unit"), term=request.GET.get("term"))
    except Invalid as exc:
        messages.error(request, exc.text)
        table = actions.hours(request, unit_id=request.GET.get("unit"))
    return render(request, "training/hours.html", {"t": table})

