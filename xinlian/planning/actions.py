"""The actions of work plans and leadership-group meetings, each written once.

The pages (``views.py``) and the REST API (``api.py``) parse their input, call one of these and
map its outcome: a result, or NotFound (404), NotAllowed (403), Conflict (409) or Invalid (400)
from :mod:`xinlian.lib.actions`. Each action takes the request first (the audit row records its
address) and does the scoped lookup, the capability check, the rule (under a row lock for a
change of state) and the audit row in the same transaction as the change.

Who may do what (within their school):
- the centre director drafts and edits plans, adds their tasks and submits them;
- the leadership-group leader (组长) approves a submitted plan or returns it with a comment
  (the deputy does not: the policies give approval to the leader);
- a task's owner or the director marks a task of an approved plan done;
- the director, the leader and the deputy leader record meetings and add action items; an
  action item's owner marks it done;
- plans are read by the leadership group and the centre staff, and by the owners of their
  tasks; a meeting by the leadership group, the director, its attendees and the owners of its
  action items; its minutes and decisions by the leadership group and the director only (each
  read audited).

An approved plan is fixed: its goals and tasks are refused a change (the director drafts a
new plan for a change of course). A plan waiting for the leader is refused a change too: the
leader returns it first."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from xinlian.access.models import AuditResult
from xinlian.access.policy import active_posts_of, audit
from xinlian.lib.actions import Conflict, Invalid, NotAllowed, NotFound
from xinlian.lib.converters import id_of as _id
from xinlian.network.models import Post, Role, Unit, User
from xinlian.notify.services import notify_users

from .models import (
    APPROVER_ROLE,
    DRAFTER_ROLE,
    ITEM_MAX,
    MEETING_WRITER_ROLES,
    MINUTES_ROLES,
    PLAN_READER_ROLES,
    TITLE_MAX,
    ActionItem,
    Meeting,
    PlanKind,
    PlanStatus,
    PlanTask,
    TaskStatus,
    WorkPlan,
)

GOALS_MAX = 5000
MINUTES_MAX = 20000
LABEL_MAX = 60
ATTENDEES_MAX = 60

PLAN_SUBMITTED = gettext_noop("The work plan %(period)s waits for your approval.")
PLAN_APPROVED = gettext_noop("The work plan %(period)s was approved.")
PLAN_RETURNED = gettext_noop("The work plan %(period)s was returned: please read the comment.")
ITEM_GIVEN = gettext_noop("A leadership-group meeting gave you an action item, due %(due)s.")


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def schools_of(user: User, roles: frozenset[str] | set[str]) -> set[int]:
    """The schools where ``user`` holds a post with one of ``roles`` (these roles sit at a school)."""
    return {p.unit_id for p in active_posts_of(user) if p.role in roles}


def _holds(user: User, role: str, school_id: int) -> bool:
    return school_id in schools_of(user, {role})


# --- reading ------------------------------------------------------------------------------------


def visible_plans(user: User) -> QuerySet[WorkPlan]:
    """Plans of the schools where ``user`` reads plans, and plans where they own a task."""
    owned = PlanTask.objects.filter(owner_id=user.pk).values("plan_id")
    return WorkPlan.objects.filter(Q(school_id__in=schools_of(user, PLAN_READER_ROLES)) | Q(pk__in=owned))


def visible_meetings(user: User) -> QuerySet[Meeting]:
    """Meetings of the schools where ``user`` reads minutes, those they attended and those that
    gave them an action item."""
    attended = Meeting.attendees.through.objects.filter(user_id=user.pk).values("meeting_id")
    owned = ActionItem.objects.filter(owner_id=user.pk).values("meeting_id")
    return Meeting.objects.filter(Q(school_id__in=schools_of(user, MINUTES_ROLES)) | Q(pk__in=attended)
                                  | Q(pk__in=owned))


def reads_minutes(user: User, meeting: Meeting) -> bool:
    return meeting.school_id in schools_of(user, MINUTES_ROLES)


def is_director(user: User, school_id: int) -> bool:
    return _holds(user, DRAFTER_ROLE, school_id)


def drafts_plans(user: User) -> bool:
    return bool(schools_of(user, {DRAFTER_ROLE}))


def records_meetings(user: User) -> bool:
    return bool(schools_of(user, MEETING_WRITER_ROLES))


def uses_planning(user: User) -> bool:
    """Whether the menu offers the planning pages: readers of plans or minutes, and whoever
    owns a task or an action item."""
    if schools_of(user, PLAN_READER_ROLES | MINUTES_ROLES):
        return True
    return (PlanTask.objects.filter(owner_id=user.pk).exists()
            or ActionItem.objects.filter(owner_id=user.pk).exists()
            or Meeting.attendees.through.objects.filter(user_id=user.pk).exists())


def _denied(request: HttpRequest, action: str, object_type: str, pk: Any) -> NotFound:
    audit(request, action, object_type=object_type, object_id=str(pk)[:64] or "-", result=AuditResult.DENIED)
    return NotFound()


def plan_for(request: HttpRequest, pk: Any, action: str = "planning.plan.view") -> WorkPlan:
    """A plan the actor may open; anything else is missing (a denied audit row)."""
    number = _id(pk)
    qs = WorkPlan.objects.select_related("school", "drafted_by", "decided_by")
    plan = qs.filter(pk=number, pk__in=visible_plans(_user(request)).values("pk")).first() if number else None
    if plan is None:
        raise _denied(request, action, "planning.workplan", pk)
    return plan


def meeting_for(request: HttpRequest, pk: Any, action: str = "planning.meeting.view") -> Meeting:
    number = _id(pk)
    meeting = (Meeting.objects.select_related("school", "recorded_by")
               .filter(pk=number, pk__in=visible_meetings(_user(request)).values("pk")).first()) if number else None
    if meeting is None:
        raise _denied(request, action, "planning.meeting", pk)
    return meeting


@dataclass
class Progress:
    total: int = 0
    done: int = 0
    overdue: int = 0

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0


def list_plans(request: HttpRequest, today: dt.date | None = None) -> QuerySet[WorkPlan]:
    """The plans the actor may open, newest period first, each with its task counts."""
    today = today or timezone.localdate()
    return (visible_plans(_user(request)).select_related("school")
            .annotate(n_tasks=Count("tasks"), n_done=Count("tasks", filter=Q(tasks__status=TaskStatus.DONE)),
                      n_overdue=Count("tasks", filter=Q(tasks__status=TaskStatus.OPEN, tasks__due_on__lt=today)))
            .order_by("-starts_on", "-pk"))


@dataclass
class PlanView:
    plan: WorkPlan
    tasks: list[PlanTask]
    progress: Progress
    can_edit: bool
    can_decide: bool
    owners: list[User] = field(default_factory=list)
    # The tasks the reader may mark done now (by the rule of ``mark_task_done``).
    markable: set[int] = field(default_factory=set)


def read_plan(request: HttpRequest, pk: Any) -> PlanView:
    user = _user(request)
    plan = plan_for(request, pk)
    tasks = list(plan.tasks.select_related("owner", "done_by"))
    today = timezone.localdate()
    progress = Progress(total=len(tasks), done=sum(t.status == TaskStatus.DONE for t in tasks),
                        overdue=sum(t.status == TaskStatus.OPEN and t.due_on < today for t in tasks))
    is_drafter = _holds(user, DRAFTER_ROLE, plan.school_id)
    markable = ({t.pk for t in tasks if t.status == TaskStatus.OPEN and _marks_done(user, t, is_drafter)}
                if plan.status == PlanStatus.APPROVED else set())
    return PlanView(plan, tasks, progress, can_edit=is_drafter and plan.editable,
                    can_decide=_holds(user, APPROVER_ROLE, plan.school_id) and plan.status == PlanStatus.SUBMITTED,
                    owners=school_people(plan.school) if is_drafter and plan.editable else [], markable=markable)


def _marks_done(user: User, task: PlanTask, is_director: bool) -> bool:
    """Who marks a task done: its owner or the school's centre director."""
    return task.owner_id == user.pk or is_director


