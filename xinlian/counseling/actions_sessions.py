"""Counselling sessions (issue 11, second slice), each action written once: opening a session
from a booking, a walk-in or duty session, a family session; groups (capacity, members,
meetings); one-tap attendance; the structured summary, the free notes and the risk level.

Each verb takes the request first (the audit row records its address), then ids, then the
parsed input: the scoped lookup (:mod:`.access`), the capability check, the rule (backed by
the database where one holds it), and the audit row — all in one transaction, so nothing is
half-written. The pages (``views_sessions.py``) and the API (``api_sessions.py``) are adapters.

Risk: a yellow, orange or red level recorded here sets the student's register level through
care's verb (``care.actions.set_risk_level``: the counsellor acts, it audits "risk.set");
"risk to life" sets red and raises the red alert to the duty counsellor, as the booking's risk
question does. Messages never carry the record."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from xinlian.access.models import AuditResult
from xinlian.access.policy import audit
from xinlian.access.ratelimit import TooMany
from xinlian.care.models import (
    LEVEL_ORDER,
    AlertDuty,
    Category,
    DutyRole,
    HeardFrom,
    RiskEntry,
    RiskLevel,
    Urgency,
)
from xinlian.lib.actions import Conflict, Invalid, NotAllowed, NotFound
from xinlian.lib.converters import parse_id
from xinlian.network.models import Student, Unit, User
from xinlian.notify.services import notify_users

from . import access, rules
from .models import (
    Attendance,
    Booking,
    BookingStatus,
    CounselingGroup,
    Episode,
    EpisodeSource,
    EpisodeStatus,
    GroupAttendance,
    GroupMember,
    Mode,
    Room,
    Session,
    SessionKind,
    SessionRisk,
)

TEXT_MAX = 8000
NAME_MAX = 64
# What the duty counsellor's inbox says after "risk to life" in a session: no name, no record.
URGENT_SESSION = gettext_noop("Urgent: a counsellor recorded a risk to life in a counselling session. "
                              "Act at once.")
# The concern's text (read by the alert's readers): that the student is at risk, not the record.
LIFE_TEXT = gettext_noop("A counsellor recorded a risk to life for the student.")
# The register's reason for a level set from a session: where it came from, never the record.
RISK_REASON = gettext_noop("Risk level recorded in a counselling session.")
REGISTER_LEVEL = {SessionRisk.LOW: RiskLevel.YELLOW, SessionRisk.MEDIUM: RiskLevel.ORANGE,
                  SessionRisk.HIGH: RiskLevel.RED, SessionRisk.LIFE: RiskLevel.RED}


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _id(raw: Any) -> int:
    number = raw if isinstance(raw, int) and not isinstance(raw, bool) else parse_id(str(raw or ""))
    if number is None or number <= 0:
        raise NotFound
    return number


def _in_school_language(msgid: str) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return translation.gettext(msgid)


def _staff_school(request: HttpRequest, action: str, school_id: int | None = None) -> Unit:
    """The school where the actor is counselling staff; none: NotFound (audited)."""
    schools = access.staff_schools(_user(request))
    for school in schools:
        if school_id is None or school.pk == school_id:
            return school
    audit(request, action, object_type="counseling.session", object_id="-", result=AuditResult.DENIED)
    raise NotFound


def require_staff(request: HttpRequest, action: str = "counseling.session.open") -> Unit:
    """The actor's counselling school (the walk-in form asks before it shows); else NotFound."""
    return _staff_school(request, action)


def _client(request: HttpRequest, school: Unit, raw: Any, action: str) -> tuple[User, Student | None]:
    """A client of ``school``'s centre by student or staff number (or user id); anyone else —
    another school's student, nobody — is NotFound with a message, audited."""
    text = str(raw or "").strip()[:64]
    user = None
    if text:
        user = User.objects.filter(username=text).first()  # the student or staff number
        if user is None and (number := parse_id(text)) is not None:
            user = User.objects.filter(pk=number).first()
    if user is not None and user.is_active:
        home = rules.client_school(user)
        if home is not None and home.pk == school.pk:
            return user, rules.student_of(user)
    audit(request, action, object_type="network.user", object_id=text or "-", result=AuditResult.DENIED)
    raise NotFound(_("No client of your centre has this number."),
                   errors={"client": [_("No client of your centre has this number.")]})


