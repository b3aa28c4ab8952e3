"""Marker fixtures for the sweep (tests/test_sweep.py): a distinct string, labelled with its tier,
written into every sensitive field of three students — S0001 (class A1: in the scope of every
college-A persona), S0004 (class A2: college A, outside class A1) and S0005 (college B).

A marker reads ``MKR-T<tier>-<field>-<student number>``. Who may read it is not written here by
hand: ``Marker.allows`` asks the access policy (``caps_over_student``, ``sees_clinical``, the case
team, the interview's counsellor) for the persona and the marker's student, so the sweep asserts
the policy in force. The sweep fails when a persona's page, API answer or export shows a marker
that ``allows`` refuses them.

What cannot carry a string:
- Item answers are integers (an answer is an option's value). The screening result's stored text
  is what the result pages, the report's answers-to-check list and the API print of it: the
  quality flags and the classification's clauses are shown by their id when the instrument has
  no label for them (``Result.labelled``), so a result carries ``MKR-T3-flag-…`` and
  ``MKR-T3-clause-…`` in its stored flags and clauses. They can only appear where the result
  itself — tier 3 — is shown.
- A guardian's phone must look like a phone: ``1390000000<n>`` (S0001 → 13900000001) is the
  tier-4 marker of the phone, the guardian's name is ``MKR-T4-guardian_name-…``.
- Counselling notes (tier 5) do not exist yet.
- What a concern reported is tier 3, and also read by whoever one of its alerts is routed to while
  it is theirs (``report_rule``: the 班主任 asked to acknowledge it reads it).

Guardian contacts are read by the case tier and by the student's 辅导员 and 班主任 (Cap.GUARDIANS:
they make the calls); the phone's and name's rule asks the policy (``guardian_rule``).

A campaign's name is not secret, but a student's participation in it is (tier 2: peer reporters
never learn who took part in a screening). The campaign ``MKR-T2-campaign-S0001`` is completed by
S0001 alone, so its name is checked only on the URLs about one student (``STUDENT_URLS``): there it
can only come from S0001's "Completed screening …" chronology line. Elsewhere (a campaign list, a
peer's own questionnaire list) the name of a campaign may be shown."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from xinlian.access.policy import Cap, caps_over_student, reads_guardian_contacts
from xinlian.care.access import sees_alert_report, sees_clinical
from xinlian.care.models import (
    AlertNote,
    Case,
    CaseStatus,
    Concern,
    FollowUp,
    RecordKind,
    RiskEntry,
)
from xinlian.network.models import Guardian, Role, Student, User
from xinlian.screening.models import (
    Assignment,
    Campaign,
    CampaignInstrument,
    Instrument,
    Interview,
    act_on_submissions,
)

from .base import make_staff
from .screening_base import PURPOSE, answers_for, ensure_sweep_objects

# The URLs about one student (S0001), where a campaign's name can only come from their chronology.
STUDENT_URLS = frozenset({"student-detail", "api:student-detail", "care-api:student-timeline"})

# Every text field of every kind of case record (as the record forms in xinlian/care/forms.py
# store them); the boolean and choice fields get plausible values.
RECORD_FIELDS: dict[str, tuple[str, ...]] = {
    RecordKind.ASSESSMENT: ("protective", "notes"),
    RecordKind.SAFETY_PLAN: ("warning_signs", "coping", "contacts", "means_restriction", "notes"),
    RecordKind.GUARDIAN: ("who", "said", "outcome"),
    RecordKind.REFERRAL: ("where", "outcome", "return_assessment"),
    RecordKind.MEASURE: ("other", "notes"),
    RecordKind.FOLLOW_UP: ("note",),
    RecordKind.NOTE: ("text",),
}
RECORD_EXTRA: dict[str, dict[str, Any]] = {
    RecordKind.ASSESSMENT: {"ideation": True, "plan": False, "means": False, "past_attempts": False},
    RecordKind.GUARDIAN: {"how": "phone", "guardian_id": None},
    RecordKind.REFERRAL: {"when": "2026-09-01"},
    RecordKind.MEASURE: {"accompaniment": True, "leave": False, "room_change": False},
}

MarkerRule = Callable[[User, Student], bool]


def tier(cap: Cap) -> MarkerRule:
    return lambda user, student: cap in caps_over_student(user, student)


def clinical_or(*authors: int) -> MarkerRule:
    """Concern text, register reasons, alert and follow-up notes: clinical detail (the policy's
    ``sees_clinical``) — and the person who wrote it reads their own words."""
    return lambda user, student: user.pk in authors or sees_clinical(caps_over_student(user, student))


@dataclass(frozen=True)
class Marker:
    text: str
    tier: int
    student: int  # Student pk
    rule: MarkerRule
    urls: frozenset[str] | None = None  # None: a leak on any URL
    note: str = ""

    def allows(self, user: User | None, student: Student) -> bool:
        return user is not None and self.rule(user, student)


@dataclass
class MarkerSet:
    markers: list[Marker] = field(default_factory=list)

    def add(self, tier_no: int, what: str, student: Student, rule: MarkerRule, *,
            number: str | None = None, **kw: Any) -> str:
        text = f"MKR-T{tier_no}-{what}-{number or student.number}"
        self.markers.append(Marker(text, tier_no, student.pk, rule, **kw))
        return text

    def phone(self, student: Student, rule: MarkerRule) -> str:
        text = f"1390000{int(student.number[1:]):04d}"
        self.markers.append(Marker(text, 4, student.pk, rule, note="guardian phone"))
        return text


def guardian_rule(user: User, student: Student) -> bool:
    """Guardian contacts: the case tier, and the 辅导员 and 班主任 (the policy's
    ``reads_guardian_contacts``)."""
    return reads_guardian_contacts(caps_over_student(user, student))


def report_rule(concern: Concern) -> MarkerRule:
    """What was reported: its reporter, the clinical tiers, and whoever one of its alerts is
    routed to while it is theirs (the policy's ``sees_alert_report``)."""
    reporter = concern.reporter_id
    return lambda user, student: user.pk == reporter or any(
        sees_alert_report(user, alert) for alert in concern.alerts.select_related("student__klass"))


def _case_rule(case: Case) -> MarkerRule:
    """The case team and holders of the case tier (break-glass is not used by the fixtures)."""
    team = {case.lead_id, *case.members.values_list("pk", flat=True)}
    return lambda user, student: user.pk in team or Cap.CASE in caps_over_student(user, student)


def _interview_rule(interview: Interview) -> MarkerRule:
    """Interview notes are tier 3; the counsellor it is assigned to reads them too."""
    return lambda user, student: (user.pk == interview.assigned_to_id
                                  or Cap.SCORES in caps_over_student(user, student))


def _write_case(ms: MarkerSet, case: Case, student: Student, by: User) -> None:
    rule = _case_rule(case)
    for kind, fields in RECORD_FIELDS.items():
        data = {**RECORD_EXTRA.get(kind, {})}
        for name in fields:
            data[name] = ms.add(4, f"{kind}.{name}", student, rule)
        case.add_record(kind, author=by, data=data)
    if case.status == CaseStatus.OPEN:
        case.request_closure(by, ms.add(4, "closure_summary", student, rule))


def _mark_result(ms: MarkerSet, assignment: Assignment, student: Student) -> None:
    """Quality flags and clauses are stored text of the result, printed by id when unlabelled."""
    rule = tier(Cap.SCORES)
    flag = ms.add(3, "flag", student, rule)
    clause = ms.add(3, "clause", student, rule)
    for result in assignment.results.all():
        detail = json.loads(result.data)
        detail["flags"] = [*detail.get("flags", []), flag]
        detail["clauses"] = [*detail.get("clauses", []), clause]
        result.data = json.dumps(detail, ensure_ascii=False)
        result.flags = [*result.flags, flag]
        result.save(update_fields=["data", "flags"])


def _campaign(cls: Any, name: str) -> tuple[Campaign, CampaignInstrument]:
    now = timezone.now()
    campaign = Campaign.objects.create(
        school=cls.school, name=name, opens_at=now - dt.timedelta(days=1),
        closes_at=now + dt.timedelta(days=30), purpose=PURPOSE, created_by=cls.director)
    ci = CampaignInstrument.objects.create(campaign=campaign, instrument=Instrument.latest("PHQ9"),
                                           order=0)
    campaign.launch(cls.director)
    return campaign, ci


def _take(campaign: Campaign, ci: CampaignInstrument, student: Student, item9: int) -> Assignment:
    assignment = Assignment.objects.get(campaign=campaign, student=student)
    assignment.consent(True, campaign.consent_version)
    answers = answers_for(ci.instrument, 0)
    answers[9] = item9
    for item, value in answers.items():
        assignment.save_answer(ci.pk, item, value, 3.0)
    assignment.submit(uuid.uuid4().hex)
    return assignment


def write_markers(cls: Any) -> list[Marker]:
    """Write the markers (after the sweep modules' setup: their alert, cases and screening
    objects are the ones the sweep's URLs point at) and add the leader persona.

    ``cls.marker_urls`` lists the detail URLs of S0004's and S0005's objects, which the sweep
    opens as every persona besides its table of S0001's (a status is not asserted there: the
    body must show neither an out-of-scope student nor a marker above the reader's tier)."""
    assert hasattr(cls, "care_alert") and hasattr(cls, "care_api_case"), "run setup_extra first"
    ensure_sweep_objects(cls)
    # A leader (组长) reads the roster of the whole school and nothing else.
    cls.leader = make_staff("T1011", "何校长", Role.LEADER, cls.school)
    director = cls.director
    ms = MarkerSet()
    s1, s4, s5 = cls.student_a1, cls.student_a2, cls.student_b1

    # Concerns (the reporter reads their own report) and alert notes.
    concern = cls.care_alert.concern
    concern.seen = ms.add(3, "concern", s1, report_rule(concern))
    concern.save(update_fields=["seen"])
    for alert, what in ((cls.care_alert, "alert_note"), (cls.care_api_alert, "alert_note_api")):
        AlertNote.objects.create(alert=alert, author=director, action="acknowledge",
                                 text=ms.add(3, what, s1, clinical_or(director.pk)))
    urls: list[tuple[str, dict[str, int]]] = []
    for student, reporter in ((s4, cls.counsellor_a), (s5, cls.outsider_b)):
        concern, _ = Concern.submit(key=uuid.uuid4(), reporter=reporter, student=student,
                                    category="emotional", urgency="soon", seen="-")
        concern.seen = ms.add(3, "concern", student, report_rule(concern))
        concern.save(update_fields=["seen"])
        alert = concern.alerts.get()
        AlertNote.objects.create(alert=alert, author=director, action="acknowledge",
                                 text=ms.add(3, "alert_note", student, clinical_or(director.pk)))
        urls += [("alert-detail", {"pk": alert.pk}), ("care-api:alert-detail", {"pk": alert.pk}),
                 ("student-detail", {"pk": student.pk}), ("api:student-detail", {"pk": student.pk}),
                 ("care-api:student-timeline", {"pk": student.pk})]

    # Interviews: recorded (the notes are shown once the interview is done), before the register
    # lines below so that those stay the current ones. S0004 and S0005 take a campaign of their
    # own with a critical item (a result, an alert, an urgent interview).
    campaign, ci = _campaign(cls, "标记普查")
    taken = {s.pk: _take(campaign, ci, s, 2) for s in (s4, s5)}
    act_on_submissions()
    interviews = [(s1, cls.scr_assignment_a1, cls.scr_interview)]
    interviews += [(s, taken[s.pk], Interview.objects.get(assignment=taken[s.pk])) for s in (s4, s5)]
    for student, assignment, interview in interviews:
        _mark_result(ms, assignment, student)
        interview.record(director, "yellow", ms.add(3, "interview", student, _interview_rule(interview)))
        if student is not s1:
            urls += [("screening:result-detail", {"pk": assignment.pk}),
                     ("screening:interview-detail", {"pk": interview.pk})]

    for student in (s1, s4, s5):
        RiskEntry.set_level(student, "orange", by=director,
                            reason=ms.add(3, "reason", student, clinical_or()))
        FollowUp.record(student, by=director, note=ms.add(3, "follow_up", student, clinical_or(director.pk)))
        Guardian.objects.create(student=student, name=ms.add(4, "guardian_name", student, guardian_rule),
                                relation="mother", phone=ms.phone(student, guardian_rule))

    # Cases: every kind of record, then the closure summary. S0001's are the sweep's own cases.
    s1_cases = {cls.care_case.pk: cls.care_case, cls.care_api_case.pk: cls.care_api_case}
    for case in s1_cases.values():
        _write_case(ms, case, s1, director)
    for student in (s4, s5):
        case = Case.open_for(student, by=director)
        _write_case(ms, case, student, director)
        urls += [("case-detail", {"pk": case.pk}), ("care-api:case-detail", {"pk": case.pk})]

    # Participation: a campaign only S0001 completes; its name shows in S0001's chronology. The
    # name does not spell the student number, which the sweep looks for on its own.
    name = ms.add(2, "campaign", s1, tier(Cap.RISK), urls=STUDENT_URLS, number="S_0001")
    marked, ci = _campaign(cls, name)
    _take(marked, ci, s1, 0)
    act_on_submissions()
    # A guardian's consent to S0001's screening is participation too (its own chronology line).
    name = ms.add(2, "consent_campaign", s1, tier(Cap.RISK), urls=STUDENT_URLS, number="S_0001")
    consented, _ci = _campaign(cls, name)
    Assignment.objects.get(campaign=consented, student=s1).record_guardian_consent(
        director, "电话同意")
    cls.marker_urls = urls
    return ms.markers
