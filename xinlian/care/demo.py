"""A demo school's duty rota (值班), so that a new user of ``xinlian demo`` sees a working rota:
nights of the next two weeks staffed by the colleges' 辅导员 in turn, a centre counsellor and a
leader on call for the school, and the school's numbers for the urgent path. Deterministic: the
same database gives the same rota.

And one concern reported by the demo class's 心理委员 about a classmate, whose red alert waits
for its 签收: the demo 辅导员's and 班主任's home pages open on it (``seed_demo_concern``)."""

from __future__ import annotations

import datetime as dt
from itertools import cycle

from django.utils import timezone

from xinlian.network.models import Post, Role, Unit, UnitKind, User

from .models import Category, Concern, DutyLine, DutyRole, DutyShift, HeardFrom, ShiftKind, Urgency

DEMO_NIGHTS = 14
# Made-up numbers in the reserved-looking 0571-8888 range: a demo must never ring a real line.
DEMO_NIGHT_LINE = "0571-88886666"
DEMO_CENTRE_LINE = "0571-88885555"


def _holders(unit: Unit, roles: set[str], *, below: bool) -> list[User]:
    posts = Post.objects.active().filter(role__in=roles)
    posts = posts.filter(unit__path__startswith=unit.path) if below else posts.filter(unit=unit)
    people = {p.person_id: p.person for p in posts.select_related("person").order_by("person__username")
              if p.person.is_active}
    return list(people.values())


def seed_demo_rota(today: dt.date | None = None, nights: int = DEMO_NIGHTS) -> int:
    """Shifts for ``nights`` nights from ``today`` at every school and college that has people
    to stand on them; returns how many were written. Does nothing where a rota exists."""
    today = today or timezone.localdate()
    dates = [today + dt.timedelta(days=i) for i in range(nights)]
    shifts: list[DutyShift] = []
    for school in Unit.objects.filter(kind=UnitKind.SCHOOL).order_by("path"):
        if DutyShift.objects.filter(unit__path__startswith=school.path).exists():
            continue
        DutyLine.objects.get_or_create(school=school, defaults={
            "night_phone": DEMO_NIGHT_LINE, "centre_phone": DEMO_CENTRE_LINE})
        centre = _holders(school, {Role.COUNSELLOR, Role.CENTRE_DIRECTOR}, below=False)
        leaders = _holders(school, {Role.LEADER, Role.DEPUTY_LEADER}, below=False)
        # The centre's people take the school's first line in turn; the next one in the list
        # stands behind them as the centre counsellor (never the same person on one night).
        for i, day in enumerate(dates):
            if centre:
                shifts.append(DutyShift(unit=school, date=day, kind=ShiftKind.NIGHT,
                                        role=DutyRole.FIRST_LINE, person=centre[i % len(centre)]))
            if len(centre) > 1:
                shifts.append(DutyShift(unit=school, date=day, kind=ShiftKind.NIGHT,
                                        role=DutyRole.CENTRE, person=centre[(i + 1) % len(centre)]))
            if leaders:
                shifts.append(DutyShift(unit=school, date=day, kind=ShiftKind.NIGHT,
                                        role=DutyRole.LEADER, person=leaders[i % len(leaders)]))
        for college in Unit.objects.filter(kind=UnitKind.COLLEGE, path__startswith=school.path):
            fudaoyuan = _holders(college, {Role.FUDAOYUAN}, below=True)
            if fudaoyuan:
                turn = cycle(fudaoyuan)
                shifts += [DutyShift(unit=college, date=day, kind=ShiftKind.NIGHT,
                                     role=DutyRole.FIRST_LINE, person=next(turn)) for day in dates]
    DutyShift.objects.bulk_create(shifts)
    return len(shifts)


# Made up for the demo: what a 心理委员 might write. Never a real person's words.
DEMO_CONCERN_TEXT = "这两天在宿舍很少说话，晚上说“活着没意思”，把自己的书和耳机都送给了室友。"


def seed_demo_concern() -> Concern | None:
    """The demo 心理委员 ("committee") reports a classmate (not one of the demo logins): a red
    alert that the class's 班主任 and the college's 辅导员 are asked to acknowledge, raised now
    so its deadline is still running when the demo opens. Does nothing when a concern exists."""
    from xinlian.network.demo import DEMO_USERNAMES
    from xinlian.network.models import Student, StudentStatus

    reporter = Student.objects.filter(user__username="committee").select_related("klass").first()
    if reporter is None or Concern.objects.exists():
        return None
    classmate = (Student.objects.filter(klass_id=reporter.klass_id, status=StudentStatus.ENROLLED)
                 .exclude(user__username__in=DEMO_USERNAMES).order_by("user__username").first())
    if classmate is None:
        return None
    concern, _created = Concern.submit(key=None, reporter=reporter.user, student=classmate,
                                       category=Category.SELF_HARM, urgency=Urgency.SOON,
                                       seen=DEMO_CONCERN_TEXT, heard_from=HeardFrom.SELF)
    return concern
