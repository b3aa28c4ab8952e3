"""Who is responsible for a student, derived from the network — never typed in.

The escalation ladder climbs one rung at a time: the student's 辅导员 and head teacher, then
the college mental-health lead, then the counselling-centre director, then the leadership
group. A rung with nobody posted on it is skipped, so nobody at risk falls between levels."""

from __future__ import annotations

from django.db.models import Q

from xinlian.access.policy import active_posts_of
from xinlian.network.models import Post, Role, Student, Unit, User

LADDER: list[tuple[str, ...]] = [
    (Role.FUDAOYUAN, Role.HEAD_TEACHER),
    (Role.COLLEGE_LEAD,),
    (Role.CENTRE_DIRECTOR,),
    (Role.LEADER, Role.DEPUTY_LEADER),
]
TOP_STEP = len(LADDER) - 1
# A red alert also reaches these roles at once, whatever rung it starts on.
RED_AT_ONCE: tuple[str, ...] = (Role.CENTRE_DIRECTOR,)


def routing(level: str) -> dict[str, list[str]]:
    """Who an alert of ``level`` reaches, by role: ``first`` (the first rung, and for red the
    roles told at once) and ``later`` (the rungs it climbs to when nobody acknowledges it).
    :meth:`xinlian.care.models.Alert.raise_for` routes by the same lists, and the consent text
    students read (:func:`xinlian.screening.actions.who_learns_what`) is written from them."""
    first = list(LADDER[0]) + [r for r in (RED_AT_ONCE if level == "red" else ()) if r not in LADDER[0]]
    later = [r for rung in LADDER[1:] for r in rung if r not in first]
    return {"first": first, "later": later}


def _ancestor_ids(student: Student) -> list[int]:
    return [u.pk for u in student.units()]


def people_at_step(student: Student, step: int, units: list[Unit] | None = None) -> list[User]:
    """Active post holders of rung ``step`` at any unit that holds the student."""
    unit_ids = [u.pk for u in units] if units is not None else _ancestor_ids(student)
    posts = (Post.objects.active().filter(unit_id__in=unit_ids, role__in=LADDER[step])
             .select_related("person").order_by("person_id"))
    seen: dict[int, User] = {}
    for post in posts:
        if post.person.is_active:
            seen.setdefault(post.person_id, post.person)
    return list(seen.values())


def first_staffed_step(student: Student, start: int) -> tuple[int, list[User]]:
    """The first rung at or above ``start`` with somebody on it (the top rung if none is)."""
    units = student.units()
    for step in range(start, TOP_STEP + 1):
        people = people_at_step(student, step, units)
        if people:
            return step, people
    return TOP_STEP, []


def centre_directors(student: Student) -> list[User]:
    return people_at_step(student, LADDER.index((Role.CENTRE_DIRECTOR,)))


def told_at_once(student: Student, level: str) -> list[User]:
    """Who a new alert of ``level`` reaches besides its first rung (see :func:`routing`)."""
    roles = [r for r in routing(level)["first"] if r not in LADDER[0]]
    if not roles:
        return []
    posts = (Post.objects.active().filter(unit_id__in=_ancestor_ids(student), role__in=roles)
             .select_related("person").order_by("person_id"))
    seen: dict[int, User] = {}
    for post in posts:
        if post.person.is_active:
            seen.setdefault(post.person_id, post.person)
    return list(seen.values())


def inbox_filter(user: User) -> Q:
    """A Q over Alert for the alerts ``user`` answers for: their rung, once the alert has
    climbed to it, for students under their post's unit — plus every red alert for the centre,
    and the alerts the duty chain brought to them out of hours."""
    from .models import AlertDuty

    q = Q(pk__in=AlertDuty.objects.filter(person_id=user.pk).values("alert_id"))
    for post in active_posts_of(user):
        for step, roles in enumerate(LADDER):
            if post.role in roles:
                in_unit = (Q(student__dorm__path__startswith=post.unit.path)
                           if post.unit.kind == "dormitory"
                           else Q(student__klass__path__startswith=post.unit.path))
                q |= in_unit & Q(step__gte=step)
                if post.role in RED_AT_ONCE:
                    q |= in_unit & Q(level="red")
    return q
