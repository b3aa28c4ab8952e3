"""The counselling service's actions, each written once (docs/architecture.md, "Each action
exists once"): the booking pages (``views.py``) and the REST API (``api.py``) parse their input,
call one of these and map its outcome — a result, or NotFound (404), NotAllowed (403),
Conflict (409; TooMany is a 429) or Invalid (400) from :mod:`xinlian.lib.actions`.

Each takes the request first (the audit row records its address), then ids, then the parsed
input: the scoped lookup (:mod:`.access`), the capability check, the rule (backed by the
database's constraints: a race ends as a Conflict), and the audit row in the same transaction.
Messages never carry the intake."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from xinlian.access.models import AuditResult
from xinlian.access.policy import audit
from xinlian.access.ratelimit import TooMany, refuse
from xinlian.care.models import AlertDuty, Category, DutyRole, HeardFrom, Urgency
from xinlian.lib.actions import Conflict, Invalid, NotAllowed, NotFound
from xinlian.lib.converters import parse_id
from xinlian.network.models import Student, Unit, User
from xinlian.notify.services import notify_users

from . import access, rules
from .models import (
    AvailabilityChange,
    Booking,
    BookingStatus,
    CentreRules,
    ChangeKind,
    Mode,
    Previous,
    Room,
    Slot,
    WaitlistEntry,
    WaitStatus,
    WeeklyAvailability,
)

TOPIC_MAX = 1000
REASON_MAX = 500
NEXT_FREE = 3
ANY_DAY_TRIES = 8  # "any counsellor": slots tried in turn when others take them first
# What the duty counsellor's inbox says: no name, nothing of the intake.
URGENT_INTAKE = gettext_noop("Urgent: a client booking counselling answered that they are thinking of "
                             "harming themself now. Act at once.")
CANCELLED_BY_CENTRE = gettext_noop("Your counselling appointment on %(when)s was cancelled by the centre. "
                                   "Open Xinlian to book another time.")
OFFERED = gettext_noop("A counselling time on %(when)s has become free and is kept for you until "
                       "%(until)s. Open Xinlian to book it.")
# The text of the concern a "yes" files: what the alert's readers (the 辅导员 among them) read.
# It tells them the student is at risk, not that they were booking counselling.
RISK_TEXT = gettext_noop("The student answered yes to “Are you thinking of harming yourself now?”")


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _id(raw: Any) -> int:
    number = raw if isinstance(raw, int) and not isinstance(raw, bool) else parse_id(str(raw or ""))
    if number is None or number <= 0:
        raise NotFound
    return number


when_text = rules.when_text


def _date(name: str, raw: Any, errors: dict[str, list[Any]]) -> dt.date | None:
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw or "").strip())
    except ValueError:
        errors.setdefault(name, []).append(_("Enter a date like 2026-09-01."))
        return None


def _time(name: str, raw: Any, errors: dict[str, list[Any]]) -> dt.time | None:
    if isinstance(raw, dt.time):
        return raw
    try:
        return dt.time.fromisoformat(str(raw or "").strip())
    except ValueError:
        errors.setdefault(name, []).append(_("Enter a time like 09:00."))
        return None


def my_school(request: HttpRequest) -> Unit:
    """The school whose centre the actor books with; none: NotAllowed."""
    school = rules.client_school(_user(request))
    if school is None:
        raise NotAllowed(_("Your account belongs to no school's counselling centre."))
    return school


def _calendar(request: HttpRequest, school: Unit) -> tuple[rules.Window, set[dt.date]]:
    """The booking window and its holidays, read once per request (a refusal reads them again
    for the next free slots)."""
    cached = getattr(request, "_counseling_calendar", None)
    if cached is None or cached[0] != school.pk:
        win = rules.window(school.pk)
        cached = (school.pk, win, rules.holidays(win.first, win.last))
        request._counseling_calendar = cached  # type: ignore[attr-defined]
    return cached[1], cached[2]


def _student(user: User) -> Student | None:
    return rules.student_of(user)


# --- free slots ------------------------------------------------------------------------------------


def free_slots(request: HttpRequest, *, day: Any = None, counsellor: Any = None,
               limit: int = 200) -> list[Slot]:
    """Bookable slots of the actor's school in the booking window, by day and counsellor
    (either may be left out). Nothing sensitive: who booked what is never shown here."""
    school = my_school(request)
    return list(_free(request, school, day=day, counsellor=counsellor)[:limit])


def _free(request: HttpRequest, school: Unit, *, day: Any = None, counsellor: Any = None,
          after: dt.datetime | None = None) -> QuerySet[Slot]:
    user = _user(request)
    now = timezone.now()
    win, off = _calendar(request, school)
    qs = (Slot.objects.bookable(now, user).filter(school=school,
                                                  starts_at__lt=rules.at_local(win.last + dt.timedelta(days=1),
                                                                               dt.time.min))
          .exclude(counsellor_id=user.pk).select_related("counsellor", "room").order_by("starts_at", "counsellor_id"))
    if day not in (None, ""):
        errors: dict[str, list[Any]] = {}
        d = _date("day", day, errors)
        if d is None:
            raise Invalid(errors=errors)
        qs = qs.filter(starts_at__gte=rules.at_local(d, dt.time.min),
                       starts_at__lt=rules.at_local(d + dt.timedelta(days=1), dt.time.min))
    if counsellor not in (None, "", "any"):
        qs = qs.filter(counsellor_id=_id(counsellor))
    if after is not None:
        qs = qs.filter(starts_at__gt=after)
    for d in off:
        qs = qs.exclude(starts_at__gte=rules.at_local(d, dt.time.min),
                        starts_at__lt=rules.at_local(d + dt.timedelta(days=1), dt.time.min))
    return qs


# --- booking ----------------------------------------------------------------------------------------


@dataclass
class Intake:
    topic: str = ""
    previous: str = Previous.NONE
    risk_now: Any = None  # True / False; None: not answered

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Intake:
        risk = data.get("risk_now")
        if isinstance(risk, str):
            risk = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}.get(
                risk.strip().lower())
        return cls(topic=str(data.get("topic") or "").strip(), previous=str(data.get("previous") or ""),
                   risk_now=risk if isinstance(risk, bool) else None)

    def errors(self) -> dict[str, list[Any]]:
        errors: dict[str, list[Any]] = {}
        if not self.topic:
            errors["topic"] = [_("Say in a few words what you would like to talk about.")]
        elif len(self.topic) > TOPIC_MAX:
            errors["topic"] = [_("Keep it under %(n)s characters.") % {"n": TOPIC_MAX}]
        if self.previous not in Previous.values:
            errors["previous"] = [_("Choose whether you have had counselling before.")]
        if self.risk_now is None:
            errors["risk_now"] = [_("Please answer this question.")]
        return errors


@dataclass
class Booked:
    booking: Booking | None
    urgent: bool = False
    alert_id: int | None = None
    next_slots: list[Slot] = field(default_factory=list)


def urgent_refusal(exc: Exception, urgent: bool) -> Exception:
    """A refused booking after a "yes": the refusal carries the urgent flag, so the page still
    shows the numbers to call (the alert has already gone out)."""
    if urgent and isinstance(exc, Conflict | Invalid):
        exc.errors = {**exc.errors, "urgent": [_("The duty counsellor has been alerted. If you are "
                                                 "in danger now, call 120 or the hotline.")]}
    return exc


def book(request: HttpRequest, *, slot: Any = None, day: Any = None, counsellor: Any = None,
         intake: dict[str, Any] | Intake, key: uuid.UUID | None = None) -> Booked:
    """Book ``slot`` — or, with ``day`` (and no slot), the first free slot that day of
    ``counsellor`` or of any counsellor — with the intake. A "yes" to the risk question raises
    a red alert at once, before and whatever becomes of the booking."""
    user = _user(request)
    school = my_school(request)
    parsed = intake if isinstance(intake, Intake) else Intake.parse(intake)
    errors = parsed.errors()
    if slot in (None, "") and day in (None, ""):
        errors["slot"] = [_("Choose a time.")]
    if errors:
        if parsed.risk_now:
            alert_id = raise_risk(request, school)
            raise urgent_refusal(Invalid(errors=errors, obj=alert_id), True)
        raise Invalid(errors=errors)
    if key is not None:
        replay = Booking.objects.filter(key=key).select_related("slot").first()
        if replay is not None:
            if replay.client_id != user.pk:
                raise Conflict(_("This submission key belongs to another booking."))
            return Booked(replay, urgent=replay.risk_now, alert_id=replay.alert_id)
    alert_id = raise_risk(request, school) if parsed.risk_now else None
    try:
        _check_booking_rate(request, user)
        if slot not in (None, ""):
            booking = _book_slot(request, school, _id(slot), parsed, key, alert_id)
        else:
            booking = _book_any(request, school, day, counsellor, parsed, key, alert_id)
    except (Conflict, Invalid) as exc:
        raise urgent_refusal(exc, bool(parsed.risk_now)) from None
    return Booked(booking, urgent=bool(parsed.risk_now), alert_id=alert_id)


def _check_booking_rate(request: HttpRequest, user: User) -> None:
    since = timezone.now() - dt.timedelta(hours=1)
    used = Booking.objects.filter(client=user, created_at__gte=since).count()
    limit = settings.COUNSELING_BOOKING_RATE_PER_HOUR
    if used >= limit:
        raise refuse(request, "counseling.booking", used=used, limit=limit,
                     message=_("You have made %(n)d bookings in the last hour, the most allowed. Please try "
                               "again later, or call the counselling centre.") % {"n": used})


def _slot_refusal(request: HttpRequest, school: Unit, message: Any, slot: Slot | None,
                  cls: type[Conflict] | type[Invalid] = Conflict) -> Exception:
    """A refusal that names the next free slots (the page offers them as buttons)."""
    upcoming = list(_free(request, school)[:NEXT_FREE])
    if upcoming:
        names = "; ".join(f"{when_text(s.starts_at)} {s.counsellor.full_name}" for s in upcoming)
        more = _("Next free times: %(times)s") % {"times": names}
    else:
        more = _("No other time is free now: you can join the waiting list.")
    text = f"{message} {more}"
    exc = cls(text, obj=upcoming)
    exc.errors = {"next_slots": [str(s.pk) for s in upcoming]}
    return exc


def _book_slot(request: HttpRequest, school: Unit, slot_id: int, intake: Intake, key: uuid.UUID | None,
               alert_id: int | None) -> Booking:
    user = _user(request)
    held = Booking.objects.filter(slot=OuterRef("pk"), status=BookingStatus.ACTIVE).exclude(client_id=user.pk)
    slot = (Slot.objects.filter(pk=slot_id, school=school).annotate(held=Exists(held))
            .select_related("counsellor", "room").first())
    if slot is None:
        raise NotFound
    if slot.held:
        # Taken already (the common answer when many try one slot): the next free ones, at once.
        raise _slot_refusal(request, school, _("Someone else has just booked this time."), slot)
    now = timezone.now()
    win, off = _calendar(request, school)
    if slot.counsellor_id == user.pk:
        raise Invalid(errors={"slot": [_("You cannot book your own time.")]})
    if slot.cancelled:
        raise _slot_refusal(request, school, _("This time is no longer offered."), slot)
    if slot.starts_at <= now:
        raise _slot_refusal(request, school, _("This time has already passed."), slot, Invalid)
    if not win.holds(slot.starts_at):
        raise _slot_refusal(request, school, _("You can book up to %(n)d days ahead; this time is further "
                                               "away.") % {"n": (win.last - win.first).days}, slot, Invalid)
    if rules.local_day(slot.starts_at) in off:
        raise _slot_refusal(request, school, _("The centre is closed on that day (a holiday)."), slot, Invalid)
    if slot.offered_to_id not in (None, user.pk) and slot.offered_until and slot.offered_until > now:
        raise _slot_refusal(request, school, _("Someone else has just booked this time."), slot)
    _refuse_double(user, slot)
    try:
        with transaction.atomic():
            booking = Booking.objects.create(
                key=key, slot=slot, client=user, student=_student(user),
                starts_at=slot.starts_at, topic=intake.topic, previous=intake.previous,
                risk_now=bool(intake.risk_now), alert_id=alert_id)
            if slot.offered_to_id is not None:
                Slot.objects.filter(pk=slot.pk).update(offered_to=None, offered_until=None)
            WaitlistEntry.objects.filter(client=user, status__in=[WaitStatus.WAITING, WaitStatus.OFFERED]
                                         ).update(status=WaitStatus.BOOKED)
            audit(request, "counseling.book", booking, detail=f"slot={slot.pk}")
    except IntegrityError:
        # The constraints said no: another client took the slot first, or this client holds a
        # booking at the same time (a second tab).
        if Booking.objects.filter(slot=slot, status=BookingStatus.ACTIVE).exclude(client=user).exists():
            raise _slot_refusal(request, school, _("Someone else has just booked this time."), slot) from None
        raise Conflict(_("You already have a booking at that time.")) from None
    return booking


def _refuse_double(user: User, slot: Slot) -> None:
    if Booking.objects.filter(client=user, status=BookingStatus.ACTIVE, starts_at__lt=slot.ends_at,
                              slot__ends_at__gt=slot.starts_at).exists():
        raise Conflict(_("You already have a booking at that time."))


def _book_any(request: HttpRequest, school: Unit, day: Any, counsellor: Any, intake: Intake,
              key: uuid.UUID | None, alert_id: int | None) -> Booking:
    errors: dict[str, list[Any]] = {}
    d = _date("day", day, errors)
    if d is None:
        raise Invalid(errors=errors)
    win, off = _calendar(request, school)
    if d < win.first:
        raise Invalid(errors={"day": [_("That day has already passed.")]})
    if d > win.last:
        raise Invalid(errors={"day": [_("You can book up to %(n)d days ahead.") % {"n": (win.last - win.first).days}]})
    if d in off:
        raise Invalid(errors={"day": [_("The centre is closed on that day (a holiday).")]})
    tried: set[int] = set()
    for _attempt in range(ANY_DAY_TRIES):
        candidate = _free(request, school, day=d, counsellor=counsellor).exclude(pk__in=tried).first()
        if candidate is None:
            break
        tried.add(candidate.pk)
        try:
            return _book_slot(request, school, candidate.pk, intake, key, alert_id)
        except Conflict as exc:
            if str(exc.message) == str(_("You already have a booking at that time.")):
                raise
            continue
    raise _slot_refusal(request, school, _("No time is free on that day."), None)


def _in_school_language(msgid: str) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return translation.gettext(msgid)


def raise_risk(request: HttpRequest, school: Unit) -> int | None:
    """A "yes" to "are you thinking of harming yourself now?": never waits for a slot. A student
    files a red concern about themself through care's verb (the alert reaches the centre at
    once, and the duty chain out of hours); the duty counsellor of the day is told and may read
    it. A member of staff has no student record: the duty counsellor is told directly. Nothing
    of the intake goes into either."""
    from xinlian.care import actions as care_actions

    user = _user(request)
    student = _student(user)
    alert_id = None
    if student is not None:
        try:
            concern, _created = care_actions.report_concern(
                request, student.pk, key=None, category=Category.SELF_HARM, urgency=Urgency.NOW,
                seen=_in_school_language(RISK_TEXT), heard_from=HeardFrom.SELF)
            alert = concern.alerts.order_by("-pk").first()
            alert_id = alert.pk if alert is not None else None
        except (TooMany, NotFound):
            alert_id = None  # the duty counsellor is still told below
    duty = rules.duty_counsellors(school)
    with transaction.atomic():
        if alert_id is not None:
            AlertDuty.objects.bulk_create([AlertDuty(alert_id=alert_id, person=p, role=DutyRole.CENTRE) for p in duty],
                                          ignore_conflicts=True)
            link = reverse("alert-detail", args=[alert_id])
        else:
            link = reverse("counseling:staff")
        notify_users(duty, URGENT_INTAKE, {}, link)
        audit(request, "counseling.risk", object_type="care.alert", object_id=str(alert_id or "-"),
              detail=f"duty={len(duty)}")
    return alert_id


# --- cancelling ---------------------------------------------------------------------------------------


def cancel_booking(request: HttpRequest, pk: Any, *, reason: str = "") -> Booking:
    """The client cancels up to the centre's cut-off; counselling staff any time, with a reason
    (the client is told). A freed future slot is kept for the first person waiting."""
    user = _user(request)
    booking, as_staff = access.get_booking_for_user(request, _id(pk), "counseling.cancel")
    reason = (reason or "").strip()
    now = timezone.now()
    is_client = booking.client_id == user.pk
    if not is_client and not as_staff:
        raise NotFound
    if as_staff and not is_client:
        if not reason:
            raise Invalid(errors={"reason": [_("Give the client a reason.")]})
        if len(reason) > REASON_MAX:
            raise Invalid(errors={"reason": [_("Keep it under %(n)s characters.") % {"n": REASON_MAX}]})
    with transaction.atomic():
        locked = Booking.objects.select_for_update().select_related("slot").get(pk=booking.pk)
        if locked.status != BookingStatus.ACTIVE:
            raise Conflict(_("This booking is already cancelled."))
        if is_client and not (as_staff and reason):
            cutoff = locked.starts_at - dt.timedelta(hours=rules.window(locked.slot.school_id, now).cutoff_hours)
            if locked.starts_at <= now:
                raise Conflict(_("This appointment has already begun or passed."))
            if now > cutoff:
                hours = rules.window(locked.slot.school_id, now).cutoff_hours
                raise Conflict(_("Appointments can be cancelled here up to %(n)d hours before. Please call "
                                 "the counselling centre.") % {"n": hours})
        Booking.objects.filter(pk=locked.pk).update(status=BookingStatus.CANCELLED, cancelled_at=now,
                                                    cancelled_by=user, cancel_reason=reason)
        audit(request, "counseling.cancel", locked, detail="by=staff" if not is_client else "by=client")
        if not is_client:
            notify_users([booking.client], CANCELLED_BY_CENTRE, {"when": when_text(locked.starts_at)},
                         reverse("counseling:appointments"))
        if locked.starts_at > now and not locked.slot.cancelled:
            offer_freed_slot(locked.slot, now)
    booking.refresh_from_db()
    return booking


def offer_freed_slot(slot: Slot, now: dt.datetime) -> WaitlistEntry | None:
    """Keep a freed slot for the first person waiting for its day (and counsellor, or any)."""
    day = rules.local_day(slot.starts_at)
    entries = (WaitlistEntry.objects.select_for_update(skip_locked=True)
               .filter(school_id=slot.school_id, status=WaitStatus.WAITING, day_from__lte=day, day_to__gte=day)
               .filter(Q(counsellor__isnull=True) | Q(counsellor_id=slot.counsellor_id))
               .exclude(client_id=slot.counsellor_id).order_by("created_at", "pk"))
    for entry in entries[:5]:
        if Booking.objects.filter(client_id=entry.client_id, status=BookingStatus.ACTIVE,
                                  starts_at__lt=slot.ends_at, slot__ends_at__gt=slot.starts_at).exists():
            continue
        keep = CentreRules.for_school(slot.school_id).offer_hours
        until = min(now + dt.timedelta(hours=keep), slot.starts_at)
        Slot.objects.filter(pk=slot.pk).update(offered_to_id=entry.client_id, offered_until=until)
        WaitlistEntry.objects.filter(pk=entry.pk).update(status=WaitStatus.OFFERED, offered_slot=slot)
        notify_users([entry.client], OFFERED, {"when": when_text(slot.starts_at), "until": when_text(until)},
                     reverse("counseling:appointments"))
        return entry
    return None


# --- waiting list ---------------------------------------------------------------------------------------


def join_waitlist(request: HttpRequest, *, day_from: Any, day_to: Any, counsellor: Any = None) -> WaitlistEntry:
    """Wait for a slot between two days when nothing is free in them; offered the next freed one."""
    user = _user(request)
    school = my_school(request)
    errors: dict[str, list[Any]] = {}
    first = _date("day_from", day_from, errors)
    last = _date("day_to", day_to or day_from, errors)
    if errors:
        raise Invalid(errors=errors)
    assert first is not None and last is not None
    win = rules.window(school.pk)
    if last < first:
        raise Invalid(errors={"day_to": [_("The last day comes before the first.")]})
    if first < win.first:
        raise Invalid(errors={"day_from": [_("That day has already passed.")]})
    if last > win.last:
        raise Invalid(errors={"day_to": [_("You can book up to %(n)d days ahead.") % {"n": (win.last - win.first).days}]})
    who = None
    if counsellor not in (None, "", "any"):
        who = next((u for u in rules.counsellors_of(school) if u.pk == _id(counsellor)), None)
        if who is None:
            raise Invalid(errors={"counsellor": [_("Choose a counsellor of your centre.")]})
    free = _free(request, school, counsellor=who.pk if who else None).filter(
        starts_at__gte=rules.at_local(first, dt.time.min), starts_at__lt=rules.at_local(last + dt.timedelta(days=1),
                                                                                        dt.time.min))
    if free.exists():
        raise Conflict(_("There are free times in those days: book one of them."))
    try:
        with transaction.atomic():
            entry = WaitlistEntry.objects.create(client=user, school=school, counsellor=who, day_from=first,
                                                 day_to=last)
            audit(request, "counseling.waitlist", entry)
    except IntegrityError:
        raise Conflict(_("You are already on the waiting list.")) from None
    return entry


def leave_waitlist(request: HttpRequest, pk: Any) -> WaitlistEntry:
    user = _user(request)
    entry = WaitlistEntry.objects.filter(pk=_id(pk), client=user).first()
    if entry is None:
        raise NotFound
    with transaction.atomic():
        if entry.status not in (WaitStatus.WAITING, WaitStatus.OFFERED):
            raise Conflict(_("You are no longer on the waiting list."))
        WaitlistEntry.objects.filter(pk=entry.pk).update(status=WaitStatus.WITHDRAWN)
        Slot.objects.filter(offered_to=user).update(offered_to=None, offered_until=None)
        audit(request, "counseling.waitlist.leave", entry)
    entry.refresh_from_db()
    return entry


# --- reading ----------------------------------------------------------------------------------------------


@dataclass
class Mine:
    upcoming: list[Booking]
    past: list[Booking]
    waiting: WaitlistEntry | None
    cutoff_hours: int


def my_bookings(request: HttpRequest) -> Mine:
    """The client's own bookings (the intake is not shown back) and waiting-list entry."""
    user = _user(request)
    now = timezone.now()
    rows = list(Booking.objects.filter(client=user).select_related("slot", "slot__room", "slot__counsellor")
                .order_by("starts_at", "pk"))
    waiting = (WaitlistEntry.objects.filter(client=user, status__in=[WaitStatus.WAITING, WaitStatus.OFFERED])
               .select_related("offered_slot", "counsellor").first())
    school = rules.client_school(user)
    cutoff = rules.window(school.pk, now).cutoff_hours if school is not None else 24
    return Mine([b for b in rows if b.starts_at > now and b.is_active],
                [b for b in rows if not (b.starts_at > now and b.is_active)][::-1][:20], waiting, cutoff)


