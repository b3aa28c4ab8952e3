"""The activity pages: my unit's assigned activities (due first), the record form with photos,
the organiser's sign-in screen (a QR code htmx refreshes every 30 seconds), the scan landing
page with a one-tap confirm, the "which units have done it" tables, planning, the 5·25
campaign and the courses. Thin adapters over :mod:`xinlian.activities.actions`."""

from __future__ import annotations

import uuid
from typing import Any

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from xinlian.access.adapters import page_errors
from xinlian.lib.actions import Conflict, Invalid, NotAllowed
from xinlian.network.models import Unit, UnitKind, User

from . import actions
from . import photos as photo_files
from .models import PHOTOS_MAX, ActivityKind, Campaign

QR_REFRESH_SECONDS = 30


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _errors(exc: Invalid | Conflict | NotAllowed) -> dict[str, list[Any]]:
    return {k: [str(e) for e in v] for k, v in exc.errors.items()} or {"form": [exc.text]}


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """My units' assigned activities (to do first, due first); the activities and campaigns the
    planner's side and the centre follow."""
    user = _user(request)
    if not actions.sees_activities(user) and not actions.visible_courses(user).exists():
        raise PermissionDenied
    mine = list(actions.my_assignments(user)[:100])
    planned = list(actions.activity_list(request)[:50]) if actions.plan_units(user) or actions._posts(
        user, actions.CENTRE_ROLES) else []
    campaigns = list(actions.visible_campaigns(user).order_by("-starts_on")[:10])
    return render(request, "activities/home.html", {
        "mine": mine, "planned": planned, "campaigns": campaigns, "plans": bool(actions.plan_units(user)),
        "centre": bool(actions._posts(user, actions.CENTRE_ROLES)), "today": timezone.localdate(),
    })


def _record_data(post: Any) -> actions.RecordInput:
    return actions.RecordInput(held_on=post.get("held_on", ""), place=post.get("place", ""),
                               audience=post.get("audience", ""), attendance=post.get("attendance", ""),
                               summary=post.get("summary", ""), key=post.get("key", ""))


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def assignment(request: HttpRequest, pk: int) -> HttpResponse:
    """An assignment: its record form (with photos, several at once) for the unit's people, the
    record and photos for the others who see it, the sign-ins (names for organisers)."""
    errors: dict[str, list[Any]] = {}
    photo_errors: list[str] = []
    status = 200
    posted = None
    if request.method == "POST":
        posted = request.POST
        try:
            rec, created = actions.record(request, pk, _record_data(request.POST))
        except (Invalid, Conflict) as exc:
            errors, status = _errors(exc), exc.status
        else:
            added = 0
            for upload in request.FILES.getlist("photos"):
                try:
                    actions.add_photo(request, pk, upload, upload.name or "")
                    added += 1
                except (Invalid, Conflict) as exc:
                    photo_errors.append(exc.text)
            if photo_errors:
                status = 400
                posted = None
            else:
                messages.success(request, _("The activity is recorded.") if created else _("The record is updated."))
                if added:
                    messages.success(request, _("%(n)d photos added.") % {"n": added})
                return redirect("activities:assignment", pk=pk)
    view = actions.read_assignment(request, pk)
    rec = view.record
    initial = {
        "held_on": rec.held_on.isoformat() if rec else "", "place": rec.place if rec else "",
        "audience": rec.audience if rec else "", "attendance": rec.attendance if rec else "",
        "summary": rec.summary if rec else "",
    }
    if posted is not None:
        initial = {k: posted.get(k, "") for k in initial}
    return render(request, "activities/assignment.html", {
        "v": view, "a": view.assignment, "errors": errors, "photo_errors": photo_errors, "f": initial,
        "key": uuid.uuid4(), "photos_max": PHOTOS_MAX, "photos_left": PHOTOS_MAX - len(view.photos),
        "max_mb": f"{photo_files.max_bytes() / 1024 / 1024:g}", "today": timezone.localdate().isoformat(),
    }, status=status)


