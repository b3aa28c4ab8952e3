"""Read-only views of the counselling work (issue 11): a counsellor's caseload, the centre
director's overview, and the week calendar.

Every figure is aggregated in SQL (``annotate``/``aggregate`` with filtered ``Count``/``Sum``/
``Min``/``Max``, a correlated subquery for the next booking): the number of queries of each read
is the same with 50 sessions on record or 50,000. Nothing here reads a tier-5 field (summary,
notes, family present, closing summary) or the intake's text: the querysets name their columns
(``only``/``values``), so those encrypted columns are not even fetched. Reading client names is
audited — one row per read (a page view or an API call), never one per row.

Who reads: counselling staff of the school only (a counsellor, the centre director). A
counsellor's caseload and week are their own; the director picks any counsellor of the centre
(or, for the week, all of them); the overview is the director's. Anyone else: NotFound (404),
the refusal audited. A staff client (a teacher) is shown to counselling staff like any client;
since nobody else reads these views, their managers never learn of it.

The term: the network records no term dates, so "this term" is the half-year of the academic
year that turns over on 1 September (as ``network.demo.academic_year``): 1 September – end of
February (the autumn term and its winter break), 1 March – 31 August (the spring term)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, IntegerField, Max, Min, OuterRef, Q, Subquery, Sum
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from xinlian.access.models import AuditResult
from xinlian.access.policy import audit
from xinlian.lib.actions import NotFound
from xinlian.lib.converters import parse_id
from xinlian.network.models import Unit, User

from . import access, rules
from .models import (
    Attendance,
    Booking,
    BookingStatus,
    Episode,
    EpisodeStatus,
    GroupAttendance,
    Session,
    SessionKind,
    SessionRisk,
    Slot,
    WaitlistEntry,
    WaitStatus,
)

URGENT_DAYS = 14  # urgent intakes and high-risk sessions of the last two weeks
RECENT_NO_SHOW_DAYS = 14
UPCOMING_DAYS = 7
LIST_LIMIT = 50  # rows of each list on the overview (the counts are whole)
WAITING = (WaitStatus.WAITING, WaitStatus.OFFERED)
URGENT_RISKS = (SessionRisk.HIGH, SessionRisk.LIFE)


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def local_text(at: dt.datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """A time as the pages show it, in the school's zone (formatted here, once: the template's
    ``date`` filter costs more than the rest of a row on a long list)."""
    return timezone.localtime(at, rules.zone()).strftime(pattern) if at is not None else ""


# --- the term ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Term:
    first: dt.date
    last: dt.date

    @property
    def starts_at(self) -> dt.datetime:
        return rules.at_local(self.first, dt.time.min)

    @property
    def ends_at(self) -> dt.datetime:
        return rules.at_local(self.last + dt.timedelta(days=1), dt.time.min)

    @property
    def label(self) -> str:
        return f"{self.first:%Y-%m-%d} – {self.last:%Y-%m-%d}"


def term_of(day: dt.date) -> Term:
    """The half-year holding ``day``: 1 September – end of February, or 1 March – 31 August."""
    if day.month >= 9 or day.month <= 2:
        year = day.year if day.month >= 9 else day.year - 1
        return Term(dt.date(year, 9, 1), dt.date(year + 1, 3, 1) - dt.timedelta(days=1))
    return Term(dt.date(day.year, 3, 1), dt.date(day.year, 8, 31))


# --- who reads --------------------------------------------------------------------------------------


def _school(request: HttpRequest, action: str, school: Any = None) -> Unit:
    """The school whose centre the reader works at (``school``: one of theirs, by id); none:
    NotFound, audited."""
    schools = access.staff_schools(_user(request))
    wanted = parse_id(str(school)) if school not in (None, "") else None
    found = [u for u in schools if wanted is None or u.pk == wanted]
    if not found:
        audit(request, action, object_type="counseling.caseload", object_id=str(school or "-"),
              result=AuditResult.DENIED)
        raise NotFound
    return found[0]


def _counsellor(request: HttpRequest, school: Unit, raw: Any, action: str) -> tuple[User, list[User]]:
    """The counsellor whose work is read: the reader themself, or (the director) any counsellor
    of the centre. Returns the counsellor and the centre's counsellors the reader may pick."""
    user = _user(request)
    director = access.is_director(user, school.pk)
    team = rules.counsellors_of(school) if director else [user]
    if raw in (None, "", str(user.pk), user.pk):
        return user, team
    pk = parse_id(str(raw))
    chosen = next((u for u in team if u.pk == pk), None) if director else None
    if chosen is None:
        audit(request, action, object_type="counseling.caseload", object_id=str(raw)[:32],
              result=AuditResult.DENIED)
        raise NotFound
    return chosen, team


