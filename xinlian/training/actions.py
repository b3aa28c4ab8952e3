"""The actions of training, each written once.

The pages (``views.py``) and the REST API (``api.py``) parse their input, call one of these and
map its outcome: a result, or NotFound (404), NotAllowed (403), Conflict (409) or Invalid (400)
from :mod:`xinlian.lib.actions`. Each action takes the request first (the audit row records its
address) and does the scoped lookup, the capability check, the rule and the audit row in the
same transaction as the change.

Who may do what:
- the centre (centre director, psychology teachers) organises sessions for its school; the
  college lead and the 辅导员 for their college. Whoever organises at a unit or above it invites
  to the session and records attendance;
- the centre director sets which posts need pre-service training, from which day;
- the 辅导员, the college lead and the centre see who in their units is not yet trained, and
  everyone's hours; a person sees their own trainings.

Terms: the network has no school calendar yet, so a term is a calendar half-year (January to
June, July to December), written ``2026-1`` / ``2026-2``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Substr
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from xinlian.access.models import AuditResult
from xinlian.access.policy import active_posts_of, audit
from xinlian.lib.actions import Conflict, Invalid, NotAllowed, NotFound
from xinlian.lib.converters import id_of as _id
from xinlian.network.models import Post, Role, Unit, UnitKind, User
from xinlian.notify.services import notify_users

from .models import (
    AUDIENCE_INVITE_ROLES,
    AUDIENCE_ROLE,
    HOURS_MAX,
    HOURS_MIN,
    ORGANISER_ROLES,
    ROLE_AUDIENCE,
    SCHOOL_ORGANISERS,
    Attendance,
    AttendanceStatus,
    Audience,
    Requirement,
    TrainingSession,
)

TITLE_MAX = 200
PARENTS_MAX = 5000
INVITED = gettext_noop("You are invited to a training on %(day)s: please see your trainings.")


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _kept(units: list[Unit]) -> list[Unit]:
    units = sorted(units, key=lambda u: len(u.path))
    kept: list[Unit] = []
    for unit in units:
        if not any(unit.path.startswith(k.path) for k in kept):
            kept.append(unit)
    return kept


# --- scope ----------------------------------------------------------------------------------------


def overseen_units(user: User) -> list[Unit]:
    """The units whose training the user oversees (sessions, not-yet-trained, hours): the centre's
    school, the college of a college lead or 辅导员 (read from the policy's per-request cache)."""
    return _kept([p.unit for p in active_posts_of(user) if p.role in ORGANISER_ROLES])


def organiser_units(user: User) -> list[Unit]:
    """Where the user may organise a session: the centre at its school, a college lead or
    辅导员 at their college (a 辅导员 posted at a class organises nothing of their own)."""
    units = []
    for post in active_posts_of(user):
        if post.role in SCHOOL_ORGANISERS and post.unit.kind == UnitKind.SCHOOL:
            units.append(post.unit)
        elif post.role in ORGANISER_ROLES and post.unit.kind == UnitKind.COLLEGE:
            units.append(post.unit)
    return sorted({u.pk: u for u in units}.values(), key=lambda u: u.path)


def _under(unit: Unit, roots: list[Unit]) -> bool:
    return any(unit.path.startswith(r.path) for r in roots)


def paths_q(field: str, roots: list[Unit]) -> Q:
    q = Q(pk__in=[])
    for root in roots:
        q |= Q(**{f"{field}__startswith": root.path})
    return q


def visible_sessions(user: User) -> QuerySet[TrainingSession]:
    """Sessions organised in the units the user oversees, and those the user is invited to."""
    q = paths_q("organiser__path", overseen_units(user))
    q |= Q(pk__in=Attendance.objects.filter(person_id=user.pk).values("session_id"))
    return TrainingSession.objects.filter(q)


def manages(user: User, session: TrainingSession) -> bool:
    return _under(session.organiser, overseen_units(user))


def invite_units(user: User, session: TrainingSession) -> list[Unit]:
    """Where an organiser may invite: the session's organiser and the units directly under it,
    within the units the actor oversees (one query)."""
    roots = overseen_units(user)
    organiser = session.organiser
    units = Unit.objects.filter(Q(pk=organiser.pk) | Q(path__startswith=organiser.path,
                                                       depth=organiser.depth + 1)).order_by("path")
    return [u for u in units if _under(u, roots)]


def session_for(request: HttpRequest, pk: Any, action: str) -> TrainingSession:
    """A session the actor may open; anything else is missing (a denied audit row)."""
    number = _id(pk)
    session = (TrainingSession.objects.select_related("organiser").filter(pk=number)
               .filter(pk__in=visible_sessions(_user(request)).values("pk")).first()) if number else None
    if session is None:
        audit(request, action, object_type="training.trainingsession", object_id=str(pk)[:64] or "-",
              result=AuditResult.DENIED)
        raise NotFound
    return session


def _managed(request: HttpRequest, pk: Any, action: str) -> TrainingSession:
    session = session_for(request, pk, action)
    if not manages(_user(request), session):
        audit(request, action, session, result=AuditResult.DENIED)
        raise NotAllowed(_("Only the session's organisers do this."))
    return session


# --- "trained" ------------------------------------------------------------------------------------


def _prefixes(path: str) -> list[str]:
    return [path[:i] for i in range(Unit.steplen, len(path) + 1, Unit.steplen)]


def requirements_for(roots: list[Unit]) -> list[Requirement]:
    """The active requirements of the schools the units lie in or hold (one query)."""
    if not roots:
        return []
    q = Q(school__path__in={p for r in roots for p in _prefixes(r.path)}) | paths_q("school__path", roots)
    return list(Requirement.objects.filter(q, active=True, school__kind=UnitKind.SCHOOL)
                .select_related("school").order_by("school__path", "role"))


def _start_of(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _trained_exists(req: Requirement, person: Any) -> Exists:
    return Exists(Attendance.objects.filter(
        person_id=person, status=AttendanceStatus.ATTENDED, session__is_pre_service=True,
        session__audience=ROLE_AUDIENCE[req.role], session__organiser__path__startswith=req.school.path,
        session__starts_at__gte=_start_of(req.valid_from)))


def _required_q(reqs: list[Requirement]) -> Q:
    q = Q(pk__in=[])
    for req in reqs:
        q |= Q(role=req.role, unit__path__startswith=req.school.path)
    return q


def trained_posts(posts: QuerySet[Post], reqs: list[Requirement]) -> QuerySet[Post]:
    """``posts`` that a requirement covers, each annotated ``trained``: derived in the database,
    one query however many posts (an EXISTS per requirement, chosen by the post's role and school)."""
    whens = [When(Q(role=r.role, unit__path__startswith=r.school.path), then=_trained_exists(r, OuterRef("person_id")))
             for r in reqs]
    return posts.filter(_required_q(reqs)).annotate(
        trained=Case(*whens, default=Value(True), output_field=BooleanField()))


def _untrained_qs(roots: list[Unit], reqs: list[Requirement], on: dt.date | None = None) -> QuerySet[Post]:
    posts = Post.objects.active(on).filter(paths_q("unit__path", roots))
    return trained_posts(posts, reqs).filter(trained=False)


@dataclass
class Untrained:
    posts: list[Post]
    count: int
    requirements: list[Requirement]
    roots: list[Unit]
    sets_requirements: bool


def sees_untrained(user: User) -> bool:
    return bool(overseen_units(user))


def untrained(request: HttpRequest, *, unit_id: Any = None, limit: int = 500) -> Untrained:
    """The post holders in the actor's units whose post requires pre-service training they have
    not had (the 心理委员 and 联络员 "not yet trained"), by unit and name."""
    user = _user(request)
    roots = overseen_units(user)
    if not roots:
        audit(request, "training.untrained", object_type="network.unit", object_id="-", result=AuditResult.DENIED)
        raise NotAllowed(_("The not-yet-trained list is for the centre, the colleges and the 辅导员."))
    if unit_id not in (None, ""):
        number = _id(unit_id)
        unit = Unit.objects.filter(pk=number).first() if number else None
        if unit is None or not _under(unit, roots):
            audit(request, "training.untrained", object_type="network.unit", object_id=str(unit_id)[:64],
                  result=AuditResult.DENIED)
            raise NotFound
        roots = [unit]
    reqs = requirements_for(roots)
    if not reqs:
        return Untrained([], 0, [], roots, _sets_requirements(user))
    qs = _untrained_qs(roots, reqs)
    posts = list(qs.select_related("person", "unit").order_by("unit__path", "role", "person__username")[:limit])
    count = len(posts) if len(posts) < limit else qs.count()
    # Names with what they lack: one audit row per list read (page or API alike).
    audit(request, "training.untrained", object_type="network.unit", object_id=str(roots[0].pk) if len(roots) == 1
          else "-", detail=f"names={len(posts)}")
    return Untrained(posts, count, reqs, roots, _sets_requirements(user))


def untrained_count(user: User) -> int:
    roots = overseen_units(user)
    reqs = requirements_for(roots)
    return _untrained_qs(roots, reqs).count() if reqs else 0


def status_at(user: User, unit: Unit) -> dict[tuple[str, str], bool]:
    """(role, name) → trained, for the posts at ``unit`` that need pre-service training: a badge
    beside the names on the network's unit page, for those who oversee the unit (two queries;
    none for anyone else)."""
    if not _under(unit, overseen_units(user)):
        return {}
    reqs = requirements_for([unit])
    if not reqs:
        return {}
    rows = trained_posts(Post.objects.active().filter(unit=unit), reqs).values_list("role", "person__full_name", "trained")
    return {(role, name): bool(trained) for role, name, trained in rows}


def missing_own(user: User) -> list[Post]:
    """The user's own posts whose pre-service training they lack (two queries; none for a user
    without a post a requirement may cover)."""
    posts = [p for p in active_posts_of(user) if p.role in ROLE_AUDIENCE]
    if not posts:
        return []
    reqs = requirements_for([p.unit for p in posts])
    if not reqs:
        return []
    return list(trained_posts(Post.objects.filter(pk__in=[p.pk for p in posts]), reqs)
                .filter(trained=False).select_related("unit"))


# --- creating a session ---------------------------------------------------------------------------


@dataclass
class SessionInput:
    title: Any = ""
    audience: Any = ""
    organiser: Any = None
    starts_at: Any = None
    hours: Any = None
    place: Any = ""
    is_pre_service: Any = False


def parse_hours(value: Any, field_name: str = "hours", high: Decimal = HOURS_MAX) -> Decimal:
    """Hours to the half hour, from 0.5 to ``high``: negative, zero or absurd hours are refused."""
    try:
        hours = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise Invalid(errors={field_name: [_("Give the hours as a number, e.g. 2 or 1.5.")]}) from None
    if not hours.is_finite():
        raise Invalid(errors={field_name: [_("Give the hours as a number, e.g. 2 or 1.5.")]})
    if hours < 0:
        raise Invalid(errors={field_name: [_("Hours cannot be negative.")]})
    if hours < HOURS_MIN or hours > high:
        raise Invalid(errors={field_name: [_("Hours are from %(low)s to %(high)s.")
                                           % {"low": HOURS_MIN, "high": high}]})
    if hours * 2 != (hours * 2).to_integral_value():
        raise Invalid(errors={field_name: [_("Hours are counted to the half hour.")]})
    return hours.quantize(Decimal("0.1"))


def _parse_when(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        when = value
    else:
        try:
            when = parse_datetime(str(value or "").strip())
        except ValueError:
            return None
    if when is None:
        return None
    return timezone.make_aware(when) if timezone.is_naive(when) else when


def create_session(request: HttpRequest, data: SessionInput, now: dt.datetime | None = None) -> TrainingSession:
    """Plan a session at a unit the actor organises for (the centre: its school; a college lead
    or 辅导员: their college). Sessions are planned ahead: a start in the past is refused."""
    user = _user(request)
    units = organiser_units(user)
    if not units:
        audit(request, "training.session.create", object_type="network.unit", object_id="-",
              result=AuditResult.DENIED)
        raise NotAllowed(_("Training sessions are organised by the centre and the colleges."))
    errors: dict[str, list[Any]] = {}
    if data.organiser in (None, ""):
        organiser: Unit | None = units[0]
    else:
        organiser = next((u for u in units if u.pk == _id(data.organiser)), None)
        if organiser is None:
            errors["organiser"] = [_("You organise sessions only for your own school or college.")]
    title = str(data.title or "").strip()
    if not title:
        errors["title"] = [_("Give the session a title.")]
    elif len(title) > TITLE_MAX:
        errors["title"] = [_("Keep the title under %(n)d characters.") % {"n": TITLE_MAX}]
    audience = str(data.audience or "")
    if audience not in Audience.values:
        errors["audience"] = [_("Choose the audience.")]
    pre_service = data.is_pre_service in (True, "1", "true", "on")
    if pre_service and audience in Audience.values and audience not in AUDIENCE_ROLE:
        errors["is_pre_service"] = [_("Pre-service training is for new 心理委员, 宿舍联络员, 辅导员 or 班主任.")]
    when = _parse_when(data.starts_at)
    if when is None:
        errors["starts_at"] = [_("Give the date and time it starts.")]
    elif when < (now or timezone.now()):
        errors["starts_at"] = [_("A session is planned ahead: choose a time from now on.")]
    try:
        hours = parse_hours(data.hours)
    except Invalid as exc:
        errors.update(exc.errors)
    place = str(data.place or "").strip()
    if len(place) > TITLE_MAX:
        errors["place"] = [_("Keep the place under %(n)d characters.") % {"n": TITLE_MAX}]
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        session = TrainingSession.objects.create(
            organiser=organiser, title=title, audience=audience, is_pre_service=pre_service,
            starts_at=when, hours=hours, place=place, created_by=user)
        audit(request, "training.session.create", session, detail=f"{audience},pre={int(pre_service)}")
    return session


# --- inviting -------------------------------------------------------------------------------------


def invite(request: HttpRequest, pk: Any, *, role: Any, unit_id: Any = None, only_untrained: bool = False,
           now: dt.datetime | None = None) -> int:
    """Invite the holders of a post role under a unit (within the session's organiser and the
    actor's units) to an upcoming session, e.g. every 心理委员 of my college not yet trained.
    Inviting again adds only those not yet invited; returns how many were added."""
    user = _user(request)
    session = _managed(request, pk, "training.session.invite")
    if session.has_started(now):
        raise Conflict(_("This session has already started: invitations are for upcoming sessions."))
    allowed = AUDIENCE_INVITE_ROLES[session.audience]
    if role not in allowed:
        raise Invalid(errors={"role": [_("Choose a post this session's audience holds.")]})
    unit = session.organiser
    if unit_id not in (None, ""):
        number = _id(unit_id)
        unit = Unit.objects.filter(pk=number).first() if number else None  # type: ignore[assignment]
        if unit is None or not unit.path.startswith(session.organiser.path) \
                or not _under(unit, overseen_units(user)):
            raise Invalid(errors={"unit": [_("Choose a unit of the session's organiser that you oversee.")]})
    posts = Post.objects.active().filter(role=role, unit__path__startswith=unit.path)
    if only_untrained and role in ROLE_AUDIENCE:
        reqs = requirements_for([unit])
        if reqs:
            posts = trained_posts(posts, reqs).filter(trained=False)
    people = set(posts.values_list("person_id", flat=True))
    with transaction.atomic():
        TrainingSession.objects.select_for_update().filter(pk=session.pk).first()
        already = set(Attendance.objects.filter(session=session, person_id__in=people)
                      .values_list("person_id", flat=True))
        new = sorted(people - already)
        Attendance.objects.bulk_create([Attendance(session=session, person_id=p) for p in new],
                                       ignore_conflicts=True)
        audit(request, "training.session.invite", session, detail=f"role={role},unit={unit.pk},n={len(new)}")
        if new:
            notify_users(User.objects.filter(pk__in=new), INVITED, {"day": f"{session.day:%Y-%m-%d}"},
                         session.get_absolute_url())
    return len(new)


# --- attendance -----------------------------------------------------------------------------------


def record_attendance(request: HttpRequest, pk: Any, *, person: Any, status: Any, hours: Any = None,
                      now: dt.datetime | None = None) -> tuple[Attendance, bool]:
    """Mark one invited person attended (credited the session's hours, or fewer) or absent, from
    the session's start. One tap; tapping again changes nothing (returns ``changed`` False)."""
    user = _user(request)
    session = _managed(request, pk, "training.attendance.record")
    if status not in (AttendanceStatus.ATTENDED, AttendanceStatus.ABSENT):
        raise Invalid(errors={"status": [_("Choose attended or absent.")]})
    number = _id(person)
    row = Attendance.objects.filter(session=session, person_id=number).first() if number else None
    if row is None:
        audit(request, "training.attendance.record", session, result=AuditResult.DENIED, detail="not invited")
        raise Invalid(errors={"person": [_("This person is not invited to this session.")]})
    if not session.has_started(now):
        raise Conflict(_("Attendance is recorded from the start of the session."))
    credited = Decimal("0")
    if status == AttendanceStatus.ATTENDED:
        credited = session.hours if hours in (None, "") else parse_hours(hours, high=session.hours)
    with transaction.atomic():
        row = Attendance.objects.select_for_update().get(pk=row.pk)
        if row.status == status and row.hours == credited:
            return row, False
        row.status, row.hours = status, credited
        row.recorded_by, row.recorded_at = user, timezone.now()
        row.save(update_fields=["status", "hours", "recorded_by", "recorded_at"])
        audit(request, "training.attendance.record", session, detail=f"{status},{credited}")
    return row, True


def record_parents(request: HttpRequest, pk: Any, count: Any, now: dt.datetime | None = None) -> TrainingSession:
    """How many parents came to a parents' lecture (a headcount: parents are mostly not users)."""
    session = _managed(request, pk, "training.parents.record")
    if session.audience != Audience.PARENTS:
        raise Conflict(_("A parents' headcount is for a parents' lecture."))
    try:
        number = int(str(count).strip())
    except (TypeError, ValueError):
        raise Invalid(errors={"parents_count": [_("Give the number of parents who came.")]}) from None
    if number < 0 or number > PARENTS_MAX:
        raise Invalid(errors={"parents_count": [_("The number of parents is from 0 to %(n)d.") % {"n": PARENTS_MAX}]})
    if not session.has_started(now):
        raise Conflict(_("Attendance is recorded from the start of the session."))
    with transaction.atomic():
        TrainingSession.objects.filter(pk=session.pk).update(parents_count=number)
        session.parents_count = number
        audit(request, "training.parents.record", session, detail=f"n={number}")
    return session


# --- requirements ---------------------------------------------------------------------------------


def _sets_requirements(user: User) -> bool:
    return any(p.role == Role.CENTRE_DIRECTOR and p.unit.kind == UnitKind.SCHOOL for p in active_posts_of(user))


def set_requirement(request: HttpRequest, *, role: Any, valid_from: Any, active: Any = True,
                    school_id: Any = None) -> Requirement:
    """The centre director makes a post require pre-service training at the school, from a day."""
    user = _user(request)
    schools = [p.unit for p in active_posts_of(user)
               if p.role == Role.CENTRE_DIRECTOR and p.unit.kind == UnitKind.SCHOOL]
    if not schools:
        audit(request, "training.requirement.set", object_type="network.unit", object_id=str(school_id or "-")[:64],
              result=AuditResult.DENIED)
        raise NotAllowed(_("Only the centre director sets the training requirements."))
    school = schools[0]
    if school_id not in (None, ""):
        school = next((s for s in schools if s.pk == _id(school_id)), None)  # type: ignore[assignment]
        if school is None:
            raise NotFound
    errors: dict[str, list[Any]] = {}
    if role not in ROLE_AUDIENCE:
        errors["role"] = [_("Choose 心理委员, 宿舍联络员, 辅导员 or 班主任.")]
    day = valid_from if isinstance(valid_from, dt.date) else None
    if day is None:
        try:
            day = parse_date(str(valid_from or "").strip())
        except ValueError:
            day = None
    if day is None:
        errors["valid_from"] = [_("Give the day the requirement is valid from.")]
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        req, _created = Requirement.objects.update_or_create(
            school=school, role=role, defaults={"valid_from": day, "active": active in (True, "1", "true", "on")})
        audit(request, "training.requirement.set", req, detail=f"{role},{day},{int(req.active)}")
    return req


# --- reading --------------------------------------------------------------------------------------


@dataclass
class SessionView:
    session: TrainingSession
    manages: bool
    rows: list[Attendance]
    mine: Attendance | None
    counts: dict[str, int] = field(default_factory=dict)


def read_session(request: HttpRequest, pk: Any) -> SessionView:
    """A session; its organisers see the attendance list (names: tier 1), an invitee their own row."""
    user = _user(request)
    session = session_for(request, pk, "training.session.view")
    managing = manages(user, session)
    rows = list(session.attendances.select_related("person").order_by("person__full_name", "person__username")) \
        if managing else []
    mine = next((r for r in rows if r.person_id == user.pk), None) if managing else \
        Attendance.objects.filter(session=session, person=user).first()
    counts = {s: sum(1 for r in rows if r.status == s) for s in AttendanceStatus.values}
    return SessionView(session, managing, rows, mine, counts)


def list_sessions(request: HttpRequest, *, upcoming: bool | None = None) -> QuerySet[TrainingSession]:
    qs = visible_sessions(_user(request)).select_related("organiser")
    if upcoming is True:
        qs = qs.filter(starts_at__gte=timezone.now())
    elif upcoming is False:
        qs = qs.filter(starts_at__lt=timezone.now())
    return qs.annotate(
        n_invited=Count("attendances"),
        n_attended=Count("attendances", filter=Q(attendances__status=AttendanceStatus.ATTENDED)),
    ).order_by("-starts_at", "pk")


def my_trainings(user: User) -> list[Attendance]:
    return list(Attendance.objects.filter(person=user).select_related("session__organiser")
                .order_by("-session__starts_at"))


# --- hours per term -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    year: int
    half: int

    @classmethod
    def of(cls, day: dt.date) -> Term:
        return cls(day.year, 1 if day.month <= 6 else 2)

    @classmethod
    def parse(cls, text: Any) -> Term | None:
        try:
            year, half = (int(x) for x in str(text).strip().split("-"))
        except (TypeError, ValueError):
            return None
        return cls(year, half) if half in (1, 2) and 2000 <= year <= 2100 else None

    @property
    def code(self) -> str:
        return f"{self.year}-{self.half}"

    @property
    def starts_on(self) -> dt.date:
        return dt.date(self.year, 1 if self.half == 1 else 7, 1)

    @property
    def ends_on(self) -> dt.date:
        return dt.date(self.year, 6, 30) if self.half == 1 else dt.date(self.year, 12, 31)

    @property
    def label(self) -> str:
        return f"{self.starts_on:%Y-%m} – {self.ends_on:%Y-%m}"

    def previous(self) -> Term:
        return Term(self.year, 2) if self.half == 1 else Term(self.year - 1, 1)

    def following(self) -> Term:
        return Term(self.year + 1, 1) if self.half == 2 else Term(self.year, 2)


@dataclass
class HoursRow:
    label: str
    unit: Unit | None = None          # a unit row: drills down
    person: User | None = None        # a person's row (a college or below)
    people: int = 0
    trained_people: int = 0           # with at least one session attended in the term
    sessions: int = 0
    hours: Decimal = Decimal("0")
    organised: int = 0                # sessions organised by the unit in the term
    parents: int = 0


@dataclass
class HoursTable:
    unit: Unit
    term: Term
    rows: list[HoursRow]
    total: HoursRow
    trail: list[Unit]
    by_person: bool


def hours(request: HttpRequest, *, unit_id: Any = None, term: Any = None) -> HoursTable:
    """Training hours per term under one unit: a row per child unit (people holding a post in
    it during the term, sessions attended, hours credited, sessions organised and parents
    reached), or within a college a row per person. Summed in SQL: a fixed number of queries."""
    user = _user(request)
    roots = overseen_units(user)
    if not roots:
        audit(request, "training.hours", object_type="network.unit", object_id=str(unit_id or "-")[:64],
              result=AuditResult.DENIED)
        raise NotAllowed(_("Training hours are for the centre, the colleges and the 辅导员."))
    unit = roots[0]
    if unit_id not in (None, ""):
        number = _id(unit_id)
        found = Unit.objects.filter(pk=number).first() if number else None
        if found is None or not _under(found, roots):
            audit(request, "training.hours", object_type="network.unit", object_id=str(unit_id)[:64],
                  result=AuditResult.DENIED)
            raise NotFound
        unit = found
    chosen = Term.of(timezone.localdate())
    if term not in (None, ""):
        parsed = Term.parse(term)
        if parsed is None:
            raise Invalid(errors={"term": [_("A term is written like 2026-1 (January–June) or 2026-2 (July–December).")]})
        chosen = parsed
    start, end = _start_of(chosen.starts_on), _start_of(chosen.ends_on + dt.timedelta(days=1))
    posts = Post.objects.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=chosen.starts_on),
                                starts_on__lte=chosen.ends_on, unit__path__startswith=unit.path)
    home = dict(posts.values("person_id").annotate(p=Min("unit__path")).values_list("person_id", "p"))
    attended = {r["person_id"]: r for r in Attendance.objects.filter(
        status=AttendanceStatus.ATTENDED, session__starts_at__gte=start, session__starts_at__lt=end,
        person_id__in=posts.values("person_id")).values("person_id").annotate(h=Sum("hours"), n=Count("pk"))}
    width = len(unit.path) + Unit.steplen
    organised = {g["key"]: g for g in TrainingSession.objects.filter(
        organiser__path__startswith=unit.path, starts_at__gte=start, starts_at__lt=end)
        .annotate(key=Substr("organiser__path", 1, width)).values("key")
        .annotate(n=Count("pk"), parents=Sum("parents_count")).order_by("key")}
    by_person = unit.kind not in (UnitKind.BUREAU, UnitKind.SCHOOL)
    total = HoursRow(label=str(_("Total")))
    rows: list[HoursRow] = []
    if by_person:
        people = User.objects.filter(pk__in=list(home)).order_by("full_name", "username")
        places = {u.path: u for u in Unit.objects.filter(path__in=set(home.values()))}
        for person in people:
            got = attended.get(person.pk, {})
            place = places.get(home[person.pk])
            row = HoursRow(label=person.full_name or person.username, person=person, people=1,
                           trained_people=int(bool(got)), sessions=got.get("n", 0), hours=got.get("h") or Decimal("0"),
                           unit=place)
            rows.append(row)
            _add(total, row)
        for counts in organised.values():
            total.organised += counts["n"]
            total.parents += counts["parents"] or 0
        audit(request, "training.hours", unit, detail=f"names={len(rows)}")
    else:
        keys = sorted({p[:width] for p in home.values()} | set(organised))
        children = {u.path: u for u in Unit.objects.filter(path__in=keys)}
        grouped: dict[str, HoursRow] = {}
        for key in keys:
            child = children.get(key) if key != unit.path else None  # a post at the unit itself
            grouped[key] = HoursRow(label=child.display_name if child else unit.display_name, unit=child)
        for person_id, path in home.items():
            row = grouped[path[:width]]
            got = attended.get(person_id)
            row.people += 1
            if got:
                row.trained_people += 1
                row.sessions += got["n"]
                row.hours += got["h"] or Decimal("0")
        for key, counts in organised.items():
            grouped[key].organised += counts["n"]
            grouped[key].parents += counts["parents"] or 0
        rows = list(grouped.values())
        for row in rows:
            _add(total, row)
            total.organised += row.organised
            total.parents += row.parents
    trail = [u for u in Unit.objects.filter(path__in=_prefixes(unit.path)).order_by("path") if _under(u, roots)]
    return HoursTable(unit=unit, term=chosen, rows=rows, total=total, trail=trail, by_person=by_person)


def _add(total: HoursRow, row: HoursRow) -> None:
    total.people += row.people
    total.trained_people += row.trained_people
    total.sessions += row.sessions
    total.hours += row.hours
