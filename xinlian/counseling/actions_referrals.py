"""Referral in and out, leave and return to school, closing an episode and the client's
anonymous satisfaction answer (issue 11, second slice) — the verbs, each written once: the
pages (``views_referrals.py``) and the API (``api_referrals.py``) parse their input, call one of
these and map its outcome (NotFound 404, NotAllowed 403, Conflict 409, Invalid 400).

Who does what:

- refer in: from an alert, whoever may act on it (the rung it is routed to, the case tier);
  from a crisis case, its team (and the director); from a screening interview, the counsellor it
  is assigned to; by hand, the school's counselling staff. The reason is encrypted; the queue
  is counselling staff's.
- accept / decline: counselling staff of the school (a referral to one counsellor: that
  counsellor or the director). Accepting opens an episode (source: referral) or joins the open
  one of that client and counsellor.
- refer out, the outcome and the diagnosis note, closing: the episode's counsellor or the centre
  director; the letter, the diagnosis note and the closing summary are tier 5 (the episode's
  counsellor, the director, the named supervisor), each read audited.
- leave and return assessment: counselling staff of the student's school. An episode does not
  close while its student came back from a leave during it without a return assessment since.
- the satisfaction link: a one-time token; the answer row carries no client, episode or time.

Messages never carry a name or what the referral is about."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Avg, Count, Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from xinlian.access.models import AuditResult
from xinlian.access.policy import audit
from xinlian.lib.actions import Conflict, Invalid, NotAllowed, NotFound
from xinlian.lib.converters import parse_id
from xinlian.network.models import Student, StudentStatus, User
from xinlian.notify.services import notify_users

from . import access, rules
from .models import (
    Episode,
    EpisodeSource,
    EpisodeStatus,
    Feedback,
    FeedbackInvite,
    Hospital,
    LeaveOfAbsence,
    ReferralIn,
    ReferralOut,
    ReferralOutcome,
    ReferralSource,
    ReferralStatus,
    ReturnAssessment,
    ReturnRecommendation,
)

TEXT_MAX = 4000
SHORT_MAX = 1000
FEEDBACK_MIN = 3  # the director sees a counsellor's answers once this many have come in
REFERRAL_WAITING = gettext_noop("A referral is waiting in the counselling queue.")
FEEDBACK_ASK = gettext_noop("Your counselling has ended. If you like, tell the centre anonymously how "
                            "it went — it takes a minute.")
NEEDS_RETURN = _("The student came back to school from a leave during this episode: record a return-to-school "
                 "assessment before closing it.")


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _id(raw: Any) -> int:
    number = raw if isinstance(raw, int) and not isinstance(raw, bool) else parse_id(str(raw or ""))
    if number is None or number <= 0:
        raise NotFound
    return number


def _opt_id(raw: Any) -> int | None:
    return None if raw in (None, "", 0) else _id(raw)


def _text(name: str, raw: Any, errors: dict[str, list[Any]], *, required: bool, limit: int = TEXT_MAX,
          missing: Any = None) -> str:
    text = str(raw or "").strip()
    if required and not text:
        errors.setdefault(name, []).append(missing or _("This field is required."))
    elif len(text) > limit:
        errors.setdefault(name, []).append(_("Keep it under %(n)s characters.") % {"n": limit})
    return text


def _date(name: str, raw: Any, errors: dict[str, list[Any]], *, required: bool = True) -> dt.date | None:
    if isinstance(raw, dt.date):
        return raw
    if raw in (None, "") and not required:
        return None
    try:
        return dt.date.fromisoformat(str(raw or "").strip())
    except ValueError:
        errors.setdefault(name, []).append(_("Enter a date like 2026-09-01."))
        return None


def _school_of_student(student: Student):  # noqa: ANN202
    return rules.school_of(student.klass) if student.klass_id else None


def _staff_or_404(request: HttpRequest, school_id: int, action: str, obj: Any = None) -> None:
    if not access.is_counselling_staff(_user(request), school_id):
        audit(request, action, obj, result=AuditResult.DENIED)
        raise NotFound


# --- referral in ------------------------------------------------------------------------------------


def _interview_model():  # noqa: ANN202
    """screening's Interview, through the referral's foreign key (counselling does not import
    screening: the two apps sit side by side)."""
    return ReferralIn._meta.get_field("interview").related_model


def refer_in(request: HttpRequest, *, reason: Any, alert: Any = None, interview: Any = None, case: Any = None,
             student: Any = None, to_counsellor: Any = None) -> ReferralIn:
    """A referral into counselling from an alert, an interview, a case, or (counselling staff)
    by hand for a student of their school."""
    from xinlian.care.access import get_alert_for_user, get_case_for_user

    user = _user(request)
    sources = [k for k, v in (("alert", alert), ("interview", interview), ("case", case), ("student", student))
               if v not in (None, "")]
    if len(sources) != 1:
        raise Invalid(errors={"student": [_("Refer from one alert, interview or case, or choose a student.")]})
    kw: dict[str, Any] = {}
    if alert not in (None, ""):
        found_alert, can_act = get_alert_for_user(request, _id(alert))
        if not (can_act or access.is_director(user)):
            raise NotAllowed(_("Only those who hold this alert can refer the student from it."))
        target, kw = found_alert.student, {"source": ReferralSource.ALERT, "alert": found_alert}
    elif case not in (None, ""):
        found_case, can_write = get_case_for_user(request, _id(case))
        if not can_write:
            raise NotAllowed(_("Only the case team can refer the student from this case."))
        target, kw = found_case.student, {"source": ReferralSource.CASE, "case": found_case}
    elif interview not in (None, ""):
        found = (_interview_model().objects.select_related("student__klass").filter(pk=_id(interview)).first())
        school = _school_of_student(found.student) if found is not None else None
        if found is None or school is None or not (
                found.assigned_to_id == user.pk or access.is_counselling_staff(user, school.pk)):
            audit(request, "counseling.referral.new", object_type="screening.interview",
                  object_id=str(interview), result=AuditResult.DENIED)
            raise NotFound
        target, kw = found.student, {"source": ReferralSource.INTERVIEW, "interview": found}
    else:
        target = Student.objects.select_related("klass", "user").filter(pk=_id(student)).first()
        school = _school_of_student(target) if target is not None else None
        if target is None or school is None or not access.is_counselling_staff(user, school.pk):
            audit(request, "counseling.referral.new", object_type="network.student", object_id=str(student),
                  result=AuditResult.DENIED)
            raise NotFound
        kw = {"source": ReferralSource.HAND}
    school = _school_of_student(target)
    if school is None:
        raise NotFound
    errors: dict[str, list[Any]] = {}
    text = _text("reason", reason, errors, required=True,
                 missing=_("Say why you refer the student to counselling."))
    counsellor = None
    if to_counsellor not in (None, "", "queue"):
        counsellor = next((u for u in rules.counsellors_of(school) if u.pk == parse_id(str(to_counsellor))), None)
        if counsellor is None:
            errors["to_counsellor"] = [_("Choose a counsellor of the centre, or the centre's queue.")]
    if errors:
        raise Invalid(errors=errors)
    try:
        with transaction.atomic():
            referral = ReferralIn.objects.create(school=school, client=target.user, student=target, reason=text,
                                                 to_counsellor=counsellor, referred_by=user, **kw)
            audit(request, "counseling.referral.new", referral, detail=f"source={referral.source}")
            readers = [counsellor] if counsellor is not None else rules.counsellors_of(school)
            notify_users([p for p in readers if p.pk != user.pk], REFERRAL_WAITING, {},
                         reverse("counseling:referrals"))
    except IntegrityError:
        raise Conflict(_("This student already has a referral waiting in the counselling queue.")) from None
    return referral


def visible_referrals(user: User) -> QuerySet[ReferralIn]:
    return ReferralIn.objects.filter(school_id__in=[u.pk for u in access.staff_schools(user)])


def referral_queue(request: HttpRequest) -> list[ReferralIn]:
    """Counselling staff: the referrals waiting, then the last decided ones (the reason is read:
    one audit row for the list)."""
    user = _user(request)
    if not access.is_counselling_staff(user):
        audit(request, "counseling.referral.list", object_type="counseling.referral", object_id="-",
              result=AuditResult.DENIED)
        raise NotFound
    base = visible_referrals(user).select_related("client", "student__klass", "to_counsellor", "referred_by",
                                                  "episode")
    waiting = list(base.filter(status=ReferralStatus.NEW).order_by("referred_at", "pk"))
    decided = list(base.exclude(status=ReferralStatus.NEW).order_by("-decided_at", "-pk")[:20])
    audit(request, "counseling.referral.list", object_type="counseling.referral", object_id="-",
          detail=f"rows={len(waiting) + len(decided)}")
    return waiting + decided


def _referral_for(request: HttpRequest, pk: Any, action: str) -> ReferralIn:
    referral = visible_referrals(_user(request)).select_related("client", "student").filter(pk=_id(pk)).first()
    if referral is None:
        audit(request, action, object_type="counseling.referral", object_id=str(pk), result=AuditResult.DENIED)
        raise NotFound
    return referral


def _may_decide(user: User, referral: ReferralIn) -> bool:
    return (referral.to_counsellor_id in (None, user.pk) and access.is_counselling_staff(user, referral.school_id)
            or access.is_director(user, referral.school_id))


def accept_referral(request: HttpRequest, pk: Any, *, counsellor: Any = None) -> ReferralIn:
    """Accept a waiting referral: an episode (source: referral) with ``counsellor`` (the director
    may name one; anyone else takes it themself), or the open one of that client and counsellor."""
    user = _user(request)
    referral = _referral_for(request, pk, "counseling.referral.accept")
    if not _may_decide(user, referral):
        raise NotAllowed(_("This referral is for another counsellor."))
    taker = referral.to_counsellor or user
    if counsellor not in (None, "") and access.is_director(user, referral.school_id):
        taker = next((u for u in rules.counsellors_of(referral.school) if u.pk == parse_id(str(counsellor))), None)
        if taker is None:
            raise Invalid(errors={"counsellor": [_("Choose a counsellor of the centre.")]})
    if taker.pk == referral.client_id:
        raise Invalid(errors={"counsellor": [_("A counsellor cannot counsel themself.")]})
    with transaction.atomic():
        locked = ReferralIn.objects.select_for_update().get(pk=referral.pk)
        if locked.status != ReferralStatus.NEW:
            raise Conflict(_("This referral has already been decided."))
        episode = Episode.objects.filter(client_id=locked.client_id, counsellor=taker,
                                         status=EpisodeStatus.OPEN).first()
        if episode is None:
            try:
                with transaction.atomic():
                    episode = Episode.objects.create(school_id=locked.school_id, client_id=locked.client_id,
                                                     student_id=locked.student_id, counsellor=taker,
                                                     source=EpisodeSource.REFERRAL)
            except IntegrityError:
                episode = Episode.objects.get(client_id=locked.client_id, counsellor=taker,
                                              status=EpisodeStatus.OPEN)
        now = timezone.now()
        ReferralIn.objects.filter(pk=locked.pk).update(status=ReferralStatus.ACCEPTED, decided_by=user,
                                                       decided_at=now, episode=episode, to_counsellor=taker)
        audit(request, "counseling.referral.accept", locked, detail=f"episode={episode.pk}")
    referral.refresh_from_db()
    return referral


def decline_referral(request: HttpRequest, pk: Any, *, reason: Any) -> ReferralIn:
    user = _user(request)
    referral = _referral_for(request, pk, "counseling.referral.decline")
    if not _may_decide(user, referral):
        raise NotAllowed(_("This referral is for another counsellor."))
    errors: dict[str, list[Any]] = {}
    text = _text("reason", reason, errors, required=True, limit=SHORT_MAX,
                 missing=_("Say why the referral is declined."))
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        locked = ReferralIn.objects.select_for_update().get(pk=referral.pk)
        if locked.status != ReferralStatus.NEW:
            raise Conflict(_("This referral has already been decided."))
        ReferralIn.objects.filter(pk=locked.pk).update(status=ReferralStatus.DECLINED, decided_by=user,
                                                       decided_at=timezone.now(), decline_reason=text)
        audit(request, "counseling.referral.decline", locked)
    referral.refresh_from_db()
    return referral


# --- episodes -------------------------------------------------------------------------------------


def visible_episodes(user: User) -> QuerySet[Episode]:
    """Episodes ``user`` may know of: their schools' (counselling staff) and those they supervise."""
    schools = [u.pk for u in access.staff_schools(user)]
    return Episode.objects.filter(Q(school_id__in=schools) | Q(supervisor_id=getattr(user, "pk", None)))