# The posts whose holders the forms offer as owners and attendees (the verbs take anyone who
# holds a post at the school; the forms list the staff who plan and meet, not every class).
OFFERED_ROLES = (Role.LEADER, Role.DEPUTY_LEADER, Role.LEADERSHIP_MEMBER, Role.CENTRE_DIRECTOR,
                 Role.COUNSELLOR, Role.COLLEGE_LEAD, Role.FUDAOYUAN)


def school_people(school: Unit) -> list[User]:
    """The choices the forms offer for a task's owner and a meeting's attendees."""
    ids = Post.objects.active().filter(unit__path__startswith=school.path, role__in=OFFERED_ROLES).values("person_id")
    return list(User.objects.filter(pk__in=ids, is_active=True).order_by("full_name", "pk")[:300])


@dataclass
class MeetingView:
    meeting: Meeting
    attendees: list[User]
    items: list[ActionItem]
    reads_minutes: bool
    can_add_item: bool
    people: list[User] = field(default_factory=list)


def read_meeting(request: HttpRequest, pk: Any) -> MeetingView:
    """A meeting with its attendees and action items; its minutes and decisions where the
    reader may read them (that read audited)."""
    user = _user(request)
    meeting = meeting_for(request, pk)
    minutes = reads_minutes(user, meeting)
    if minutes and (meeting.minutes or meeting.decisions):
        audit(request, "planning.meeting.view", meeting, detail="minutes")
    writer = bool(schools_of(user, MEETING_WRITER_ROLES) & {meeting.school_id})
    return MeetingView(meeting, list(meeting.attendees.order_by("full_name", "pk")),
                       list(meeting.items.select_related("owner")), minutes, writer,
                       people=school_people(meeting.school) if writer else [])


