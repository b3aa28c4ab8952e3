"""Who sees what of counselling — the one helper per sensitive type, on the policy's primitives.

The fact that someone books counselling is confidential: a booking is visible to the
counselling staff of the client's school (a counsellor, the centre director) and to the client
themself — never to the 辅导员, the 班主任, peers, or (for a member of staff) the people above
their post. The intake (what it is about, the risk answer) is read by counselling staff only,
and every read of it is audited. Outside the reader's reach a booking is missing (404)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest

from xinlian.access.models import AuditResult
from xinlian.access.policy import active_posts_of, audit
from xinlian.lib.actions import NotFound
from xinlian.network.models import Role, Unit, User

from .models import Booking, CounselingGroup, Session, Slot
from .rules import STAFF_ROLES


def staff_schools(user: User) -> list[Unit]:
    """The schools where ``user`` is counselling staff (through the policy's cached posts)."""
    return [p.unit for p in active_posts_of(user) if p.role in STAFF_ROLES]


def is_counselling_staff(user: User, school_id: int | None = None) -> bool:
    return any(school_id is None or u.pk == school_id for u in staff_schools(user))


def is_director(user: User, school_id: int | None = None) -> bool:
    return any(p.role == Role.CENTRE_DIRECTOR and (school_id is None or p.unit_id == school_id)
               for p in active_posts_of(user))


def visible_bookings(user: User) -> QuerySet[Booking]:
    """Bookings ``user`` may know of: all of their schools' for counselling staff, their own
    for everyone."""
    schools = [u.pk for u in staff_schools(user)]
    if schools:
        return Booking.objects.filter(slot__school_id__in=schools) | Booking.objects.filter(client_id=user.pk)
    return Booking.objects.filter(client_id=getattr(user, "pk", None))


def get_booking_for_user(request: HttpRequest, pk: int, action: str = "counseling.booking.view"
                         ) -> tuple[Booking, bool]:
    """The booking and whether the reader acts as counselling staff on it (``True``) or as its
    client (``False``); anyone else: NotFound, audited."""
    user: User = request.user  # type: ignore[assignment]
    booking = (visible_bookings(user).select_related("slot", "slot__room", "slot__counsellor", "client",
                                                     "student")
               .filter(pk=pk).first())
    if booking is None:
        audit(request, action, object_type="counseling.booking", object_id=str(pk), result=AuditResult.DENIED)
        raise NotFound
    return booking, is_counselling_staff(user, booking.slot.school_id)


def sees_intake(user: User, booking: Booking) -> bool:
    return is_counselling_staff(user, booking.slot.school_id)


def read_intake(request: HttpRequest, booking: Booking) -> dict[str, object] | None:
    """The intake for counselling staff (audited, one row per read); None for anyone else."""
    user: User = request.user  # type: ignore[assignment]
    if not sees_intake(user, booking):
        return None
    audit(request, "counseling.intake.read", booking)
    return {"topic": booking.topic, "previous": booking.previous,
            "previous_label": str(booking.get_previous_display()), "risk_now": booking.risk_now}


def editable_counsellors(user: User) -> dict[int, list[User]]:
    """School id → the counsellors whose availability ``user`` edits: their own at each school
    where they counsel; everyone's at a school they direct."""
    from .rules import counsellors_of

    out: dict[int, list[User]] = {}
    for post in active_posts_of(user):
        if post.role == Role.CENTRE_DIRECTOR:
            out[post.unit_id] = counsellors_of(post.unit)
        elif post.role == Role.COUNSELLOR:
            mine = out.setdefault(post.unit_id, [])
            if all(u.pk != user.pk for u in mine):
                mine.append(user)
    return out


def visible_slots(user: User) -> QuerySet[Slot]:
    """Slots of the schools where ``user`` is counselling staff (their rota views)."""
    return Slot.objects.filter(school_id__in=[u.pk for u in staff_schools(user)])


# --- sessions (issue 11, second slice: Z1) -----------------------------------------------------------
# The fact of a session is counselling staff's (every counsellor and the director of its school)
# and its episode's named supervisor's; its record (the structured summary, the notes, who of the
# family came: tier 5) is read only by the session's counsellor, the centre director and the
# named supervisor, each read audited. The director's load views show that a session exists and
# its attendance, never the record.

def visible_sessions(user: User) -> QuerySet[Session]:
    """Sessions ``user`` may know of: their schools' (counselling staff), and those of the
    episodes they supervise."""
    from django.db.models import Q

    schools = [u.pk for u in staff_schools(user)]
    uid = getattr(user, "pk", None)
    if uid is None:
        return Session.objects.none()
    return Session.objects.filter(Q(school_id__in=schools) | Q(episode__supervisor_id=uid))


def visible_groups(user: User) -> QuerySet[CounselingGroup]:
    """Counselling groups of the schools where ``user`` is counselling staff (a group's name
    says what it works on: staff only)."""
    return CounselingGroup.objects.filter(school_id__in=[u.pk for u in staff_schools(user)])


def get_session_for_user(request: HttpRequest, pk: int, action: str = "counseling.session.view") -> Session:
    """The session, or NotFound (audited) outside the reader's reach."""
    user: User = request.user  # type: ignore[assignment]
    session = (visible_sessions(user).select_related("episode", "episode__client", "group", "counsellor", "room",
                                                     "booking").filter(pk=pk).first())
    if session is None:
        audit(request, action, object_type="counseling.session", object_id=str(pk), result=AuditResult.DENIED)
        raise NotFound
    return session


def reads_session_record(user: User, session: Session) -> bool:
    """Tier 5: the session's counsellor, the centre director of its school, the episode's
    named supervisor."""
    uid = getattr(user, "pk", None)
    if uid is None:
        return False
    if session.counsellor_id == uid or is_director(user, session.school_id):
        return True
    return session.episode_id is not None and session.episode.supervisor_id == uid


def writes_session_record(user: User, session: Session) -> bool:
    """Attendance and the record are written by the session's counsellor or the director."""
    return session.counsellor_id == getattr(user, "pk", None) or is_director(user, session.school_id)


RECORD_FIELDS = ("presenting", "assessment", "intervention", "plan", "notes", "family_present")


def read_session_record(request: HttpRequest, session: Session) -> dict[str, object] | None:
    """The tier-5 record for its readers (one audit row per read); None for anyone else."""
    user: User = request.user  # type: ignore[assignment]
    if not reads_session_record(user, session):
        return None
    audit(request, "counseling.session.record.read", session)
    return {name: getattr(session, name) for name in RECORD_FIELDS}


# --- referrals, return to school, closing (Z3) ------------------------------------------------------


def in_counselling(student_ids: list[int] | set[int]) -> set[int]:
    """Of ``student_ids``, those in counselling now: an open episode or an active booking still
    to come. One query. Only for pages that show students on the register or in a case, and only
    as "in counselling" — never more (docs: the fact of counselling is confidential)."""
    from django.db.models import Exists, OuterRef
    from django.utils import timezone

    from xinlian.network.models import Student

    from .models import BookingStatus, Episode, EpisodeStatus

    ids = {int(i) for i in student_ids if i}
    if not ids:
        return set()
    episodes = Episode.objects.filter(student_id=OuterRef("pk"), status=EpisodeStatus.OPEN)
    bookings = Booking.objects.filter(student_id=OuterRef("pk"), status=BookingStatus.ACTIVE,
                                      starts_at__gte=timezone.now())
    return set(Student.objects.filter(pk__in=ids).filter(Exists(episodes) | Exists(bookings))
               .values_list("pk", flat=True))


def reads_episode_notes(user: User, episode) -> bool:  # noqa: ANN001
    """Tier 5 of an episode (closing summary, a referral letter, a diagnosis note): its
    counsellor, the centre director of its school, its named supervisor."""
    pk = getattr(user, "pk", None)
    return pk is not None and (pk in (episode.counsellor_id, episode.supervisor_id)
                               or is_director(user, episode.school_id))
