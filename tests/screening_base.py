"""A screening campaign on top of the network personas (tests/base.py)."""

from __future__ import annotations

import datetime as dt
import uuid

from django.utils import timezone

from xinlian.network.models import Role
from xinlian.screening.models import Assignment, Campaign, CampaignInstrument, Instrument

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
             overrides: dict[int, int] | None = None):  # noqa: ANN201
        assignment.consent(True, self.campaign.consent_version)
        self.answer_all(assignment, value, overrides)
        return assignment.submit(uuid.uuid4().hex)
