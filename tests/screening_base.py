"""A screening campaign on top of the network personas (tests/base.py)."""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone

from xinlian.network.models import Role
from xinlian.screening.models import (
    Assignment,
    Campaign,
    CampaignInstrument,
    Instrument,
    Interview,
    act_on_submissions,
)

from .base import NetworkTestCase, make_staff

PURPOSE = "了解同学们的心理健康状况，以便及时提供帮助。结果仅心理中心和你的辅导员可见。"


def answers_for(instrument: Instrument, value: int | None = None) -> dict[int, int]:
    """Every shown item answered with ``value`` (default: the lowest option)."""
    spec = instrument.spec
    out = {}
    for item in spec.items:
        out[item.number] = value if value is not None and value in item.values else min(item.values)
    return {k: v for k, v in out.items() if k in spec.visible_items(out)}


class ScreeningTestCase(NetworkTestCase):
    CODES: tuple[str, ...] = ("PHQ9",)

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        Instrument.sync_builtin()
        cls.psych_teacher = make_staff("T1006", "孙老师", Role.COUNSELLOR, cls.school)
        now = timezone.now()
        cls.campaign = Campaign.objects.create(
            school=cls.school, name="2026秋季心理普查", opens_at=now - dt.timedelta(days=1),
            closes_at=now + dt.timedelta(days=13), purpose=PURPOSE, created_by=cls.director)
        for n, code in enumerate(cls.CODES):
            CampaignInstrument.objects.create(campaign=cls.campaign, instrument=Instrument.latest(code),
                                              order=n)
        cls.campaign.launch(cls.director)
        cls.assignment_a1 = Assignment.objects.get(campaign=cls.campaign, user=cls.student_a1.user)

    def cis(self, assignment: Assignment | None = None) -> list[CampaignInstrument]:
        return list(self.campaign.campaign_instruments.select_related("instrument"))

    def answer_all(self, assignment: Assignment, value: int | None = None,
                   overrides: dict[int, int] | None = None, seconds: float = 4.0) -> None:
        for ci in self.cis():
            answers = answers_for(ci.instrument, value)
            answers.update(overrides or {})
            for item, v in answers.items():
                assignment.save_answer(ci.pk, item, v, seconds)

    def take(self, assignment: Assignment, value: int | None = None,
             overrides: dict[int, int] | None = None, *, act: bool = True):  # noqa: ANN201
        """Consent, answer, submit; then, unless ``act`` is false, one pass of the worker's job
        raises the alert and opens the interview the submission asks for."""
        assignment.consent(True, self.campaign.consent_version)
        self.answer_all(assignment, value, overrides)
        outcome = assignment.submit(uuid.uuid4().hex)
        if act:
            act_on_submissions()
        return outcome


def ensure_sweep_objects(cls: type[NetworkTestCase]) -> None:
    """Screening objects the sweep modules (tests/sweep_screening_*.py) point at, made once per
    test class: an open PHQ-9 campaign at SCH; student_a1 submitted with item 9 = 2 (a red alert,
    an urgent interview assigned to a psychology teacher); student_b1 consented, not finished."""
    if getattr(cls, "scr_campaign", None) is not None:
        return
    Instrument.sync_builtin()
    teacher = make_staff("T1096", "沈老师", Role.COUNSELLOR, cls.school)
    now = timezone.now()
    campaign = Campaign.objects.create(
        school=cls.school, name="扫查普查", opens_at=now - dt.timedelta(days=1),
        closes_at=now + dt.timedelta(days=30), purpose=PURPOSE, created_by=cls.director)
    instrument = Instrument.latest("PHQ9")
    ci = CampaignInstrument.objects.create(campaign=campaign, instrument=instrument, order=0)
    campaign.launch(cls.director)
    a1 = Assignment.objects.get(campaign=campaign, user=cls.student_a1.user)
    a1.consent(True, campaign.consent_version)
    answers = answers_for(instrument, 0)
    answers[9] = 2
    for item, value in answers.items():
        a1.save_answer(ci.pk, item, value, 3.0)
    a1.submit(uuid.uuid4().hex)
    act_on_submissions()  # what the worker does within a second
    b1 = Assignment.objects.get(campaign=campaign, user=cls.student_b1.user)
    b1.consent(True, campaign.consent_version)
    b1.save_answer(ci.pk, 1, 1, 3.0)
    cls.scr_campaign = campaign
    cls.scr_ci = ci
    cls.scr_instrument = instrument
    cls.scr_teacher = teacher
    cls.scr_assignment_a1 = a1
    cls.scr_assignment_b1 = b1
    cls.scr_interview = Interview.objects.get(assignment=a1)