def staff_bookings(request: HttpRequest, *, everyone: bool = False, days: int = 14) -> list[Booking]:
    """Counselling staff: upcoming active bookings — their own, or (the director, ``everyone``)
    the centre's. The list shows who and when, and the risk flag; reading it is audited."""
    user = _user(request)
    schools = [u.pk for u in access.staff_schools(user)]
    if not schools:
        audit(request, "counseling.bookings", object_type="counseling.booking", object_id="list",
              result=AuditResult.DENIED)
        raise NotFound
    now = timezone.now()
    qs = (Booking.objects.filter(slot__school_id__in=schools, status=BookingStatus.ACTIVE,
                                 starts_at__gt=now - dt.timedelta(hours=2),
                                 starts_at__lt=now + dt.timedelta(days=days))
          .select_related("slot", "slot__room", "slot__counsellor", "client").order_by("starts_at", "pk"))
    if not (everyone and access.is_director(user)):
        qs = qs.filter(slot__counsellor=user)
    rows = list(qs[:500])
    audit(request, "counseling.bookings", object_type="counseling.booking", object_id="list",
          detail=f"n={len(rows)};all={int(everyone)}")
    return rows


@dataclass
class BookingView:
    booking: Booking
    as_staff: bool
    intake: dict[str, Any] | None
    may_cancel: bool


