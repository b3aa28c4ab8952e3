"""The actions of the linkage hub, each written once.

Every function here is the one place where its action happens, whichever front-end asks: the
care pages (``views.py``) and the REST API (``api.py``) parse their input, call the action and
map its outcome — a result, or :class:`~xinlian.lib.actions.NotFound` (404),
:class:`~xinlian.lib.actions.NotAllowed` (403), :class:`~xinlian.lib.actions.Conflict` (409; a
:class:`~xinlian.care.models.CareError` is one) or :class:`~xinlian.lib.actions.Invalid` (400).

Each action takes the ``request`` first (the audit row records its address), then ids, then the
parsed input, and does:

1. the scoped lookup through :mod:`xinlian.care.access` / :mod:`xinlian.access.policy`
   (outside the actor's scope: NotFound, and a denied audit row);
2. the capability check (NotAllowed, audited too);
3. the business rule, in the model's verb, which locks the row and checks its state under the
   lock (a database constraint where one can hold it: a race ends as a Conflict);
4. the audit row, in the same transaction as the change.

Steps 1 and 2 run before the change's transaction, so that a refusal's audit row is kept when
the refusal ends the request."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.db import IntegrityError, transaction
from django.db.models import Case as DbCase
from django.db.models import IntegerField, QuerySet, Value, When
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from xinlian.access.models import AuditResult
from xinlian.access.policy import (
    Cap,
    audit,
    caps_over_student,
    get_student_for_user,
    has_cap,
    visible_students,
)
from xinlian.access.ratelimit import concern_refusal
from xinlian.lib.actions import Conflict, Invalid, NotAllowed, NotFound
from xinlian.network.models import Student, User

from . import records
from .access import (
    CaseAccess,
    NeedsBreakGlass,
    case_access,
    case_team_choices,
    chronology_for,
    get_alert_for_user,
    get_case_for_user,
    guardian_contacts,
    is_centre_staff_for,
    may_act_on_alert,
    may_dismiss_alert,
    may_edit_team,
    may_review_closure,
    reportable_students,
    sees_alert_report,
    sees_clinical,
    uses_alert_inbox,
    uses_case_list,
    visible_alerts,
    visible_cases,
)
from .models import (
    SELF_REVIEW,
    Alert,
    AlertStatus,
    BreakGlass,
    Case,
    CaseRecord,
    CaseStatus,
    Concern,
    FollowUp,
    HeardFrom,
    RecordKind,
    RiskEntry,
    RiskLevel,
    TimelineEntry,
    Triage,
    Urgency,
)
from .network import centre_directors

MAX_ID = 2**63 - 1  # beyond a database integer: missing, never an overflow
NOTE_MAX = 2000
BREAK_GLASS_MESSAGE = _("Break-glass access lets you read this case and add a note; the rest is "
                        "for the case team.")


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


ID_TEXT = re.compile(r"[0-9]{1,19}")


def parse_id(value: Any) -> int | None:
    """An id typed or posted by a client: ASCII digits within a database integer, else None
    ("²" is a digit to ``str.isdigit`` but no number to ``int``)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and ID_TEXT.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        return None
    return number if 0 < number <= MAX_ID else None


def _id(pk: Any) -> int:
    value = parse_id(pk)
    if value is None:
        raise NotFound
    return value


def _note(note: str | None) -> str:
    note = note or ""
    if len(note) > NOTE_MAX:
        raise Invalid(errors={"note": [_("Keep it under %(n)s characters.") % {"n": NOTE_MAX}]})
    return note


def _paged(request: HttpRequest, qs: QuerySet[Any], page: Any, per_page: int) -> Page:
    return Paginator(qs, per_page).get_page(page)


STUDENT_ACTION_CAP = {"risk.set": Cap.SCORES, "followup.record": Cap.RISK}
STUDENT_ACTION_REFUSAL = {
    "risk.set": _("Only the counselling centre and 辅导员 set register levels."),
    "followup.record": _("Only the people responsible for a student record follow-ups."),
}


def student_for(request: HttpRequest, pk: Any, action: str) -> Student:
    """Steps 1 and 2 of an action on a student's register line ("risk.set": the screening tier
    over the student; "followup.record": the risk tier). Outside the roster scope NotFound,
    in it without the tier NotAllowed — both audited."""
    student, held = _student_in_roster_scope(request, pk, action)
    if STUDENT_ACTION_CAP[action] not in held:
        audit(request, action, student, result=AuditResult.DENIED)
        raise NotAllowed(STUDENT_ACTION_REFUSAL[action])
    return student


def _student_in_roster_scope(request: HttpRequest, pk: Any, action: str) -> tuple[Student, set[Cap]]:
    """The student and the tiers held over them; outside the roster scope NotFound (audited)."""
    user = _user(request)
    pk = _id(pk)
    student = (visible_students(user, Cap.ROSTER).select_related("user", "klass", "dorm")
               .filter(pk=pk).first())
    if student is None:
        audit(request, action, object_type="network.student", object_id=str(pk),
              result=AuditResult.DENIED)
        raise NotFound
    return student, caps_over_student(user, student)


# --- concerns -----------------------------------------------------------------------------------