def get_episode(request: HttpRequest, pk: Any, action: str = "counseling.episode.view") -> Episode:
    episode = (visible_episodes(_user(request)).select_related("client", "student__klass", "counsellor",
                                                                "supervisor", "school")
               .filter(pk=_id(pk)).first())
    if episode is None:
        audit(request, action, object_type="counseling.episode", object_id=str(pk), result=AuditResult.DENIED)
        raise NotFound
    return episode


def _writer(request: HttpRequest, episode: Episode) -> None:
    """The episode's counsellor or the centre director."""
    user = _user(request)
    if not (episode.counsellor_id == user.pk or access.is_director(user, episode.school_id)):
        raise NotAllowed(_("Only the episode's counsellor or the centre director can do this."))


@dataclass
class EpisodeView:
    episode: Episode
    tier5: bool  # reads the closing summary, letters and diagnosis notes
    writes: bool
    referrals_out: list[ReferralOut]
    leaves: list[LeaveOfAbsence]
    assessments: list[ReturnAssessment]
    needs_return: bool
    invite_sent: bool


def read_episode(request: HttpRequest, pk: Any) -> EpisodeView:
    """An episode with its referrals out, leaves and return assessments. The tier-5 fields are
    read only by the episode's counsellor, the director and the supervisor (one audit row)."""
    user = _user(request)
    episode = get_episode(request, pk)
    tier5 = access.reads_episode_notes(user, episode)
    audit(request, "counseling.episode.view", episode, detail="tier5" if tier5 else "")
    outs = list(episode.referrals_out.select_related("hospital").order_by("-created_at"))
    leaves, assessments = _leaves_and_assessments(episode)
    return EpisodeView(episode, tier5, episode.counsellor_id == user.pk or access.is_director(user, episode.school_id),
                       outs, leaves, assessments, bool(_missing_return(episode)),
                       FeedbackInvite.objects.filter(episode=episode).exists())