def read_booking(request: HttpRequest, pk: Any, *, with_intake: bool = True) -> BookingView:
    """One booking: its client, or counselling staff, who read the intake (each read audited;
    ``with_intake=False``: the booking alone, as a refusal's page shows it)."""
    booking, as_staff = access.get_booking_for_user(request, _id(pk))
    intake = access.read_intake(request, booking) if as_staff and with_intake else None
    may_cancel = booking.is_active and (as_staff or booking.starts_at > timezone.now())
    return BookingView(booking, as_staff, intake, may_cancel)


def booking_ics(request: HttpRequest, pk: Any) -> str:
    """An .ics calendar entry of a booking for its client (or staff): time and place only."""
    booking, _as_staff = access.get_booking_for_user(request, _id(pk), "counseling.ics")
    slot = booking.slot
    stamp = timezone.now().astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")

    def utc(at: dt.datetime) -> str:
        return at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")

    def esc(text: str) -> str:
        return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")

    summary = str(_("Counselling appointment"))
    status = "CONFIRMED" if booking.is_active else "CANCELLED"
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Xinlian//Counselling//ZH", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH", "BEGIN:VEVENT", f"UID:xinlian-booking-{booking.pk}@xinlian",
             f"DTSTAMP:{stamp}", f"DTSTART:{utc(slot.starts_at)}", f"DTEND:{utc(slot.ends_at)}",
             f"SUMMARY:{esc(summary)}", f"LOCATION:{esc(slot.where())}", f"STATUS:{status}",
             "END:VEVENT", "END:VCALENDAR"]
    audit(request, "counseling.ics", booking)
    return "\r\n".join(lines) + "\r\n"


