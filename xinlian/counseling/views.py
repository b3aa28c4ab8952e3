"""The counselling pages: free times by day and counsellor, booking with the intake, the
confirmation, my appointments (cancel, .ics, waiting list); for counselling staff their upcoming
bookings and the availability editor. Thin adapters over :mod:`.actions` — phone first."""

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
from xinlian.access.ratelimit import TooMany
from xinlian.care import rota as care_rota
from xinlian.lib.actions import Conflict, Invalid
from xinlian.lib.converters import parse_id
from xinlian.network.models import Student, User

from . import access, actions, rules
from .models import ChangeKind, Mode, Previous, Slot, WeeklyAvailability

NATIONAL_HOTLINE = "12356"  # 全国心理援助热线, as on screening's thank-you page


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _weekdays() -> list[tuple[int, str]]:
    return [(0, _("Monday")), (1, _("Tuesday")), (2, _("Wednesday")), (3, _("Thursday")),
            (4, _("Friday")), (5, _("Saturday")), (6, _("Sunday"))]


def urgent_numbers(user: User) -> list[care_rota.CallNumber]:
    """The numbers shown at once after a "yes": as the urgent-concern confirmation shows them
    (care's rota: the 辅导员 or 班主任, the duty line at night or the centre in office hours);
    a member of staff gets the school's duty line or centre phone."""
    student = Student.objects.filter(user=user).select_related("klass").first()
    if student is not None:
        return care_rota.urgent_numbers(student)
    school = rules.client_school(user)
    numbers = []
    phone = care_rota.centre_phone(school) or care_rota.duty_line(school)
    if phone:
        numbers.append(care_rota.CallNumber(_("Call the counselling centre"), phone))
    return numbers


def _nav(request: HttpRequest) -> dict[str, Any]:
    user = _user(request)
    return {"is_staff_counsellor": access.is_counselling_staff(user),
            "is_director": access.is_director(user), "hotline": NATIONAL_HOTLINE}


# --- free times ---------------------------------------------------------------------------------


@require_GET
@login_required
@page_errors
def slots(request: HttpRequest) -> HttpResponse:
    """Free times, day by day for the booking window; ``?day=`` one day, ``?counsellor=`` one
    counsellor (or any)."""
    school = actions.my_school(request)
    now = timezone.now()
    win = rules.window(school.pk, now)
    day = request.GET.get("day", "")
    counsellor = request.GET.get("counsellor", "")
    errors: dict[str, list[Any]] = {}
    try:
        free = actions.free_slots(request, day=day or None, counsellor=counsellor or None)
    except Invalid as exc:
        errors = exc.errors
        free = actions.free_slots(request)
        day = ""
    by_day: dict[dt.date, list[Slot]] = {}
    for slot in free:
        by_day.setdefault(rules.local_day(slot.starts_at), []).append(slot)
    off = rules.holidays(win.first, win.last)
    days = [win.first + dt.timedelta(days=i) for i in range((win.last - win.first).days + 1)]
    return render(request, "counseling/slots.html", {
        **_nav(request), "school": school, "by_day": sorted(by_day.items()), "days": days, "off": off,
        "off_iso": {d.isoformat() for d in off},
        "counts": {d: len(v) for d, v in by_day.items()}, "day": day, "counsellor": counsellor,
        "counsellors": [u for u in rules.counsellors_of(school) if u.pk != _user(request).pk],
        "errors": errors, "window": win, "today": win.first,
    }, status=400 if errors else 200)


# --- booking ------------------------------------------------------------------------------------


