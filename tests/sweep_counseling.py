"""Sweep rows for the counselling pages and API (issue 11; see tests/test_sweep.py).

A booking and its intake are read by the client and the centre's counselling staff only: of
the sweep's personas, S0001 (the client) and the centre director. Everyone else gets 404 —
the 辅导员, the 班主任, the 心理委员, the leader; nobody learns that the booking exists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.test_sweep import API, LOGIN, only, row

POST_ONLY = row(405, 405)
API_ACTION = row(405, API)
CLIENT_AND_CENTRE = ("student_a1_user", "director")

EXPECT: dict[str, dict[str, Any]] = {
    # Anyone of a school books; the bureau's viewer is no client of a school's centre.
    "counseling:slots": row(200, LOGIN, bureau_viewer=403),
    "counseling:book": row(200, LOGIN, bureau_viewer=403),
    "counseling:appointments": row(200, LOGIN),
    "counseling:booking": only(CLIENT_AND_CENTRE, 200, 404, LOGIN),
    "counseling:ics": only(CLIENT_AND_CENTRE, 200, 404, LOGIN),
    "counseling:cancel": POST_ONLY,
    "counseling:waitlist": POST_ONLY,
    "counseling:waitlist-leave": POST_ONLY,
    "counseling:staff": only(("director",), 200, 404, LOGIN),
    "counseling:rota": only(("director",), 200, 404, LOGIN),
    "counseling:rota-counsellor": only(("director",), 200, 404, LOGIN),
    "counseling:rota-weekly": POST_ONLY,
    "counseling:rota-end": POST_ONLY,
    "counseling:rota-change": POST_ONLY,
    "counseling-api:slots": row(200, API, bureau_viewer=403),
    "counseling-api:bookings": row(200, API),
    "counseling-api:booking": only(CLIENT_AND_CENTRE, 200, 404, API),
    "counseling-api:booking-cancel": API_ACTION,
    "counseling-api:waitlist": API_ACTION,
    "counseling-api:availability": only(("director",), 200, 404, API),
    "counseling-api:availability-weekly": API_ACTION,
    "counseling-api:availability-end": API_ACTION,
    "counseling-api:availability-change": API_ACTION,
}


def _booking(t: Any) -> dict[str, Any]:
    return {"pk": t.cs_booking.pk}


KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "counseling:booking": _booking,
    "counseling:ics": _booking,
    "counseling:cancel": _booking,
    "counseling:waitlist-leave": lambda t: {"pk": t.cs_wait.pk},
    "counseling:rota-counsellor": lambda t: {"pk": t.psy.pk},
    "counseling:rota-weekly": lambda t: {"pk": t.psy.pk},
    "counseling:rota-end": lambda t: {"pk": t.cs_weekly.pk},
    "counseling:rota-change": lambda t: {"pk": t.psy.pk},
    "counseling-api:booking": _booking,
    "counseling-api:booking-cancel": _booking,
    "counseling-api:availability-end": lambda t: {"pk": t.cs_weekly.pk},
}


def setup(cls: Any) -> None:
    """The counselling personas, a weekly time of the counsellor, S0001's booking (its intake and
    its room carry tier-5 markers, checked by tests/test_counseling_access.py), a staff client's
    booking, and someone on the waiting list."""
    import datetime as dt

    from xinlian.counseling.models import Booking, Room, WaitlistEntry, WeeklyAvailability

    from .test_counseling_base import add_time, local_day, setup_counseling

    setup_counseling(cls)
    cls.cs_weekly = WeeklyAvailability.objects.create(
        counsellor=cls.psy, school=cls.school, weekday=local_day(8).weekday(), start_time=dt.time(9),
        end_time=dt.time(10), slot_minutes=50, mode="online", valid_from=local_day(8), created_by=cls.psy)
    room = Room.objects.create(school=cls.school, name="MKR-T5-room-S0001")
    slot = add_time(cls.psy, cls.school, 2, start="14:00", end="15:00", room=room)[0]
    cls.cs_booking = Booking.objects.create(slot=slot, client=cls.student_a1.user, student=cls.student_a1,
                                            starts_at=slot.starts_at, topic="MKR-T5-intake-S0001")
    room_t = Room.objects.create(school=cls.school, name="MKR-T5-room-T1023")
    slot_t = add_time(cls.psy2, cls.school, 3, start="14:00", end="15:00", room=room_t)[0]
    cls.cs_teacher_booking = Booking.objects.create(slot=slot_t, client=cls.teacher_a, starts_at=slot_t.starts_at,
                                                    topic="MKR-T5-intake-T1023")
    cls.cs_wait = WaitlistEntry.objects.create(client=cls.student_a2.user, school=cls.school,
                                               day_from=local_day(5), day_to=local_day(6))


def _none(t: Any) -> dict[str, Any]:
    return {}


_PAGE_GET = ["post", "put", "delete"]
_PAGE_POST = ["get", "put", "delete"]
_API_GET = ["post", "put", "patch", "delete"]
_API_POST = ["get", "put", "patch", "delete"]

WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "counseling:slots": (_none, _PAGE_GET),
    "counseling:book": (_none, ["put", "delete"]),
    "counseling:appointments": (_none, _PAGE_GET),
    "counseling:booking": (_booking, _PAGE_GET),
    "counseling:ics": (_booking, ["post", "delete"]),
    "counseling:cancel": (_booking, _PAGE_POST),
    "counseling:waitlist": (_none, _PAGE_POST),
    "counseling:waitlist-leave": (KWARGS["counseling:waitlist-leave"], _PAGE_POST),
    "counseling:staff": (_none, _PAGE_GET),
    "counseling:rota": (_none, _PAGE_GET),
    "counseling:rota-counsellor": (KWARGS["counseling:rota-counsellor"], _PAGE_GET),
    "counseling:rota-weekly": (KWARGS["counseling:rota-weekly"], _PAGE_POST),
    "counseling:rota-end": (KWARGS["counseling:rota-end"], _PAGE_POST),
    "counseling:rota-change": (KWARGS["counseling:rota-change"], _PAGE_POST),
    "counseling-api:slots": (_none, _API_GET),
    "counseling-api:bookings": (_none, ["put", "patch", "delete"]),
    "counseling-api:booking": (_booking, _API_GET),
    "counseling-api:booking-cancel": (_booking, _API_POST),
    "counseling-api:waitlist": (_none, _API_POST),
    "counseling-api:availability": (_none, _API_GET),
    "counseling-api:availability-weekly": (_none, _API_POST),
    "counseling-api:availability-end": (KWARGS["counseling-api:availability-end"], _API_POST),
    "counseling-api:availability-change": (_none, _API_POST),
}


# --- referrals, hospitals, leave and return, closing, satisfaction (Z3) ---------------------------
# Fixtures (``_setup_referrals``): S0001 referred in (reason MKR-T5-referral-S0001) and in an open
# episode with 沈咨询 (psy), referred out to a hospital (letter MKR-T5-letter-S0001, diagnosis
# MKR-T5-diagnosis-S0001), a leave and a return assessment (MKR-T5-return-S0001); a closed
# episode of S0001 with 韩咨询 (psy2: summary MKR-T5-closing-S0001) whose satisfaction link S0001
# holds; three answers for psy2 (comments MKR-T5-feedback-1..3); the staff client 林老师 (T1023)
# in a closed episode with psy (summary MKR-T5-closing-T1023, letter MKR-T5-letter-T1023).
# Of the sweep's personas only the director reads them (tests/test_counseling_referrals_access.py).

DIRECTOR_ONLY = only(("director",), 200, 404, LOGIN)
DIRECTOR_ONLY_API = only(("director",), 200, 404, API)

EXPECT.update({
    "counseling:referrals": DIRECTOR_ONLY,
    "counseling:referral-new": DIRECTOR_ONLY,  # by hand: counselling staff (from an alert: its holders)
    "counseling:referral-accept": POST_ONLY,
    "counseling:referral-decline": POST_ONLY,
    "counseling:hospitals": DIRECTOR_ONLY,
    "counseling:episode-close": DIRECTOR_ONLY,
    "counseling:feedback-link": POST_ONLY,
    "counseling:referral-out-new": DIRECTOR_ONLY,
    "counseling:referral-out": DIRECTOR_ONLY,
    "counseling:referral-letter": DIRECTOR_ONLY,
    "counseling:return": DIRECTOR_ONLY,
    "counseling:feedback-summary": DIRECTOR_ONLY,
    "counseling:feedback": only(("student_a1_user",), 200, 404, LOGIN),
    "counseling-api:referrals": DIRECTOR_ONLY_API,
    "counseling-api:referral-accept": API_ACTION,
    "counseling-api:referral-decline": API_ACTION,
    "counseling-api:hospitals": DIRECTOR_ONLY_API,
    "counseling-api:hospital": API_ACTION,
    "counseling-api:episode-close": API_ACTION,
    "counseling-api:referral-out-new": API_ACTION,
    "counseling-api:referral-out": DIRECTOR_ONLY_API,
    "counseling-api:feedback": API_ACTION,
    "counseling-api:feedback-summary": DIRECTOR_ONLY_API,
})


def _referral(t: Any) -> dict[str, Any]:
    return {"pk": t.cs_referral.pk}


def _episode(t: Any) -> dict[str, Any]:
    return {"pk": t.cs_episode.pk}


def _out(t: Any) -> dict[str, Any]:
    return {"pk": t.cs_out.pk}


KWARGS.update({
    "counseling:referral-accept": _referral,
    "counseling:referral-decline": _referral,
    "counseling:episode-close": _episode,
    "counseling:feedback-link": lambda t: {"pk": t.cs_closed.pk},
    "counseling:referral-out-new": _episode,
    "counseling:referral-out": _out,
    "counseling:referral-letter": _out,
    "counseling:return": lambda t: {"pk": t.student_a1.pk},
    "counseling:feedback": lambda t: {"token": t.cs_token},
    "counseling-api:referral-accept": _referral,
    "counseling-api:referral-decline": _referral,
    "counseling-api:hospital": lambda t: {"pk": t.cs_hospital.pk},
    "counseling-api:episode-close": _episode,
    "counseling-api:referral-out-new": _episode,
    "counseling-api:referral-out": _out,
})

WRONG_METHODS.update({
    "counseling:referrals": (_none, _PAGE_GET),
    "counseling:referral-new": (_none, ["put", "delete"]),
    "counseling:referral-accept": (_referral, _PAGE_POST),
    "counseling:referral-decline": (_referral, _PAGE_POST),
    "counseling:hospitals": (_none, ["put", "delete"]),
    "counseling:episode-close": (_episode, ["put", "delete"]),
    "counseling:feedback-link": (KWARGS["counseling:feedback-link"], _PAGE_POST),
    "counseling:referral-out-new": (_episode, ["put", "delete"]),
    "counseling:referral-out": (_out, ["put", "delete"]),
    "counseling:referral-letter": (_out, _PAGE_GET),
    "counseling:return": (KWARGS["counseling:return"], ["put", "delete"]),
    "counseling:feedback-summary": (_none, _PAGE_GET),
    "counseling:feedback": (KWARGS["counseling:feedback"], ["put", "delete"]),
    "counseling-api:referrals": (_none, ["put", "patch", "delete"]),
    "counseling-api:referral-accept": (_referral, _API_POST),
    "counseling-api:referral-decline": (_referral, _API_POST),
    "counseling-api:hospitals": (_none, ["put", "patch", "delete"]),
    "counseling-api:hospital": (KWARGS["counseling-api:hospital"], _API_POST),
    "counseling-api:episode-close": (_episode, _API_POST),
    "counseling-api:referral-out-new": (_episode, _API_POST),
    "counseling-api:referral-out": (_out, ["put", "patch", "delete"]),
    "counseling-api:feedback": (_none, _API_POST),
    "counseling-api:feedback-summary": (_none, _API_GET),
})


def _setup_referrals(cls: Any) -> None:
    import datetime as dt
    import hashlib

    from django.utils import timezone

    from xinlian.counseling.models import (
        Episode,
        EpisodeSource,
        Feedback,
        FeedbackInvite,
        Hospital,
        LeaveOfAbsence,
        ReferralIn,
        ReferralOut,
        ReturnAssessment,
    )

    today = timezone.localdate()
    cls.cs_hospital = Hospital.objects.create(school=cls.school, name="市精神卫生中心", department="心理门诊",
                                              phone="020-12345678")
    cls.cs_episode = Episode.objects.create(school=cls.school, client=cls.student_a1.user, student=cls.student_a1,
                                            counsellor=cls.psy, source=EpisodeSource.REFERRAL)
    cls.cs_referral = ReferralIn.objects.create(school=cls.school, client=cls.student_a1.user, student=cls.student_a1,
                                                reason="MKR-T5-referral-S0001", referred_by=cls.psy)
    cls.cs_out = ReferralOut.objects.create(school=cls.school, episode=cls.cs_episode, client=cls.student_a1.user,
                                            student=cls.student_a1, hospital=cls.cs_hospital,
                                            letter="MKR-T5-letter-S0001", diagnosis_note="MKR-T5-diagnosis-S0001",
                                            created_by=cls.psy)
    LeaveOfAbsence.objects.create(school=cls.school, student=cls.student_a1, left_on=today - dt.timedelta(days=90),
                                  returned_on=today - dt.timedelta(days=30), recorded_by=cls.psy)
    ReturnAssessment.objects.create(school=cls.school, student=cls.student_a1, episode=cls.cs_episode,
                                    assessed_on=today - dt.timedelta(days=31), assessed_by=cls.psy,
                                    text="MKR-T5-return-S0001", recommendation="support")
    cls.cs_closed = Episode.objects.create(school=cls.school, client=cls.student_a1.user, student=cls.student_a1,
                                           counsellor=cls.psy2, status="closed", closed_at=timezone.now(),
                                           closing_summary="MKR-T5-closing-S0001")
    cls.cs_token = "sweep-feedback-token-S0001"
    FeedbackInvite.objects.create(episode=cls.cs_closed, token_hash=hashlib.sha256(cls.cs_token.encode()).hexdigest())
    for n in (1, 2, 3):
        Feedback.objects.create(school=cls.school, counsellor=cls.psy2, score=4, comment=f"MKR-T5-feedback-{n}",
                                month=today.replace(day=1))
    cls.cs_teacher_episode = Episode.objects.create(
        school=cls.school, client=cls.teacher_a, counsellor=cls.psy, status="closed", closed_at=timezone.now(),
        closing_summary="MKR-T5-closing-T1023")
    ReferralOut.objects.create(school=cls.school, episode=cls.cs_teacher_episode, client=cls.teacher_a,
                               hospital=cls.cs_hospital, letter="MKR-T5-letter-T1023", created_by=cls.psy)


_setup_before_referrals = setup


def setup(cls: Any) -> None:  # noqa: F811 — the slice's fixtures, then the referrals'
    _setup_before_referrals(cls)
    _setup_referrals(cls)


# --- caseload, overview, week (Z2) ---------------------------------------------------------------
# Counselling staff only: of the sweep's personas, the centre director (who sees every counsellor's).

EXPECT.update({
    "counseling:caseload": only(("director",), 200, 404, LOGIN),
    "counseling:overview": only(("director",), 200, 404, LOGIN),
    "counseling:week": only(("director",), 200, 404, LOGIN),
    "counseling-api:caseload": only(("director",), 200, 404, API),
    "counseling-api:overview": only(("director",), 200, 404, API),
})

WRONG_METHODS.update({
    "counseling:caseload": (_none, _PAGE_GET),
    "counseling:overview": (_none, _PAGE_GET),
    "counseling:week": (_none, _PAGE_GET),
    "counseling-api:caseload": (_none, _API_GET),
    "counseling-api:overview": (_none, _API_GET),
})


# --- sessions, attendance, the record, groups (Z1) ------------------------------------------------
# A family session of S0001 with 韩咨询 (psy2), in an open episode whose named supervisor is
# 冯督导 (T1031, no post); each field of its record carries a tier-5 marker
# (MKR-T5-session.<field>-S0001). A group of psy with S0001 as a member and one meeting. Of the
# sweep's personas only the director reads the record; the 辅导员, the 班主任, another counsellor
# (沈咨询, psy), the client and a peer never see it on any page or API, the supervisor does
# (tests/test_counseling_sessions_access.py).

SESSION_FIELDS = ("presenting", "assessment", "intervention", "plan", "notes", "family_present")

EXPECT.update({
    "counseling:day": DIRECTOR_ONLY,
    "counseling:day-booking-attendance": POST_ONLY,
    "counseling:day-booking-open": POST_ONLY,
    "counseling:sessions": DIRECTOR_ONLY,
    "counseling:session-new": DIRECTOR_ONLY,
    "counseling:session": DIRECTOR_ONLY,
    "counseling:session-attendance": POST_ONLY,
    "counseling:groups": DIRECTOR_ONLY,
    "counseling:group": DIRECTOR_ONLY,
    "counseling:group-members": POST_ONLY,
    "counseling:group-member-remove": POST_ONLY,
    "counseling:group-meetings": POST_ONLY,
    "counseling-api:sessions": DIRECTOR_ONLY_API,
    "counseling-api:session": DIRECTOR_ONLY_API,
    "counseling-api:session-attendance": API_ACTION,
    "counseling-api:session-record": API_ACTION,
    "counseling-api:groups": DIRECTOR_ONLY_API,
    "counseling-api:group": DIRECTOR_ONLY_API,
    "counseling-api:group-members": API_ACTION,
    "counseling-api:group-member-remove": API_ACTION,
    "counseling-api:group-meetings": API_ACTION,
})


def _session(t: Any) -> dict[str, Any]:
    return {"pk": t.cs_session.pk}


def _group(t: Any) -> dict[str, Any]:
    return {"pk": t.cs_group.pk}


def _member(t: Any) -> dict[str, Any]:
    return {"pk": t.cs_group.pk, "member": t.cs_member.pk}


KWARGS.update({
    "counseling:day-booking-attendance": _booking,
    "counseling:day-booking-open": _booking,
    "counseling:session": _session,
    "counseling:session-attendance": _session,
    "counseling:group": _group,
    "counseling:group-members": _group,
    "counseling:group-member-remove": _member,
    "counseling:group-meetings": _group,
    "counseling-api:session": _session,
    "counseling-api:session-attendance": _session,
    "counseling-api:session-record": _session,
    "counseling-api:group": _group,
    "counseling-api:group-members": _group,
    "counseling-api:group-member-remove": _member,
    "counseling-api:group-meetings": _group,
})

WRONG_METHODS.update({
    "counseling:day": (_none, _PAGE_GET),
    "counseling:day-booking-attendance": (_booking, _PAGE_POST),
    "counseling:day-booking-open": (_booking, _PAGE_POST),
    "counseling:sessions": (_none, _PAGE_GET),
    "counseling:session-new": (_none, ["put", "delete"]),
    "counseling:session": (_session, ["put", "delete"]),
    "counseling:session-attendance": (_session, _PAGE_POST),
    "counseling:groups": (_none, ["put", "delete"]),
    "counseling:group": (_group, _PAGE_GET),
    "counseling:group-members": (_group, _PAGE_POST),
    "counseling:group-member-remove": (_member, _PAGE_POST),
    "counseling:group-meetings": (_group, _PAGE_POST),
    "counseling-api:sessions": (_none, ["put", "patch", "delete"]),
    "counseling-api:session": (_session, _API_GET),
    "counseling-api:session-attendance": (_session, _API_POST),
    "counseling-api:session-record": (_session, _API_POST),
    "counseling-api:groups": (_none, ["put", "patch", "delete"]),
    "counseling-api:group": (_group, _API_GET),
    "counseling-api:group-members": (_group, _API_POST),
    "counseling-api:group-member-remove": (_member, _API_POST),
    "counseling-api:group-meetings": (_group, _API_POST),
})


def _setup_sessions(cls: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    from xinlian.counseling.models import (
        CounselingGroup,
        Episode,
        EpisodeSource,
        GroupAttendance,
        GroupMember,
        Session,
        SessionKind,
    )

    from .base import make_staff

    cls.cs_supervisor = make_staff("T1031", "冯督导")
    episode = Episode.objects.create(school=cls.school, client=cls.student_a1.user, student=cls.student_a1,
                                     counsellor=cls.psy2, source=EpisodeSource.WALK_IN, supervisor=cls.cs_supervisor)
    record = {name: f"MKR-T5-session.{name}-S0001" for name in SESSION_FIELDS}
    cls.cs_session = Session.objects.create(
        school=cls.school, counsellor=cls.psy2, kind=SessionKind.FAMILY, episode=episode,
        starts_at=timezone.now() - dt.timedelta(days=1), minutes=50, mode="online", attendance="attended",
        risk="none", recorded_at=timezone.now(), recorded_by=cls.psy2, **record)
    cls.cs_group = CounselingGroup.objects.create(school=cls.school, counsellor=cls.psy, name="考试减压小组",
                                                  capacity=8)
    cls.cs_member = GroupMember.objects.create(group=cls.cs_group, client=cls.student_a1.user, student=cls.student_a1)
    meeting = Session.objects.create(school=cls.school, counsellor=cls.psy, kind=SessionKind.GROUP,
                                     group=cls.cs_group, starts_at=timezone.now() + dt.timedelta(days=3))
    GroupAttendance.objects.create(session=meeting, member=cls.cs_member)


_setup_before_sessions = setup


def setup(cls: Any) -> None:  # noqa: F811 — the earlier fixtures, then the sessions'
    _setup_before_sessions(cls)
    _setup_sessions(cls)
