"""The report pages: a reporter's reports and the phone form ("本周无异常" in one tap), a report
with its review, the reviewer's list and the completeness table. Thin adapters over
:mod:`xinlian.duties.actions`: each parses its input, calls the verb and renders or redirects."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from xinlian.access.adapters import page_errors
from xinlian.access.policy import active_posts_of
from xinlian.care.models import Category, Urgency
from xinlian.lib.actions import Conflict, Invalid
from xinlian.network.models import Role, User

from . import actions
from .models import FLAG_READER_ROLES, Cadence, OverallState, ReportStatus, Weekday

FORM_ROWS = 5


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """A reporter's open reports (the due one on top) and their earlier ones; links to the
    review list and the completeness table for those who have them."""
    user = _user(request)
    due = actions.reports_due(user)
    mine = list(actions.visible_reports(user).filter(reporter=user)
                .select_related("period__cycle", "unit").order_by("-period__starts_on")[:20])
    reviews = actions.reviews_anything(user)
    to_review = actions.list_reports(request, to_review=True).count() if reviews else 0
    if not due and not mine and not reviews and not actions.sees_completeness(user):
        raise PermissionDenied
    return render(request, "duties/home.html", {
        "due": due, "mine": mine, "reviews": reviews, "to_review": to_review,
        "completeness": actions.sees_completeness(user),
    })


def zero_label(cadence: str) -> str:
    if cadence == Cadence.MONTHLY:
        return _("Nothing unusual this month")
    if cadence == Cadence.FORTNIGHTLY:
        return _("Nothing unusual these two weeks")
    return _("Nothing unusual this week")


def parse_report(post: Any) -> actions.ReportInput:
    """The form's fields as the verb's input; empty "add a student" rows are ignored."""
    flags = []
    for i in range(FORM_ROWS):
        student = post.get(f"flag-{i}-student", "").strip()
        seen = post.get(f"flag-{i}-seen", "").strip()
        if not student and not seen:
            continue
        flags.append(actions.FlagInput(student=student, seen=seen,
                                       category=post.get(f"flag-{i}-category", ""),
                                       urgency=post.get(f"flag-{i}-urgency", "")))
    zero = post.get("zero") == "1"
    note = post.get("note", "")
    state = post.get("state") or (OverallState.CONCERNS if flags or note.strip() else OverallState.CALM)
    return actions.ReportInput(zero=zero, state=state, note=note, flags=flags, draft=post.get("draft") == "1")


def _rows(form: actions.ReportForm, posted: Any) -> list[dict[str, Any]]:
    """The "add a student" rows: what was posted, else the report's flags, then empty rows."""
    rows: list[dict[str, Any]] = []
    if posted is not None:
        for i in range(FORM_ROWS):
            rows.append({k: posted.get(f"flag-{i}-{k}", "") for k in ("student", "seen", "category", "urgency")})
    else:
        rows = [{"student": str(f.student_id), "seen": f.seen, "category": f.category, "urgency": f.urgency}
                for f in form.flags][:FORM_ROWS]
        rows += [{"student": "", "seen": "", "category": "", "urgency": ""}
                 for _i in range(FORM_ROWS - len(rows))]
    for i, row in enumerate(rows):
        row["i"] = i
        row["shown"] = bool(row["student"] or row["seen"])
    return rows


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def report_form(request: HttpRequest, post: int, period: int) -> HttpResponse:
    errors: dict[str, list[Any]] = {}
    status = 200
    posted = None
    if request.method == "POST":  # the verb does the lookups: the form is read only to re-render it
        posted = request.POST
        try:
            report = actions.submit_report(request, post_id=post, period_id=period, data=parse_report(request.POST))
        except (Invalid, Conflict) as exc:
            errors = exc.errors or {"__all__": [exc.text]}
            status = exc.status
        else:
            if report.status == ReportStatus.DRAFT:
                messages.success(request, _("Draft saved. It is not submitted yet."))
            elif report.is_zero:
                messages.success(request, _("Report submitted: nothing unusual. Thank you."))
            else:
                messages.success(request, _("Report submitted. Your 辅导员 will read it."))
            return redirect(f"{reverse('duties:home')}?sent={report.pk}")
    form = actions.form_for(request, post, period)
    rows = _rows(form, posted)
    return render(request, "duties/report_form.html", {
        "form": form, "rows": rows, "errors": errors, "zero_label": zero_label(form.period.cycle.cadence),
        "categories": Category.choices, "urgencies": Urgency.choices,
        "note": posted.get("note", "") if posted is not None else (form.report.note if form.report else ""),
        "any_row": any(r["shown"] for r in rows),
        "summary": form.post.role == Role.FUDAOYUAN,
    }, status=status)


