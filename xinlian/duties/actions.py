"""The actions of periodic peer reports, each written once.

The report pages (``views.py``) and the REST API (``api.py``) parse their input, call one of
these and map its outcome: a result, or NotFound (404), NotAllowed (403), Conflict (409) or
Invalid (400) from :mod:`xinlian.lib.actions`. Each action takes the request first (the audit
row records its address) and does the scoped lookup, the capability check, the rule (under a
row lock, backed by the one-report-per-post-and-period constraint) and the audit row in the
same transaction as the change.

Who may do what:
- a reporter (心理委员, 宿舍联络员; the 辅导员 for the college summary) files for the unit of
  their own post, for a period that is open and within their term on it;
- the 辅导员 of the class's college signs off or sends back class and dormitory reports; the
  college lead does the same for the 辅导员's monthly summary, which the centre then receives;
- what flags say is read by the 辅导员, the college lead and the centre over the unit (and
  by the reporter who wrote it); completeness (counts only) also by the school's leadership."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, F, FilteredRelation, Q, QuerySet
from django.db.models.functions import Substr
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from xinlian.access.models import AuditResult
from xinlian.access.policy import Cap, active_posts_of, audit, visible_students
from xinlian.care import actions as care_actions
from xinlian.care.access import reportable_students
from xinlian.care.models import Category, Urgency
from xinlian.lib.actions import Conflict, Invalid, NotAllowed, NotFound
from xinlian.lib.converters import id_of as _id
from xinlian.network.models import Post, Role, Student, Unit, UnitKind, User
from xinlian.notify.services import notify_users

from . import cycles
from .models import (
    COMPLETENESS_ROLES,
    FLAG_READER_ROLES,
    REPORT_ROLES,
    REVIEWER_ROLE,
    Cadence,
    Flag,
    OverallState,
    Report,
    ReportCycle,
    ReportPeriod,
    ReportStatus,
)

TEXT_MAX = 2000
FLAGS_MAX = 30
FLAG_NAMESPACE = uuid.UUID("6f1d3c52-7a7e-4a43-9d0c-2b7c5e0f9a11")
SENT_BACK = gettext_noop("Your report for %(period)s was sent back: please read the comment and file it again.")
SUMMARY_APPROVED = gettext_noop("The college summary of %(place)s for %(period)s was approved.")


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _over(posts: list[Post], roles: frozenset[str] | set[str], unit: Unit) -> bool:
    """Whether one of ``posts`` with a role in ``roles`` sits at ``unit`` or above it."""
    return any(p.role in roles and unit.path.startswith(p.unit.path) for p in posts)


def _units_of(user: User, roles: frozenset[str]) -> list[Unit]:
    units = sorted((p.unit for p in active_posts_of(user) if p.role in roles), key=lambda u: len(u.path))
    kept: list[Unit] = []
    for unit in units:
        if not any(unit.path.startswith(k.path) for k in kept):
            kept.append(unit)
    return kept


# --- reading ------------------------------------------------------------------------------------


def visible_reports(user: User) -> QuerySet[Report]:
    """The reports ``user`` may open: their own, and those under a unit where they read flags."""
    q = Q(reporter_id=user.pk)
    for unit in _units_of(user, FLAG_READER_ROLES):
        q |= Q(unit__path__startswith=unit.path)
    return Report.objects.filter(q)


def reads_flags(user: User, report: Report) -> bool:
    return report.reporter_id == user.pk or _over(active_posts_of(user), FLAG_READER_ROLES, report.unit)


def may_review(user: User, report: Report) -> bool:
    role = REVIEWER_ROLE[report.post.role]
    return _over(active_posts_of(user), {role}, report.unit)


def reviews_anything(user: User) -> bool:
    return any(p.role in (Role.FUDAOYUAN, Role.COLLEGE_LEAD) for p in active_posts_of(user))


def sees_completeness(user: User) -> bool:
    return any(p.role in COMPLETENESS_ROLES for p in active_posts_of(user))


@dataclass
class ReportView:
    report: Report
    flags: list[Flag]
    reads_flags: bool
    can_review: bool


def _report_qs() -> QuerySet[Report]:
    return Report.objects.select_related("period__cycle", "post", "unit", "reporter", "reviewed_by")


def report_for(request: HttpRequest, pk: Any, action: str) -> Report:
    """A report the actor may open; anything else is missing (a denied audit row)."""
    user = _user(request)
    number = _id(pk)
    report = _report_qs().filter(pk=number).filter(pk__in=visible_reports(user).values("pk")).first() \
        if number else None
    if report is None:
        audit(request, action, object_type="duties.report", object_id=str(pk)[:64] or "-",
              result=AuditResult.DENIED)
        raise NotFound
    return report


def read_report(request: HttpRequest, pk: Any) -> ReportView:
    """A report with what its flags say, where the reader may read it (audited when they are
    not its author)."""
    user = _user(request)
    report = report_for(request, pk, "duties.report.view")
    readable = reads_flags(user, report)
    flags = list(report.flags.select_related("student__user", "student__klass")) if readable else []
    if readable and report.reporter_id != user.pk and flags:
        audit(request, "duties.report.view", report, detail=f"flags={len(flags)}")
    return ReportView(report, flags, readable, may_review(user, report))


def list_reports(request: HttpRequest, *, status: str = "", to_review: bool = False) -> QuerySet[Report]:
    """Reports the actor may open, newest period first, each with its number of flags.
    ``to_review``: only those waiting for the actor's sign-off."""
    user = _user(request)
    qs = visible_reports(user)
    if status:
        if status not in ReportStatus.values:
            raise Invalid(errors={"status": [_("Unknown status.")]})
        qs = qs.filter(status=status)
    if to_review:
        q = Q(pk__in=[])
        for post in active_posts_of(user):
            for role, reviewer in REVIEWER_ROLE.items():
                if reviewer == post.role:
                    q |= Q(post__role=role, unit__path__startswith=post.unit.path)
        qs = qs.filter(q, status=ReportStatus.SUBMITTED)
    return (qs.select_related("period__cycle", "post", "unit", "reporter")
            .annotate(n_flags=Count("flags")).order_by("-period__starts_on", "unit__path", "pk"))