def concern_subject(request: HttpRequest, pk: Any) -> Student:
    """A student the actor may report about; anyone else is missing (audited)."""
    user = _user(request)
    raw = str(pk)[:64]
    student = None
    if (number := parse_id(pk)) is not None:
        student = reportable_students(user).filter(pk=number).select_related("user", "klass").first()
    if student is None:
        audit(request, "concern.new", object_type="network.student", object_id=raw or "-",
              result=AuditResult.DENIED)
        raise NotFound
    return student


def report_concern(request: HttpRequest, student_id: Any, *, key: uuid.UUID | None, category: str,
                   urgency: str, seen: str, seen_at: dt.datetime | None = None,
                   heard_from: str = HeardFrom.SELF) -> tuple[Concern, bool]:
    """File a concern and raise its alert. A replay of ``key`` returns the first concern
    (``created`` False); a key of another reporter is a Conflict."""
    user = _user(request)
    student = concern_subject(request, student_id)
    _check_concern_rate(request, user, key=key, urgency=urgency)
    with transaction.atomic():
        concern, created = Concern.submit(key=key, reporter=user, student=student, category=category,
                                          urgency=urgency, seen=seen, seen_at=seen_at,
                                          heard_from=heard_from or HeardFrom.SELF)
        if created:
            audit(request, "concern.new", concern)
    return concern, created


def _check_concern_rate(request: HttpRequest, user: User, *, key: uuid.UUID | None, urgency: str) -> None:
    """At most CONCERN_RATE_PER_HOUR concerns an hour per reporter; an urgent ("now") one may
    go on up to CONCERN_URGENT_RATE_PER_HOUR, so a reporter on a bad night is not stopped from
    the report that matters. Counted in the database (every process sees it); a replay of an
    earlier key is never refused (it files nothing)."""
    urgent = urgency == Urgency.NOW
    limit = settings.CONCERN_URGENT_RATE_PER_HOUR if urgent else settings.CONCERN_RATE_PER_HOUR
    since = timezone.now() - dt.timedelta(hours=1)
    used = Concern.objects.filter(reporter=user, created_at__gte=since).count()
    if used < limit:
        return
    if key is not None and Concern.objects.filter(key=key, reporter=user).exists():
        return
    raise concern_refusal(request, used=used, limit=limit, urgent=urgent)


# --- alerts -------------------------------------------------------------------------------------


def list_alerts(request: HttpRequest, *, status: str = "", hide_resolved: bool = False,
                page: Any = None, per_page: int = 25) -> Page:
    """The inbox: alerts the actor answers for or may read, overdue and unacknowledged first
    (resolved ones newest first). One audit row per page read."""
    user = _user(request)
    if not uses_alert_inbox(user):
        raise NotAllowed(_("The alert inbox is for the people of the network who follow students up."))
    if status and status not in AlertStatus.values:
        raise Invalid(errors={"status": [_("Choose one of: %(choices)s.")
                                         % {"choices": ", ".join(AlertStatus.values)}]})
    qs = visible_alerts(user).select_related("student__user", "student__klass", "acknowledged_by")
    if status:
        qs = qs.filter(status=status)
    elif hide_resolved:
        qs = qs.exclude(status=AlertStatus.RESOLVED)
    qs = qs.order_by("-resolved_at", "-pk") if status == AlertStatus.RESOLVED else qs.inbox_order()
    result = _paged(request, qs, page, per_page)
    if result.object_list:
        audit(request, "alert.inbox", object_type="care.alert", object_id="inbox",
              detail=f"page={result.number};rows={len(result.object_list)};status={status or 'all'}")
    return result


@dataclass
class AlertView:
    alert: Alert
    can_act: bool
    clinical: bool  # the notes of others: screening or case tier
    # What the alert is about (the concern's category, urgency and text; a screening's reason):
    # the clinical tiers, and whoever it is routed to while it is theirs (access.sees_alert_report).
    report: bool = False
    may_dismiss: bool = False  # triage "no action needed" (access.may_dismiss_alert)
    reads_results: bool = False  # a screening alert links to the result (the screening tier)


def _alert_view(user: User, alert: Alert, can_act: bool) -> AlertView:
    held = caps_over_student(user, alert.student)
    return AlertView(alert, can_act, sees_clinical(held),
                     report=sees_alert_report(user, alert, held),
                     may_dismiss=can_act and may_dismiss_alert(user, alert, held),
                     reads_results=Cap.SCORES in held)


def alert_view(user: User, alert: Alert) -> AlertView:
    """What ``user`` may see and do with ``alert``, for the answer to an action they just did on
    it (no second audit row: the action wrote its own)."""
    return _alert_view(user, alert, may_act_on_alert(user, alert))


def read_alert(request: HttpRequest, pk: Any) -> AlertView:
    """One alert (audited); for those who read what it is about, the report behind it too
    (audited: the concern, or the screening result that raised it)."""
    alert, can_act = get_alert_for_user(request, _id(pk))
    view = _alert_view(_user(request), alert, can_act)
    if view.report and alert.concern_id:
        audit(request, "concern.view", object_type="care.concern", object_id=str(alert.concern_id),
              detail="routed" if not view.clinical else "")
    if view.report and alert.reason:
        audit(request, "alert.reason", alert, detail="routed" if not view.clinical else "")
    return view


