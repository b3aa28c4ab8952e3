"""Access to care records, built only on the policy's primitives (xinlian.access.policy).

``access`` sits below ``care`` and cannot import it, so the per-object helpers for care's
sensitive types live here; they decide nothing on their own beyond mapping a record to its
student and asking the policy which tiers the reader holds over that student."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from xinlian.access.models import AuditResult
from xinlian.access.policy import (
    ROLE_CAPS,
    Cap,
    active_posts_of,
    audit,
    caps_over_student,
    has_cap,
    reads_guardian_contacts,
    scope_units,
    visible_students,
)
from xinlian.lib.actions import NotAllowed, NotFound
from xinlian.network.models import Post, Role, Student, UnitKind, User

from .models import Alert, AlertStatus, BreakGlass, Case, Concern, Tier, TimelineEntry
from .network import LADDER

TIER_OF_CAP = {Cap.ROSTER: Tier.ROSTER, Cap.RISK: Tier.RISK, Cap.SCORES: Tier.SCORES,
               Cap.CASE: Tier.CASE, Cap.NOTES: Tier.NOTES}


class NeedsBreakGlass(NotAllowed):
    """In the network, but outside the case team: the reader may break the glass with a reason.
    A :class:`~xinlian.lib.actions.NotAllowed` (403) that carries the case."""

    def __init__(self, case: Case) -> None:
        super().__init__(_("You are not on this case's team. You may open it with break-glass "
                           "access by giving a reason; the centre director is told."), obj=case)
        self.case = case


class CaseAccess(StrEnum):
    """What a reader may do with one case.

    Decision (issue 9): break-glass is for reading in an emergency. It allows READ and ADDING A
    NOTE record (what the reader found or did) and nothing else: no other record kind, no team
    change, no closure request, review or reopening — those stay with the case team and the
    centre director. Both front-ends ask this one function."""

    TEAM = "team"                # the case team and holders of the case tier: everything
    GLASS = "glass"              # an active break-glass: read, and add a note
    NEEDS_GLASS = "needs_glass"  # staff with the risk tier over the student: may break the glass
    NONE = "none"                # anyone else: the case does not exist for them (404)


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def highest_tier(held: set[Cap]) -> int:
    return max((TIER_OF_CAP[c] for c in held if c in TIER_OF_CAP), default=0)


# --- concerns -----------------------------------------------------------------------------------


def reportable_students(user: User) -> QuerySet[Student]:
    """Whom ``user`` may report about: everyone under a post that may report (a peer reporter:
    their classmates or roommates; the leadership, parent and student representatives: their
    unit), a student about themself or a classmate, and any member of staff — a 任课老师
    without a post included — about any student, named by student number. Reporting writes; it
    reads nothing: whom a reporter may *list* is their roster (care.views._listable)."""
    kind = getattr(user, "kind", None)
    if kind == "staff" and getattr(user, "is_active", False) and not _outside_schools(user):
        return Student.objects.all()
    if kind == "student" and not visible_students(user, Cap.REPORT).exists():
        own = Student.objects.filter(user=user).select_related("klass").first()
        if own is not None:
            return Student.objects.filter(klass_id=own.klass_id)
    return visible_students(user, Cap.REPORT) | Student.objects.filter(user_id=user.pk)


def _outside_schools(user: User) -> bool:
    """Education-bureau viewers (and nobody else) stand above the schools' networks: they see
    de-identified aggregates and report about nobody."""
    posts = active_posts_of(user)
    return bool(posts) and all(p.role == Role.BUREAU_VIEWER for p in posts)


def may_report(user: User) -> bool:
    """Whether ``user`` is offered "report a concern" at all: a post that may report, any member
    of staff of a school, any student."""
    kind = getattr(user, "kind", None)
    return (kind == "student" or has_cap(user, Cap.REPORT)
            or (kind == "staff" and not _outside_schools(user)))


def my_concerns(user: User) -> QuerySet[Concern]:
    """A reporter sees their own reports and their status, nothing else."""
    return Concern.objects.filter(reporter=user)


# --- alerts -------------------------------------------------------------------------------------


def visible_alerts(user: User) -> QuerySet[Alert]:
    """Alerts the user answers for, and alerts of students whose risk tier they hold."""
    return Alert.objects.filter(student__in=visible_students(user, Cap.RISK)) | \
        Alert.objects.for_responsible(user)


def get_alert_for_user(request: HttpRequest, pk: int) -> tuple[Alert, bool]:
    """The alert and whether the user may act on it (acknowledge, triage, resolve)."""
    user = _user(request)
    alert = visible_alerts(user).select_related("student__user", "student__klass").filter(pk=pk).first()
    if alert is None:
        audit(request, "alert.view", object_type="care.alert", object_id=str(pk),
              result=AuditResult.DENIED)
        raise NotFound
    audit(request, "alert.view", alert)
    return alert, may_act_on_alert(user, alert)


def may_act_on_alert(user: User, alert: Alert) -> bool:
    """Acknowledge, triage, resolve: the rung the alert is routed to, and the case tier."""
    return is_routed_to(user, alert) or Cap.CASE in caps_over_student(user, alert.student)


def is_routed_to(user: User, alert: Alert) -> bool:
    """Whether ``alert`` is routed to ``user``: their rung of the ladder once the alert has climbed
    to it (班主任 and 辅导员, the college lead, the centre director, the leadership), every red
    alert for the centre director, and the duty people the night's chain reached (AlertDuty)."""
    return Alert.objects.for_responsible(user).filter(pk=alert.pk).exists()