# --- what a reporter owes -------------------------------------------------------------------------


@dataclass
class Due:
    """One report a reporter owes (or may still edit): the post, the period, the report so far."""

    post: Post
    period: ReportPeriod
    report: Report | None

    @property
    def done(self) -> bool:
        return self.report is not None and self.report.status in (ReportStatus.SUBMITTED,
                                                                  ReportStatus.SIGNED_OFF)


def reports_due(user: User, today: dt.date | None = None) -> list[Due]:
    """For each of the user's reporting posts, the periods open today within their term, with
    the report filed so far: the earliest due first (a fixed number of queries)."""
    today = today or timezone.localdate()
    posts = [p for p in active_posts_of(user) if p.role in REPORT_ROLES]
    if not posts:
        return []
    by_post = cycles.cycles_for_posts(posts)
    if not by_post:
        return []
    periods = cycles.open_periods({c.pk: c for c in by_post.values()}.values(), today)
    wanted = [(post, period) for post in posts if post.pk in by_post
              for period in periods.get(by_post[post.pk].pk, []) if cycles.term_covers(post, period)]
    if not wanted:
        return []
    filed = {(r.post_id, r.period_id): r for r in Report.objects.filter(
        post__in=[p for p, _ in wanted], period__in={pd.pk for _, pd in wanted})}
    due = [Due(post, period, filed.get((post.pk, period.pk))) for post, period in wanted]
    due.sort(key=lambda d: (d.period.due_on, d.post.unit.path))
    return due


# --- filing ---------------------------------------------------------------------------------------


@dataclass
class FlagInput:
    student: Any
    seen: Any
    category: Any
    urgency: Any


@dataclass
class ReportInput:
    zero: bool = False
    state: str = OverallState.CALM
    note: str = ""
    flags: list[FlagInput] = field(default_factory=list)
    draft: bool = False