def alert_for(request: HttpRequest, pk: Any, action: str) -> Alert:
    """Steps 1 and 2 of acting on an alert (``action``: "alert.acknowledge", "alert.triage",
    "alert.resolve"). A front-end whose input did not parse asks this first, so that a 404 or
    403 comes before a 400, as in the action itself."""
    user = _user(request)
    pk = _id(pk)
    alert = visible_alerts(user).select_related("student__user", "student__klass").filter(pk=pk).first()
    if alert is None:
        audit(request, action, object_type="care.alert", object_id=str(pk), result=AuditResult.DENIED)
        raise NotFound
    if not may_act_on_alert(user, alert):
        audit(request, action, alert, result=AuditResult.DENIED)
        raise NotAllowed(_("This alert is not yours to act on (yet)."))
    return alert


def acknowledge_alert(request: HttpRequest, pk: Any, note: str = "") -> Alert:
    note = _note(note)
    alert = alert_for(request, pk, "alert.acknowledge")
    with transaction.atomic():
        alert.acknowledge(_user(request), note)
        audit(request, "alert.acknowledge", alert)
    return alert


def triage_alert(request: HttpRequest, pk: Any, decision: str, note: str = "") -> tuple[Alert, Case | None]:
    """Record the triage decision; "open a case" (centre staff only) opens it, led by the actor.
    A student who already has an open case: Conflict, the alert untouched."""
    note = _note(note)
    if decision not in Triage.values:
        raise Invalid(errors={"decision": [_("Choose a decision.")]})
    user = _user(request)
    alert = alert_for(request, pk, "alert.triage")
    if decision == Triage.CASE and not is_centre_staff_for(user, alert.student):
        audit(request, "alert.triage", alert, result=AuditResult.DENIED, detail="decision=case")
        raise NotAllowed(_("Crisis cases are opened by the counselling centre."))
    if decision == Triage.NO_ACTION and not may_dismiss_alert(user, alert):
        audit(request, "alert.triage", alert, result=AuditResult.DENIED, detail="decision=no_action")
        raise NotAllowed(_("Only the counselling centre and the student's 辅导员 decide that an alert "
                           "needs no action; monitor it or refer it instead."))
    with transaction.atomic():
        case = alert.triage_as(user, decision, note)
        audit(request, "alert.triage", alert, detail=f"decision={decision}")
        if case is not None:
            audit(request, "case.open", case)
    return alert, case


def resolve_alert(request: HttpRequest, pk: Any, note: str = "") -> Alert:
    note = _note(note)
    alert = alert_for(request, pk, "alert.resolve")
    with transaction.atomic():
        alert.resolve(_user(request), note)
        audit(request, "alert.resolve", alert)
    return alert


# --- the risk register --------------------------------------------------------------------------

SEVERITY = DbCase(When(level=RiskLevel.RED, then=Value(0)), When(level=RiskLevel.ORANGE, then=Value(1)),
                  default=Value(2), output_field=IntegerField())
WATCHED = (RiskLevel.RED, RiskLevel.ORANGE, RiskLevel.YELLOW)


@dataclass
class RegisterPage:
    page: Page
    clinical: set[int] = field(default_factory=set)  # students whose clinical reason the reader sees


def clinical_students(user: User, ids: list[int]) -> set[int]:
    """Of the students ``ids``, those over whom ``user`` holds the screening or case tier
    (one query for a page of rows)."""
    if not ids:
        return set()
    held = visible_students(user, Cap.SCORES) | visible_students(user, Cap.CASE)
    return set(held.filter(pk__in=ids).values_list("pk", flat=True))


def list_register(request: HttpRequest, *, level: str = "", overdue: bool = False, page: Any = None,
                  per_page: int = 25) -> RegisterPage:
    """The watch list in the actor's risk scope, the most severe first, then by follow-up date.
    One audit row per page read, counting the clinical reasons shown."""
    user = _user(request)
    if not has_cap(user, Cap.RISK):
        raise NotAllowed(_("The register is for holders of the risk tier."))
    if level and level not in WATCHED:
        raise Invalid(errors={"level": [_("Choose one of: %(choices)s.")
                                        % {"choices": ", ".join(WATCHED)}]})
    qs = (RiskEntry.objects.watched().filter(student__in=visible_students(user, Cap.RISK))
          .select_related("student__user", "student__klass", "set_by"))
    if level:
        qs = qs.filter(level=level)
    if overdue:
        qs = qs.filter(follow_up_due_at__lte=timezone.now())
    result = _paged(request, qs.annotate(severity=SEVERITY).order_by("severity", "follow_up_due_at", "pk"),
                    page, per_page)
    entries = list(result.object_list)
    clinical = clinical_students(user, list({e.student_id for e in entries}))
    if entries:
        audit(request, "register.view", object_type="care.riskentry", object_id="register",
              detail=f"page={result.number};rows={len(entries)};level={level or 'all'}"
                     f"{';overdue' if overdue else ''};reasons={sum(e.student_id in clinical for e in entries)}")
    return RegisterPage(result, clinical)