def list_meetings(request: HttpRequest) -> QuerySet[Meeting]:
    # The minutes and decisions are encrypted: a list of dates and titles never decrypts them.
    return (visible_meetings(_user(request)).select_related("school").defer("minutes", "decisions")
            .annotate(n_items=Count("items"), n_open=Count("items", filter=Q(items__done=False)))
            .order_by("-held_on", "-pk"))


def my_tasks(user: User) -> QuerySet[PlanTask]:
    """Tasks ``user`` owns in approved plans (the tracked ones), open first, soonest due first."""
    return (PlanTask.objects.filter(owner_id=user.pk, plan__status=PlanStatus.APPROVED)
            .select_related("plan", "owner").order_by("status", "due_on", "pk"))


def my_items(user: User) -> QuerySet[ActionItem]:
    # Home and "mine" show the meeting's date and title only: its encrypted minutes stay unread.
    return (ActionItem.objects.filter(owner_id=user.pk).select_related("meeting", "owner")
            .defer("meeting__minutes", "meeting__decisions").order_by("done", "due_on", "pk"))


# --- input ----------------------------------------------------------------------------------------


def _date(value: Any, errors: dict[str, list[Any]], name: str) -> dt.date | None:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    text = str(value or "").strip()
    if not text:
        errors.setdefault(name, []).append(_("Give a date."))
        return None
    try:
        return dt.date.fromisoformat(text[:10]) if len(text) == 10 else dt.date.fromisoformat(text)
    except ValueError:
        errors.setdefault(name, []).append(_("Give a date as YYYY-MM-DD."))
        return None


def _text(value: Any, errors: dict[str, list[Any]], name: str, limit: int, *, required: bool = True) -> str:
    text = str(value or "").strip()
    if required and not text:
        errors.setdefault(name, []).append(_("This field is required."))
    elif len(text) > limit:
        errors.setdefault(name, []).append(_("Keep it under %(n)d characters.") % {"n": limit})
    return text


def _member(school: Unit, value: Any, errors: dict[str, list[Any]], name: str) -> User | None:
    """A person who holds a post at ``school`` (or below it), else a message by field."""
    number = _id(value)
    user = None
    if number:
        holds = Post.objects.active().filter(person_id=number, unit__path__startswith=school.path)
        user = User.objects.filter(pk=number, is_active=True, pk__in=holds.values("person_id")).first()
    if user is None:
        errors.setdefault(name, []).append(_("Choose someone who holds a post at this school."))
    return user


@dataclass
class PlanInput:
    kind: Any = PlanKind.TERM
    label: Any = ""
    starts_on: Any = None
    ends_on: Any = None
    title: Any = ""
    goals: Any = ""


def _clean_plan(data: PlanInput) -> dict[str, Any]:
    errors: dict[str, list[Any]] = {}
    kind = str(data.kind or "")
    if kind not in PlanKind.values:
        errors["kind"] = [_("Choose a school year or a term.")]
    cleaned = {"kind": kind, "label": _text(data.label, errors, "label", LABEL_MAX),
               "title": _text(data.title, errors, "title", TITLE_MAX),
               "goals": _text(data.goals, errors, "goals", GOALS_MAX, required=False),
               "starts_on": _date(data.starts_on, errors, "starts_on"),
               "ends_on": _date(data.ends_on, errors, "ends_on")}
    if cleaned["starts_on"] and cleaned["ends_on"]:
        length = (cleaned["ends_on"] - cleaned["starts_on"]).days
        if length < 0:
            errors["ends_on"] = [_("The plan must end after it starts.")]
        elif length > 400:
            errors["ends_on"] = [_("A plan covers a school year at most.")]
    if errors:
        raise Invalid(errors=errors)
    return cleaned


