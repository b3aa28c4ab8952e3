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

from .models import Booking, Slot
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