def set_risk_level(request: HttpRequest, student_id: Any, *, level: str, reason: str = "",
                   review_on: dt.date | None = None) -> RiskEntry:
    """Set a student's level on the register: centre staff and the student's 辅导员 (the
    screening tier over the student). A reason is needed unless the student is taken off."""
    user = _user(request)
    errors: dict[str, list[Any]] = {}
    if level not in RiskLevel.values:
        errors["level"] = [_("Choose a level.")]
    reason = (reason or "").strip()
    if level != RiskLevel.NONE and not reason:
        errors["reason"] = [_("Give the reason for this level.")]
    if len(reason) > 4000:
        errors["reason"] = [_("Keep it under %(n)s characters.") % {"n": 4000}]
    if review_on and review_on < timezone.localdate():
        errors["review_on"] = [_("The review date is in the past.")]
    student = student_for(request, student_id, "risk.set")
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        entry = RiskEntry.set_level(student, level, by=user, reason=reason, review_on=review_on)
        audit(request, "risk.set", student, detail=f"level={level}")
    return entry


def record_follow_up(request: HttpRequest, student_id: Any, note: str = "") -> FollowUp:
    """Log a contact with a student; anyone holding the risk tier over them may. It moves the
    register's next follow-up date; ``next_due_at`` is set on the result."""
    user = _user(request)
    note = _note(note)
    student = student_for(request, student_id, "followup.record")
    with transaction.atomic():
        fu = FollowUp.record(student, by=user, note=note)
        audit(request, "followup.record", student)
    entry = RiskEntry.current_for(student)
    fu.next_due_at = entry.follow_up_due_at if entry else None  # type: ignore[attr-defined]
    return fu


# --- cases --------------------------------------------------------------------------------------


def list_cases(request: HttpRequest, *, status: str = "", page: Any = None, per_page: int = 25) -> Page:
    """Cases of the actor's team and of students under their case tier. ``status``: "open"
    (open or under review), "closed", or every case. One audit row per page read."""
    user = _user(request)
    if not uses_case_list(user):
        raise NotAllowed(_("Crisis cases are for the staff who follow students up."))
    qs = visible_cases(user).select_related("student__user", "student__klass", "lead")
    if status == CaseStatus.CLOSED:
        qs = qs.filter(status=CaseStatus.CLOSED)
    elif status == CaseStatus.OPEN:
        qs = qs.exclude(status=CaseStatus.CLOSED)
    elif status:
        raise Invalid(errors={"status": [_("Choose one of: %(choices)s.") % {"choices": "open, closed"}]})
    result = _paged(request, qs.order_by("-opened_at", "-pk"), page, per_page)
    if result.object_list:
        audit(request, "case.list", object_type="care.case", object_id="list",
              detail=f"page={result.number};rows={len(result.object_list)};status={status or 'all'}")
    return result


def open_case(request: HttpRequest, student_id: Any, alert_id: Any = None) -> Case:
    """Open a crisis case (centre staff), optionally from one of the student's alerts; the actor
    leads it. One open case per student (a database constraint): a second is a Conflict whose
    ``obj`` is the open case."""
    user = _user(request)
    raw = str(student_id)[:64] if student_id is not None else "-"
    student = None
    if (number := parse_id(student_id)) is not None:
        student = visible_students(user, Cap.RISK).filter(pk=number).select_related("klass").first()
    if student is None:
        audit(request, "case.open", object_type="network.student", object_id=raw or "-",
              result=AuditResult.DENIED)
        raise NotFound
    if not is_centre_staff_for(user, student):
        audit(request, "case.open", student, result=AuditResult.DENIED)
        raise NotAllowed(_("Crisis cases are opened by the counselling centre."))
    alert = None
    if (alert_pk := parse_id(alert_id)) is not None:
        alert = visible_alerts(user).filter(pk=alert_pk, student=student).first()
    with transaction.atomic():
        case = Case.open_for(student, by=user, alert=alert)
        audit(request, "case.open", case)
    return case


@dataclass
class CaseView:
    case: Case
    access: CaseAccess
    can_close: bool
    can_edit_team: bool
    grant: BreakGlass | None

    @property
    def can_write(self) -> bool:
        return self.access == CaseAccess.TEAM

    @property
    def can_add_note(self) -> bool:
        return self.access in (CaseAccess.TEAM, CaseAccess.GLASS)


def _case_view(user: User, case: Case, access: CaseAccess) -> CaseView:
    can_write = access == CaseAccess.TEAM
    grant = BreakGlass.active_for(case, user) if access == CaseAccess.GLASS else None
    # The closure's reviewer is someone other than the one who asked for it.
    own_request = case.status == CaseStatus.REVIEW and case.closure_requester_id() == user.pk
    return CaseView(case, access, can_close=can_write and may_review_closure(user, case) and not own_request,
                    can_edit_team=can_write and may_edit_team(user, case), grant=grant)


def case_view(user: User, case: Case) -> CaseView:
    """What ``user`` may do with ``case``, for the answer to an action they just did on it
    (no second audit row: the action wrote its own)."""
    return _case_view(user, case, case_access(user, case))


def read_case(request: HttpRequest, pk: Any) -> CaseView:
    """One case, audited (a break-glass read marked as such). Staff who may break the glass get
    :class:`~xinlian.care.access.NeedsBreakGlass` (403), anyone else NotFound."""
    case, can_write = get_case_for_user(request, _id(pk))
    return _case_view(_user(request), case, CaseAccess.TEAM if can_write else CaseAccess.GLASS)


