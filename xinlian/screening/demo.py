"""Screening in the demo university (called by ``xinlian seed-demo`` after the network).

* An open freshman census, ``<year>级新生心理普查``, for the newest cohort — UPI and SCL-90
  when those files ship (else PHQ-9 and GAD-7) — in which a few freshmen of the first college
  have already answered: one hit a critical item (a red alert and an urgent interview), two
  screened positive (on the interview list), some negative, some half-way, one declined.
* An open PHQ-9 / GAD-7 screening for the cohort of the demo ``student`` login, who has not
  started it: log in as ``student`` on a phone and take it.

Everything goes through the real verbs (launch, consent, save_answers, submit), so alerts,
interviews, timelines and notifications are exactly what a real submission makes. The answers
are drawn from ``random.Random(seed)``: the same seed gives the same results.
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Max
from django.utils import timezone

from xinlian.care.models import Alert, AlertSource
from xinlian.network.models import Student, StudentStatus, Unit, UnitKind, User

from .engine import Definition, builtin_definitions
from .models import (
    Assignment,
    Campaign,
    CampaignInstrument,
    CentreSettings,
    Instrument,
    Interview,
    act_on_submissions,
)

FRESHMAN_CODES = ("UPI", "SCL90")
FALLBACK_CODES = ("PHQ9", "GAD7")
FOLLOW_UP_CODES = ("PHQ9", "GAD7")
DEMO_LOGINS = ("student", "committee", "liaison", "studentrep")
PURPOSE = ("本次普查帮助学校了解同学们的心理健康状况，以便及时为需要的同学提供支持。"
           "你的作答和结果只有学校心理健康教育与咨询中心的老师和你的辅导员可以查看，"
           "不会告诉其他同学，也不会影响你的学业评价。参加与否由你决定；"
           "如果现在就需要帮助，请拨打心理中心电话或全国心理援助热线 12356。")
# How the freshmen of the demo college have answered so far.
PROFILES = ("critical", "positive", "positive", *("negative",) * 6, *("in_progress",) * 3, "declined")


@dataclass
class ScreeningSeed:
    campaigns: list[Campaign] = field(default_factory=list)
    invited: int = 0
    submitted: int = 0
    alerts: int = 0
    interviews: int = 0
    seconds: float = 0.0


def _codes(wanted: tuple[str, ...], fallback: tuple[str, ...]) -> list[str]:
    shipped = builtin_definitions()
    codes = [c for c in wanted if c in shipped]
    return codes if len(codes) == len(wanted) else [c for c in fallback if c in shipped]


def _items_in(cond: Any) -> Iterator[int]:
    if isinstance(cond, dict):
        if "item" in cond:
            yield cond["item"]
        for key in ("any", "all", "count"):
            for sub in cond.get(key, []):
                yield from _items_in(sub)
        if "not" in cond:
            yield from _items_in(cond["not"])


def _critical_items(spec: Definition) -> list[int]:
    return [n for c in spec.critical if c.get("enabled", True) is True for n in _items_in(c["when"])]


def _complete(spec: Definition, answers: dict[int, int]) -> dict[int, int]:
    """Only the items asked (skip logic), every one of them answered (lowest option if new)."""
    for _round in range(3):
        shown = spec.visible_items(answers)
        answers = {n: answers.get(n, min(spec.items[spec.column[n]].values)) for n in shown}
    return answers


def demo_answers(spec: Definition, profile: str, rng: random.Random) -> dict[int, int]:
    """Answers of the kind ``profile`` — critical (a critical item hit), positive (screen
    positive, no critical item) or negative — without quality flags, checked by scoring. Most
    answers sit at the healthiest option; a positive profile moves more of them a step or two."""
    # Options from the healthiest answer up: a reverse-keyed item is healthiest at its top value.
    ordered = {it.number: sorted(it.values, reverse=it.number in spec.reverse) for it in spec.items}
    lowest = {n: v[0] for n, v in ordered.items()}
    highest = {n: v[-1] for n, v in ordered.items()}
    critical_items = set(_critical_items(spec))

    def wanted(result: dict[str, Any]) -> bool:
        if result["flags"]:
            return False
        if profile == "critical":
            return bool(result["critical"])
        return not result["critical"] and result["positive"] == (profile == "positive")

    for attempt in range(30):
        up1, up2 = (0.4 + attempt * 0.02, 0.15 + attempt * 0.01) if profile == "positive" else (0.12, 0.0)
        answers = {}
        for n, values in ordered.items():
            draw = rng.random()
            step = 2 if draw < up2 else 1 if draw < up1 + up2 else 0
            answers[n] = values[min(step, len(values) - 1)]
        answers.update({n: lowest[n] for n in critical_items})
        if profile == "critical":
            answers.update({n: highest[n] for n in critical_items})
        answers = _complete(spec, answers)
        if wanted(spec.score(answers)):
            return answers
    if profile == "positive":
        return _complete(spec, {n: lowest[n] if n in critical_items else highest[n] for n in highest})
    return _complete(spec, dict(lowest))


def _campaign(school: Unit, director: User, name: str, codes: list[str], cohort: int | None,
              now: dt.datetime) -> Campaign:
    campaign = Campaign.objects.create(
        school=school, name=name, cohort=cohort, opens_at=now - dt.timedelta(days=3),
        closes_at=now + dt.timedelta(days=14), purpose=PURPOSE, created_by=director, created_at=now)
    for order, code in enumerate(codes):
        CampaignInstrument.objects.create(campaign=campaign, instrument=Instrument.latest(code), order=order)
    campaign.launch(director, now=now - dt.timedelta(days=3))
    return campaign


def _take(assignment: Assignment, profile: str, rng: random.Random, out: ScreeningSeed) -> None:
    campaign = assignment.campaign
    if profile == "declined":
        assignment.consent(False, campaign.consent_version)
        return
    assignment.consent(True, campaign.consent_version)
    entries = []
    for ci in campaign.campaign_instruments.select_related("instrument"):
        answers = demo_answers(ci.instrument.spec, profile if profile != "in_progress" else "negative", rng)
        if profile == "in_progress":
            answers = dict(list(answers.items())[: max(1, len(answers) // 3)])
        entries += [(ci.pk, n, v, round(rng.uniform(2.5, 8.0), 1)) for n, v in answers.items()]
        if profile == "in_progress":
            break  # half-way through the first questionnaire
    assignment.save_answers(entries)
    if profile == "in_progress":
        return
    assignment.submit(uuid.uuid4().hex)
    out.submitted += 1
    # What the worker does within a second of a real submit; the demo has it done before it serves.
    act_on_submissions()


def _students(campaign: Campaign, college: Unit | None, exclude: set[int]) -> list[Student]:
    qs = campaign.audience_students().filter(status=StudentStatus.ENROLLED).exclude(user_id__in=exclude)
    if college is not None:
        qs = qs.filter(klass__path__startswith=college.path)
    return list(qs.select_related("user").order_by("user__username")[: len(PROFILES)])


def seed_screening(school: Unit, director: User, *, seed: int = 2026,
                   now: dt.datetime | None = None) -> ScreeningSeed:
    """The demo's screening campaigns at ``school``, run by ``director`` (see the module doc)."""
    started = time.perf_counter()
    now = now or timezone.now()
    rng = random.Random(seed)
    out = ScreeningSeed()
    alerts_before = Alert.objects.filter(source=AlertSource.SCREENING).count()
    Instrument.sync_builtin()
    CentreSettings.objects.update_or_create(school=school, defaults={
        "help_phone": "010-6270 0000", "help_hours": "周一至周五 8:30–17:30",
        "help_place": "学生活动中心 3 楼 心理健康教育与咨询中心",
        "help_text": "夜间和周末请拨打全国心理援助热线 12356，或直接联系你的辅导员。"})
    students = Student.objects.filter(klass__path__startswith=school.path, status=StudentStatus.ENROLLED)
    newest = students.aggregate(year=Max("enrolment_year"))["year"]
    demo_users = set(User.objects.filter(username__in=DEMO_LOGINS).values_list("pk", flat=True))
    first_college = (Unit.objects.filter(kind=UnitKind.COLLEGE, path__startswith=school.path)
                     .order_by("path").first())

    freshman = _campaign(school, director, f"{newest}级新生心理普查" if newest else "新生心理普查",
                         _codes(FRESHMAN_CODES, FALLBACK_CODES), newest, now)
    out.campaigns.append(freshman)
    for student, profile in zip(_students(freshman, first_college, demo_users), PROFILES, strict=False):
        _take(Assignment.objects.select_related("campaign", "student").get(campaign=freshman, user=student.user),
              profile, rng, out)

    demo_student = Student.objects.filter(user__username="student").select_related("klass").first()
    if demo_student is not None and demo_student.enrolment_year != newest:
        year = demo_student.enrolment_year
        follow = _campaign(school, director, f"{year}级学生秋季心理健康测评",
                           _codes(FOLLOW_UP_CODES, FOLLOW_UP_CODES[:1]), year, now)
        out.campaigns.append(follow)
        # A few classmates of the demo student have answered; the student has not started.
        classmates = (follow.assignments.filter(student__klass=demo_student.klass)
                      .exclude(user_id__in=demo_users).select_related("campaign", "student")
                      .order_by("user__username")[:3])
        for assignment, profile in zip(classmates, ("positive", "negative", "negative"), strict=False):
            _take(assignment, profile, rng, out)
    out.invited = sum(c.assignments.count() for c in out.campaigns)
    out.alerts = Alert.objects.filter(source=AlertSource.SCREENING).count() - alerts_before
    out.interviews = Interview.objects.filter(campaign__in=out.campaigns).count()
    out.seconds = time.perf_counter() - started
    return out


def seed_demo_screening(seed: int = 2026) -> ScreeningSeed | None:
    """``seed_screening`` for the demo university seeded by ``xinlian.network.demo``: its school
    (the first one) and the ``director`` login. None when there is no such school."""
    school = Unit.objects.filter(kind=UnitKind.SCHOOL).order_by("path").first()
    director = User.objects.filter(username="director").first()
    if school is None or director is None:
        return None
    return seed_screening(school, director, seed=seed)