def sees_alert_report(user: User, alert: Alert, held: set[Cap] | None = None) -> bool:
    """What an alert is about (the concern's category, urgency and text; why a screening raised
    it): the clinical tiers over the student always, and whoever the alert is routed to while it
    is theirs to act on (until it is resolved) — nobody is asked to act blind."""
    held = caps_over_student(user, alert.student) if held is None else held
    if sees_clinical(held):
        return True
    return alert.status != AlertStatus.RESOLVED and is_routed_to(user, alert)


def may_dismiss_alert(user: User, alert: Alert, held: set[Cap] | None = None) -> bool:
    """Triage as "no action needed" (无需处理) closes the matter: only someone who may act on the
    alert AND can judge it clinically (the screening or case tier over the student: the centre,
    the student's 辅导员). A 班主任, college lead, leader or duty person acknowledges, monitors or
    refers; they are not offered the dismissal."""
    held = caps_over_student(user, alert.student) if held is None else held
    return sees_clinical(held) and may_act_on_alert(user, alert)


# --- cases --------------------------------------------------------------------------------------


def case_access(user: User, case: Case) -> CaseAccess:
    held = caps_over_student(user, case.student)
    if case.on_team(user) or Cap.CASE in held:
        return CaseAccess.TEAM
    if BreakGlass.active_for(case, user) is not None:
        return CaseAccess.GLASS
    if may_break_glass(user, held):
        return CaseAccess.NEEDS_GLASS
    return CaseAccess.NONE


def may_break_glass(user: User, held: set[Cap]) -> bool:
    """Staff in the network with the risk tier over the student (they see the level, and may be
    the one on call when the case team is not)."""
    return Cap.RISK in held and getattr(user, "kind", None) == "staff"


def get_case_for_user(request: HttpRequest, pk: int) -> tuple[Case, bool]:
    """The case and whether the user may write to it (every record kind, the team, closure).

    The case team and holders of the case tier (the centre director) read and write; an active
    break-glass lets its holder READ and add a NOTE only (``can_write`` is False: see
    :class:`CaseAccess`); a network member with the risk tier over the student gets
    :class:`NeedsBreakGlass` (403); anyone else :class:`~xinlian.lib.actions.NotFound`.
    Every read is audited; a break-glass read is marked as such."""
    user = _user(request)
    case = Case.objects.select_related("student__user", "student__klass", "lead").filter(pk=pk).first()
    if case is None:
        audit(request, "case.view", object_type="care.case", object_id=str(pk),
              result=AuditResult.DENIED)
        raise NotFound
    access = case_access(user, case)
    if access == CaseAccess.TEAM:
        audit(request, "case.view", case)
        return case, True
    if access == CaseAccess.GLASS:
        audit(request, "case.view", case, result=AuditResult.BREAK_GLASS)
        return case, False
    audit(request, "case.view", case, result=AuditResult.DENIED)
    if access == CaseAccess.NEEDS_GLASS:
        raise NeedsBreakGlass(case)
    raise NotFound