_PK = 987654321987


def _url_pattern(name: str) -> str | None:
    """``reverse(name, pk)`` once, as a pattern: a long list reverses once, not once a row."""
    try:
        return reverse(name, args=[_PK]).replace(str(_PK), "{}")
    except NoReverseMatch:
        return None  # the sessions part of the service has no such page (yet)


def _session_url(pk: int, pattern: str | None = None) -> str | None:
    """The session's own page (Z1's, read under its own rule and audit) when there is one."""
    pattern = pattern if pattern is not None else _url_pattern("counseling:session")
    return pattern.format(pk) if pattern else None


# --- a counsellor's caseload ------------------------------------------------------------------------


@dataclass
class Client:
    episode_id: int
    client_id: int
    name: str
    username: str
    is_student: bool
    opened_at: dt.datetime
    last_session: dt.datetime | None
    next_session: dt.datetime | None
    next_booking: dt.datetime | None
    next_booking_id: int | None
    sessions_this_term: int

    @property
    def next_at(self) -> dt.datetime | None:
        times = [t for t in (self.next_session, self.next_booking) if t is not None]
        return min(times) if times else None

    @property
    def next_is_booking(self) -> bool:
        return self.next_booking is not None and self.next_at == self.next_booking

    @property
    def next_url(self) -> str | None:
        return reverse("counseling:booking", args=[self.next_booking_id]) if self.next_is_booking else None

    @property
    def last_text(self) -> str:
        return local_text(self.last_session)

    @property
    def last_day(self) -> str:
        return local_text(self.last_session, "%m-%d")

    @property
    def next_text(self) -> str:
        return local_text(self.next_at)

    @property
    def opened_text(self) -> str:
        return local_text(self.opened_at, "%Y-%m-%d")

    @property
    def sessions_text(self) -> str:
        return ngettext("%(n)s session this term", "%(n)s sessions this term",
                        self.sessions_this_term) % {"n": self.sessions_this_term}


@dataclass
class Waiting:
    id: int
    client_id: int
    name: str
    day_from: dt.date
    day_to: dt.date
    status: str
    status_label: str
    any_counsellor: bool
    created_at: dt.datetime
    counsellor: str = ""

    @property
    def window_text(self) -> str:
        return f"{self.day_from:%m-%d} – {self.day_to:%m-%d}"

    @property
    def since_text(self) -> str:
        return local_text(self.created_at, "%m-%d")


@dataclass
class Caseload:
    school: Unit
    counsellor: User
    team: list[User]
    is_director: bool
    term: Term
    clients: list[Client]
    sessions_this_term: int
    minutes_this_term: int
    waiting: list[Waiting]

    @property
    def without_next(self) -> list[Client]:
        return [c for c in self.clients if c.next_at is None]

    @property
    def hours_this_term(self) -> float:
        return round(self.minutes_this_term / 60, 1)


def _held(now: dt.datetime) -> Q:
    """A session that took place: recorded as attended, or a group's meeting (attendance per
    member) neither cancelled nor in the future."""
    return Q(attendance=Attendance.ATTENDED) | Q(kind=SessionKind.GROUP, attendance=Attendance.PLANNED,
                                                  starts_at__lte=now)