@require_POST
@login_required
@page_errors
def photo_remove(request: HttpRequest, pk: int) -> HttpResponse:
    assignment = actions.remove_photo(request, pk)
    messages.success(request, _("The photo is removed."))
    return redirect("activities:assignment", pk=assignment.pk)


def _photo_response(request: HttpRequest, pk: int, thumb: bool) -> HttpResponse:
    photo = actions.open_photo(request, pk)
    path = photo_files.path_of(photo.name, thumb)
    if not path.is_file():
        raise Http404
    response = FileResponse(path.open("rb"), content_type="image/jpeg" if thumb else photo.content_type)
    response["Cache-Control"] = "private, max-age=600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@login_required
@page_errors
def photo(request: HttpRequest, pk: int) -> HttpResponse:
    return _photo_response(request, pk, False)


@require_GET
@login_required
@page_errors
def photo_thumb(request: HttpRequest, pk: int) -> HttpResponse:
    return _photo_response(request, pk, True)


def _qr_context(request: HttpRequest, code: actions.SignInCode) -> dict[str, Any]:
    url = request.build_absolute_uri(reverse("activities:sign-in", args=[code.code]))
    qr = segno.make(url, error="m")
    return {"c": code, "qr": qr.svg_data_uri(scale=8, border=2), "url": url, "refresh": QR_REFRESH_SECONDS}


@require_GET
@login_required
@page_errors
def sign_in_screen(request: HttpRequest, pk: int) -> HttpResponse:
    """The organiser's screen: a big QR code, a new one every 30 seconds, and the count."""
    code = actions.open_sign_in(request, pk)
    response = render(request, "activities/sign_in_screen.html", _qr_context(request, code))
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@login_required
@page_errors
def sign_in_qr(request: HttpRequest, pk: int) -> HttpResponse:
    code = actions.open_sign_in(request, pk)
    response = render(request, "activities/_qr.html", _qr_context(request, code))
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def sign_in(request: HttpRequest, code: str) -> HttpResponse:
    """The scan landing page: what the activity is, and one button to sign in."""
    error = ""
    status = 200
    activity = None
    done = None
    try:
        if request.method == "POST":
            done = actions.sign_in(request, code)
            activity = done.activity
        else:
            activity = actions.sign_in_preview(request, code)
    except (Invalid, NotAllowed) as exc:
        error, status = exc.text, exc.status
    response = render(request, "activities/sign_in.html", {
        "activity": activity, "done": done, "error": error, "code": code}, status=status)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"  # the code never leaves in a Referer; "no-referrer" would make the POST's Origin null
    return response


def _plan_choices(user: User) -> tuple[list[Unit], list[Unit], list[Campaign]]:
    roots = actions.plan_units(user)
    units: list[Unit] = []
    for root in roots:
        units += list(Unit.objects.filter(path__startswith=root.path, kind__in=(UnitKind.COLLEGE, UnitKind.CLASS))
                      .exclude(pk=root.pk).order_by("path")[:300])
    campaigns = list(Campaign.objects.filter(school__in=[u for u in roots if u.kind == UnitKind.SCHOOL])
                     .order_by("-starts_on")[:10])
    return roots, units, campaigns


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def plan(request: HttpRequest) -> HttpResponse:
    """Plan an activity and assign it to units with a due date, in one form."""
    user = _user(request)
    roots, units, campaigns = _plan_choices(user)
    if not roots:
        raise PermissionDenied
    errors: dict[str, list[Any]] = {}
    status = 200
    posted = request.POST if request.method == "POST" else None
    if posted is not None:
        data = actions.PlanInput(kind=posted.get("kind", ""), title=posted.get("title", ""),
                                 description=posted.get("description", ""), unit=posted.get("unit", ""),
                                 campaign=posted.get("campaign", ""))
        chosen = posted.getlist("units")
        try:
            if not chosen:
                raise Invalid(errors={"units": [_("Choose at least one unit.")]})
            with transaction.atomic():
                activity = actions.plan(request, data)
                actions.assign(request, activity.pk, units=chosen, due_on=posted.get("due_on", ""))
        except (Invalid, Conflict) as exc:
            errors, status = _errors(exc), exc.status
        else:
            messages.success(request, _("The activity is planned and assigned."))
            return redirect("activities:activity", pk=activity.pk)
    return render(request, "activities/plan.html", {
        "roots": roots, "units": units, "campaigns": campaigns, "kinds": ActivityKind.choices,
        "errors": errors, "p": posted, "chosen": posted.getlist("units") if posted is not None else [],
    }, status=status)