def _when(raw: Any, errors: dict[str, list[Any]]) -> dt.datetime:
    if raw in (None, ""):
        return timezone.now().replace(second=0, microsecond=0)
    if isinstance(raw, dt.datetime):
        return raw if timezone.is_aware(raw) else timezone.make_aware(raw, rules.zone())
    try:
        at = dt.datetime.fromisoformat(str(raw).strip())
    except ValueError:
        errors.setdefault("starts_at", []).append(_("Enter a time like 2026-09-01 14:00."))
        return timezone.now()
    return at if timezone.is_aware(at) else timezone.make_aware(at, rules.zone())


def _minutes(raw: Any, errors: dict[str, list[Any]]) -> int:
    try:
        minutes = int(str(raw or "50"))
    except ValueError:
        minutes = 0
    if not 10 <= minutes <= 240:
        errors.setdefault("minutes", []).append(_("A session lasts 10 to 240 minutes."))
    return minutes


def _place(school: Unit, mode: Any, room: Any, errors: dict[str, list[Any]]) -> tuple[str, Room | None]:
    mode = str(mode or Mode.ROOM)
    if mode not in Mode.values:
        errors.setdefault("mode", []).append(_("Choose a room, online or phone."))
        return Mode.ROOM, None
    found = None
    if mode == Mode.ROOM and room not in (None, ""):
        room_id = room if isinstance(room, int) else parse_id(str(room))
        found = Room.objects.filter(pk=room_id, school=school, is_active=True).first() if room_id else None
        if found is None:
            errors.setdefault("room", []).append(_("Choose a room of your centre."))
    return mode, found


def _kind(raw: Any, errors: dict[str, list[Any]]) -> str:
    kind = str(raw or SessionKind.INDIVIDUAL)
    if kind not in (SessionKind.INDIVIDUAL, SessionKind.FAMILY):
        errors.setdefault("kind", []).append(_("Choose an individual or a family session."))
    return kind


def _replay(request: HttpRequest, key: uuid.UUID | None) -> Session | None:
    if key is None:
        return None
    found = Session.objects.filter(key=key).first()
    if found is not None and not access.writes_session_record(_user(request), found):
        raise Conflict(_("This submission key belongs to another session."))
    return found


def _episode(school: Unit, client: User, student: Student | None, counsellor: User, source: str) -> Episode:
    """The open episode of client × counsellor, opened now if there is none (the database holds
    one open per pair: a race ends on the row the other opened)."""
    found = Episode.objects.filter(client=client, counsellor=counsellor, status=EpisodeStatus.OPEN).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Episode.objects.create(school=school, client=client, student=student, counsellor=counsellor,
                                          source=source)
    except IntegrityError:
        return Episode.objects.get(client=client, counsellor=counsellor, status=EpisodeStatus.OPEN)


# --- opening sessions ----------------------------------------------------------------------------------