def caseload_rows(school: Unit, counsellor: User, now: dt.datetime, term: Term) -> list[Client]:
    """The counsellor's clients (open episodes) with their last and next session, their next
    booking with this counsellor, and their sessions this term: one query."""
    next_booking = (Booking.objects.filter(client_id=OuterRef("client_id"), slot__counsellor_id=counsellor.pk,
                                           status=BookingStatus.ACTIVE, starts_at__gt=now)
                    .order_by("starts_at", "pk"))
    in_term = Q(sessions__starts_at__gte=term.starts_at, sessions__starts_at__lt=term.ends_at)
    not_cancelled = ~Q(sessions__attendance=Attendance.CANCELLED)
    rows = (Episode.objects.filter(school=school, counsellor=counsellor, status=EpisodeStatus.OPEN)
            .annotate(last_session=Max("sessions__starts_at",
                                       filter=Q(sessions__starts_at__lte=now) & not_cancelled
                                       & ~Q(sessions__attendance=Attendance.NO_SHOW)),
                      next_session=Min("sessions__starts_at", filter=Q(sessions__starts_at__gt=now) & not_cancelled),
                      term_sessions=Count("sessions", filter=in_term & not_cancelled),
                      next_booking=Subquery(next_booking.values("starts_at")[:1]),
                      next_booking_id=Subquery(next_booking.values("pk")[:1], output_field=IntegerField()))
            .values("pk", "client_id", "client__full_name", "client__username", "client__kind", "opened_at",
                    "last_session", "next_session", "term_sessions", "next_booking", "next_booking_id")
            .order_by("client__full_name", "pk"))
    return [Client(episode_id=r["pk"], client_id=r["client_id"], name=r["client__full_name"],
                   username=r["client__username"], is_student=r["client__kind"] == "student",
                   opened_at=r["opened_at"], last_session=r["last_session"], next_session=r["next_session"],
                   next_booking=r["next_booking"], next_booking_id=r["next_booking_id"],
                   sessions_this_term=r["term_sessions"]) for r in rows]


def waiting_rows(school: Unit, counsellor: User | None) -> list[Waiting]:
    """The waiting list: for ``counsellor`` or any counsellor (``None``: the whole centre's)."""
    qs = WaitlistEntry.objects.filter(school=school, status__in=WAITING)
    if counsellor is not None:
        qs = qs.filter(Q(counsellor_id=counsellor.pk) | Q(counsellor__isnull=True))
    labels = dict(WaitStatus.choices)
    return [Waiting(id=r["pk"], client_id=r["client_id"], name=r["client__full_name"], day_from=r["day_from"],
                    day_to=r["day_to"], status=r["status"], status_label=str(labels.get(r["status"], r["status"])),
                    any_counsellor=r["counsellor_id"] is None, created_at=r["created_at"],
                    counsellor=r["counsellor__full_name"] or "")
            for r in qs.values("pk", "client_id", "client__full_name", "day_from", "day_to", "status",
                               "counsellor_id", "counsellor__full_name", "created_at")
            .order_by("created_at", "pk")[:LIST_LIMIT]]


def read_caseload(request: HttpRequest, *, counsellor: Any = None, school: Any = None,
                  now: dt.datetime | None = None) -> Caseload:
    """A counsellor's caseload (``counsellor``: the director picks one; default: the reader)."""
    action = "counseling.caseload.read"
    unit = _school(request, action, school)
    who, team = _counsellor(request, unit, counsellor, action)
    now = now or timezone.now()
    term = term_of(rules.local_day(now))
    clients = caseload_rows(unit, who, now, term)
    totals = (Session.objects.filter(school=unit, counsellor=who, starts_at__gte=term.starts_at,
                                     starts_at__lt=term.ends_at)
              .aggregate(n=Count("pk", filter=~Q(attendance=Attendance.CANCELLED)),
                         minutes=Sum("minutes", filter=_held(now))))
    waiting = waiting_rows(unit, who)
    audit(request, action, object_type="counseling.caseload", object_id=str(who.pk),
          detail=f"clients={len(clients)};waiting={len(waiting)}")
    return Caseload(school=unit, counsellor=who, team=team, is_director=access.is_director(_user(request), unit.pk),
                    term=term, clients=clients, sessions_this_term=totals["n"] or 0,
                    minutes_this_term=totals["minutes"] or 0, waiting=waiting)


