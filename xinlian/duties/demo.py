"""A few weeks of peer reports for the demo school, so that ``xinlian demo`` shows the
completeness table with history: most weeks' reports are zero reports, a few are late, a few
missing, some flag a classmate (routine or soon: the demo's red alert comes from its concern),
and the older ones are signed off by the college's 辅导员. The week now due is left open for
the demo 心理委员 (their home page opens on it). Deterministic for a given database."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from xinlian.network.demo import DEMO_USERNAMES
from xinlian.network.models import Post, Role, Student, Unit, UnitKind, User

from . import cycles
from .models import Flag, OverallState, Report, ReportStatus

DEMO_WEEKS = 4
DEMO_SEEN = ("最近常一个人待着，不太说话", "晚上睡得很晚，白天上课打瞌睡", "考试后情绪低落")


def seed_demo_reports(today: dt.date | None = None, weeks: int = DEMO_WEEKS) -> int:
    """Reports for the ``weeks`` weekly periods before the one now open; returns how many."""
    today = today or timezone.localdate()
    written = 0
    for school in Unit.objects.filter(kind=UnitKind.SCHOOL).order_by("path"):
        by_role = {c.role: c for c in cycles.ensure_default_cycles(school)}
        if Report.objects.filter(period__cycle__school=school).exists():
            continue
        demo_people = set(User.objects.filter(username__in=DEMO_USERNAMES).values_list("pk", flat=True))
        fudaoyuan = {p.unit.path: p.person for p in Post.objects.active().filter(
            role=Role.FUDAOYUAN, unit__path__startswith=school.path).select_related("unit", "person")}
        for role in (Role.COMMITTEE_MEMBER, Role.DORM_LIAISON):
            cycle = by_role[role]
            current = cycles.open_periods([cycle], today)[cycle.pk][0]
            day = current.starts_on
            posts = list(Post.objects.active().filter(role=role, unit__path__startswith=school.path)
                         .select_related("unit").order_by("unit__path", "pk"))
            roster = _first_students(posts, role)
            for week in range(weeks, 0, -1):
                period = cycles.period_on(cycle, day - dt.timedelta(days=7 * week))
                written += _file(period, posts, roster, fudaoyuan, week, signed=week > 1)
            # The week now due: most reports in already, the demo reporters' own still open.
            others = [p for p in posts if p.person_id not in demo_people]
            written += _file(current, others, roster, fudaoyuan, 0, signed=False, on=min(today, current.due_on))
    return written


def _first_students(posts: list[Post], role: str) -> dict[int, Student]:
    """Unit id → one student of the unit who is not the reporter (whom a flag is about)."""
    units = {p.unit_id for p in posts}
    reporters = {p.person_id for p in posts}
    field = "dorm_id" if role == Role.DORM_LIAISON else "klass_id"
    found: dict[int, Student] = {}
    for student in Student.objects.filter(**{f"{field}__in": units}).exclude(user_id__in=reporters).order_by("pk"):
        found.setdefault(getattr(student, field), student)
    return found


def _file(period, posts: list[Post], roster: dict[int, Student], fudaoyuan: dict[str, object],  # noqa: ANN001
          week: int, *, signed: bool, on: dt.date | None = None) -> int:
    reports, flags = [], []
    for i, post in enumerate(posts):
        n = i + week * 3
        if n % 9 == 0:
            continue  # missing
        at = timezone.make_aware(dt.datetime.combine(on or period.due_on, dt.time(8, n % 50)))
        if n % 11 == 0 and on is None:
            at += dt.timedelta(days=1)  # late, within the grace days
        flagged = n % 7 == 0 and post.unit_id in roster
        reviewer = next((person for path, person in fudaoyuan.items() if post.unit.path.startswith(path)), None)
        report = Report(period=period, post=post, unit=post.unit, reporter_id=post.person_id,
                        state=OverallState.CONCERNS if flagged else OverallState.CALM, is_zero=not flagged,
                        status=ReportStatus.SIGNED_OFF if signed and reviewer else ReportStatus.SUBMITTED,
                        submitted_at=at, reviewed_by=reviewer if signed else None,
                        reviewed_at=at + dt.timedelta(days=1) if signed and reviewer else None)
        reports.append(report)
        if flagged:
            flags.append((report, roster[post.unit_id], DEMO_SEEN[n % len(DEMO_SEEN)]))
    Report.objects.bulk_create(reports, batch_size=500)
    Flag.objects.bulk_create([Flag(report=r, student=s, seen=seen, category="emotional",
                                   urgency="soon" if i % 2 else "routine")
                              for i, (r, s, seen) in enumerate(flags)], batch_size=500)
    return len(reports)