# --- availability ------------------------------------------------------------------------------------------


@dataclass
class Rota:
    school: Unit
    counsellor: User
    counsellors: list[User]
    weekly: list[WeeklyAvailability]
    changes: list[AvailabilityChange]
    slots: list[Slot]
    rooms: list[Room]


def _editable(request: HttpRequest, counsellor: Any, action: str) -> tuple[Unit, User, list[User]]:
    """The school and counsellor whose availability the actor edits: their own (a counsellor);
    anyone's at their school (the director). Not counselling staff: NotFound; another
    counsellor's, as a counsellor: NotAllowed — both audited."""
    user = _user(request)
    editable = access.editable_counsellors(user)
    if not editable:
        audit(request, action, object_type="network.user", object_id=str(counsellor or "-")[:32],
              result=AuditResult.DENIED)
        raise NotFound
    wanted = user.pk if counsellor in (None, "") else _id(counsellor)
    for school_id, people in editable.items():
        for person in people:
            if person.pk == wanted:
                return Unit.objects.get(pk=school_id), person, people
    audit(request, action, object_type="network.user", object_id=str(wanted), result=AuditResult.DENIED)
    if any(access.is_counselling_staff(u) for u in User.objects.filter(pk=wanted)):
        raise NotAllowed(_("Only the centre director edits another counsellor's availability."))
    raise NotFound


