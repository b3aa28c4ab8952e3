"""Who sees what of a screening, built only on the policy's primitives (xinlian.access.policy).

- Results (scores, item answers) are tier 3: centre staff (Cap.SCORES from a post at the school)
  and the student's 辅导员 (Cap.SCORES from a college or class post) — the latter only when the
  campaign's visibility allows it. Every read is audited (by the verbs in actions.py).
- Progress (invited / started / completed / declined, and who has not finished) is roster-level
  follow-up work: holders of the risk tier over the students (head teachers, 辅导员, college
  leads, the centre).
- Interview status ("pending" / "done") is tier 2; the reasons, outcome notes and scores are
  tier 3.
- Peer reporters and other students see nothing; a respondent sees only their own assignment.
Out-of-scope objects answer 404.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from xinlian.access.policy import Cap, active_posts_of, scope_units, visible_students
from xinlian.lib import hotsql
from xinlian.network.models import Role, Student, Unit, UnitKind, User

from .models import Assignment, Campaign, Interview, Result, Visibility

CENTRE_ROLES = (Role.CENTRE_DIRECTOR, Role.COUNSELLOR)


def centre_units(user: User) -> list[Unit]:
    """Schools (or a bureau) where the user holds the scores tier: the centre's reach."""
    return [u for u in scope_units(user, Cap.SCORES) if u.kind in (UnitKind.SCHOOL, UnitKind.BUREAU)]


def managed_schools(user: User) -> list[Unit]:
    """Schools whose campaigns the user runs: the counselling-centre director's."""
    return [p.unit for p in active_posts_of(user)
            if p.role == Role.CENTRE_DIRECTOR and p.unit.kind == UnitKind.SCHOOL]


def may_manage(user: User, campaign: Campaign) -> bool:
    return campaign.school_id in {u.pk for u in managed_schools(user)}


def _under(units: list[Unit], field: str = "student__klass__path") -> Q:
    q = Q(pk__in=[])
    for u in units:
        q |= Q(**{f"{field}__startswith": u.path})
    return q


def visible_campaigns(user: User) -> QuerySet[Campaign]:
    """Campaigns of the schools where the user follows students up (risk tier) or runs the centre."""
    units = scope_units(user, Cap.RISK) + managed_schools(user)
    school_ids = set()
    for u in units:
        if u.kind == UnitKind.BUREAU:
            school_ids |= set(Unit.objects.subtree_of([u]).filter(kind=UnitKind.SCHOOL)
                              .values_list("pk", flat=True))
        else:
            school = u.school()
            if school is not None:
                school_ids.add(school.pk)
    return Campaign.objects.filter(school_id__in=school_ids)


def campaign_in_scope(user: User, pk: int) -> tuple[Campaign | None, bool]:
    """The campaign if the user sees it, and whether they manage it."""
    campaign = visible_campaigns(user).select_related("school").filter(pk=pk).first()
    return campaign, campaign is not None and may_manage(user, campaign)


def progress_roots(user: User, campaign: Campaign, manages: bool) -> list[Unit]:
    """The units of the campaign's school where the user follows students up: the whole school
    for the centre, else their risk-tier units there (a college, a class)."""
    school = campaign.school
    if manages:
        return [school]
    out = []
    for unit in scope_units(user, Cap.RISK):
        if school.path.startswith(unit.path):
            return [school]
        if unit.path.startswith(school.path):
            out.append(unit)
    return out


def in_reach(unit: Unit, roots: list[Unit]) -> bool:
    """A unit inside the user's units, or above one of them (a head teacher may open their
    college's page: it counts their class only)."""
    return any(unit.path.startswith(r.path) or r.path.startswith(unit.path) for r in roots)


def unit_in_reach(campaign: Campaign, roots: list[Unit], pk: int) -> Unit | None:
    """A unit of the campaign's school (not a dormitory) in reach of ``roots``; else None."""
    unit = Unit.objects.filter(pk=pk).first()
    if (unit is None or unit.kind == UnitKind.DORMITORY
            or not unit.path.startswith(campaign.school.path) or not in_reach(unit, roots)):
        return None
    return unit


def progress_assignments(user: User, campaign: Campaign) -> QuerySet[Assignment]:
    """Assignments whose progress the user may follow: students they hold the risk tier over
    (by the student's class now, not at invitation), and — for the centre — staff respondents."""
    qs = campaign.assignments.filter(_students_in_scope(user, Cap.RISK))
    if centre_units(user) and may_see_staff(user, campaign):
        qs = qs | campaign.assignments.filter(student__isnull=True)
    return qs


def may_see_staff(user: User, campaign: Campaign) -> bool:
    return any(campaign.school.path.startswith(u.path) for u in centre_units(user))


