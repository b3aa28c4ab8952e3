"""The planning pages: the plans list, a plan with its tasks (the director's forms, the leader's
approve / return form), the meetings and a meeting with its action items, and "my tasks and
action items". Thin adapters over :mod:`xinlian.planning.actions`: each parses its input, calls
the verb and redirects, or re-renders beside the verb's message."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from xinlian.access.adapters import page_errors
from xinlian.lib.actions import Conflict, Invalid
from xinlian.network.models import Unit, User

from . import actions
from .models import PlanKind, WorkPlan


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _errors(exc: Invalid | Conflict) -> dict[str, list[Any]]:
    return exc.errors or {"form": [exc.text]}


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect(default)


# --- plans ----------------------------------------------------------------------------------------


@require_GET
@login_required
def plans(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not actions.uses_planning(user):
        raise PermissionDenied
    return render(request, "planning/plans.html", {
        "plans": list(actions.list_plans(request)[:100]), "drafts": actions.drafts_plans(user), "tab": "plans",
    })


def _plan_input(post: Any) -> actions.PlanInput:
    return actions.PlanInput(kind=post.get("kind", ""), label=post.get("label", ""),
                             starts_on=post.get("starts_on", ""), ends_on=post.get("ends_on", ""),
                             title=post.get("title", ""), goals=post.get("goals", ""))


def _plan_form(request: HttpRequest, plan: WorkPlan | None, values: dict[str, Any],
               errors: dict[str, list[Any]], status: int = 200) -> HttpResponse:
    return render(request, "planning/plan_form.html", {
        "plan": plan, "v": values, "errors": errors, "kinds": PlanKind.choices, "tab": "plans",
    }, status=status)


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def plan_new(request: HttpRequest) -> HttpResponse:
    if not actions.drafts_plans(_user(request)):
        raise PermissionDenied
    if request.method == "POST":
        try:
            plan = actions.draft_plan(request, _plan_input(request.POST))
        except Invalid as exc:
            return _plan_form(request, None, request.POST, _errors(exc), exc.status)
        messages.success(request, _("Plan drafted. Add its tasks, then submit it to the leader."))
        return redirect(plan)
    return _plan_form(request, None, {"kind": PlanKind.TERM}, {})


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def plan_edit(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method == "POST":
        try:
            plan = actions.edit_plan(request, pk, _plan_input(request.POST))
        except (Invalid, Conflict) as exc:
            return _plan_form(request, actions.plan_for(request, pk), request.POST, _errors(exc), exc.status)
        messages.success(request, _("Plan saved."))
        return redirect(plan)
    view = actions.read_plan(request, pk)
    if not view.can_edit:
        raise PermissionDenied
    p = view.plan
    return _plan_form(request, p, {"kind": p.kind, "label": p.label, "title": p.title, "goals": p.goals,
                                   "starts_on": p.starts_on.isoformat(), "ends_on": p.ends_on.isoformat()}, {})


def _plan_page(request: HttpRequest, pk: int, *, errors: dict[str, list[Any]] | None = None,
               task: Any = None, comment: str = "", status: int = 200) -> HttpResponse:
    view = actions.read_plan(request, pk)
    return render(request, "planning/plan.html", {
        "view": view, "plan": view.plan, "errors": errors or {}, "task": task or {}, "comment": comment,
        "today": timezone.localdate(), "tab": "plans",
    }, status=status)


@require_GET
@login_required
@page_errors
def plan(request: HttpRequest, pk: int) -> HttpResponse:
    return _plan_page(request, pk)


@require_POST
@login_required
@page_errors
def task_add(request: HttpRequest, pk: int) -> HttpResponse:
    data = actions.TaskInput(title=request.POST.get("title", ""), owner=request.POST.get("owner", ""),
                             due_on=request.POST.get("due_on", ""))
    try:
        actions.add_task(request, pk, data)
    except (Invalid, Conflict) as exc:
        return _plan_page(request, pk, errors=_errors(exc), task=request.POST, status=exc.status)
    messages.success(request, _("Task added."))
    return redirect("planning:plan", pk=pk)


@require_POST
@login_required
@page_errors
def plan_submit(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        actions.submit_plan(request, pk)
    except (Invalid, Conflict) as exc:
        return _plan_page(request, pk, errors=_errors(exc), status=exc.status)
    messages.success(request, _("Plan submitted: the leader is asked to approve it."))
    return redirect("planning:plan", pk=pk)


def _decide(request: HttpRequest, pk: int, approve: bool) -> HttpResponse:
    comment = request.POST.get("comment", "")
    try:
        if approve:
            actions.approve_plan(request, pk, comment)
        else:
            actions.return_plan(request, pk, comment)
    except (Invalid, Conflict) as exc:
        return _plan_page(request, pk, errors=_errors(exc), comment=comment, status=exc.status)
    messages.success(request, _("Plan approved: its tasks are now tracked.") if approve
                     else _("Plan returned to the centre director with your comment."))
    return redirect("planning:plan", pk=pk)


@require_POST
@login_required
@page_errors
def plan_approve(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, True)


@require_POST
@login_required
@page_errors
def plan_return(request: HttpRequest, pk: int) -> HttpResponse:
    return _decide(request, pk, False)


@require_POST
@login_required
@page_errors
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    task = actions.mark_task_done(request, pk, request.POST.get("note", ""))
    messages.success(request, _("Task marked done."))
    return _back(request, task.plan.get_absolute_url())


# --- meetings -------------------------------------------------------------------------------------


@require_GET
@login_required
def meetings(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not actions.uses_planning(user):
        raise PermissionDenied
    return render(request, "planning/meetings.html", {
        "meetings": list(actions.list_meetings(request)[:100]), "records": actions.records_meetings(user),
        "tab": "meetings",
    })


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def meeting_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not actions.records_meetings(user):
        raise PermissionDenied
    school = Unit.objects.get(pk=min(actions.schools_of(user, actions.MEETING_WRITER_ROLES)))
    errors: dict[str, list[Any]] = {}
    status = 200
    values: Any = {"held_on": timezone.localdate().isoformat()}
    chosen: list[str] = []
    if request.method == "POST":
        data = actions.MeetingInput(held_on=request.POST.get("held_on", ""), title=request.POST.get("title", ""),
                                    attendees=request.POST.getlist("attendees"),
                                    minutes=request.POST.get("minutes", ""),
                                    decisions=request.POST.get("decisions", ""))
        try:
            meeting = actions.record_meeting(request, data, school.pk)
        except Invalid as exc:
            errors, status, values = _errors(exc), exc.status, request.POST
            chosen = request.POST.getlist("attendees")
        else:
            messages.success(request, _("Meeting recorded. Add its action items below."))
            return redirect(meeting)
    return render(request, "planning/meeting_form.html", {
        "v": values, "errors": errors, "people": actions.school_people(school), "chosen": chosen,
        "today": timezone.localdate(), "tab": "meetings",
    }, status=status)


def _meeting_page(request: HttpRequest, pk: int, *, errors: dict[str, list[Any]] | None = None,
                  item: Any = None, status: int = 200) -> HttpResponse:
    view = actions.read_meeting(request, pk)
    return render(request, "planning/meeting.html", {
        "view": view, "meeting": view.meeting, "errors": errors or {}, "item": item or {},
        "today": timezone.localdate(), "tab": "meetings",
    }, status=status)


@require_GET
@login_required
@page_errors
def meeting(request: HttpRequest, pk: int) -> HttpResponse:
    return _meeting_page(request, pk)


@require_POST
@login_required
@page_errors
def item_add(request: HttpRequest, pk: int) -> HttpResponse:
    data = actions.ItemInput(text=request.POST.get("text", ""), owner=request.POST.get("owner", ""),
                             due_on=request.POST.get("due_on", ""))
    try:
        actions.add_action_item(request, pk, data)
    except (Invalid, Conflict) as exc:
        return _meeting_page(request, pk, errors=_errors(exc), item=request.POST, status=exc.status)
    messages.success(request, _("Action item added: it shows on its owner's home page until done."))
    return redirect("planning:meeting", pk=pk)


@require_POST
@login_required
@page_errors
def item_done(request: HttpRequest, pk: int) -> HttpResponse:
    actions.mark_item_done(request, pk)
    messages.success(request, _("Action item marked done."))
    return _back(request, "planning:mine")


@require_GET
@login_required
def mine(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    return render(request, "planning/mine.html", {
        "tasks": list(actions.my_tasks(user)[:100]), "items": list(actions.my_items(user)[:100]),
        "today": timezone.localdate(), "tab": "mine", "planner": actions.uses_planning(user),
    })