def read_rota(request: HttpRequest, counsellor: Any = None) -> Rota:
    school, person, people = _editable(request, counsellor, "counseling.rota.view")
    now = timezone.now()
    win = rules.window(school.pk, now)
    weekly = list(WeeklyAvailability.objects.filter(counsellor=person, school=school, ended_on__isnull=True)
                  .select_related("room"))
    changes = list(AvailabilityChange.objects.filter(counsellor=person, school=school,
                                                     date__gte=win.first).select_related("room"))
    slots = list(Slot.objects.filter(counsellor=person, school=school, starts_at__gt=now, cancelled=False)
                 .select_related("room").prefetch_related("bookings").order_by("starts_at")[:300])
    rooms = list(Room.objects.filter(school=school, is_active=True))
    return Rota(school, person, people, weekly, changes, slots, rooms)


@dataclass
class BlockInput:
    start: Any = None
    end: Any = None
    slot_minutes: Any = 50
    mode: Any = Mode.ROOM
    room: Any = None


def _block(school: Unit, data: BlockInput, errors: dict[str, list[Any]]) -> dict[str, Any]:
    start = _time("start", data.start, errors)
    end = _time("end", data.end, errors)
    if start and end and end <= start:
        errors.setdefault("end", []).append(_("The end comes before the start."))
    try:
        minutes = int(str(data.slot_minutes or "50"))
    except ValueError:
        minutes = 0
    if not 10 <= minutes <= 240:
        errors.setdefault("slot_minutes", []).append(_("A slot lasts 10 to 240 minutes."))
    elif start and end and (dt.datetime.combine(dt.date.min, end) - dt.datetime.combine(dt.date.min, start)
                            ) < dt.timedelta(minutes=minutes):
        errors.setdefault("end", []).append(_("The time is shorter than one slot."))
    mode = str(data.mode or Mode.ROOM)
    if mode not in Mode.values:
        errors.setdefault("mode", []).append(_("Choose a room, online or phone."))
    room = None
    if mode == Mode.ROOM:
        room_id = data.room if isinstance(data.room, int) else parse_id(str(data.room or ""))
        room = Room.objects.filter(pk=room_id, school=school, is_active=True).first() if room_id else None
        if room is None:
            errors.setdefault("room", []).append(_("Choose a room of your centre."))
    return {"start_time": start, "end_time": end, "slot_minutes": minutes, "mode": mode, "room": room}