# --- the director's overview ------------------------------------------------------------------------


@dataclass
class Load:
    counsellor: User
    clients: int = 0
    sessions: int = 0
    minutes: int = 0
    attended: int = 0
    no_shows: int = 0
    upcoming: int = 0

    @property
    def hours(self) -> float:
        return round(self.minutes / 60, 1)

    @property
    def no_show_rate(self) -> float | None:
        """No-shows / (attended + no-shows); None before anyone was expected."""
        seen = self.attended + self.no_shows
        return round(self.no_shows / seen, 3) if seen else None

    @property
    def no_show_percent(self) -> int | None:
        rate = self.no_show_rate
        return None if rate is None else round(rate * 100)


@dataclass
class Flag:
    """A row of the overview's lists: when, whose, a link — never what was said."""

    kind: str
    at: dt.datetime
    counsellor: str
    client: str
    url: str | None
    label: str = ""

    @property
    def at_text(self) -> str:
        return local_text(self.at, "%m-%d %H:%M")


@dataclass
class Overview:
    school: Unit
    term: Term
    loads: list[Load]
    waiting_count: int
    waiting_oldest: dt.datetime | None
    waiting: list[Waiting]
    no_shows: list[Flag]
    no_show_count: int
    urgent_bookings: list[Flag]
    urgent_booking_count: int
    urgent_sessions: list[Flag]
    urgent_session_count: int
    totals: Load = field(init=False)

    def __post_init__(self) -> None:
        total = Load(counsellor=User(full_name=_("All counsellors")))
        for load in self.loads:
            for name in ("clients", "sessions", "minutes", "attended", "no_shows", "upcoming"):
                setattr(total, name, getattr(total, name) + getattr(load, name))
        self.totals = total