def _leaves_and_assessments(episode: Episode) -> tuple[list[LeaveOfAbsence], list[ReturnAssessment]]:
    if episode.student_id is None:
        return [], []
    return (list(LeaveOfAbsence.objects.filter(student_id=episode.student_id)),
            list(ReturnAssessment.objects.filter(student_id=episode.student_id).select_related("assessed_by")))


def _missing_return(episode: Episode) -> list[LeaveOfAbsence]:
    """Leaves of the episode's student that ended (they came back) on or after the episode opened,
    with no return assessment since the leave began."""
    if episode.student_id is None:
        return []
    return leaves_without_return_assessment(episode.student_id, rules.local_day(episode.opened_at))


def leaves_without_return_assessment(student_id: int, since: dt.date) -> list[LeaveOfAbsence]:
    """The student's leaves that ended (they came back) on or after ``since`` with no return
    assessment dated on or after the leave began. A student on leave now, or whose roster status
    says so, is not "back" yet: nothing is missing."""
    back = list(LeaveOfAbsence.objects.filter(student_id=student_id, returned_on__isnull=False,
                                              returned_on__gte=since))
    if not back:
        return []
    status = Student.objects.filter(pk=student_id).values_list("status", flat=True).first()
    if status in (StudentStatus.ON_LEAVE, StudentStatus.SUSPENDED):
        return []
    dates = list(ReturnAssessment.objects.filter(student_id=student_id).values_list("assessed_on", flat=True))
    return [leave for leave in back if not any(d >= leave.left_on for d in dates)]