def publish_weekly(request: HttpRequest, counsellor: Any, *, weekday: Any, data: BlockInput,
                   valid_from: Any = None) -> WeeklyAvailability:
    """Publish a weekly block; its slots for the booking window appear at once."""
    school, person, _people = _editable(request, counsellor, "counseling.rota.weekly")
    errors: dict[str, list[Any]] = {}
    try:
        day = int(str(weekday))
    except ValueError:
        day = -1
    if not 0 <= day <= 6:
        errors["weekday"] = [_("Choose a day of the week.")]
    values = _block(school, data, errors)
    today = rules.local_day(timezone.now())
    start = _date("valid_from", valid_from, errors) if valid_from not in (None, "") else today
    if start is not None and start < today:
        errors.setdefault("valid_from", []).append(_("That day has already passed."))
    if errors:
        raise Invalid(errors=errors)
    win = rules.window(school.pk)
    with transaction.atomic():
        weekly = WeeklyAvailability.objects.create(counsellor=person, school=school, weekday=day, valid_from=start,
                                                   created_by=_user(request), generated_until=win.last, **values)
        rules.materialise(person.pk, school.pk, win.first, win.last)
        audit(request, "counseling.rota.weekly", weekly, detail=f"counsellor={person.pk}")
    return weekly


def end_weekly(request: HttpRequest, pk: Any) -> WeeklyAvailability:
    """End a weekly block from today: its unbooked future slots go; booked ones stand in the
    way (cancel them first, with a reason)."""
    weekly = WeeklyAvailability.objects.filter(pk=_id(pk), ended_on__isnull=True).first()
    if weekly is None:
        raise NotFound
    school, person, _people = _editable(request, weekly.counsellor_id, "counseling.rota.end")
    if weekly.school_id != school.pk:
        raise NotFound
    win = rules.window(school.pk)
    now = timezone.now()
    with transaction.atomic():
        WeeklyAvailability.objects.filter(pk=weekly.pk).update(ended_on=win.first)
        in_the_way = rules.booked_outside(person.pk, school.pk, win.first, win.last, now)
        if in_the_way:
            raise Conflict(_("%(n)d booking(s) stand in this time. Cancel them first, with a reason.")
                           % {"n": len(in_the_way)})
        rules.materialise(person.pk, school.pk, win.first, win.last, now)
        audit(request, "counseling.rota.end", weekly)
    weekly.refresh_from_db()
    return weekly