def open_from_booking(request: HttpRequest, booking_id: Any, *, kind: Any = SessionKind.INDIVIDUAL,
                      key: uuid.UUID | None = None) -> Session:
    """The session of a booking (one per booking: a second call returns it), in the open
    episode of client × the slot's counsellor (opened if none). The slot's counsellor or the
    director opens it."""
    user = _user(request)
    booking, as_staff = access.get_booking_for_user(request, _id(booking_id), "counseling.session.open")
    if not as_staff:
        audit(request, "counseling.session.open", booking, result=AuditResult.DENIED)
        raise NotFound
    existing = Session.objects.filter(booking=booking).first()
    if existing is not None:
        return existing
    if booking.slot.counsellor_id != user.pk and not access.is_director(user, booking.slot.school_id):
        audit(request, "counseling.session.open", booking, result=AuditResult.DENIED)
        raise NotAllowed(_("Only the booking's counsellor or the centre director opens its session."))
    errors: dict[str, list[Any]] = {}
    kind = _kind(kind, errors)
    if errors:
        raise Invalid(errors=errors)
    if booking.status != BookingStatus.ACTIVE:
        raise Conflict(_("This booking was cancelled."))
    if (replay := _replay(request, key)) is not None:
        return replay
    slot = booking.slot
    school = Unit.objects.get(pk=slot.school_id)
    try:
        with transaction.atomic():
            episode = _episode(school, booking.client, booking.student, slot.counsellor, EpisodeSource.BOOKING)
            session = Session.objects.create(
                key=key, school=school, counsellor=slot.counsellor, kind=kind, episode=episode, booking=booking,
                starts_at=slot.starts_at, minutes=max(10, int((slot.ends_at - slot.starts_at).total_seconds() // 60)),
                room=slot.room, mode=slot.mode)
            audit(request, "counseling.session.open", session, detail=f"booking={booking.pk};kind={kind}")
    except IntegrityError:
        existing = Session.objects.filter(booking=booking).first()
        if existing is None:
            raise Conflict(_("Someone else changed this just now. Please try again.")) from None
        return existing
    return session


def open_walk_in(request: HttpRequest, *, client: Any, kind: Any = SessionKind.INDIVIDUAL, starts_at: Any = None,
                 minutes: Any = 50, mode: Any = Mode.ROOM, room: Any = None,
                 key: uuid.UUID | None = None) -> Session:
    """A walk-in or duty session without a booking (a family session with ``kind="family"``),
    for a client of the actor's centre, in the open episode of client × actor."""
    user = _user(request)
    school = _staff_school(request, "counseling.session.open")
    if (replay := _replay(request, key)) is not None:
        return replay
    who, student = _client(request, school, client, "counseling.session.open")
    if who.pk == user.pk:
        raise Invalid(errors={"client": [_("You cannot counsel yourself.")]})
    errors: dict[str, list[Any]] = {}
    kind = _kind(kind, errors)
    at = _when(starts_at, errors)
    length = _minutes(minutes, errors)
    where, found_room = _place(school, mode, room, errors)
    if errors:
        raise Invalid(errors=errors)
    try:
        with transaction.atomic():
            episode = _episode(school, who, student, user, EpisodeSource.WALK_IN)
            session = Session.objects.create(key=key, school=school, counsellor=user, kind=kind, episode=episode,
                                             starts_at=at, minutes=length, room=found_room, mode=where)
            audit(request, "counseling.session.open", session, detail=f"walk_in;kind={kind}")
    except IntegrityError:
        if key is not None and (replay := Session.objects.filter(key=key).first()) is not None:
            return replay
        raise Conflict(_("Someone else changed this just now. Please try again.")) from None
    return session


# --- groups ----------------------------------------------------------------------------------------------


def _group(request: HttpRequest, group_id: Any, action: str, *, lock: bool = False) -> CounselingGroup:
    """A group of the actor's schools (NotFound, audited, otherwise); its counsellor or the
    director changes it (NotAllowed otherwise)."""
    user = _user(request)
    qs = access.visible_groups(user)
    if lock:
        qs = qs.select_for_update()
    group = qs.filter(pk=_id(group_id)).first()
    if group is None:
        audit(request, action, object_type="counseling.group", object_id=str(group_id)[:32], result=AuditResult.DENIED)
        raise NotFound
    if group.counsellor_id != user.pk and not access.is_director(user, group.school_id):
        audit(request, action, group, result=AuditResult.DENIED)
        raise NotAllowed(_("Only the group's counsellor or the centre director changes this group."))
    return group


def create_group(request: HttpRequest, *, name: Any, capacity: Any) -> CounselingGroup:
    user = _user(request)
    school = _staff_school(request, "counseling.group.create")
    errors: dict[str, list[Any]] = {}
    name = str(name or "").strip()
    if not name:
        errors["name"] = [_("Give the group a name.")]
    elif len(name) > NAME_MAX:
        errors["name"] = [_("Keep it under %(n)s characters.") % {"n": NAME_MAX}]
    try:
        cap = int(str(capacity or ""))
    except ValueError:
        cap = 0
    if not 2 <= cap <= 60:
        errors["capacity"] = [_("A group holds 2 to 60 members.")]
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        group = CounselingGroup.objects.create(school=school, counsellor=user, name=name, capacity=cap)
        audit(request, "counseling.group.create", group, detail=f"capacity={cap}")
    return group


def active_members(group: CounselingGroup) -> QuerySet[GroupMember]:
    return group.members.filter(left_at__isnull=True)


def add_member(request: HttpRequest, group_id: Any, *, client: Any) -> GroupMember:
    """Add a client of the centre to a group. Capacity is held in the database's transaction:
    the group's row is locked (SELECT … FOR UPDATE) before the members are counted, so two
    counsellors adding the last place at once are served one after the other and the second
    is refused. (SQLite has no row locks: it lets one writer at a time, and a transaction that
    read before another's write cannot write after it — the race ends in an error, never in a
    group over its capacity.)"""
    with transaction.atomic():
        group = _group(request, group_id, "counseling.group.member", lock=True)
        school = Unit.objects.get(pk=group.school_id)
        who, student = _client(request, school, client, "counseling.group.member")
        if not group.is_active:
            raise Conflict(_("This group has ended."))
        member = group.members.filter(client=who).first()
        if member is not None and member.left_at is None:
            raise Conflict(_("This client is already a member."))
        if active_members(group).count() >= group.capacity:
            raise Conflict(_("The group is full (%(n)d places). Remove a member or raise the capacity first.")
                           % {"n": group.capacity})
        if member is not None:
            GroupMember.objects.filter(pk=member.pk).update(left_at=None, joined_at=timezone.now())
            member.refresh_from_db()
        else:
            member = GroupMember.objects.create(group=group, client=who, student=student)
        audit(request, "counseling.group.member", group, detail=f"add={member.pk}")
    return member


def remove_member(request: HttpRequest, group_id: Any, member_id: Any) -> GroupMember:
    with transaction.atomic():
        group = _group(request, group_id, "counseling.group.member", lock=True)
        member = group.members.filter(pk=_id(member_id), left_at__isnull=True).first()
        if member is None:
            raise NotFound
        GroupMember.objects.filter(pk=member.pk).update(left_at=timezone.now())
        # Their places at meetings to come go too.
        GroupAttendance.objects.filter(member=member, session__starts_at__gt=timezone.now(),
                                       attendance=Attendance.PLANNED).delete()
        audit(request, "counseling.group.member", group, detail=f"remove={member.pk}")
    member.refresh_from_db()
    return member


def schedule_meeting(request: HttpRequest, group_id: Any, *, starts_at: Any, minutes: Any = 90,
                     mode: Any = Mode.ROOM, room: Any = None, key: uuid.UUID | None = None) -> Session:
    """A meeting of the group: a group session with one attendance row per current member."""
    if (replay := _replay(request, key)) is not None:
        return replay
    with transaction.atomic():
        group = _group(request, group_id, "counseling.group.meeting", lock=True)
        school = Unit.objects.get(pk=group.school_id)
        errors: dict[str, list[Any]] = {}
        if starts_at in (None, ""):
            errors["starts_at"] = [_("Enter a time like 2026-09-01 14:00.")]
        at = _when(starts_at, errors)
        length = _minutes(minutes, errors)
        where, found_room = _place(school, mode, room, errors)
        if errors:
            raise Invalid(errors=errors)
        if not group.is_active:
            raise Conflict(_("This group has ended."))
        session = Session.objects.create(key=key, school=school, counsellor=group.counsellor, kind=SessionKind.GROUP,
                                         group=group, starts_at=at, minutes=length, room=found_room, mode=where)
        GroupAttendance.objects.bulk_create([GroupAttendance(session=session, member=m)
                                             for m in active_members(group)])
        audit(request, "counseling.group.meeting", session, detail=f"group={group.pk}")
    return session


# --- attendance and the record ------------------------------------------------------------------------


def _writable(request: HttpRequest, session_id: Any, action: str, *, lock: bool = False) -> Session:
    """A session the actor may write: in reach (NotFound, audited), theirs or the director's
    (NotAllowed, audited); in a closed episode: Conflict."""
    user = _user(request)
    session = access.get_session_for_user(request, _id(session_id), action)
    if not access.writes_session_record(user, session):
        audit(request, action, session, result=AuditResult.DENIED)
        raise NotAllowed(_("Only the session's counsellor or the centre director records this session."))
    if lock:
        Session.objects.select_for_update().filter(pk=session.pk).first()
    if session.episode_id is not None:
        status = Episode.objects.filter(pk=session.episode_id).values_list("status", flat=True).first()
        if status == EpisodeStatus.CLOSED:
            raise Conflict(_("This counselling episode is closed: nothing more is recorded in it."))
    return session


def _attendance(raw: Any) -> str:
    value = str(raw or "")
    if value not in (Attendance.ATTENDED, Attendance.CANCELLED, Attendance.NO_SHOW, Attendance.PLANNED):
        raise Invalid(errors={"attendance": [_("Choose attended, cancelled or did not come.")]})
    return value


def record_attendance(request: HttpRequest, session_id: Any, *, attendance: Any, member: Any = None) -> Session:
    """One tap: attended, cancelled or did not come — the client's for an individual or family
    session; one member's for a group meeting (``member``)."""
    value = _attendance(attendance)
    with transaction.atomic():
        session = _writable(request, session_id, "counseling.session.attendance", lock=True)
        if session.kind == SessionKind.GROUP:
            if member in (None, ""):
                raise Invalid(errors={"member": [_("Choose a member of the group.")]})
            row = GroupAttendance.objects.filter(session=session, member_id=_id(member)).first()
            if row is None:
                raise NotFound
            GroupAttendance.objects.filter(pk=row.pk).update(attendance=value)
            audit(request, "counseling.session.attendance", session, detail=f"member={row.member_id};{value}")
        else:
            Session.objects.filter(pk=session.pk).update(attendance=value)
            audit(request, "counseling.session.attendance", session, detail=value)
    session.refresh_from_db()
    return session


def attend_booking(request: HttpRequest, booking_id: Any, *, attendance: Any) -> Session:
    """The day view's one tap on a booking: its session (opened if need be) and the attendance,
    in one transaction."""
    value = _attendance(attendance)
    with transaction.atomic():
        session = open_from_booking(request, booking_id)
        return record_attendance(request, session.pk, attendance=value)


@dataclass
class Record:
    presenting: str = ""
    assessment: str = ""
    intervention: str = ""
    plan: str = ""
    notes: str = ""
    family_present: str = ""
    risk: str = ""
    risk_confirmed: bool = False

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Record:
        def text(name: str) -> str:
            return str(data.get(name) or "").strip()

        confirmed = data.get("risk_confirmed")
        if isinstance(confirmed, str):
            confirmed = confirmed.strip().lower() in ("1", "yes", "true", "on")
        return cls(presenting=text("presenting"), assessment=text("assessment"), intervention=text("intervention"),
                   plan=text("plan"), notes=text("notes"), family_present=text("family_present"),
                   risk=text("risk"), risk_confirmed=bool(confirmed))

    def errors(self, session: Session) -> dict[str, list[Any]]:
        errors: dict[str, list[Any]] = {}
        for name in access.RECORD_FIELDS:
            if len(getattr(self, name)) > TEXT_MAX:
                errors[name] = [_("Keep it under %(n)s characters.") % {"n": TEXT_MAX}]
        if self.risk not in SessionRisk.values:
            errors["risk"] = [_("Choose a risk level.")]
        elif session.kind == SessionKind.GROUP and self.risk != SessionRisk.NONE:
            errors["risk"] = [_("Record a group member's risk in a session of their own.")]
        elif self.risk == SessionRisk.LIFE and not self.risk_confirmed:
            errors["risk_confirmed"] = [_("Confirm the risk to life: the duty counsellor is alerted at once.")]
        if session.kind != SessionKind.FAMILY and self.family_present:
            errors["family_present"] = [_("Only a family session records who of the family came.")]
        return errors


@dataclass
class Recorded:
    session: Session
    register_level: str | None = None
    alert_id: int | None = None
    alerted: bool = False  # "risk to life" first recorded now: the duty counsellor was told


def record_session(request: HttpRequest, session_id: Any, data: dict[str, Any] | Record) -> Recorded:
    """The structured summary, the notes and the risk level (tier 5, encrypted). A level from
    yellow up sets the register through care (the counsellor acts; care audits it); "risk to
    life" also raises the red alert to the duty counsellor — once, when first recorded."""
    parsed = data if isinstance(data, Record) else Record.parse(data)
    with transaction.atomic():
        session = _writable(request, session_id, "counseling.session.record", lock=True)
        errors = parsed.errors(session)
        if errors:
            raise Invalid(errors=errors)
        before = Session.objects.filter(pk=session.pk).values_list("risk", flat=True).first() or ""
        now = timezone.now()
        Session.objects.filter(pk=session.pk).update(
            presenting=parsed.presenting, assessment=parsed.assessment, intervention=parsed.intervention,
            plan=parsed.plan, notes=parsed.notes, family_present=parsed.family_present, risk=parsed.risk,
            recorded_at=now, recorded_by=_user(request))
        audit(request, "counseling.session.record", session, detail=f"risk={parsed.risk}")
        level = REGISTER_LEVEL.get(parsed.risk)  # type: ignore[call-overload]
        student = session.episode.student if session.episode_id else None
        alert_id = None
        alerted = False
        # A session only ever raises the register: a lower level recorded here (or an edit from
        # high to low) never lowers a red that a case, an alert or another session set.
        if level is not None and student is not None and parsed.risk != before and _raises(student, level):
            from xinlian.care import actions as care_actions

            care_actions.set_risk_level(request, student.pk, level=level,
                                        reason=_in_school_language(RISK_REASON))
        else:
            level = None
        if parsed.risk == SessionRisk.LIFE and before != SessionRisk.LIFE:
            alert_id = _raise_life(request, session, student)
            alerted = True
    session.refresh_from_db()
    return Recorded(session, level, alert_id, alerted)


def _raises(student: Student, level: str) -> bool:
    """Whether ``level`` is above the student's current register level (or they have none)."""
    current = RiskEntry.current_for(student)
    return current is None or LEVEL_ORDER.get(level, 0) > LEVEL_ORDER.get(current.level, 0)


def _raise_life(request: HttpRequest, session: Session, student: Student | None) -> int | None:
    """"Risk to life": the path the booking's risk question takes (actions.raise_risk) — a red
    concern through care's verb, filed by the counsellor about the student (one per session:
    its key is the session's), and the duty counsellor told at once with a link to the alert.
    A staff client has no student record: the duty counsellor is told directly."""
    from xinlian.care import actions as care_actions

    alert_id = None
    if student is not None:
        try:
            concern, _created = care_actions.report_concern(
                request, student.pk, key=uuid.uuid5(uuid.NAMESPACE_URL, f"xinlian-session-life-{session.pk}"),
                category=Category.SELF_HARM, urgency=Urgency.NOW, seen=_in_school_language(LIFE_TEXT),
                heard_from=HeardFrom.STUDENT)
            alert = concern.alerts.order_by("-pk").first()
            alert_id = alert.pk if alert is not None else None
        except (TooMany, NotFound):
            alert_id = None  # the duty counsellor is still told below
    school = Unit.objects.get(pk=session.school_id)
    duty = rules.duty_counsellors(school)
    if alert_id is not None:
        AlertDuty.objects.bulk_create([AlertDuty(alert_id=alert_id, person=p, role=DutyRole.CENTRE) for p in duty],
                                      ignore_conflicts=True)
        link = reverse("alert-detail", args=[alert_id])
    else:
        link = reverse("counseling:session", args=[session.pk])
    notify_users(duty, URGENT_SESSION, {}, link)
    audit(request, "counseling.risk", object_type="care.alert", object_id=str(alert_id or "-"),
          detail=f"duty={len(duty)};session={session.pk}")
    return alert_id


# --- reading -----------------------------------------------------------------------------------------------


@dataclass
class DayItem:
    """One line of the day view: a session, or a booking that has no session yet."""

    starts_at: dt.datetime
    session: Session | None = None
    booking: Booking | None = None


@dataclass
class Day:
    date: dt.date
    items: list[DayItem]
    counsellor: User


def day_view(request: HttpRequest, *, date: Any = None) -> Day:
    """The counsellor's day: their bookings and sessions of one local date, in time order.
    Names and times, no record (a fixed number of queries, whatever the size of the file)."""
    user = _user(request)
    _staff_school(request, "counseling.day")
    errors: dict[str, list[Any]] = {}
    if date in (None, ""):
        day = rules.local_day(timezone.now())
    else:
        try:
            day = dt.date.fromisoformat(str(date).strip())
        except ValueError:
            errors["date"] = [_("Enter a date like 2026-09-01.")]
            raise Invalid(errors=errors) from None
    start = rules.at_local(day, dt.time.min)
    end = rules.at_local(day + dt.timedelta(days=1), dt.time.min)
    sessions = list(Session.objects.filter(counsellor=user, starts_at__gte=start, starts_at__lt=end)
                    .select_related("episode__client", "group", "room", "booking").order_by("starts_at", "pk"))
    bookings = list(Booking.objects.filter(slot__counsellor=user, status=BookingStatus.ACTIVE, starts_at__gte=start,
                                           starts_at__lt=end, session__isnull=True)
                    .select_related("client", "slot", "slot__room").order_by("starts_at", "pk"))
    items = [DayItem(s.starts_at, session=s) for s in sessions] + [DayItem(b.starts_at, booking=b) for b in bookings]
    items.sort(key=lambda i: (i.starts_at, 0 if i.session else 1))
    audit(request, "counseling.day", object_type="counseling.session", object_id="list",
          detail=f"n={len(items)}")
    return Day(day, items, user)


def list_sessions(request: HttpRequest, *, date: Any = None, counsellor: Any = None) -> list[Session]:
    """Sessions the actor may know of (no record): one date, or the last 60 days and the next 14."""
    user = _user(request)
    qs = access.visible_sessions(user)
    if not access.staff_schools(user) and not qs.exists():
        audit(request, "counseling.sessions", object_type="counseling.session", object_id="list",
              result=AuditResult.DENIED)
        raise NotFound
    if date not in (None, ""):
        try:
            day = dt.date.fromisoformat(str(date).strip())
        except ValueError:
            raise Invalid(errors={"date": [_("Enter a date like 2026-09-01.")]}) from None
        qs = qs.filter(starts_at__gte=rules.at_local(day, dt.time.min),
                       starts_at__lt=rules.at_local(day + dt.timedelta(days=1), dt.time.min))
    else:
        now = timezone.now()
        qs = qs.filter(starts_at__gte=now - dt.timedelta(days=60), starts_at__lt=now + dt.timedelta(days=14))
    if counsellor not in (None, ""):
        qs = qs.filter(counsellor_id=_id(counsellor))
    rows = list(qs.select_related("episode__client", "group", "counsellor", "room").order_by("starts_at", "pk")[:500])
    audit(request, "counseling.sessions", object_type="counseling.session", object_id="list",
          detail=f"n={len(rows)}")
    return rows


@dataclass
class SessionView:
    session: Session
    record: dict[str, Any] | None
    may_write: bool
    attendance: list[GroupAttendance]


def read_session(request: HttpRequest, session_id: Any) -> SessionView:
    """One session; its record for the tier-5 readers only (each read audited)."""
    user = _user(request)
    session = access.get_session_for_user(request, _id(session_id))
    record = access.read_session_record(request, session)
    rows = (list(session.group_attendance.select_related("member__client").order_by("member__client__full_name"))
            if session.kind == SessionKind.GROUP else [])
    if record is None:
        audit(request, "counseling.session.view", session)
    return SessionView(session, record, access.writes_session_record(user, session), rows)


@dataclass
class GroupView:
    group: CounselingGroup
    members: list[GroupMember]
    meetings: list[Session]
    grid: dict[tuple[int, int], str]  # (meeting, member) → attendance
    may_write: bool

    @property
    def rows(self) -> list[tuple[GroupMember, list[tuple[Session, str | None]]]]:
        """The attendance grid: per member, each meeting with their attendance (None: the
        meeting was before they joined)."""
        return [(m, [(s, self.grid.get((s.pk, m.pk))) for s in self.meetings]) for m in self.members]


def read_group(request: HttpRequest, group_id: Any) -> GroupView:
    user = _user(request)
    group = access.visible_groups(user).filter(pk=_id(group_id)).select_related("counsellor").first()
    if group is None:
        audit(request, "counseling.group.view", object_type="counseling.group", object_id=str(group_id)[:32],
              result=AuditResult.DENIED)
        raise NotFound
    members = list(group.members.filter(left_at__isnull=True).select_related("client").order_by("client__full_name"))
    meetings = list(group.sessions.select_related("counsellor").order_by("starts_at", "pk"))
    grid = {(a.session_id, a.member_id): a.attendance
            for a in GroupAttendance.objects.filter(session__group=group)}
    audit(request, "counseling.group.view", group)
    may = group.counsellor_id == user.pk or access.is_director(user, group.school_id)
    return GroupView(group, members, meetings, grid, may)


def list_groups(request: HttpRequest) -> list[CounselingGroup]:
    _staff_school(request, "counseling.groups")
    rows = list(access.visible_groups(_user(request)).filter(is_active=True).select_related("counsellor")
                .order_by("-created_at", "pk")[:200])
    return rows


def rooms_of(request: HttpRequest) -> list[Room]:
    return list(Room.objects.filter(school_id__in=[u.pk for u in access.staff_schools(_user(request))],
                                    is_active=True))