def case_needs_return_assessment(case: Any) -> bool:
    """care's closure check (registered in apps.py): the case's student came back from a leave,
    during the case, without a return assessment."""
    return bool(leaves_without_return_assessment(case.student_id, rules.local_day(case.opened_at)))


def close_episode(request: HttpRequest, pk: Any, *, summary: Any, send_feedback: bool = False) -> Episode:
    """Close an open episode with its summary (tier 5). Refused while its student came back from
    a leave without a return assessment. With ``send_feedback`` the client gets the
    satisfaction link in the same step."""
    episode = get_episode(request, pk, "counseling.episode.close")
    _writer(request, episode)
    errors: dict[str, list[Any]] = {}
    text = _text("summary", summary, errors, required=True,
                 missing=_("Write the closure summary: what was worked on, and the outcome."))
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        locked = Episode.objects.select_for_update().get(pk=episode.pk)
        if locked.status != EpisodeStatus.OPEN:
            raise Conflict(_("This episode is already closed."))
        if _missing_return(locked):
            raise Conflict(NEEDS_RETURN)
        Episode.objects.filter(pk=locked.pk).update(status=EpisodeStatus.CLOSED, closed_at=timezone.now(),
                                                    closed_by=_user(request), closing_summary=text)
        audit(request, "counseling.episode.close", locked)
        if send_feedback:
            _invite(request, locked)
    episode.refresh_from_db()
    return episode