@require_GET
@login_required
@page_errors
def activity(request: HttpRequest, pk: int) -> HttpResponse:
    """Which units have done it: one row per visible assignment (a fixed number of queries)."""
    act, rows = actions.activity_table(request, pk)
    done = sum(1 for r in rows if r.status == "done")
    return render(request, "activities/activity.html", {"act": act, "rows": rows, "done": done})


@require_GET
@login_required
@page_errors
def campaign(request: HttpRequest, pk: int) -> HttpResponse:
    progress = actions.campaign_progress(request, pk)
    acts = list(actions.activity_list(request).filter(campaign=progress.campaign)[:100])
    return render(request, "activities/campaign.html", {"p": progress, "acts": acts})


@require_POST
@login_required
@page_errors
def campaign_create(request: HttpRequest) -> HttpResponse:
    try:
        made = actions.create_campaign(request, name=request.POST.get("name", ""),
                                       starts_on=request.POST.get("starts_on", ""),
                                       ends_on=request.POST.get("ends_on", ""))
    except Invalid as exc:
        messages.error(request, exc.text)
        return redirect("activities:home")
    messages.success(request, _("The campaign is created: plan its activities with it."))
    return redirect("activities:campaign", pk=made.pk)


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def courses(request: HttpRequest) -> HttpResponse:
    """The mental-health courses: hours planned and delivered; the centre adds one; the teacher
    records the hours of a lesson."""
    user = _user(request)
    centre = actions._posts(user, actions.CENTRE_ROLES)
    rows = list(actions.course_list(request)[:100])
    if not rows and not centre:
        raise PermissionDenied
    errors: dict[str, list[Any]] = {}
    status = 200
    if request.method == "POST":
        data = actions.CourseInput(title=request.POST.get("title", ""), term=request.POST.get("term", ""),
                                   teacher=request.POST.get("teacher", ""), classes=request.POST.getlist("classes"),
                                   hours_planned=request.POST.get("hours_planned", ""))
        try:
            actions.set_course(request, None, data)
        except Invalid as exc:
            errors, status = _errors(exc), exc.status
        else:
            messages.success(request, _("The course is saved."))
            return redirect("activities:courses")
    school = next((p.unit for p in centre if p.unit.kind == UnitKind.SCHOOL), None)
    classes = list(Unit.objects.filter(path__startswith=school.path, kind=UnitKind.CLASS).order_by("path")[:300]) \
        if school else []
    teachers = list(User.objects.filter(kind="staff", posts__unit__path__startswith=school.path).distinct()
                    .order_by("username")[:300]) if school else []
    return render(request, "activities/courses.html", {
        "rows": rows, "centre": bool(school), "classes": classes, "teachers": teachers, "errors": errors,
        "today": timezone.localdate().isoformat(), "p": request.POST if request.method == "POST" else None,
    }, status=status)


@require_POST
@login_required
@page_errors
def course_hours(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        actions.record_hours(request, pk, held_on=request.POST.get("held_on", ""), hours=request.POST.get("hours", ""))
    except Invalid as exc:
        messages.error(request, exc.text)
    else:
        messages.success(request, _("The hours are recorded."))
    return redirect("activities:courses")