def _post_for(request: HttpRequest, post_id: Any = None, unit_id: Any = None) -> Post:
    """The actor's reporting post: by id (another's post is missing), or by unit (a unit that
    is not their post's is refused with a message)."""
    user = _user(request)
    mine = Post.objects.filter(person=user, role__in=REPORT_ROLES).select_related("unit")
    if post_id is not None:
        post = mine.filter(pk=_id(post_id)).first() if _id(post_id) else None
        if post is None:
            audit(request, "duties.report.submit", object_type="network.post",
                  object_id=str(post_id)[:64], result=AuditResult.DENIED)
            raise NotFound
        return post
    number = _id(unit_id)
    posts = list(mine.filter(unit_id=number).order_by("-starts_on")) if number else []
    if not posts:
        audit(request, "duties.report.submit", object_type="network.unit", object_id=str(unit_id)[:64] or "-",
              result=AuditResult.DENIED)
        raise Invalid(errors={"unit": [_("You report only for the class or dormitory of your own post.")]})
    today = timezone.localdate()
    return next((p for p in posts if p.is_active(today)), posts[0])


def _period_for(post: Post, period_id: Any) -> ReportPeriod:
    """The period ``period_id`` of the post's cycle; without an id, the open period due first
    whose report is not signed off yet."""
    found = cycles.cycles_for_posts([post])
    cycle = found.get(post.pk)
    if cycle is None:
        raise Conflict(_("Your school has no report cycle for this post."))
    if period_id is None or period_id == "":
        periods = cycles.open_periods([cycle]).get(cycle.pk, [])
        periods = [p for p in periods if cycles.term_covers(post, p)]
        signed = set(Report.objects.filter(post=post, period__in=periods, status=ReportStatus.SIGNED_OFF)
                     .values_list("period_id", flat=True))
        period = next((p for p in periods if p.pk not in signed), None)
        if period is None:
            raise Conflict(_("No period is open for a report now."))
        return period
    number = _id(period_id)
    period = ReportPeriod.objects.filter(pk=number, cycle=cycle).first() if number else None
    if period is None:
        raise NotFound
    period.cycle = cycle
    return period


def flag_roster(user: User, post: Post) -> QuerySet[Student]:
    """Whom a report may flag and its form lists: the concern form's scope (the reportable
    students the reporter also sees on the roster) within the post's own unit. A peer reporter
    reads nothing more than this roster."""
    roster = reportable_students(user).filter(pk__in=visible_students(user, Cap.ROSTER).values("pk"))
    return roster.filter(pk__in=Student.objects.in_units([post.unit]).values("pk")).order_by("user__username")


def _clean_flags(post: Post, user: User, data: ReportInput) -> list[tuple[Student, str, str, str]]:
    """The flags as (student, seen, category, urgency); every fault by field, nothing written."""
    errors: list[str] = []
    if not data.flags:
        return []
    if len(data.flags) > FLAGS_MAX:
        raise Invalid(errors={"flags": [_("At most %(n)d students in one report.") % {"n": FLAGS_MAX}]})
    ids = [_id(f.student) for f in data.flags]
    students = flag_roster(user, post).select_related("user").in_bulk([i for i in ids if i])
    cleaned = []
    seen_ids: set[int] = set()
    for number, flag in zip(ids, data.flags, strict=True):
        student = students.get(number) if number else None
        seen = str(flag.seen or "").strip()
        if student is None:
            errors.append(_("A flagged student is not on the roster of your class or dormitory."))
            continue
        if student.pk in seen_ids:
            errors.append(_("%(name)s is flagged twice.") % {"name": student.name})
            continue
        seen_ids.add(student.pk)
        if not seen:
            errors.append(_("Say what you saw about %(name)s.") % {"name": student.name})
        elif len(seen) > TEXT_MAX:
            errors.append(_("Keep what you saw under %(n)d characters.") % {"n": TEXT_MAX})
        if flag.category not in Category.values:
            errors.append(_("Choose a category for %(name)s.") % {"name": student.name})
        if flag.urgency not in Urgency.values:
            errors.append(_("Choose how urgent it is for %(name)s.") % {"name": student.name})
        cleaned.append((student, seen, str(flag.category), str(flag.urgency)))
    if errors:
        raise Invalid(errors={"flags": errors})
    return cleaned


@dataclass
class ReportForm:
    post: Post
    period: ReportPeriod
    report: Report | None
    flags: list[Flag]
    roster: list[Student]

    @property
    def editable(self) -> bool:
        return self.report is None or self.report.status != ReportStatus.SIGNED_OFF