def _book_context(request: HttpRequest, data: dict[str, Any]) -> dict[str, Any]:
    slot = None
    slot_id = parse_id(str(data.get("slot") or ""))
    if slot_id is not None:
        school = actions.my_school(request)
        slot = Slot.objects.filter(pk=slot_id, school=school).select_related("counsellor", "room").first()
    return {**_nav(request), "slot": slot, "data": data, "previous_choices": Previous.choices,
            "key": data.get("key") or uuid.uuid4().hex}


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def book(request: HttpRequest) -> HttpResponse:
    """The intake form for one time (``?slot=``) or a day with any counsellor (``?day=``)."""
    if request.method == "GET":
        actions.my_school(request)
        data = {"slot": request.GET.get("slot", ""), "day": request.GET.get("day", ""),
                "counsellor": request.GET.get("counsellor", "")}
        return render(request, "counseling/book.html", _book_context(request, data))
    post = request.POST
    data = {k: post.get(k, "") for k in ("slot", "day", "counsellor", "topic", "previous", "risk_now", "key")}
    try:
        key = uuid.UUID(data["key"]) if data["key"] else None
    except ValueError:
        key = None
    try:
        done = actions.book(request, slot=data["slot"] or None, day=data["day"] or None,
                            counsellor=data["counsellor"] or None, intake=data, key=key)
    except (Conflict, Invalid) as exc:
        urgent = "urgent" in exc.errors
        ctx = _book_context(request, data)
        ctx.update({"errors": {k: v for k, v in exc.errors.items() if k not in ("urgent", "next_slots")},
                    "message": exc.message if exc.message else "", "urgent": urgent,
                    "numbers": urgent_numbers(_user(request)) if urgent else [],
                    "next_slots": exc.obj if isinstance(exc.obj, list) else [],
                    "key": uuid.uuid4().hex})
        status = 429 if isinstance(exc, TooMany) else (409 if isinstance(exc, Conflict) else 400)
        return render(request, "counseling/book.html", ctx, status=status)
    url = reverse("counseling:booking", args=[done.booking.pk]) + "?new=1"
    return redirect(url)


@require_GET
@login_required
@page_errors
def booking(request: HttpRequest, pk: int) -> HttpResponse:
    """One booking: the confirmation (``?new=1``) for its client; the intake for counselling staff."""
    return _booking_page(request, pk)


def _booking_page(request: HttpRequest, pk: int, *, refusal: str = "", status: int = 200) -> HttpResponse:
    view = actions.read_booking(request, pk, with_intake=not refusal)
    b = view.booking
    new = bool(request.GET.get("new")) and not refusal
    urgent = new and b.risk_now and b.client_id == _user(request).pk
    return render(request, "counseling/booking.html", {
        **_nav(request), "view": view, "b": b, "new": new, "urgent": urgent, "refusal": refusal,
        "numbers": urgent_numbers(_user(request)) if urgent else [],
        "cutoff_hours": rules.window(b.slot.school_id).cutoff_hours,
    }, status=status)


@require_POST
@login_required
@page_errors
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        b = actions.cancel_booking(request, pk, reason=request.POST.get("reason", ""))
    except (Conflict, Invalid) as exc:
        return _booking_page(request, pk, refusal=exc.text, status=exc.status)
    messages.success(request, _("The appointment on %(when)s is cancelled.") % {"when": actions.when_text(b.starts_at)})
    if b.client_id == _user(request).pk:
        return redirect("counseling:appointments")
    return redirect("counseling:staff")


@require_GET
@login_required
@page_errors
def ics(request: HttpRequest, pk: int) -> HttpResponse:
    body = actions.booking_ics(request, pk)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="counselling-{pk}.ics"'
    return response


@require_GET
@login_required
@page_errors
def mine(request: HttpRequest) -> HttpResponse:
    return _mine_page(request)


def _mine_page(request: HttpRequest, *, refusal: str = "", status: int = 200) -> HttpResponse:
    data = actions.my_bookings(request)
    school = rules.client_school(_user(request))
    win = rules.window(school.pk) if school is not None else None
    return render(request, "counseling/mine.html", {
        **_nav(request), "mine": data, "window": win, "refusal": refusal,
        "counsellors": rules.counsellors_of(school) if school else []}, status=status)


@require_POST
@login_required
@page_errors
def waitlist(request: HttpRequest) -> HttpResponse:
    try:
        actions.join_waitlist(request, day_from=request.POST.get("day_from"), day_to=request.POST.get("day_to"),
                              counsellor=request.POST.get("counsellor") or None)
    except (Conflict, Invalid) as exc:
        return _mine_page(request, refusal=exc.text, status=exc.status)
    messages.success(request, _("You are on the waiting list. When a time frees up, it is kept for you and "
                                "you get a message."))
    return redirect("counseling:appointments")