def _invite(request: HttpRequest, episode: Episode) -> str:
    token = secrets.token_urlsafe(24)
    try:
        with transaction.atomic():
            FeedbackInvite.objects.create(episode=episode, token_hash=_hash(token))
    except IntegrityError:
        raise Conflict(_("The satisfaction link has already been sent for this episode.")) from None
    notify_users([episode.client], FEEDBACK_ASK, {}, reverse("counseling:feedback", args=[token]))
    audit(request, "counseling.feedback.invite", episode)
    return token


def send_feedback_link(request: HttpRequest, pk: Any) -> Episode:
    """Send the closed episode's client the one-time satisfaction link (inbox; no text of the
    episode in it)."""
    episode = get_episode(request, pk, "counseling.feedback.invite")
    _writer(request, episode)
    if episode.status != EpisodeStatus.CLOSED:
        raise Conflict(_("Close the episode before asking for the client's feedback."))
    with transaction.atomic():
        _invite(request, episode)
    return episode


def read_closing_summary(request: HttpRequest, episode: Episode) -> str | None:
    if not access.reads_episode_notes(_user(request), episode):
        return None
    audit(request, "counseling.episode.summary.read", episode)
    return episode.closing_summary


# --- hospitals ---------------------------------------------------------------------------------------


def hospitals(request: HttpRequest, *, active_only: bool = False) -> list[Hospital]:
    """The directory of the actor's centre(s): counselling staff."""
    schools = [u.pk for u in access.staff_schools(_user(request))]
    if not schools:
        raise NotFound
    qs = Hospital.objects.filter(school_id__in=schools)
    return list(qs.filter(is_active=True) if active_only else qs)


def save_hospital(request: HttpRequest, pk: Any = None, *, data: dict[str, Any]) -> Hospital:
    """The director adds or edits a hospital of the directory (or takes it out of use)."""
    user = _user(request)
    schools = [p for p in access.staff_schools(user) if access.is_director(user, p.pk)]
    if not schools:
        if access.is_counselling_staff(user):
            raise NotAllowed(_("Only the centre director edits the hospital directory."))
        raise NotFound
    hospital = None
    if pk not in (None, ""):
        hospital = Hospital.objects.filter(pk=_id(pk), school__in=schools).first()
        if hospital is None:
            raise NotFound
    errors: dict[str, list[Any]] = {}
    name = _text("name", data.get("name"), errors, required=True, limit=128,
                 missing=_("Give the hospital's name."))
    fields = {"name": name,
              "department": _text("department", data.get("department"), errors, required=False, limit=128),
              "address": _text("address", data.get("address"), errors, required=False, limit=255),
              "phone": _text("phone", data.get("phone"), errors, required=False, limit=32)}
    active = data.get("is_active", True if hospital is None else hospital.is_active)
    fields["is_active"] = active if isinstance(active, bool) else str(active).lower() in ("1", "on", "true", "yes")
    if errors:
        raise Invalid(errors=errors)
    try:
        with transaction.atomic():
            if hospital is None:
                hospital = Hospital.objects.create(school=schools[0], **fields)
            else:
                Hospital.objects.filter(pk=hospital.pk).update(**fields)
                hospital.refresh_from_db()
            audit(request, "counseling.hospital.save", hospital)
    except IntegrityError:
        raise Invalid(errors={"name": [_("This hospital and department are already in the directory.")]}) from None
    return hospital


# --- referral out ---------------------------------------------------------------------------------------


def refer_out(request: HttpRequest, episode_pk: Any, *, hospital: Any, letter: Any, sent_on: Any = None
              ) -> ReferralOut:
    """Refer the episode's client to a hospital of the directory, with the letter (tier 5)."""
    episode = get_episode(request, episode_pk, "counseling.referral_out.new")
    _writer(request, episode)
    errors: dict[str, list[Any]] = {}
    place = Hospital.objects.filter(pk=parse_id(str(hospital or "")) or 0, school_id=episode.school_id,
                                    is_active=True).first()
    if place is None:
        errors["hospital"] = [_("Choose a hospital of the directory.")]
    text = _text("letter", letter, errors, required=True, missing=_("Write the referral letter."))
    day = _date("sent_on", sent_on, errors, required=False)
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        out = ReferralOut.objects.create(school_id=episode.school_id, episode=episode, client_id=episode.client_id,
                                         student_id=episode.student_id, hospital=place, letter=text, sent_on=day,
                                         created_by=_user(request))
        audit(request, "counseling.referral_out.new", out)
    return out