def form_for(request: HttpRequest, post_id: Any, period_id: Any) -> ReportForm:
    """What the report form shows: the actor's post, the period, the report so far (with its
    flags: the reporter's own words) and the roster it may flag."""
    user = _user(request)
    post = _post_for(request, post_id)
    period = _period_for(post, period_id)
    report = Report.objects.filter(post=post, period=period).first()
    flags = list(report.flags.select_related("student__user")) if report else []
    roster = list(flag_roster(user, post).select_related("user"))
    return ReportForm(post, period, report, flags, roster)


def becomes_concern(category: str, urgency: str) -> bool:
    """An urgent flag is a concern at once; so is any talk of self-harm or suicide."""
    return urgency == Urgency.NOW or category == Category.SELF_HARM


def submit_report(request: HttpRequest, *, post_id: Any = None, unit_id: Any = None,
                  period_id: Any = None, data: ReportInput) -> Report:
    """File (or, until it is signed off, edit) the report of the actor's post for a period.

    A zero report ("本周无异常") is one tap: ``zero`` with no flags. Urgent flags become
    concerns through care's concern verb, so the alert path and its escalation run as for any
    concern; the others reach the 辅导员 with the report. A draft is kept but not submitted."""
    user = _user(request)
    post = _post_for(request, post_id, unit_id)
    period = _period_for(post, period_id)
    today = timezone.localdate()
    if not cycles.term_covers(post, period):
        audit(request, "duties.report.submit", post, result=AuditResult.DENIED, detail="term")
        raise NotAllowed(_("This period is outside your term on this post."))
    if period.is_closed(today):
        raise Conflict(_("This period is closed: reports for it are no longer taken."))
    if not period.has_started(today):
        raise Conflict(_("This period has not started yet."))
    if data.state not in OverallState.values:
        raise Invalid(errors={"state": [_("Choose the overall state.")]})
    note = str(data.note or "").strip()
    if len(note) > TEXT_MAX:
        raise Invalid(errors={"note": [_("Keep the note under %(n)d characters.") % {"n": TEXT_MAX}]})
    if data.zero and data.flags:
        raise Invalid(errors={"flags": [_("A report of nothing unusual flags no student.")]})
    flags = _clean_flags(post, user, data)
    if flags and data.state == OverallState.CALM:
        data.state = OverallState.CONCERNS
    if period.cycle.role in (Role.COMMITTEE_MEMBER, Role.DORM_LIAISON) and not data.zero and not flags \
            and data.state == OverallState.CONCERNS and not note:
        raise Invalid(errors={"note": [_("Say what needs attention, or flag a student.")]})

    with transaction.atomic():
        report = _locked_report(post, period, user)
        if report.status == ReportStatus.SIGNED_OFF:
            raise Conflict(_("This report is signed off: it can no longer be changed."))
        if data.draft and report.is_submitted:
            raise Conflict(_("This report is already submitted: submit your changes instead."))
        report.state = OverallState.CALM if data.zero else data.state
        report.is_zero = bool(data.zero) or (report.state == OverallState.CALM and not flags)
        report.note = note
        report.status = ReportStatus.DRAFT if data.draft else ReportStatus.SUBMITTED
        if not data.draft and report.submitted_at is None:
            report.submitted_at = timezone.now()
        report.save()
        report.flags.all().delete()
        rows = []
        for student, seen, category, urgency in flags:
            concern = None
            if not data.draft and becomes_concern(category, urgency):
                key = uuid.uuid5(FLAG_NAMESPACE, f"{report.pk}:{student.pk}")
                concern, _created = care_actions.report_concern(
                    request, student.pk, key=key, category=category, urgency=urgency, seen=seen)
            rows.append(Flag(report=report, student=student, seen=seen, category=category,
                             urgency=urgency, concern=concern))
        Flag.objects.bulk_create(rows)
        audit(request, "duties.report.draft" if data.draft else "duties.report.submit", report,
              detail=f"zero={int(report.is_zero)},flags={len(rows)}")
    return report