# --- plans --------------------------------------------------------------------------------------


def _drafter_school(request: HttpRequest, school_id: Any = None) -> Unit:
    user = _user(request)
    posts = [p for p in active_posts_of(user) if p.role == DRAFTER_ROLE]
    if school_id not in (None, ""):
        posts = [p for p in posts if p.unit_id == _id(school_id)]
    if not posts:
        audit(request, "planning.plan.draft", object_type="network.unit", object_id=str(school_id or "-")[:64],
              result=AuditResult.DENIED)
        raise NotAllowed(_("Only the school's centre director drafts work plans."))
    return posts[0].unit


def draft_plan(request: HttpRequest, data: PlanInput, school_id: Any = None) -> WorkPlan:
    school = _drafter_school(request, school_id)
    cleaned = _clean_plan(data)
    with transaction.atomic():
        plan = WorkPlan.objects.create(school=school, drafted_by=_user(request), **cleaned)
        audit(request, "planning.plan.draft", plan)
    return plan


def _as_drafter(request: HttpRequest, pk: Any, action: str) -> WorkPlan:
    """The plan where the actor is its school's director (else 403, or 404 outside). Called
    before the change's transaction, so that the refusal's audit row stays."""
    plan = plan_for(request, pk, action)
    if not _holds(_user(request), DRAFTER_ROLE, plan.school_id):
        audit(request, action, plan, result=AuditResult.DENIED)
        raise NotAllowed(_("Only the school's centre director changes a work plan."))
    return plan


def _locked(plan: WorkPlan) -> WorkPlan:
    """The plan again, under a row lock, inside the change's transaction."""
    return WorkPlan.objects.select_for_update().get(pk=plan.pk)


def _refuse_fixed(plan: WorkPlan) -> None:
    if plan.status == PlanStatus.APPROVED:
        raise Conflict(_("This plan is approved and fixed: draft a new plan for a change."))
    if plan.status == PlanStatus.SUBMITTED:
        raise Conflict(_("This plan waits for the leader's approval: it can be changed once it is returned."))


def edit_plan(request: HttpRequest, pk: Any, data: PlanInput) -> WorkPlan:
    plan = _as_drafter(request, pk, "planning.plan.edit")
    with transaction.atomic():
        plan = _locked(plan)
        _refuse_fixed(plan)
        cleaned = _clean_plan(data)
        outside = plan.tasks.filter(Q(due_on__lt=cleaned["starts_on"]) | Q(due_on__gt=cleaned["ends_on"])).count()
        if outside:
            raise Invalid(errors={"ends_on": [_("%(n)d tasks fall due outside this period: move them first.")
                                              % {"n": outside}]})
        for name, value in cleaned.items():
            setattr(plan, name, value)
        plan.save()
        audit(request, "planning.plan.edit", plan)
    return plan


@dataclass
class TaskInput:
    title: Any = ""
    owner: Any = None
    due_on: Any = None


def add_task(request: HttpRequest, plan_pk: Any, data: TaskInput) -> PlanTask:
    plan = _as_drafter(request, plan_pk, "planning.task.add")
    with transaction.atomic():
        plan = _locked(plan)
        _refuse_fixed(plan)
        errors: dict[str, list[Any]] = {}
        title = _text(data.title, errors, "title", TITLE_MAX)
        owner = _member(plan.school, data.owner, errors, "owner")
        due = _date(data.due_on, errors, "due_on")
        if due and not plan.starts_on <= due <= plan.ends_on:
            errors["due_on"] = [_("The due date must fall within the plan's period (%(start)s – %(end)s).")
                                % {"start": plan.starts_on.isoformat(), "end": plan.ends_on.isoformat()}]
        if errors:
            raise Invalid(errors=errors)
        task = PlanTask.objects.create(plan=plan, title=title, owner=owner, due_on=due)
        audit(request, "planning.task.add", task)
    return task