def get_referral_out(request: HttpRequest, pk: Any, action: str = "counseling.referral_out.read") -> ReferralOut:
    """A referral out with its letter and diagnosis note: tier 5 of its episode; audited."""
    user = _user(request)
    out = (ReferralOut.objects.select_related("episode", "hospital", "client", "student__klass", "created_by")
           .filter(pk=_id(pk), episode__in=visible_episodes(user)).first())
    if out is None or not access.reads_episode_notes(user, out.episode):
        audit(request, action, object_type="counseling.referral_out", object_id=str(pk), result=AuditResult.DENIED)
        raise NotFound
    audit(request, action, out)
    return out


def record_outcome(request: HttpRequest, pk: Any, *, outcome: Any, diagnosis_note: Any = "",
                   sent_on: Any = None) -> ReferralOut:
    out = get_referral_out(request, pk, "counseling.referral_out.outcome")
    _writer(request, out.episode)
    errors: dict[str, list[Any]] = {}
    if outcome not in ReferralOutcome.values:
        errors["outcome"] = [_("Choose the outcome.")]
    note = _text("diagnosis_note", diagnosis_note, errors, required=False)
    day = _date("sent_on", sent_on, errors, required=False) if sent_on not in (None, "") else out.sent_on
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        ReferralOut.objects.filter(pk=out.pk).update(outcome=outcome, diagnosis_note=note, sent_on=day,
                                                     outcome_by=_user(request), outcome_at=timezone.now())
        audit(request, "counseling.referral_out.outcome", out, detail=f"outcome={outcome}")
    out.refresh_from_db()
    return out


# --- leave and return to school -----------------------------------------------------------------------


def _student_for_staff(request: HttpRequest, pk: Any, action: str) -> Student:
    student = Student.objects.select_related("klass", "user").filter(pk=_id(pk)).first()
    school = _school_of_student(student) if student is not None else None
    if student is None or school is None or not access.is_counselling_staff(_user(request), school.pk):
        audit(request, action, object_type="network.student", object_id=str(pk), result=AuditResult.DENIED)
        raise NotFound
    student._cs_school = school  # type: ignore[attr-defined]
    return student


def record_leave(request: HttpRequest, student: Any, *, left_on: Any, returned_on: Any = None,
                 leave: Any = None) -> LeaveOfAbsence:
    """A leave (休学) of a student of the school, or (``leave``) the day they came back."""
    s = _student_for_staff(request, student, "counseling.leave")
    errors: dict[str, list[Any]] = {}
    existing = None
    if leave not in (None, ""):
        existing = LeaveOfAbsence.objects.filter(pk=_id(leave), student=s).first()
        if existing is None:
            raise NotFound
    start = existing.left_on if existing is not None else _date("left_on", left_on, errors)
    back = _date("returned_on", returned_on, errors, required=existing is not None)
    if start and back and back < start:
        errors["returned_on"] = [_("The student cannot come back before the leave began.")]
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        if existing is None:
            row = LeaveOfAbsence.objects.create(school=s._cs_school, student=s, left_on=start, returned_on=back,  # type: ignore[attr-defined]
                                                recorded_by=_user(request))
        else:
            LeaveOfAbsence.objects.filter(pk=existing.pk).update(returned_on=back)
            row = existing
            row.returned_on = back
        audit(request, "counseling.leave", row, detail="returned" if back else "left")
    return row