def may_read_results(user: User, campaign: Campaign) -> bool:
    """Whether the user reads this campaign's results for anybody: centre staff of the school,
    or — when the campaign lets the 辅导员 see them — a holder of the scores tier inside it.
    Which results exactly is ``visible_results``; this tells a report page (403) from a page
    with nothing on it yet."""
    if may_see_staff(user, campaign):
        return True
    if campaign.visibility != Visibility.CENTRE_AND_FUDAOYUAN:
        return False
    return any(u.path.startswith(campaign.school.path) for u in scope_units(user, Cap.SCORES))


def _students_in_scope(user: User, cap: Cap) -> Q:
    """``student__in=visible_students(user, cap)`` as a condition on the row's own student
    (class or dormitory path under one of the user's units at ``cap``): joins from the rows
    rather than a subquery over every student in scope, which the database evaluated in full
    for each page of a 50,000-student school (bench/school_size.py)."""
    q = Q(pk__in=[])
    for u in scope_units(user, cap):
        field = "student__dorm__path" if u.kind == UnitKind.DORMITORY else "student__klass__path"
        q |= Q(**{f"{field}__startswith": u.path})
    return q


def result_students(user: User) -> QuerySet[Student]:
    return visible_students(user, Cap.SCORES)


def visible_results(user: User) -> QuerySet[Result]:
    """Results the user may read: tier 3 over the student, and — for a centre-only campaign —
    only through a centre post. Staff respondents' results: centre staff of that school."""
    centre = centre_units(user)
    students = Result.objects.filter(_students_in_scope(user, Cap.SCORES)).filter(
        Q(campaign__visibility=Visibility.CENTRE_AND_FUDAOYUAN) | _under(centre))
    staff = Result.objects.filter(student__isnull=True).filter(_under(centre, "campaign__school__path"))
    return students | staff


def own_assignment(user: User, pk: int) -> Assignment | None:
    """The respondent's own assignment with its campaign; None for anybody else's. The student
    row is loaded when a page needs it (the submit, the busiest request of a freshman week, does
    not)."""
    # SQL by hand (xinlian/lib/hotsql.py): every answer screen and the submit start here.
    return hotsql.get_with(Assignment, "campaign", "t.id = %s AND t.user_id = %s", [pk, user.pk])


def guardian_consent_assignment(user: User, pk: int) -> Assignment | None:
    """A student's assignment whose guardian consent the user may record: they hold the risk tier
    over the student (head teacher, 辅导员, the centre). None otherwise."""
    assignment = (Assignment.objects
                  .select_related("campaign__school", "student__user", "student__klass")
                  .filter(pk=pk, student__isnull=False).first())
    if (assignment is None
            or not visible_campaigns(user).filter(pk=assignment.campaign_id).exists()
            or not progress_assignments(user, assignment.campaign).filter(pk=pk).exists()):
        return None
    return assignment


# --- interviews ---------------------------------------------------------------------------------


def visible_interviews(user: User) -> QuerySet[Interview]:
    """Interviews whose reasons and notes the user may read (tier 3), plus those assigned to them."""
    # The rule of visible_results on the interview's own student and campaign (an interview is
    # opened for a student's scored submission, so its results share both), as joins from the
    # interviews: a join through every result and a DISTINCT over whole rows, or a subquery
    # over every student in scope, cost a school of 50,000 students most of a second
    # (bench/school_size.py).
    return Interview.objects.filter(_interview_results_seen(user) | Q(assigned_to=user))


def _interview_results_seen(user: User) -> Q:
    return _students_in_scope(user, Cap.SCORES) & (Q(campaign__visibility=Visibility.CENTRE_AND_FUDAOYUAN)
                                                   | _under(centre_units(user)))


def interviews_of_visible_results(user: User) -> QuerySet[Interview]:
    """Interviews opened for results the user may read (``visible_results``), by the same rule
    on the interview's student and campaign: what a campaign report counts."""
    return Interview.objects.filter(_interview_results_seen(user))


def interview_status_students(user: User) -> QuerySet[Student]:
    """Students whose interview *status* the user may see: the risk tier (head teachers too)."""
    return visible_students(user, Cap.RISK)


def interview_in_scope(user: User, pk: int) -> tuple[Interview | None, bool]:
    """The interview if the user reads it (tier 3, or assigned to them), and whether they may
    record its outcome: the assigned counsellor or centre staff over the student."""
    interview = (visible_interviews(user).select_related("student__user", "student__klass", "campaign",
                                                         "assigned_to").filter(pk=pk).first())
    if interview is None:
        return None, False
    path = interview.student.klass.path
    can_record = interview.assigned_to_id == user.pk or any(path.startswith(u.path) for u in centre_units(user))
    return interview, can_record
