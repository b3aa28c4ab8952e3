"""The duty rota (值班): who is on duty now, who may be put on it, the numbers to call, the gaps.

Out of office hours (:func:`xinlian.notify.hours.is_out_of_hours`) a red or orange alert also
reaches the first-line duty people of the student's college and school, and climbs the duty
chain (first line → centre counsellor on duty → leader on call) as it climbs the ladder. In
office hours nothing here changes the routing; the daytime shift only names the centre's duty
counsellor."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from xinlian.access.policy import active_posts_of
from xinlian.network.models import Post, Role, Student, Unit, UnitKind, User
from xinlian.notify.hours import OFFICE_TIME_ZONE, is_out_of_hours, local, office_hours
from xinlian.notify.models import Channel, Delivery

from .models import DUTY_CHAIN, DutyLine, DutyRole, DutyShift, ShiftKind

ROTA_UNIT_KINDS = (UnitKind.SCHOOL, UnitKind.COLLEGE)
GAP_DAYS = 7
# Who may stand on each rung: first line from the unit's own network, the centre's people for
# the centre rung, the leadership (and the centre director or a college lead) on call.
ROLES_FOR = {
    DutyRole.FIRST_LINE: {Role.FUDAOYUAN, Role.HEAD_TEACHER, Role.COLLEGE_LEAD, Role.COUNSELLOR,
                          Role.CENTRE_DIRECTOR},
    DutyRole.CENTRE: {Role.COUNSELLOR, Role.CENTRE_DIRECTOR},
    DutyRole.LEADER: {Role.LEADER, Role.DEPUTY_LEADER, Role.LEADERSHIP_MEMBER, Role.CENTRE_DIRECTOR,
                      Role.COLLEGE_LEAD},
}
EDITORS_OF_COLLEGE = {Role.COLLEGE_LEAD, Role.FUDAOYUAN}


def is_day_off(day: dt.date) -> bool:
    """A day without office hours: a weekend day or a public holiday. Asked of notify's own rule
    (:func:`~xinlian.notify.hours.is_out_of_hours` at the hour office hours would start), which
    reads the centre's holiday calendar: a weekday holiday is a day off like a Saturday, and a
    make-up workday (调休) is a workday."""
    start = dt.datetime.combine(day, office_hours().start, tzinfo=OFFICE_TIME_ZONE)
    return is_out_of_hours(start)


def shifts_at(at: dt.datetime | None = None) -> list[tuple[dt.date, str]]:
    """The shifts running at ``at``: before office hours start, last night's; after they end,
    tonight's; in between, the day's: on a day off (weekend or holiday) the weekend-day shift,
    on a workday the centre's daytime duty."""
    now = local(at)
    hours = office_hours()
    today = now.date()
    if now.time() < hours.start:
        return [(today - dt.timedelta(days=1), ShiftKind.NIGHT)]
    if now.time() >= hours.end:
        return [(today, ShiftKind.NIGHT)]
    return [(today, ShiftKind.WEEKEND_DAY if is_day_off(today) else ShiftKind.DAY)]


def _rota_units(student: Student) -> list[Unit]:
    """The student's college and school (the units that keep a rota), nearest first."""
    return [u for u in student.units() if u.kind in ROTA_UNIT_KINDS]


def on_duty(units: Iterable[Unit], at: dt.datetime | None = None) -> dict[str, list[User]]:
    """Active people on duty at ``units`` now, by rung of the duty chain, nearest unit first."""
    unit_ids = [u.pk for u in units]
    order = {pk: i for i, pk in enumerate(unit_ids)}
    when = Q(pk__in=[])
    for day, kind in shifts_at(at):
        when |= Q(date=day, kind=kind)
    shifts = sorted(DutyShift.objects.filter(when, unit_id__in=unit_ids, person__is_active=True)
                    .select_related("person"), key=lambda s: (order[s.unit_id], s.pk))
    found: dict[str, list[User]] = {role: [] for role in DUTY_CHAIN}
    for shift in shifts:
        if shift.person not in found[shift.role]:
            found[shift.role].append(shift.person)
    return found


def duty_chain_for(student: Student, at: dt.datetime | None = None) -> dict[str, list[User]]:
    return on_duty(_rota_units(student), at)


def first_staffed_duty_step(chain: dict[str, list[User]], start: int) -> tuple[int, list[User]] | None:
    """The first rung of the duty chain at or above ``start`` with somebody on duty, or None."""
    for step in range(start, len(DUTY_CHAIN)):
        if chain[DUTY_CHAIN[step]]:
            return step, chain[DUTY_CHAIN[step]]
    return None


# --- numbers to call ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CallNumber:
    label: str
    phone: str