@require_GET
@login_required
@page_errors
def report_detail(request: HttpRequest, pk: int) -> HttpResponse:
    view = actions.read_report(request, pk)
    return _detail(request, view)


def _detail(request: HttpRequest, view: actions.ReportView, *, errors: dict[str, list[Any]] | None = None,
            comment: str = "", status: int = 200) -> HttpResponse:
    report = view.report
    user = _user(request)
    editable = (report.reporter_id == user.pk and report.status != ReportStatus.SIGNED_OFF
                and not report.period.is_closed())
    return render(request, "duties/report_detail.html", {
        "view": view, "report": report, "errors": errors or {}, "comment": comment,
        "editable": editable, "reviewable": view.can_review and report.status == ReportStatus.SUBMITTED,
    }, status=status)


def _review(request: HttpRequest, pk: int, decision: str) -> HttpResponse:
    comment = request.POST.get("comment", "")
    try:
        if decision == "sign_off":
            actions.sign_off_report(request, pk, comment)
            messages.success(request, _("Report signed off."))
        else:
            actions.send_back_report(request, pk, comment)
            messages.success(request, _("Report sent back to its reporter."))
    except (Invalid, Conflict) as exc:
        view = actions.read_report(request, pk)
        return _detail(request, view, errors=exc.errors or {"__all__": [exc.text]}, comment=comment,
                       status=exc.status)
    return redirect("duties:review")


@require_POST
@login_required
@page_errors
def report_sign_off(request: HttpRequest, pk: int) -> HttpResponse:
    return _review(request, pk, "sign_off")


@require_POST
@login_required
@page_errors
def report_send_back(request: HttpRequest, pk: int) -> HttpResponse:
    return _review(request, pk, "send_back")


@require_GET
@login_required
@page_errors
def review(request: HttpRequest) -> HttpResponse:
    """The 辅导员's (and college lead's) list: reports waiting for their sign-off, then the
    latest reports of their units."""
    user = _user(request)
    if not actions.reviews_anything(user):
        raise PermissionDenied
    waiting = list(actions.list_reports(request, to_review=True)[:100])
    recent = list(actions.list_reports(request).exclude(pk__in=[r.pk for r in waiting])
                  .exclude(status=ReportStatus.DRAFT).exclude(reporter=user)[:50])
    return render(request, "duties/review.html", {"waiting": waiting, "recent": recent})


@require_GET
@login_required
@page_errors
def completeness(request: HttpRequest) -> HttpResponse:
    table = _table(request)
    return render(request, "duties/completeness.html", {
        "t": table, "weekdays": Weekday.choices, "cadences": Cadence.choices,
        "sets_cycle": _sets_cycle(request, table), "errors": {},
        "opens": any(p.role in FLAG_READER_ROLES for p in active_posts_of(_user(request))),
    }, status=200)


def _table(request: HttpRequest) -> actions.Completeness:
    try:
        return actions.completeness(request, unit_id=request.GET.get("unit"), cycle_id=request.GET.get("cycle"),
                                    period_id=request.GET.get("period"))
    except Invalid as exc:
        messages.error(request, exc.text)
        return actions.completeness(request, unit_id=request.GET.get("unit"))


def _sets_cycle(request: HttpRequest, table: actions.Completeness) -> bool:
    return any(p.role == Role.CENTRE_DIRECTOR and table.cycle.school.path.startswith(p.unit.path)
               for p in active_posts_of(_user(request)))


@require_POST
@login_required
@page_errors
def cycle_set(request: HttpRequest, pk: int) -> HttpResponse:
    data = actions.CycleInput(cadence=request.POST.get("cadence", ""), due_weekday=request.POST.get("due_weekday", ""),
                              due_day=request.POST.get("due_day", ""), grace_days=request.POST.get("grace_days", ""),
                              active=request.POST.get("active") == "1")
    try:
        cycle = actions.set_cycle(request, pk, data)
    except Invalid as exc:
        messages.error(request, exc.text)
        return redirect(f"{reverse('duties:completeness')}?cycle={pk}")
    messages.success(request, _("The report cycle is saved. Periods already under way keep their dates."))
    return redirect(f"{reverse('duties:completeness')}?unit={cycle.school_id}&cycle={cycle.pk}")