def case_for(request: HttpRequest, pk: Any, action: str, *, kind: str = "") -> Case:
    """Steps 1 and 2 of a change to a case (``action``: "case.record" with its ``kind``,
    "case.team", "case.request_closure", "case.close", "case.reopen"): the case team (or the
    case tier); a break-glass holder only for a note; the team's lead or the director for the
    team; the director for closure. Refusals are audited under the action's name. A front-end
    whose input did not parse asks this first, so that a 404 or 403 comes before a 400.

    It runs before the action's transaction, so that a refusal's audit row is kept; the model's
    verb then locks the case and checks its state again."""
    user = _user(request)
    pk = _id(pk)
    case = Case.objects.select_related("student__user", "student__klass").filter(pk=pk).first()
    access = case_access(user, case) if case is not None else CaseAccess.NONE
    glass_ok = action == "case.record" and kind == RecordKind.NOTE
    if case is None or access == CaseAccess.NONE:
        audit(request, action, object_type="care.case", object_id=str(pk), result=AuditResult.DENIED)
        raise NotFound
    refusal: Any = None
    if access == CaseAccess.NEEDS_GLASS:
        audit(request, action, case, result=AuditResult.DENIED)
        raise NeedsBreakGlass(case)
    if access == CaseAccess.GLASS and not glass_ok:
        refusal = BREAK_GLASS_MESSAGE
    elif action == "case.team" and not may_edit_team(user, case):
        refusal = _("The case team is changed by its lead or the centre director.")
    elif action in ("case.close", "case.send_back") and not may_review_closure(user, case):
        refusal = _("Closure needs the centre director's review.")
    elif action in ("case.close", "case.send_back") and case.status == CaseStatus.REVIEW \
            and case.closure_requester_id() == user.pk:
        refusal = SELF_REVIEW
    if refusal is not None:
        audit(request, action, case, result=AuditResult.DENIED)
        raise NotAllowed(refusal)
    return case


def add_case_record(request: HttpRequest, pk: Any, kind: str, data: dict[str, Any]) -> CaseRecord:
    """Add a record of ``kind`` (see :mod:`xinlian.care.records`) with its parsed fields. A
    break-glass holder may add a note only. Telling a guardian is an explicit, audited
    disclosure; a follow-up record also moves the register's next follow-up date."""
    if kind not in records.ADDABLE:
        raise Invalid(errors={"kind": [_("Choose one of: %(choices)s.")
                                       % {"choices": ", ".join(records.ADDABLE)}]})
    user = _user(request)
    case = case_for(request, pk, "case.record", kind=kind)
    case._refuse_if_closed()
    content = records.content(kind, data, case.student)
    with transaction.atomic():
        record = case.add_record(kind, author=user, data=content)
        audit(request, "case.record", case, detail=f"kind={kind};record={record.pk}")
        if kind == RecordKind.GUARDIAN:
            audit(request, "case.guardian_notified", case,
                  detail=f"guardian={content['guardian_id'] or 'other'};how={content['how']}")
        elif kind == RecordKind.FOLLOW_UP:
            FollowUp.record(case.student, by=user, note=content["note"], case=case)
    return record


def set_case_team(request: HttpRequest, pk: Any, *, lead: Any, members: list[Any]) -> Case:
    """Name the case lead and members (the lead, or the centre director): staff who read the
    risk tier over the student, or the current team."""
    user = _user(request)
    case = case_for(request, pk, "case.team")
    case._refuse_if_closed()
    choices = {u.pk: u for u in case_team_choices(case)}
    errors: dict[str, list[Any]] = {}
    lead_pk = parse_id(lead)
    lead_user = choices.get(lead_pk) if lead_pk is not None else None
    if lead_user is None:
        errors["lead"] = [_("Choose a member of staff who follows this student up.")]
    wanted = [m for m in map(parse_id, members) if m is not None]
    if len(wanted) != len(members) or any(m not in choices for m in wanted):
        errors["members"] = [_("Choose members of staff who follow this student up.")]
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        case.set_team(user, lead=lead_user, members=[choices[m] for m in wanted])  # type: ignore[arg-type]
        audit(request, "case.team", case, detail=f"members={case.members.count()}")
    return case


def _required_text(name: str, value: str, max_length: int = 4000) -> str:
    value = (value or "").strip()
    if not value:
        raise Invalid(errors={name: [_("This field is required.")]})
    if len(value) > max_length:
        raise Invalid(errors={name: [_("Keep it under %(n)s characters.") % {"n": max_length}]})
    return value


def request_closure(request: HttpRequest, pk: Any, summary: str) -> Case:
    user = _user(request)
    case = case_for(request, pk, "case.request_closure")
    summary = _required_text("summary", summary)
    with transaction.atomic():
        case.request_closure(user, summary)
        audit(request, "case.request_closure", case)
    return case


def close_case(request: HttpRequest, pk: Any, review: str) -> Case:
    """Closure needs the centre director's review (the case tier over the student), after a
    closure request."""
    user = _user(request)
    case = case_for(request, pk, "case.close")
    review = _required_text("review", review)
    with transaction.atomic():
        case.close(user, review)
        audit(request, "case.close", case)
    return case