def add_change(request: HttpRequest, counsellor: Any, *, date: Any, kind: Any, data: BlockInput) -> AvailabilityChange:
    """A one-off change on one date: extra time (slots appear), or time not available (its
    unbooked slots go; booked ones stand in the way)."""
    school, person, _people = _editable(request, counsellor, "counseling.rota.change")
    errors: dict[str, list[Any]] = {}
    day = _date("date", date, errors)
    if str(kind) not in ChangeKind.values:
        errors["kind"] = [_("Choose extra time or not available.")]
    if str(kind) == ChangeKind.CANCELLED:
        data = BlockInput(start=data.start, end=data.end, slot_minutes=10, mode=Mode.PHONE)
    values = _block(school, data, errors)
    win = rules.window(school.pk)
    if day is not None and day < win.first:
        errors.setdefault("date", []).append(_("That day has already passed."))
    if errors:
        raise Invalid(errors=errors)
    assert day is not None
    last = max(win.last, day)
    with transaction.atomic():
        change = AvailabilityChange.objects.create(counsellor=person, school=school, date=day, kind=str(kind),
                                                   created_by=_user(request), **values)
        in_the_way = rules.booked_outside(person.pk, school.pk, day, day, timezone.now())
        if in_the_way:
            raise Conflict(_("%(n)d booking(s) stand in this time. Cancel them first, with a reason.")
                           % {"n": len(in_the_way)})
        rules.materialise(person.pk, school.pk, day, min(day, last))
        audit(request, "counseling.rota.change", change, detail=f"counsellor={person.pk};kind={kind}")
    return change