def read_overview(request: HttpRequest, *, school: Any = None, now: dt.datetime | None = None) -> Overview:
    """The centre director's overview: load per counsellor (clients, sessions and hours this
    term, no-show rate, bookings of the next 7 days), the waiting list, recent no-shows and
    urgent intakes — counts and links; no note and no intake text is read. Others: NotFound."""
    action = "counseling.overview.read"
    unit = _school(request, action, school)
    if not access.is_director(_user(request), unit.pk):
        audit(request, action, object_type="counseling.caseload", object_id="overview",
              result=AuditResult.DENIED)
        raise NotFound
    now = now or timezone.now()
    term = term_of(rules.local_day(now))
    loads = {u.pk: Load(counsellor=u) for u in rules.counsellors_of(unit)}

    def load(pk: int) -> Load | None:
        return loads.get(pk)

    for r in (Episode.objects.filter(school=unit, status=EpisodeStatus.OPEN).values("counsellor_id")
              .annotate(n=Count("pk")).order_by()):
        if (row := load(r["counsellor_id"])) is not None:
            row.clients = r["n"]
    individual = ~Q(kind=SessionKind.GROUP)
    since_no_show = now - dt.timedelta(days=RECENT_NO_SHOW_DAYS)
    since = now - dt.timedelta(days=URGENT_DAYS)
    in_term = Q(starts_at__gte=term.starts_at, starts_at__lt=term.ends_at)
    # One pass over the sessions: this term's load, and the last two weeks' no-shows and high
    # risks (which may reach back before the term began), per counsellor.
    counts = {"no_shows": 0, "sessions": 0, "bookings": 0}
    for r in (Session.objects.filter(school=unit, starts_at__gte=min(term.starts_at, since, since_no_show),
                                     starts_at__lt=term.ends_at)
              .values("counsellor_id")
              .annotate(n=Count("pk", filter=in_term & ~Q(attendance=Attendance.CANCELLED)),
                        minutes=Sum("minutes", filter=in_term & _held(now)),
                        attended=Count("pk", filter=in_term & individual & Q(attendance=Attendance.ATTENDED)),
                        no_shows=Count("pk", filter=in_term & individual & Q(attendance=Attendance.NO_SHOW)),
                        recent_no_shows=Count("pk", filter=Q(attendance=Attendance.NO_SHOW,
                                                             starts_at__gte=since_no_show, starts_at__lte=now)),
                        urgent=Count("pk", filter=Q(risk__in=URGENT_RISKS, starts_at__gte=since)))
              .order_by()):
        counts["no_shows"] += r["recent_no_shows"]
        counts["sessions"] += r["urgent"]
        if (row := load(r["counsellor_id"])) is not None:
            row.sessions, row.minutes = r["n"], r["minutes"] or 0
            row.attended, row.no_shows = r["attended"], r["no_shows"]
    # A group's members: each member's attendance counts like a client's.
    for r in (GroupAttendance.objects.filter(session__school=unit, session__starts_at__gte=term.starts_at,
                                             session__starts_at__lt=term.ends_at)
              .values("session__counsellor_id")
              .annotate(attended=Count("pk", filter=Q(attendance=Attendance.ATTENDED)),
                        no_shows=Count("pk", filter=Q(attendance=Attendance.NO_SHOW)))
              .order_by()):
        if (row := load(r["session__counsellor_id"])) is not None:
            row.attended += r["attended"]
            row.no_shows += r["no_shows"]
    upcoming = Q(status=BookingStatus.ACTIVE, starts_at__gt=now, starts_at__lt=now + dt.timedelta(days=UPCOMING_DAYS))
    risky = Q(risk_now=True, created_at__gte=since)
    for r in (Booking.objects.filter(slot__school=unit).filter(upcoming | risky)
              .values("slot__counsellor_id").annotate(n=Count("pk", filter=upcoming), risky=Count("pk", filter=risky))
              .order_by()):
        counts["bookings"] += r["risky"]
        if (row := load(r["slot__counsellor_id"])) is not None:
            row.upcoming = r["n"]
    waits = WaitlistEntry.objects.filter(school=unit, status__in=WAITING).aggregate(
        n=Count("pk"), oldest=Min("created_at"))

    counsellor_names = {u.pk: u.full_name for u in (x.counsellor for x in loads.values())}
    no_show_qs = Session.objects.filter(school=unit, attendance=Attendance.NO_SHOW, starts_at__gte=since_no_show,
                                        starts_at__lte=now)
    no_show_rows = list(no_show_qs.values("pk", "starts_at", "counsellor_id", "episode__client__full_name")
                        .order_by("-starts_at", "-pk")[:LIST_LIMIT])
    risky_bookings = Booking.objects.filter(slot__school=unit, risk_now=True, created_at__gte=since)
    booking_rows = list(risky_bookings.values("pk", "starts_at", "slot__counsellor_id", "client__full_name")
                        .order_by("-created_at", "-pk")[:LIST_LIMIT])
    risky_sessions = Session.objects.filter(school=unit, risk__in=URGENT_RISKS, starts_at__gte=since)
    session_rows = list(risky_sessions.values("pk", "starts_at", "counsellor_id", "risk", "episode__client__full_name",
                                              "group__name").order_by("-starts_at", "-pk")[:LIST_LIMIT])
    session_pattern = _url_pattern("counseling:session")
    booking_pattern = _url_pattern("counseling:booking") or ""
    risk_labels = dict(SessionRisk.choices)
    overview = Overview(
        school=unit, term=term, loads=list(loads.values()), waiting_count=waits["n"] or 0,
        waiting_oldest=waits["oldest"], waiting=waiting_rows(unit, None),
        no_shows=[Flag("no_show", r["starts_at"], counsellor_names.get(r["counsellor_id"], ""),
                       r["episode__client__full_name"] or "", _session_url(r["pk"], session_pattern))
                  for r in no_show_rows],
        no_show_count=counts["no_shows"],
        urgent_bookings=[Flag("booking", r["starts_at"], counsellor_names.get(r["slot__counsellor_id"], ""),
                              r["client__full_name"], booking_pattern.format(r["pk"]))
                         for r in booking_rows],
        urgent_booking_count=counts["bookings"],
        urgent_sessions=[Flag("session", r["starts_at"], counsellor_names.get(r["counsellor_id"], ""),
                              r["episode__client__full_name"] or r["group__name"] or "",
                              _session_url(r["pk"], session_pattern),
                              str(risk_labels.get(r["risk"], r["risk"]))) for r in session_rows],
        urgent_session_count=counts["sessions"],
    )
    audit(request, action, object_type="counseling.caseload", object_id="overview",
          detail=f"counsellors={len(loads)};waiting={overview.waiting_count}")
    return overview