def send_back_closure(request: HttpRequest, pk: Any, comment: str) -> Case:
    """The reviewer (the case tier, not the one who asked) sends the closure back to the team
    with a comment: the case is open again."""
    user = _user(request)
    case = case_for(request, pk, "case.send_back")
    comment = _required_text("comment", comment, 2000)
    with transaction.atomic():
        case.send_back(user, comment)
        audit(request, "case.send_back", case)
    return case


def reopen_case(request: HttpRequest, pk: Any, reason: str) -> Case:
    user = _user(request)
    case = case_for(request, pk, "case.reopen")
    reason = _required_text("reason", reason, 2000)
    with transaction.atomic():
        case.reopen(user, reason)
        audit(request, "case.reopen", case)
    return case


def break_glass(request: HttpRequest, pk: Any, reason: str) -> BreakGlass:
    """Open a case outside one's team for a short window, with a typed reason; the centre
    director is told. Granted and refused attempts are both audited."""
    from xinlian.notify.services import break_glass_used

    user = _user(request)
    pk = _id(pk)
    case = Case.objects.select_related("student__klass", "student__dorm").filter(pk=pk).first()
    access = case_access(user, case) if case is not None else CaseAccess.NONE
    if access == CaseAccess.NONE:
        audit(request, "case.break_glass", object_type="care.case", object_id=str(pk),
              result=AuditResult.DENIED)
        raise NotFound
    if access in (CaseAccess.TEAM, CaseAccess.GLASS):
        raise Conflict(_("You already have access to this case."), obj=case)
    reason = (reason or "").strip()
    if len(reason) < BreakGlass.MIN_REASON or len(reason) > 1000:
        audit(request, "case.break_glass", case, result=AuditResult.DENIED)
        raise Invalid(errors={"reason": [_("Give your reason in at least %(n)s characters.")
                                         % {"n": BreakGlass.MIN_REASON}]}, obj=case)
    with transaction.atomic():
        now = timezone.now()
        grant = BreakGlass.objects.create(case=case, user=user, reason=reason, at=now,
                                          expires_at=now + BreakGlass.WINDOW)
        audit(request, "case.break_glass", case, result=AuditResult.BREAK_GLASS)
        break_glass_used(case, centre_directors(case.student))  # type: ignore[union-attr]
    return grant


# --- guardian contacts --------------------------------------------------------------------------


def read_guardians(request: HttpRequest, student_id: Any) -> list[Any]:
    """A student's guardian contacts (the case tier; the 辅导员 and 班主任, who make the calls),
    audited. Outside the roster scope NotFound; in it without the right NotAllowed (audited)."""
    try:
        student, held = get_student_for_user(request, _id(student_id))
    except Http404:
        raise NotFound from None
    guardians = guardian_contacts(request, student, held)
    if guardians is None:
        audit(request, "guardian.view", student, result=AuditResult.DENIED)
        raise NotAllowed(_("Guardian contacts are for the student's 辅导员, head teacher and case team."))
    return guardians


# --- chronology ---------------------------------------------------------------------------------


def read_chronology(request: HttpRequest, student_id: Any) -> QuerySet[TimelineEntry]:
    """A student's chronology, each entry at a tier the reader holds (the policy's student
    lookup: 404 out of scope, and an audit row for a tier-2+ reader)."""
    try:
        student, held = get_student_for_user(request, _id(student_id))
    except Http404:
        raise NotFound from None
    return chronology_for(request, student, held)


# --- duty rota (值班) ----------------------------------------------------------------------------

ROTA_HEADER = ["单位代码 unit code", "日期 date", "班次 shift", "职责 duty role", "工号 staff number",
               "值班电话 duty line"]
SHIFT_WORDS = {"night": "night", "夜班": "night", "weekend_day": "weekend_day", "周末白班": "weekend_day",
               "节假日白班": "weekend_day", "day": "day", "白班": "day", "日间值班": "day"}
ROLE_WORDS = {"first_line": "first_line", "一线": "first_line", "一线值班": "first_line",
              "centre": "centre", "中心值班": "centre", "中心": "centre",
              "leader": "leader", "带班领导": "leader", "领导": "leader"}
ROTA_MAX_ROWS = 5000
# A rota is planned up to a year ahead and corrected up to a month back; other dates are typos.
ROTA_DAYS_AHEAD = 366
ROTA_DAYS_BACK = 31


@dataclass
class ShiftInput:
    unit_id: Any
    date: Any
    kind: str
    role: str
    person: Any  # a user id from the page's choice, or a staff number from a file
    phone: str = ""


def rota_unit_for(request: HttpRequest, pk: Any) -> Any:
    """A school or college whose rota the actor keeps. A unit in the actor's roster scope whose
    rota they do not keep (a leader, a centre counsellor) is NotAllowed; any other is missing.
    Both refusals are audited."""
    from xinlian.access.policy import visible_units

    from . import rota

    number = parse_id(pk)
    user = _user(request)
    unit = next((u for u in rota.editable_units(user) if u.pk == number), None)
    if unit is None:
        audit(request, "rota.edit", object_type="network.unit", object_id=str(pk)[:64] or "-",
              result=AuditResult.DENIED)
        if number is not None and visible_units(user).filter(
                pk=number, kind__in=rota.ROTA_UNIT_KINDS).exists():
            raise NotAllowed(_("Only the people who keep this rota may change it."))
        raise NotFound
    return unit