def record_return_assessment(request: HttpRequest, student: Any, *, text: Any, recommendation: Any,
                             assessed_on: Any = None, episode: Any = None, case: Any = None) -> ReturnAssessment:
    """A return-to-school assessment of a student, for one of their episodes or crisis cases."""
    from xinlian.care.models import Case

    s = _student_for_staff(request, student, "counseling.return_assessment")
    errors: dict[str, list[Any]] = {}
    body = _text("text", text, errors, required=True, missing=_("Write the assessment."))
    if recommendation not in ReturnRecommendation.values:
        errors["recommendation"] = [_("Choose a recommendation.")]
    day = _date("assessed_on", assessed_on, errors, required=False) or timezone.localdate()
    ep = None
    if episode not in (None, ""):
        ep = Episode.objects.filter(pk=_id(episode), student=s).first()
        if ep is None:
            raise NotFound
    found_case = None
    if case not in (None, ""):
        found_case = Case.objects.filter(pk=_id(case), student=s).first()
        if found_case is None:
            raise NotFound
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        row = ReturnAssessment.objects.create(school=s._cs_school, student=s, episode=ep, case=found_case,  # type: ignore[attr-defined]
                                              assessed_on=day, assessed_by=_user(request), text=body,
                                              recommendation=recommendation)
        audit(request, "counseling.return_assessment", row)
    return row


def read_return_assessments(request: HttpRequest, student: Any) -> tuple[Student, list[LeaveOfAbsence],
                                                                       list[ReturnAssessment]]:
    s = _student_for_staff(request, student, "counseling.return_assessment.read")
    rows = list(ReturnAssessment.objects.filter(student=s).select_related("assessed_by"))
    audit(request, "counseling.return_assessment.read", object_type="network.student", object_id=str(s.pk),
          detail=f"rows={len(rows)}")
    return s, list(LeaveOfAbsence.objects.filter(student=s)), rows


# --- the client's satisfaction ---------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def feedback_invite(request: HttpRequest, token: str) -> FeedbackInvite:
    """The invite behind a link, for its client only (anyone else: NotFound)."""
    invite = (FeedbackInvite.objects.select_related("episode__counsellor")
              .filter(token_hash=_hash(str(token or ""))).first())
    if invite is None or invite.episode.client_id != _user(request).pk:
        raise NotFound
    return invite


def submit_feedback(request: HttpRequest, token: str, *, score: Any, comment: Any = "") -> None:
    """The client's answer, once: the token is consumed; the row keeps the counsellor, the
    score, the comment and the month — nothing that leads back to the client."""
    invite = feedback_invite(request, token)
    errors: dict[str, list[Any]] = {}
    number = parse_id(str(score or ""))
    if number is None or not 1 <= number <= 5:
        errors["score"] = [_("Choose from 1 (not at all) to 5 (very much).")]
    text = _text("comment", comment, errors, required=False, limit=SHORT_MAX)
    if errors:
        raise Invalid(errors=errors)
    today = timezone.localdate()
    with transaction.atomic():
        if not FeedbackInvite.objects.filter(pk=invite.pk, used=False).update(used=True):
            raise Conflict(_("You have already answered. Thank you."))
        Feedback.objects.create(school_id=invite.episode.school_id, counsellor_id=invite.episode.counsellor_id,
                                score=number, comment=text, month=today.replace(day=1))
        # The audit row says a link was used, not which answer came of it.
        audit(request, "counseling.feedback.answer", object_type="counseling.feedback", object_id="-")


@dataclass
class FeedbackLine:
    counsellor: User
    count: int
    average: float | None  # None below FEEDBACK_MIN
    comments: list[str]


def feedback_summary(request: HttpRequest) -> list[FeedbackLine]:
    """The director's view: per counsellor the number of answers; the average and the comments
    (in no order that follows time) once FEEDBACK_MIN have answered."""
    user = _user(request)
    schools = [u.pk for u in access.staff_schools(user) if access.is_director(user, u.pk)]
    if not schools:
        raise NotFound
    rows = (Feedback.objects.filter(school_id__in=schools).values("counsellor_id")
            .annotate(n=Count("id"), avg=Avg("score")).order_by("counsellor_id"))
    people = {u.pk: u for u in User.objects.filter(pk__in=[r["counsellor_id"] for r in rows])}
    out = []
    for r in rows:
        shown = r["n"] >= FEEDBACK_MIN
        comments = sorted(c for c in Feedback.objects.filter(school_id__in=schools, counsellor_id=r["counsellor_id"])
                          .values_list("comment", flat=True) if c) if shown else []
        out.append(FeedbackLine(people[r["counsellor_id"]], r["n"], round(r["avg"], 2) if shown else None, comments))
    audit(request, "counseling.feedback.summary", object_type="counseling.feedback", object_id="-")
    return out