@require_POST
@login_required
@page_errors
def waitlist_leave(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        actions.leave_waitlist(request, pk)
    except Conflict as exc:
        return _mine_page(request, refusal=exc.text, status=exc.status)
    return redirect("counseling:appointments")


# --- counselling staff ----------------------------------------------------------------------------


@require_GET
@login_required
@page_errors
def staff(request: HttpRequest) -> HttpResponse:
    """A counsellor's upcoming bookings (the director: ``?all=1`` for the centre's)."""
    everyone = request.GET.get("all") == "1"
    rows = actions.staff_bookings(request, everyone=everyone)
    days: dict[dt.date, list[Any]] = {}
    for b in rows:
        days.setdefault(rules.local_day(b.starts_at), []).append(b)
    return render(request, "counseling/staff.html", {**_nav(request), "days": list(days.items()),
                                                      "everyone": everyone})


def _rota_page(request: HttpRequest, counsellor: Any, *, errors: dict[str, list[Any]] | None = None,
               data: dict[str, Any] | None = None, form: str = "", status: int = 200) -> HttpResponse:
    r = actions.read_rota(request, counsellor)
    by_day: dict[dt.date, list[Slot]] = {}
    for slot in r.slots:
        by_day.setdefault(rules.local_day(slot.starts_at), []).append(slot)
    weekly_by_day = {d: [w for w in r.weekly if w.weekday == d] for d, _n in _weekdays()}
    return render(request, "counseling/rota.html", {
        **_nav(request), "r": r, "weekdays": _weekdays(), "weekly_by_day": weekly_by_day,
        "by_day": sorted(by_day.items()), "modes": Mode.choices, "kinds": ChangeKind.choices,
        "booked": {b.slot_id for s in r.slots for b in s.bookings.all() if b.is_active},
        "errors": errors or {}, "data": data or {}, "form": form, "today": rules.local_day(timezone.now()),
    }, status=status)


@require_GET
@login_required
@page_errors
def rota(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    return _rota_page(request, pk)


def _block(post: Any) -> actions.BlockInput:
    return actions.BlockInput(start=post.get("start"), end=post.get("end"),
                              slot_minutes=post.get("slot_minutes") or 50, mode=post.get("mode") or Mode.ROOM,
                              room=post.get("room"))


@require_POST
@login_required
@page_errors
def rota_weekly(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        actions.publish_weekly(request, pk, weekday=request.POST.get("weekday"), data=_block(request.POST),
                               valid_from=request.POST.get("valid_from") or None)
    except (Conflict, Invalid) as exc:
        return _rota_page(request, pk, errors=exc.errors or {"general": [exc.text]}, data=request.POST.dict(),
                          form="weekly", status=exc.status)
    messages.success(request, _("Published. The new times are open for booking."))
    return redirect("counseling:rota-counsellor", pk=pk)


@require_POST
@login_required
@page_errors
def rota_end(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        weekly = actions.end_weekly(request, pk)
    except Conflict as exc:
        counsellor = WeeklyAvailability.objects.filter(pk=pk).values_list("counsellor_id", flat=True).first()
        return _rota_page(request, counsellor, errors={"general": [exc.text]}, status=exc.status)
    messages.success(request, _("The weekly time is ended; its free slots are withdrawn."))
    return redirect("counseling:rota-counsellor", pk=weekly.counsellor_id)


@require_POST
@login_required
@page_errors
def rota_change(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        actions.add_change(request, pk, date=request.POST.get("date"), kind=request.POST.get("kind"),
                           data=_block(request.POST))
    except (Conflict, Invalid) as exc:
        return _rota_page(request, pk, errors=exc.errors or {"general": [exc.text]}, data=request.POST.dict(),
                          form="change", status=exc.status)
    messages.success(request, _("The change is saved."))
    return redirect("counseling:rota-counsellor", pk=pk)