def duty_line(school: Unit | None, at: dt.datetime | None = None) -> str:
    """The number to call for ``school`` during the shift running at ``at``: a shift's own line
    (the school's shift first, then a college's), else the school's night duty line."""
    if school is None:
        return ""
    when = Q(pk__in=[])
    for day, kind in shifts_at(at):
        when |= Q(date=day, kind=kind)
    # The phone is encrypted (no filter on it): a shift has a handful of rows at most.
    shifts = sorted(DutyShift.objects.filter(when, unit=school),
                    key=lambda s: (DUTY_CHAIN.index(s.role), s.pk))
    shift = next((s for s in shifts if s.phone), None)
    if shift is not None:
        return shift.phone
    line = DutyLine.objects.filter(school=school).first()
    return line.night_phone if line else ""


def centre_phone(school: Unit | None) -> str:
    line = DutyLine.objects.filter(school=school).first() if school is not None else None
    return line.centre_phone if line else ""


def responsible_person(student: Student) -> User | None:
    """The student's 辅导员 (the one with a phone first), or their 班主任 where the school has no
    辅导员 on the student's units."""
    units = student.units()
    for roles in ((Role.FUDAOYUAN,), (Role.HEAD_TEACHER,)):
        people = [p.person for p in Post.objects.active().filter(unit__in=units, role__in=roles)
                  .select_related("person").order_by("person_id") if p.person.is_active]
        if people:
            return next((p for p in people if p.phone), people[0])
    return None


def urgent_numbers(student: Student, at: dt.datetime | None = None) -> list[CallNumber]:
    """The tel: buttons after an urgent concern: the student's 辅导员 (or 班主任), the duty line
    out of hours or the centre's phone in hours. 120 and 110 are the page's own."""
    numbers: list[CallNumber] = []
    person = responsible_person(student)
    if person is not None and person.phone:
        has_fdy = Post.objects.active().filter(person=person, role=Role.FUDAOYUAN).exists()
        numbers.append(CallNumber(str(_("Call the 辅导员") if has_fdy else _("Call the 班主任")),
                                  person.phone))
    school = student.klass.school() if student.klass_id else None
    if is_out_of_hours(at):
        line = duty_line(school, at)
        if line:
            numbers.append(CallNumber(str(_("Call the night duty line")), line))
    else:
        phone = centre_phone(school)
        if phone:
            numbers.append(CallNumber(str(_("Call the counselling centre")), phone))
    return numbers


# --- who edits, who may stand on duty, gaps ------------------------------------------------------


def editable_units(user: User) -> list[Unit]:
    """The schools and colleges whose rota ``user`` edits: the centre director the school and
    every college in it; a college lead or 辅导员 their own college."""
    found: dict[int, Unit] = {}
    for post in active_posts_of(user):
        if post.role == Role.CENTRE_DIRECTOR:
            for unit in Unit.objects.subtree_of([post.unit]).filter(kind__in=ROTA_UNIT_KINDS):
                found.setdefault(unit.pk, unit)
        elif post.role in EDITORS_OF_COLLEGE and post.unit.kind == UnitKind.COLLEGE:
            found.setdefault(post.unit_id, post.unit)
    return sorted(found.values(), key=lambda u: u.path)


def may_stand_on(person: User, unit: Unit, role: str) -> bool:
    """A rung is held by someone with a post that fits it: first line from the unit's subtree,
    the centre's and the leadership's people from the unit's school."""
    school = unit if unit.kind == UnitKind.SCHOOL else unit.school()
    reach = unit if role == DutyRole.FIRST_LINE else school
    if reach is None or not person.is_active:
        return False
    return Post.objects.active().filter(person=person, role__in=ROLES_FOR[role],
                                        unit__path__startswith=reach.path).exists()


def eligible_people(unit: Unit) -> list[User]:
    """Everyone who may stand on some rung of ``unit``'s rota (the rule of :func:`may_stand_on`),
    read in one query: the form offers only them."""
    school = unit if unit.kind == UnitKind.SCHOOL else unit.school()
    top = school or unit
    posts = (Post.objects.active().filter(unit__path__startswith=top.path,
                                          role__in=set().union(*ROLES_FOR.values()))
             .select_related("person", "unit").order_by("person__full_name", "person_id"))
    people: dict[int, User] = {}
    for post in posts:
        fits = any(post.role in ROLES_FOR[role] and post.unit.path.startswith(
            unit.path if role == DutyRole.FIRST_LINE else top.path) for role in DUTY_CHAIN)
        if fits and post.person.is_active:
            people.setdefault(post.person_id, post.person)
    return list(people.values())


def gaps(units: Iterable[Unit], today: dt.date, days: int = GAP_DAYS) -> list[tuple[Unit, dt.date]]:
    """Nights from ``today`` on, ``days`` of them, with nobody on the first line at a unit."""
    units = list(units)
    dates = [today + dt.timedelta(days=i) for i in range(days)]
    covered = set(DutyShift.objects.filter(unit__in=units, kind=ShiftKind.NIGHT,
                                           role=DutyRole.FIRST_LINE, date__in=dates)
                  .values_list("unit_id", "date"))
    return [(u, d) for u in units for d in dates if (u.pk, d) not in covered]