# How far a listing may reach: a year either side of today, at most two months at once.
ROTA_LIST_REACH = 400
ROTA_LIST_MAX_DAYS = 62


@dataclass
class RotaShifts:
    unit: Any
    start: dt.date
    end: dt.date
    shifts: list[Any]


def list_shifts(request: HttpRequest, unit_id: Any, *, start: Any = None, end: Any = None,
                days: int = 7) -> RotaShifts:
    """The shifts of one school or college from ``start`` (default today) to ``end`` (default
    ``days`` days on), both inclusive, by date, shift and duty role."""
    from .models import DutyShift

    unit = rota_unit_for(request, unit_id)
    today = timezone.localdate()
    errors: dict[str, list[str]] = {}
    first = _parse_date(start) if start not in (None, "") else today
    if first is None:
        errors["start"] = [str(_("Give the date as YYYY-MM-DD."))]
    elif abs((first - today).days) > ROTA_LIST_REACH:
        errors["start"] = [str(_("Give a date within a year of today."))]
    last = None
    if first is not None and not errors:
        last = _parse_date(end) if end not in (None, "") else first + dt.timedelta(days=max(days, 1) - 1)
        if last is None:
            errors["end"] = [str(_("Give the date as YYYY-MM-DD."))]
        elif not 0 <= (last - first).days < ROTA_LIST_MAX_DAYS:
            errors["end"] = [str(_("Give an end date on or after the start, at most 62 days on."))]
    if errors or first is None or last is None:
        raise Invalid(errors=errors)
    shifts = list(DutyShift.objects.filter(unit=unit, date__gte=first, date__lte=last)
                  .select_related("person", "unit").order_by("date", "kind", "role", "person__full_name"))
    return RotaShifts(unit=unit, start=first, end=last, shifts=shifts)


def _parse_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        return None


def _check_shift(unit: Any, data: ShiftInput, *, by_number: bool) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """The rule of a shift, for the page and the file alike: errors by field, or the row's values."""
    from xinlian.network.models import validate_phone

    from . import rota
    from .models import DutyRole, ShiftKind

    errors: dict[str, list[str]] = {}
    day = _parse_date(data.date)
    if day is None:
        errors["date"] = [str(_("Give the date as YYYY-MM-DD."))]
    elif not -ROTA_DAYS_BACK <= (day - timezone.localdate()).days <= ROTA_DAYS_AHEAD:
        errors["date"] = [str(_("Give a date from a month ago to a year ahead."))]
    kind = SHIFT_WORDS.get(str(data.kind).strip(), "")
    if kind not in ShiftKind.values:
        errors["kind"] = [str(_("Choose night, weekend_day or day."))]
    role = ROLE_WORDS.get(str(data.role).strip(), "")
    if role not in DutyRole.values:
        errors["role"] = [str(_("Choose first_line, centre or leader."))]
    person = None
    if by_number:
        person = User.objects.filter(username=str(data.person).strip(), kind="staff").first()
    elif (number := parse_id(data.person)) is not None:
        person = User.objects.filter(pk=number, kind="staff").first()
    if person is None:
        errors["person"] = [str(_("No staff member with this number."))]
    elif role in DutyRole.values and not rota.may_stand_on(person, unit, role):
        errors["person"] = [str(_("This person holds no post that fits this duty role here."))]
    phone = str(data.phone or "").strip()
    if phone:
        try:
            validate_phone(phone)
        except ValidationError as exc:
            errors["phone"] = [str(m) for m in exc.messages]
    return errors, {"unit": unit, "date": day, "kind": kind, "role": role, "person": person,
                    "phone": phone}


def add_shift(request: HttpRequest, data: ShiftInput) -> Any:
    """Put someone on the rota of a school or college for one shift."""
    from .models import DutyShift

    unit = rota_unit_for(request, data.unit_id)
    errors, values = _check_shift(unit, data, by_number=False)
    if errors:
        raise Invalid(errors=errors)
    try:
        with transaction.atomic():
            shift = DutyShift.objects.create(**values, created_by=_user(request))
            audit(request, "rota.add", shift)
    except IntegrityError:
        raise Conflict(_("This person is already on this shift.")) from None
    return shift


def remove_shift(request: HttpRequest, unit_id: Any, pk: Any) -> None:
    """Take one shift off the rota of the school or college it belongs to."""
    from .models import DutyShift

    unit = rota_unit_for(request, unit_id)
    shift = DutyShift.objects.filter(pk=_id(pk), unit=unit).first()
    if shift is None:
        audit(request, "rota.remove", object_type="care.dutyshift", object_id=str(pk)[:64],
              result=AuditResult.DENIED)
        raise NotFound
    with transaction.atomic():
        audit(request, "rota.remove", shift)
        shift.delete()