def _locked_report(post: Post, period: ReportPeriod, user: User) -> Report:
    """The post's report for the period, locked; made when there is none (a second submit that
    raced the first finds the first one: the constraint holds one per post and period)."""
    # Only the report's own row is locked (the default ordering would join, and lock, the
    # period every reporter of the week shares).
    mine = Report.objects.select_for_update(of=("self",)).filter(post=post, period=period).order_by()
    report = mine.first()
    if report is not None:
        return report
    try:
        with transaction.atomic():
            return Report.objects.create(post=post, period=period, unit=post.unit, reporter=user)
    except IntegrityError:
        return mine.get()


# --- review ---------------------------------------------------------------------------------------


def _for_review(request: HttpRequest, pk: Any, action: str) -> Report:
    user = _user(request)
    report = report_for(request, pk, action)
    if not may_review(user, report):
        audit(request, action, report, result=AuditResult.DENIED)
        if report.post.role == Role.FUDAOYUAN:
            raise NotAllowed(_("Only the college lead approves the college summary."))
        raise NotAllowed(_("Only the 辅导员 of the class's college signs off its reports."))
    return report


def sign_off_report(request: HttpRequest, pk: Any, comment: str = "") -> Report:
    """Sign off a submitted report (for a college summary: approve it; the centre receives it)."""
    report = _for_review(request, pk, "duties.report.sign_off")
    comment = _comment(comment, required=False)
    with transaction.atomic():
        locked = Report.objects.select_for_update(of=("self",)).order_by().get(pk=report.pk)
        if locked.status != ReportStatus.SUBMITTED:
            raise Conflict(_("This report is %(status)s: only a submitted report is signed off.")
                           % {"status": locked.get_status_display()})
        _reviewed(report, locked, request, ReportStatus.SIGNED_OFF, comment)
        audit(request, "duties.report.sign_off", report)
        if report.post.role == Role.FUDAOYUAN:
            centre = User.objects.filter(pk__in=Post.objects.active().filter(
                role=Role.CENTRE_DIRECTOR, unit__in=Unit.objects.get_ancestors(report.unit)).values("person_id"))
            notify_users(centre, SUMMARY_APPROVED,
                         {"place": report.unit.breadcrumb(), "period": report.period.label},
                         report.get_absolute_url())
    return report


def send_back_report(request: HttpRequest, pk: Any, comment: str) -> Report:
    """Send a submitted report back to its reporter with a comment; they file it again."""
    report = _for_review(request, pk, "duties.report.send_back")
    comment = _comment(comment, required=True)
    with transaction.atomic():
        locked = Report.objects.select_for_update(of=("self",)).order_by().get(pk=report.pk)
        if locked.status != ReportStatus.SUBMITTED:
            raise Conflict(_("This report is %(status)s: only a submitted report is sent back.")
                           % {"status": locked.get_status_display()})
        _reviewed(report, locked, request, ReportStatus.SENT_BACK, comment)
        audit(request, "duties.report.send_back", report)
        notify_users([report.reporter], SENT_BACK, {"period": report.period.label}, report.get_absolute_url())
    return report


def _comment(comment: Any, *, required: bool) -> str:
    text = str(comment or "").strip()
    if required and not text:
        raise Invalid(errors={"comment": [_("Say what should change before it is sent back.")]})
    if len(text) > TEXT_MAX:
        raise Invalid(errors={"comment": [_("Keep the comment under %(n)d characters.") % {"n": TEXT_MAX}]})
    return text


def _reviewed(report: Report, locked: Report, request: HttpRequest, status: str, comment: str) -> None:
    locked.status = status
    locked.reviewed_by = _user(request)
    locked.reviewed_at = timezone.now()
    locked.review_comment = comment
    locked.save(update_fields=["status", "reviewed_by", "reviewed_at", "review_comment", "updated_at"])
    for name in ("status", "reviewed_by", "reviewed_at", "review_comment", "updated_at"):
        setattr(report, name, getattr(locked, name))


# --- completeness ---------------------------------------------------------------------------------