def gaps_by_unit(units: Iterable[Unit], today: dt.date, days: int = GAP_DAYS) -> list[tuple[Unit, list[dt.date]]]:
    """:func:`gaps` grouped by unit, for a warning that stays short."""
    grouped: dict[int, tuple[Unit, list[dt.date]]] = {}
    for unit, day in gaps(units, today, days):
        grouped.setdefault(unit.pk, (unit, []))[1].append(day)
    return list(grouped.values())


@dataclass(frozen=True)
class GapSummary:
    """One unit's uncovered nights: how many, the first and the last, and every date."""

    unit: Unit
    dates: tuple[dt.date, ...]

    @property
    def nights(self) -> int:
        return len(self.dates)

    @property
    def first(self) -> dt.date:
        return self.dates[0]

    @property
    def last(self) -> dt.date:
        return self.dates[-1]


def gap_summary(units: Iterable[Unit], today: dt.date, days: int = GAP_DAYS) -> list[GapSummary]:
    """:func:`gaps` as one line per unit (a school with eleven colleges and an empty rota would
    otherwise list 84 nights), in the order of ``units``."""
    return [GapSummary(unit, tuple(dates)) for unit, dates in gaps_by_unit(units, today, days)]


def upcoming_for(user: User, today: dt.date, days: int = 14) -> list[DutyShift]:
    return list(DutyShift.objects.filter(person=user, date__gte=today,
                                         date__lt=today + dt.timedelta(days=days))
                .select_related("unit").order_by("date", "kind"))


# --- the daily warning of gaps (a worker job, registered in CareConfig.ready) ---------------------

# Only the unit, a count and dates: a rota names staff, never a student.
GAP_WARNING = gettext_noop(
    "Duty rota of %(unit)s: %(nights)s of the next 7 nights have nobody on the first line "
    "(%(first)s to %(last)s). Fill the rota.")
# The idempotency keys of the warning's deliveries derive from (unit, day, person, channel):
# a second worker, or the same one after a restart, writes nothing new (a unique key).
GAP_KEY_NAMESPACE = uuid.UUID("5b0c6f8e-3a47-4d7e-9a0e-7f1d2c9b6e41")
_warned_on: dt.date | None = None  # this process has warned for this day: skip the queries


def gap_warning_recipients(unit: Unit) -> list[User]:
    """Who keeps ``unit``'s rota and is told of its gaps: the centre director for the school;
    the college lead and 辅导员 for a college (the school's centre director when it has none)."""
    def holders(at: Unit, roles: set[str]) -> list[User]:
        posts = (Post.objects.active().filter(unit=at, role__in=roles, person__is_active=True)
                 .select_related("person").order_by("person_id"))
        return list({p.person_id: p.person for p in posts}.values())

    if unit.kind == UnitKind.COLLEGE:
        people = holders(unit, EDITORS_OF_COLLEGE)
        school = unit.school()
        if people or school is None:
            return people
        unit = school
    return holders(unit, {Role.CENTRE_DIRECTOR})


def _gap_key(unit: Unit, day: dt.date, user: User, channel: str) -> uuid.UUID:
    return uuid.uuid5(GAP_KEY_NAMESPACE, f"rota-gap:{unit.pk}:{day.isoformat()}:{user.pk}:{channel}")


def warn_of_gaps(now: dt.datetime | None = None) -> int:
    """Once a day, from the start of office hours: each school and college with nights in the
    next :data:`GAP_DAYS` days without a first-line person sends its rota keepers an inbox
    message and an e-mail (the channels of a notice) with a link to its rota. Returns the
    number of messages written; 0 when each was written before (by this or another worker)."""
    global _warned_on
    at = local(now)
    if at.time() < office_hours().start:
        return 0
    today = at.date()
    if now is None and _warned_on == today:
        return 0
    units = list(Unit.objects.filter(kind__in=ROTA_UNIT_KINDS).order_by("path"))
    rows: list[Delivery] = []
    for gap in gap_summary(units, today):
        params = {"unit": gap.unit.display_name, "nights": gap.nights,
                  "first": gap.first.isoformat(), "last": gap.last.isoformat()}
        link = reverse("rota-unit", args=[gap.unit.pk])
        for user in gap_warning_recipients(gap.unit):
            rows.append(Delivery(key=_gap_key(gap.unit, today, user, Channel.INBOX), channel=Channel.INBOX,
                                 recipient=user, message=GAP_WARNING, params=params, link=link,
                                 status="sent"))
            if user.email:
                rows.append(Delivery(key=_gap_key(gap.unit, today, user, Channel.EMAIL), channel=Channel.EMAIL,
                                     recipient=user, address=user.email, message=GAP_WARNING,
                                     params=params, link=link))
    written = set(Delivery.objects.filter(key__in=[r.key for r in rows]).values_list("key", flat=True))
    new = [r for r in rows if r.key not in written]
    # A worker racing this one may write the same keys meanwhile: the unique key keeps one.
    Delivery.objects.bulk_create(new, ignore_conflicts=True)
    if now is None:
        _warned_on = today
    return len(new)