def set_duty_line(request: HttpRequest, school_id: Any, *, night_phone: str, centre_phone: str) -> Any:
    """The school's night duty line and the centre's phone for the urgent path. Only the centre
    director keeps a school's rota (:func:`rota.editable_units`), so only they set these."""
    from xinlian.network.models import UnitKind, validate_phone

    from .models import DutyLine

    school = rota_unit_for(request, school_id)
    if school.kind != UnitKind.SCHOOL:
        raise NotFound
    errors: dict[str, list[str]] = {}
    values = {"night_phone": (night_phone or "").strip(), "centre_phone": (centre_phone or "").strip()}
    for name, value in values.items():
        if value:
            try:
                validate_phone(value)
            except ValidationError as exc:
                errors[name] = [str(m) for m in exc.messages]
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        line, _created = DutyLine.objects.update_or_create(school=school, defaults=values)
        audit(request, "rota.line", school)
    return line


@dataclass
class RotaImport:
    created: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)  # (row, column, message)


def rota_template() -> bytes:
    """The file to fill in: the header and one example row of each shift kind."""
    from xinlian.lib.spreadsheet import write_xlsx

    example = [["CS", "2026-09-01", "night", "first_line", "T0001", "0571-88886666"],
               ["SCH", "2026-09-05", "weekend_day", "centre", "T0002", ""],
               ["SCH", "2026-09-01", "day", "centre", "T0002", ""]]
    return write_xlsx([("值班 rota", ROTA_HEADER, example)], widths={"值班 rota": [14, 12, 12, 12, 14, 16]})


ROTA_MAX_BYTES = 2 * 1024 * 1024


def import_rota(request: HttpRequest, unit_id: Any, upload: Any, filename: str) -> RotaImport:
    """Shifts from an .xlsx (or CSV) file, all or nothing: any row in error and nothing is kept;
    every error is reported by row. Imported from the page of ``unit_id``; each row names its
    unit, which must be one whose rota the actor keeps (the director imports the school's and
    every college's in one file)."""
    from xinlian.lib.spreadsheet import (
        RowBudget,
        SpreadsheetError,
        looks_like_formula,
        read_spreadsheet,
        source_size,
    )

    from . import rota
    from .models import DutyShift

    rota_unit_for(request, unit_id)
    report = RotaImport()
    units = {u.code: u for u in rota.editable_units(_user(request))}
    if upload is None:
        report.errors.append((0, "", str(_("Choose a file to import."))))
        return report
    if source_size(upload) > ROTA_MAX_BYTES:
        report.errors.append((0, "", str(_("The file is too large; split it."))))
        return report
    if source_size(upload) == 0:
        report.errors.append((0, "", str(_("The file is empty."))))
        return report
    try:
        sheets = read_spreadsheet(upload, filename, RowBudget(ROTA_MAX_ROWS + 50))
    except SpreadsheetError as exc:
        report.errors.append((0, "", str(exc)))
        return report
    sheet = sheets[0] if sheets else None
    if sheet is None or [h.strip() for h in sheet.header[:len(ROTA_HEADER)]] != ROTA_HEADER:
        report.errors.append((0, "", str(_("Use the rota template: its header row is missing or changed."))))
        return report
    fields = ["unit_id", "date", "kind", "role", "person", "phone"]
    rows: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    for number, cells in sheet.rows[:ROTA_MAX_ROWS + 1]:
        if len(rows) >= ROTA_MAX_ROWS:
            report.errors.append((number, "", str(_("Too many rows; split the file."))))
            break
        raw = {f: cells.get(h, "") for f, h in zip(fields, ROTA_HEADER, strict=True)}
        bad = [h for f, h in zip(fields, ROTA_HEADER, strict=True)
               if isinstance(raw[f], str) and looks_like_formula(raw[f])]
        if bad:
            report.errors.append((number, bad[0], str(_("A cell must not start like a formula."))))
            continue
        unit = units.get(str(raw["unit_id"]).strip())
        if unit is None:
            report.errors.append((number, ROTA_HEADER[0],
                                  str(_("No school or college with this code whose rota you keep."))))
            continue
        errors, values = _check_shift(unit, ShiftInput(**{**raw, "unit_id": unit.pk}), by_number=True)
        for name, messages in errors.items():
            column = ROTA_HEADER[fields.index(name)]
            report.errors.extend((number, column, m) for m in messages)
        if errors:
            continue
        key = (unit.pk, values["date"], values["kind"], values["person"].pk)
        if key in seen or DutyShift.objects.filter(unit=unit, date=values["date"], kind=values["kind"],
                                                   person=values["person"]).exists():
            report.errors.append((number, ROTA_HEADER[4], str(_("This person is already on this shift."))))
            continue
        seen.add(key)
        rows.append(values)
    if not rows and not report.errors:
        report.errors.append((0, "", str(_("The file holds no rows to import."))))
    if report.errors:
        audit(request, "rota.import", object_type="care.dutyshift", object_id="-",
              result=AuditResult.DENIED, detail=f"{len(report.errors)} errors")
        return report
    user = _user(request)
    try:
        with transaction.atomic():
            DutyShift.objects.bulk_create([DutyShift(**v, created_by=user) for v in rows])
            audit(request, "rota.import", object_type="care.dutyshift",
                  object_id=",".join(sorted({v["unit"].code for v in rows}))[:64],
                  detail=f"{len(rows)} shifts")
    except IntegrityError:
        report.errors.append((0, "", str(_("Someone changed the rota meanwhile; import the file again."))))
        return report
    report.created = len(rows)
    return report