# --- the week calendar ------------------------------------------------------------------------------


@dataclass
class Item:
    kind: str  # "free", "booking" or "session"
    starts_at: dt.datetime
    ends_at: dt.datetime
    counsellor_id: int
    counsellor: str
    who: str = ""
    where: str = ""
    status: str = ""
    status_label: str = ""
    url: str | None = None
    risk: bool = False
    count: int = 1  # "free" on everyone's week: the counsellor's free times of the day, as one line
    line: str = ""  # the second line as the page shows it

    @property
    def time_text(self) -> str:
        return f"{local_text(self.starts_at, '%H:%M')}–{local_text(self.ends_at, '%H:%M')}"

    @property
    def css(self) -> str:
        return f"xl-week-item xl-{self.kind} xl-{self.status}" + (" xl-risk" if self.risk else "")

    def sub(self, with_counsellor: bool) -> str:
        parts = [self.counsellor] if with_counsellor else []
        parts.append(self.status_label)
        if self.where:
            parts.append(self.where)
        return " · ".join(p for p in parts if p)


@dataclass
class Day:
    date: dt.date
    items: list[Item]
    is_today: bool = False


@dataclass
class Week:
    school: Unit
    first: dt.date
    days: list[Day]
    counsellor: User | None  # None: every counsellor (the director)
    team: list[User]
    is_director: bool

    @property
    def previous(self) -> dt.date:
        return self.first - dt.timedelta(days=7)

    @property
    def next(self) -> dt.date:
        return self.first + dt.timedelta(days=7)

    @property
    def last(self) -> dt.date:
        return self.first + dt.timedelta(days=6)

    @property
    def count(self) -> int:
        return sum(len(d.items) for d in self.days)


class BadWeek(ValueError):
    pass


def parse_start(raw: Any, today: dt.date) -> dt.date:
    """``?start=YYYY-MM-DD`` (any day: the week shown starts on it); empty: this week's Monday."""
    if raw in (None, ""):
        return today - dt.timedelta(days=today.weekday())
    try:
        day = dt.date.fromisoformat(str(raw).strip())
    except ValueError as exc:
        raise BadWeek(str(raw)) from exc
    if not dt.date(2000, 1, 1) <= day <= dt.date(2100, 1, 1):
        raise BadWeek(str(raw))
    return day


def _where(mode: str, room_name: str | None, mode_labels: dict[str, str]) -> str:
    return room_name if mode == "room" and room_name else str(mode_labels.get(mode, mode))