def submit_plan(request: HttpRequest, pk: Any) -> WorkPlan:
    """Send the plan to the leader. Submitting a plan already waiting changes nothing."""
    plan = _as_drafter(request, pk, "planning.plan.submit")
    with transaction.atomic():
        plan = _locked(plan)
        if plan.status == PlanStatus.SUBMITTED:
            return plan
        if plan.status == PlanStatus.APPROVED:
            raise Conflict(_("This plan is approved already."))
        errors: dict[str, list[Any]] = {}
        if not plan.goals.strip():
            errors["goals"] = [_("Write the plan's goals before submitting it.")]
        if not plan.tasks.exists():
            errors["tasks"] = [_("Add at least one task before submitting the plan.")]
        if errors:
            raise Invalid(errors=errors)
        plan.status = PlanStatus.SUBMITTED
        plan.submitted_at = timezone.now()
        plan.save(update_fields=["status", "submitted_at", "updated_at"])
        audit(request, "planning.plan.submit", plan)
        leaders = User.objects.filter(pk__in=Post.objects.active().filter(
            role=APPROVER_ROLE, unit_id=plan.school_id).values("person_id"))
        notify_users(leaders, PLAN_SUBMITTED, {"period": plan.label}, reverse("planning:plan", args=[plan.pk]))
    return plan


def _decide(request: HttpRequest, pk: Any, approve: bool, comment: str) -> WorkPlan:
    action = "planning.plan.approve" if approve else "planning.plan.return"
    plan = plan_for(request, pk, action)
    if not _holds(_user(request), APPROVER_ROLE, plan.school_id):
        audit(request, action, plan, result=AuditResult.DENIED)
        raise NotAllowed(_("Only the leadership-group leader (组长) approves or returns a work plan."))
    with transaction.atomic():
        plan = _locked(plan)
        if plan.status != PlanStatus.SUBMITTED:
            raise Conflict(_("This plan is not waiting for approval (it is %(status)s).")
                           % {"status": plan.get_status_display()})
        comment = str(comment or "").strip()
        if not approve and not comment:
            raise Invalid(errors={"comment": [_("Say what should change: the director reads your comment.")]})
        if len(comment) > GOALS_MAX:
            raise Invalid(errors={"comment": [_("Keep it under %(n)d characters.") % {"n": GOALS_MAX}]})
        plan.status = PlanStatus.APPROVED if approve else PlanStatus.RETURNED
        plan.decided_by = _user(request)
        plan.decided_at = timezone.now()
        plan.return_comment = "" if approve else comment
        plan.save(update_fields=["status", "decided_by", "decided_at", "return_comment", "updated_at"])
        audit(request, action, plan)
        notify_users([plan.drafted_by], PLAN_APPROVED if approve else PLAN_RETURNED, {"period": plan.label},
                     reverse("planning:plan", args=[plan.pk]))
    return plan


def approve_plan(request: HttpRequest, pk: Any, comment: str = "") -> WorkPlan:
    return _decide(request, pk, True, comment)


def return_plan(request: HttpRequest, pk: Any, comment: str) -> WorkPlan:
    return _decide(request, pk, False, comment)


def mark_task_done(request: HttpRequest, pk: Any, note: str = "") -> PlanTask:
    """A task of an approved plan is done: by its owner or the school's director."""
    user = _user(request)
    number = _id(pk)
    task = (PlanTask.objects.select_related("plan")
            .filter(pk=number, plan__in=visible_plans(user)).first()) if number else None
    if task is None:
        raise _denied(request, "planning.task.done", "planning.plantask", pk)
    if not _marks_done(user, task, _holds(user, DRAFTER_ROLE, task.plan.school_id)):
        audit(request, "planning.task.done", task, result=AuditResult.DENIED)
        raise NotAllowed(_("Only the task's owner or the centre director marks it done."))
    with transaction.atomic():
        task = PlanTask.objects.select_for_update(of=("self",)).select_related("plan").get(pk=task.pk)
        if task.plan.status != PlanStatus.APPROVED:
            raise Conflict(_("Tasks are tracked once the plan is approved."))
        if task.status == TaskStatus.DONE:
            raise Conflict(_("This task is marked done already."))
        errors: dict[str, list[Any]] = {}
        note = _text(note, errors, "note", ITEM_MAX, required=False)
        if errors:
            raise Invalid(errors=errors)
        task.status = TaskStatus.DONE
        task.done_at = timezone.now()
        task.done_by = user
        task.note = note
        task.save(update_fields=["status", "done_at", "done_by", "note"])
        audit(request, "planning.task.done", task)
    return task


