"""The centre's settings pages (/settings/…) and each person's own notification settings
(/me/notifications/). Thin adapters: each form goes to one verb — notify.actions (channels,
office hours, holidays, a person's own channels), care.levels (alert levels and deadlines),
screening.settings_actions (help and hotline) — and the outcome becomes a page: saved →
redirect with a message; Invalid → the same page again with the field errors (400); NotAllowed
→ 403; NotFound → 404."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from xinlian.access.adapters import page_errors
from xinlian.care import levels as care_levels
from xinlian.care.models import Level, LevelSetting
from xinlian.lib.actions import Conflict, Invalid
from xinlian.network.models import User
from xinlian.notify import actions as notify_actions
from xinlian.notify.models import Channel, DayKind, Delivery, Holiday, OfficeHours, When
from xinlian.notify.personal import dingtalk_configured, wecom_configured
from xinlian.notify.sms import mobile_of, sms_configured
from xinlian.screening import settings_actions as help_actions
from xinlian.screening.models import CentreSettings

# Monday = 1 … Sunday = 7, as OfficeHours stores them; the labels from Django's own catalogue.
WEEKDAYS = tuple((n + 1, label) for n, label in sorted(WEEKDAYS_ABBR.items()))


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _page(request: HttpRequest, template: str, section: str, context: dict[str, Any],
          status: int = 200) -> HttpResponse:
    # Levels, channels and hours are one per installation: a director of one school among
    # several sees them but cannot change them (the verbs refuse; the page says why first).
    locked = section != "help" and not notify_actions.may_keep_installation_settings(request.user)
    return render(request, f"web/settings/{template}",
                  {"section": section, "installation_locked": locked, **context}, status=status)


def _post(request: HttpRequest, *names: str) -> dict[str, str]:
    return {name: request.POST.get(name, "") for name in names}


# --- alert levels and deadlines ------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def levels(request: HttpRequest) -> HttpResponse:
    notify_actions.require_centre(request, "settings.view")
    errors: dict[str, Any] = {}
    posted: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        level = request.POST.get("level", "")
        data = _post(request, "name", "name_en", "colour", "ack_hours", "ack_minutes", "follow_up_days")
        try:
            setting = care_levels.set_level(request, level, data)
        except Invalid as exc:
            errors, posted, status = {level: exc.errors}, {level: data}, 400
        else:
            messages.success(request, _("Saved: %(level)s.") % {"level": setting.display_name})
            return redirect("settings-levels")
    settings = LevelSetting.all_levels()
    counts = care_levels.open_alert_counts()
    rows = []
    for level in (Level.RED, Level.ORANGE, Level.YELLOW):
        s = settings[level]
        data = posted.get(level) or {
            "name": s.name, "name_en": s.name_en, "colour": s.colour,
            "ack_hours": s.ack_minutes // 60, "ack_minutes": s.ack_minutes % 60,
            "follow_up_days": s.follow_up_days}
        rows.append({"level": level, "label": Level(level).label, "setting": s, "data": data,
                     "errors": errors.get(level, {}), "open": counts.get(level, 0)})
    return _page(request, "levels.html", "levels", {"rows": rows}, status)


# --- channels by level ------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def channels(request: HttpRequest) -> HttpResponse:
    notify_actions.require_centre(request, "settings.view")
    errors: dict[str, Any] = {}
    posted: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        level = request.POST.get("level", "")
        data = _post(request, "email", "push", "sms", "sms_after_minutes", "hold_in_quiet_hours")
        try:
            notify_actions.set_channel_policy(request, level, data)
        except Invalid as exc:
            errors, posted, status = {level: exc.errors}, {level: data}, 400
        else:
            messages.success(request, _("Saved: %(level)s.") % {"level": LevelSetting.for_level(level).display_name})
            return redirect("settings-channels")
    names = LevelSetting.all_levels()
    rows = []
    for policy in notify_actions.channel_policies():
        data = posted.get(policy.level) or {
            "email": policy.email, "push": policy.push, "sms": policy.sms,
            "sms_after_minutes": policy.sms_after_minutes,
            "hold_in_quiet_hours": "on" if policy.hold_in_quiet_hours else ""}
        rows.append({"level": policy.level, "name": names[policy.level], "data": data,
                     "errors": errors.get(policy.level, {})})
    return _page(request, "channels.html", "channels", {
        "rows": rows, "whens": When.choices,
        "configured": {"wecom": wecom_configured(), "dingtalk": dingtalk_configured(),
                       "sms": sms_configured()},
    }, status)


# --- office hours and holidays -----------------------------------------------------------------------


def _hours_page(request: HttpRequest, *, errors: dict[str, Any] | None = None,
                data: dict[str, Any] | None = None, status: int = 200) -> HttpResponse:
    row = OfficeHours.objects.order_by("pk").first()
    hours = OfficeHours.current()
    if data is None or "start" not in data:
        data = {**(data or {}), "start": f"{hours.start:%H:%M}", "end": f"{hours.end:%H:%M}",
                "weekdays": [str(d + 1) for d in sorted(hours.weekdays)]}
    today = timezone.localdate()
    return _page(request, "hours.html", "hours", {
        "stored": row is not None, "data": data, "errors": errors or {},
        "weekday_choices": [(str(n), label) for n, label in WEEKDAYS],
        "holidays": Holiday.objects.filter(date__gte=today.replace(month=1, day=1)).order_by("date"),
        "kinds": DayKind.choices,
    }, status=status)


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def hours(request: HttpRequest) -> HttpResponse:
    notify_actions.require_centre(request, "settings.view")
    if request.method == "GET":
        return _hours_page(request)
    op = request.POST.get("op", "")
    try:
        if op == "hours":
            notify_actions.set_office_hours(request, start=request.POST.get("start"),
                                            end=request.POST.get("end"),
                                            weekdays=request.POST.getlist("weekdays"))
            messages.success(request, _("The office hours were saved."))
        elif op == "add":
            row = notify_actions.add_holiday(request, date=request.POST.get("date"),
                                             kind=request.POST.get("kind"), note=request.POST.get("note"))
            messages.success(request, _("%(date)s is in the calendar.") % {"date": f"{row.date:%Y-%m-%d}"})
        elif op == "remove":
            notify_actions.remove_holiday(request, request.POST.get("holiday"))
            messages.success(request, _("The date was removed from the calendar."))
        elif op == "import":
            rows = notify_actions.import_holidays(request, request.POST.get("text"))
            messages.success(request, _("%(n)d dates were added to the calendar.") % {"n": len(rows)})
        else:
            return _hours_page(request, status=400)
    except Invalid as exc:
        data: dict[str, Any] = {"op": op}
        if op == "hours":
            data.update({"start": request.POST.get("start", ""), "end": request.POST.get("end", ""),
                         "weekdays": request.POST.getlist("weekdays")})
        else:
            data.update(_post(request, "date", "kind", "note", "text"))
        errors = {op: dict(exc.errors) if exc.errors else {"form": [exc.text]}}
        return _hours_page(request, errors=errors, data=data, status=400)
    return redirect("settings-hours")


# --- help and hotline ----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def help_settings(request: HttpRequest) -> HttpResponse:
    schools = notify_actions.require_centre(request, "settings.view")
    raw = request.POST.get("school") if request.method == "POST" else request.GET.get("school")
    school = (help_actions.school_for(request, raw) if raw else schools[0])
    errors: dict[str, Any] = {}
    status = 200
    if request.method == "POST":
        data = _post(request, *help_actions.HELP_FIELDS)
        try:
            help_actions.set_help(request, school.pk, data)
        except Invalid as exc:
            errors, status = exc.errors, 400
        else:
            messages.success(request, _("The help and hotline of %(school)s were saved.")
                             % {"school": school.display_name})
            return redirect(f"{request.path}?school={school.pk}")
    else:
        current = CentreSettings.for_school(school)
        data = {name: getattr(current, name) for name in help_actions.HELP_FIELDS}
    return _page(request, "help.html", "help", {
        "school": school, "schools": schools, "data": data, "errors": errors}, status)


# --- my notifications ------------------------------------------------------------------------------------


def _mine(request: HttpRequest, *, data: dict[str, Any] | None = None,
          errors: dict[str, Any] | None = None, status: int = 200) -> HttpResponse:
    user = User.objects.get(pk=_user(request).pk)
    names = LevelSetting.all_levels()
    reach = [(names[r.level], r) for r in notify_actions.reach_at_night(user)]
    tests = (Delivery.objects.filter(recipient=user, message=notify_actions.TEST_MESSAGE)
             .order_by("-created_at", "-pk")[:6])
    return render(request, "web/settings/my_notifications.html", {
        "data": data or {"wecom_userid": user.wecom_userid, "dingtalk_userid": user.dingtalk_userid,
                         "phone": user.phone},
        "errors": errors or {}, "reach": reach, "tests": tests,
        "configured": {"wecom": wecom_configured(), "dingtalk": dingtalk_configured(),
                       "sms": sms_configured()},
        "has_mobile": bool(mobile_of(user)), "landline": bool(user.phone) and not mobile_of(user),
        "channels": notify_actions.my_push_channels(user), "Channel": Channel,
    }, status=status)


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def my_notifications(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _mine(request)
    data = _post(request, "wecom_userid", "dingtalk_userid", "phone")
    try:
        notify_actions.set_my_channels(request, **data)
    except Invalid as exc:
        return _mine(request, data=data, errors=exc.errors, status=400)
    messages.success(request, _("Your notification settings were saved."))
    return redirect("my-notifications")


@require_POST
@login_required
@page_errors
def my_notifications_test(request: HttpRequest) -> HttpResponse:
    try:
        rows = notify_actions.send_test_message(request)
    except (Invalid, Conflict) as exc:
        return _mine(request, errors={"test": [exc.text]}, status=exc.status)
    labels = ", ".join(str(Channel(r.channel).label) for r in rows)
    messages.success(request, _("A test message is on its way to: %(channels)s.") % {"channels": labels})
    return redirect("my-notifications")