@dataclass
class Tally:
    expected: int = 0
    on_time: int = 0
    late: int = 0
    zero: int = 0
    signed_off: int = 0

    @property
    def submitted(self) -> int:
        return self.on_time + self.late

    @property
    def missing(self) -> int:
        return max(self.expected - self.submitted, 0)

    @property
    def rate(self) -> int:
        return round(100 * self.submitted / self.expected) if self.expected else 100

    def add(self, other: Tally) -> None:
        for name in ("expected", "on_time", "late", "zero", "signed_off"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Row:
    label: str
    tally: Tally
    unit: Unit | None = None          # a unit row: drills down
    post: Post | None = None          # a reporter's row (class level)
    report_id: int | None = None
    status: str = ""
    status_label: str = ""


@dataclass
class Completeness:
    unit: Unit
    cycle: ReportCycle
    period: ReportPeriod
    rows: list[Row]
    total: Tally
    cycles: list[ReportCycle]
    periods: list[ReportPeriod]
    trail: list[Unit]
    due_passed: bool


def completeness_units(user: User) -> list[Unit]:
    return _units_of(user, COMPLETENESS_ROLES)


def completeness(request: HttpRequest, *, unit_id: Any = None, cycle_id: Any = None,
                 period_id: Any = None) -> Completeness:
    """Expected, on time, late, missing and zero reports of one period under one unit, a row for
    each child unit (or, in a class, for each reporter). Counted in the database: a fixed number
    of queries whatever the size of the school."""
    user = _user(request)
    roots = completeness_units(user)
    if not roots:
        audit(request, "duties.completeness", object_type="network.unit", object_id=str(unit_id or "-")[:64],
              result=AuditResult.DENIED)
        raise NotAllowed(_("Report completeness is for the centre, the colleges and the school's leadership."))
    unit = roots[0]
    if unit_id not in (None, ""):
        number = _id(unit_id)
        unit = Unit.objects.filter(pk=number).first() if number else None
        if unit is None or not any(unit.path.startswith(r.path) for r in roots):
            audit(request, "duties.completeness", object_type="network.unit", object_id=str(unit_id)[:64],
                  result=AuditResult.DENIED)
            raise NotFound
    school_paths = cycles.school_prefix(unit.path)
    all_cycles = list(ReportCycle.objects.filter(school__path__in=school_paths, school__kind=UnitKind.SCHOOL)
                      .select_related("school").order_by("pk"))
    if not all_cycles and unit.kind == UnitKind.SCHOOL:
        all_cycles = cycles.ensure_default_cycles(unit)
    if not all_cycles:
        raise Conflict(_("No report cycle is set for this school."))
    cycle = all_cycles[0]
    if cycle_id not in (None, ""):
        cycle = next((c for c in all_cycles if c.pk == _id(cycle_id)), None)  # type: ignore[assignment]
        if cycle is None:
            raise Invalid(errors={"cycle": [_("Choose one of the school's report cycles.")]})
    if period_id not in (None, ""):
        number = _id(period_id)
        period = ReportPeriod.objects.filter(pk=number, cycle=cycle).first() if number else None
        if period is None:
            raise Invalid(errors={"period": [_("Choose one of this cycle's periods.")]})
        period.cycle = cycle
    else:
        period = cycles.latest_due(cycle)
    periods = list(ReportPeriod.objects.filter(cycle=cycle).order_by("-starts_on")[:12])
    rows, total = _tally(unit, cycle, period)
    trail = [u for u in Unit.objects.filter(path__in=cycles.school_prefix(unit.path)).order_by("path")
             if any(u.path.startswith(r.path) for r in roots)]
    return Completeness(unit=unit, cycle=cycle, period=period, rows=rows, total=total, cycles=all_cycles,
                        periods=periods, trail=trail, due_passed=timezone.localdate() > period.due_on)


def _expected_posts(unit: Unit, cycle: ReportCycle, period: ReportPeriod) -> QuerySet[Post]:
    return (Post.objects.filter(cycles.expected_q(period), role=cycle.role, unit__path__startswith=unit.path)
            .annotate(rep=FilteredRelation("reports", condition=Q(reports__period=period))))


def _counts(period: ReportPeriod) -> dict[str, Any]:
    deadline = period.deadline
    return {
        "expected": Count("pk"),
        "on_time": Count("pk", filter=Q(rep__submitted_at__lt=deadline)),
        "late": Count("pk", filter=Q(rep__submitted_at__gte=deadline)),
        "zero": Count("pk", filter=Q(rep__submitted_at__isnull=False, rep__is_zero=True)),
        "signed_off": Count("pk", filter=Q(rep__status=ReportStatus.SIGNED_OFF)),
    }


def _tally(unit: Unit, cycle: ReportCycle, period: ReportPeriod) -> tuple[list[Row], Tally]:
    posts = _expected_posts(unit, cycle, period)
    total = Tally()
    rows: list[Row] = []
    if unit.kind in (UnitKind.CLASS, UnitKind.DORMITORY):
        for post in (posts.select_related("person", "unit")
                     .annotate(r_id=F("rep__pk"), r_status=F("rep__status"),
                               r_at=F("rep__submitted_at"), r_zero=F("rep__is_zero"))
                     .order_by("unit__path", "person__username")):
            tally = Tally(expected=1)
            if post.r_at is not None:
                tally.on_time = int(post.r_at < period.deadline)
                tally.late = int(post.r_at >= period.deadline)
                tally.zero = int(bool(post.r_zero))
            tally.signed_off = int(post.r_status == ReportStatus.SIGNED_OFF)
            total.add(tally)
            label = f"{post.person.full_name} · {post.unit.display_name}"
            status = post.r_status or ""
            rows.append(Row(label=label, tally=tally, post=post, report_id=post.r_id, status=status,
                            status_label=str(ReportStatus(status).label) if status else ""))
        return rows, total
    width = len(unit.path) + Unit.steplen
    grouped = {g["key"]: g for g in posts.annotate(key=Substr("unit__path", 1, width)).values("key")
               .annotate(**_counts(period)).order_by("key")}
    children = {u.path: u for u in Unit.objects.filter(path__in=list(grouped))}
    for key, counts in grouped.items():
        tally = Tally(**{k: counts[k] for k in ("expected", "on_time", "late", "zero", "signed_off")})
        total.add(tally)
        child = children.get(key)
        if child is None:  # a post at the unit itself (a 辅导员 posted at the college)
            rows.append(Row(label=unit.display_name, tally=tally))
        else:
            rows.append(Row(label=child.display_name, tally=tally, unit=child))
    return rows, total


# --- the cycle ------------------------------------------------------------------------------------


@dataclass
class CycleInput:
    cadence: Any
    due_weekday: Any
    due_day: Any
    grace_days: Any
    active: Any = True


def _int(value: Any, low: int, high: int) -> int | None:
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if low <= number <= high else None


def set_cycle(request: HttpRequest, cycle_id: Any, data: CycleInput) -> ReportCycle:
    """The centre sets a role's cycle at its school: cadence, due day and grace days."""
    user = _user(request)
    number = _id(cycle_id)
    cycle = ReportCycle.objects.select_related("school").filter(pk=number).first() if number else None
    # In scope: a school the actor's completeness scope reaches or lies in.
    if cycle is None or not any(cycle.school.path.startswith(u.path) or u.path.startswith(cycle.school.path)
                                for u in completeness_units(user)):
        audit(request, "duties.cycle.set", object_type="duties.reportcycle", object_id=str(cycle_id)[:64],
              result=AuditResult.DENIED)
        raise NotFound
    if not _over(active_posts_of(user), {Role.CENTRE_DIRECTOR}, cycle.school):
        audit(request, "duties.cycle.set", cycle, result=AuditResult.DENIED)
        raise NotAllowed(_("Only the centre director sets the report cycles."))
    errors: dict[str, list[Any]] = {}
    if data.cadence not in Cadence.values:
        errors["cadence"] = [_("Choose weekly, fortnightly or monthly.")]
    weekday = _int(data.due_weekday, 0, 6)
    if weekday is None:
        errors["due_weekday"] = [_("Choose a weekday.")]
    day = _int(data.due_day, 1, 28)
    if day is None:
        errors["due_day"] = [_("Choose a day from 1 to 28.")]
    grace = _int(data.grace_days, 0, 31)
    if grace is None:
        errors["grace_days"] = [_("Grace days are a number from 0 to 31.")]
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        cycle = ReportCycle.objects.select_for_update().get(pk=cycle.pk)
        cycle.cadence, cycle.due_weekday, cycle.due_day, cycle.grace_days = data.cadence, weekday, day, grace
        cycle.active = bool(data.active)
        cycle.save()
        audit(request, "duties.cycle.set", cycle, detail=f"{cycle.cadence},{weekday},{day},{grace}")
    return cycle