# --- meetings -----------------------------------------------------------------------------------


@dataclass
class MeetingInput:
    held_on: Any = None
    title: Any = ""
    attendees: list[Any] = field(default_factory=list)
    minutes: Any = ""
    decisions: Any = ""


def record_meeting(request: HttpRequest, data: MeetingInput, school_id: Any = None) -> Meeting:
    user = _user(request)
    schools = sorted(schools_of(user, MEETING_WRITER_ROLES))
    if school_id not in (None, ""):
        schools = [s for s in schools if s == _id(school_id)]
    if not schools:
        audit(request, "planning.meeting.record", object_type="network.unit", object_id=str(school_id or "-")[:64],
              result=AuditResult.DENIED)
        raise NotAllowed(_("Only the centre director and the group's leaders record its meetings."))
    school = Unit.objects.get(pk=schools[0])
    errors: dict[str, list[Any]] = {}
    held_on = _date(data.held_on, errors, "held_on")
    title = _text(data.title, errors, "title", TITLE_MAX)
    minutes = _text(data.minutes, errors, "minutes", MINUTES_MAX, required=False)
    decisions = _text(data.decisions, errors, "decisions", MINUTES_MAX, required=False)
    raw = data.attendees if isinstance(data.attendees, list | tuple) else [data.attendees]
    if len(raw) > ATTENDEES_MAX:
        errors["attendees"] = [_("At most %(n)d attendees.") % {"n": ATTENDEES_MAX}]
        raw = []
    attendees: list[User] = []
    for value in raw:
        person = _member(school, value, errors, "attendees")
        if person is not None and person not in attendees:
            attendees.append(person)
    if "attendees" in errors:
        errors["attendees"] = errors["attendees"][:1]
    elif not attendees:
        errors["attendees"] = [_("Choose who attended.")]
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        meeting = Meeting.objects.create(school=school, held_on=held_on, title=title, minutes=minutes,
                                         decisions=decisions, recorded_by=user)
        meeting.attendees.set(attendees)
        audit(request, "planning.meeting.record", meeting)
    return meeting


@dataclass
class ItemInput:
    text: Any = ""
    owner: Any = None
    due_on: Any = None


def add_action_item(request: HttpRequest, meeting_pk: Any, data: ItemInput) -> ActionItem:
    user = _user(request)
    meeting = meeting_for(request, meeting_pk, "planning.item.add")
    if meeting.school_id not in schools_of(user, MEETING_WRITER_ROLES):
        audit(request, "planning.item.add", meeting, result=AuditResult.DENIED)
        raise NotAllowed(_("Only the centre director and the group's leaders add action items."))
    with transaction.atomic():
        errors: dict[str, list[Any]] = {}
        text = _text(data.text, errors, "text", ITEM_MAX)
        owner = _member(meeting.school, data.owner, errors, "owner")
        due = _date(data.due_on, errors, "due_on")
        if due and due < meeting.held_on:
            errors["due_on"] = [_("The due date cannot be before the meeting.")]
        if errors:
            raise Invalid(errors=errors)
        item = ActionItem.objects.create(meeting=meeting, text=text, owner=owner, due_on=due)
        audit(request, "planning.item.add", item)
        notify_users([owner], ITEM_GIVEN, {"due": due.isoformat()}, reverse("planning:mine"))
    return item


def mark_item_done(request: HttpRequest, pk: Any) -> ActionItem:
    user = _user(request)
    number = _id(pk)
    item = (ActionItem.objects.filter(pk=number, meeting__in=visible_meetings(user)).first()
            if number else None)
    if item is None:
        raise _denied(request, "planning.item.done", "planning.actionitem", pk)
    if item.owner_id != user.pk:
        audit(request, "planning.item.done", item, result=AuditResult.DENIED)
        raise NotAllowed(_("Only the action item's owner marks it done."))
    with transaction.atomic():
        item = ActionItem.objects.select_for_update().get(pk=item.pk)
        if item.done:
            raise Conflict(_("This action item is marked done already."))
        item.done = True
        item.done_at = timezone.now()
        item.save(update_fields=["done", "done_at"])
        audit(request, "planning.item.done", item)
    return item