def read_week(request: HttpRequest, *, start: dt.date, counsellor: Any = None, school: Any = None,
              now: dt.datetime | None = None) -> Week:
    """Slots, bookings and sessions of a week (seven days from ``start``), by day: a counsellor's
    own; the director's pick of one counsellor or (``counsellor="all"``, their default) everyone's."""
    from .models import Mode

    action = "counseling.week.read"
    unit = _school(request, action, school)
    user = _user(request)
    director = access.is_director(user, unit.pk)
    if director and counsellor in (None, "", "all"):
        who: User | None = None
        team = rules.counsellors_of(unit)
    else:
        who, team = _counsellor(request, unit, counsellor, action)
    now = now or timezone.now()
    lo, hi = rules.at_local(start, dt.time.min), rules.at_local(start + dt.timedelta(days=7), dt.time.min)
    names = {u.pk: u.full_name for u in team}
    if who is not None:
        names[who.pk] = who.full_name
    mode_labels = dict(Mode.choices)
    attendance_labels = dict(Attendance.choices)

    def mine(qs: Any, field_name: str) -> Any:
        return qs.filter(**{field_name: who.pk}) if who is not None else qs

    sessions = list(mine(Session.objects.filter(school=unit, starts_at__gte=lo, starts_at__lt=hi), "counsellor_id")
                    .values("pk", "starts_at", "minutes", "counsellor_id", "kind", "attendance", "risk", "mode",
                            "room__name", "booking_id", "episode__client__full_name", "group__name")
                    .order_by("starts_at", "pk"))
    bookings = list(mine(Booking.objects.filter(slot__school=unit, status=BookingStatus.ACTIVE, starts_at__gte=lo,
                                                starts_at__lt=hi), "slot__counsellor_id")
                    .values("pk", "slot_id", "starts_at", "slot__ends_at", "slot__counsellor_id", "slot__mode",
                            "slot__room__name", "client__full_name", "risk_now")
                    .order_by("starts_at", "pk"))
    slots = list(mine(Slot.objects.filter(school=unit, cancelled=False, starts_at__gte=lo, starts_at__lt=hi),
                      "counsellor_id")
                 .exclude(bookings__status=BookingStatus.ACTIVE)
                 .values("pk", "starts_at", "ends_at", "counsellor_id", "mode", "room__name")
                 .order_by("starts_at", "pk"))
    recorded = {s["booking_id"] for s in sessions if s["booking_id"]}
    session_pattern = _url_pattern("counseling:session")
    booking_pattern = _url_pattern("counseling:booking") or ""
    items: list[Item] = []
    for s in sessions:
        items.append(Item("session", s["starts_at"], s["starts_at"] + dt.timedelta(minutes=s["minutes"]),
                          s["counsellor_id"], names.get(s["counsellor_id"], ""),
                          who=s["episode__client__full_name"] or s["group__name"] or "",
                          where=_where(s["mode"], s["room__name"], mode_labels), status=s["attendance"],
                          status_label=str(attendance_labels.get(s["attendance"], "")),
                          url=_session_url(s["pk"], session_pattern),
                          risk=s["risk"] in URGENT_RISKS))
    for b in bookings:
        if b["pk"] in recorded:
            continue  # the session stands for it
        items.append(Item("booking", b["starts_at"], b["slot__ends_at"], b["slot__counsellor_id"],
                          names.get(b["slot__counsellor_id"], ""), who=b["client__full_name"],
                          where=_where(b["slot__mode"], b["slot__room__name"], mode_labels),
                          status="booked", status_label=_("Booked"),
                          url=booking_pattern.format(b["pk"]), risk=b["risk_now"]))
    free: dict[tuple[dt.date, int], Item] = {}
    for s in slots:
        if s["starts_at"] <= now:
            continue  # a past free slot is no longer a time anyone can take
        if who is None:  # everyone's week: one line per counsellor and day ("3 free times")
            key = (rules.local_day(s["starts_at"]), s["counsellor_id"])
            if key in free:
                free[key].count += 1
                free[key].ends_at = max(free[key].ends_at, s["ends_at"])
                continue
        item = Item("free", s["starts_at"], s["ends_at"], s["counsellor_id"], names.get(s["counsellor_id"], ""),
                    where=_where(s["mode"], s["room__name"], mode_labels), status="free", status_label=_("Free"))
        items.append(item)
        if who is None:
            free[key] = item
    for item in free.values():
        if item.count > 1:
            item.where = ""
            item.status_label = ngettext("%(n)d free time", "%(n)d free times", item.count) % {"n": item.count}
    items.sort(key=lambda i: (i.starts_at, i.counsellor, i.kind))
    today = rules.local_day(now)
    by_day: dict[dt.date, list[Item]] = {start + dt.timedelta(days=i): [] for i in range(7)}
    for item in items:
        item.line = item.sub(who is None)
        by_day.setdefault(rules.local_day(item.starts_at), []).append(item)
    audit(request, action, object_type="counseling.caseload", object_id=str(who.pk if who else "all"),
          detail=f"start={start.isoformat()};items={len(items)}")
    return Week(school=unit, first=start, days=[Day(d, v, d == today) for d, v in by_day.items()],
                counsellor=who, team=team, is_director=director)