def visible_cases(user: User) -> QuerySet[Case]:
    on_team = Case.objects.filter(lead=user) | Case.objects.filter(members=user)
    return (on_team | Case.objects.filter(student__in=visible_students(user, Cap.CASE))).distinct()


def case_team_choices(case: Case) -> QuerySet[User]:
    """Who may be named lead or member: staff who read the risk tier over the student, and the
    current team (so that saving the form keeps them)."""
    current = [case.lead_id, *case.members.values_list("pk", flat=True)]
    return (case_team_candidates(case.student) | User.objects.filter(pk__in=current)) \
        .distinct().order_by("full_name")


# --- guardian contacts --------------------------------------------------------------------------


def guardian_contacts(request: HttpRequest, student: Student, held: set[Cap]) -> list[Any] | None:
    """The student's guardians for a reader the policy lets call them (the case tier; the
    辅导员 and 班主任: ``reads_guardian_contacts``), with an audit row; None for anyone else."""
    if not reads_guardian_contacts(held):
        return None
    audit(request, "guardian.view", student)
    return list(student.guardians.order_by("-is_primary", "pk"))


# --- chronology ---------------------------------------------------------------------------------


def chronology_for(request: HttpRequest, student: Student, held: set[Cap]) -> QuerySet[TimelineEntry]:
    """The student's timeline, each entry shown only to readers whose tier allows it."""
    tier = highest_tier(held)
    if getattr(request.user, "pk", None) == student.user_id and tier < Tier.RISK:
        return TimelineEntry.objects.none()  # a student's own risk history is not theirs to browse
    return TimelineEntry.objects.filter(student=student, tier__lte=tier).select_related("actor")


# --- who may do what on the care pages (the web and API ask these) -------------------------------

LADDER_ROLES = frozenset(role for rung in LADDER for role in rung)
CLINICAL = frozenset({Cap.SCORES, Cap.CASE})


def sees_clinical(held: set[Cap]) -> bool:
    """Concern text, register reasons and alert notes are clinical: tier 3+ over the student
    (centre staff, the student's 辅导员). Head teachers and college leads see level and guidance."""
    return bool(held & CLINICAL)


def is_centre_staff_for(user: User, student: Student) -> bool:
    """Centre staff (the centre director, psychology teachers): Cap.SCORES from a post at the
    school (or above) that holds the student. They open crisis cases."""
    path = student.klass.path
    return any(u.kind in (UnitKind.SCHOOL, UnitKind.BUREAU) and path.startswith(u.path)
               for u in scope_units(user, Cap.SCORES))


def may_set_level(user: User, student: Student) -> bool:
    """The register's level is set by those who see the screening results behind it: centre
    staff and the student's 辅导员 (Cap.SCORES over the student)."""
    return Cap.SCORES in caps_over_student(user, student)


def uses_alert_inbox(user: User) -> bool:
    """Holders of the risk tier anywhere, and anyone on a rung of the escalation ladder."""
    return has_cap(user, Cap.RISK) or any(p.role in LADDER_ROLES for p in active_posts_of(user))


def uses_case_list(user: User) -> bool:
    return getattr(user, "kind", None) == "staff" and (
        has_cap(user, Cap.RISK) or visible_cases(user).exists())


def may_review_closure(user: User, case: Case) -> bool:
    """Closing a case needs the centre director's review (the case tier over the student)."""
    return Cap.CASE in caps_over_student(user, case.student)


def may_edit_team(user: User, case: Case) -> bool:
    return case.lead_id == user.pk or may_review_closure(user, case)


def case_team_candidates(student: Student) -> QuerySet[User]:
    """Staff with an active post at a unit holding the student whose role reads the risk tier."""
    roles = [role for role, caps in ROLE_CAPS.items() if Cap.RISK in caps]
    posts = Post.objects.active().filter(unit__in=student.units(), role__in=roles)
    return User.objects.filter(pk__in=posts.values("person_id"), kind="staff",
                               is_active=True).order_by("full_name")
