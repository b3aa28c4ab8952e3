"""Who took part in a screening is tier 2 (risk): peer reporters and leaders, who hold only the
roster of a student, never read it in the student's chronology; the 班主任 and the 辅导员 do.
The sweep (tests/test_sweep.py) proves it with a marker in a campaign's name; these tests pin the
submit line and the data migration that moves the lines written before."""

from __future__ import annotations

import importlib

from django.apps import apps
from django.urls import reverse

from xinlian.care.models import Tier, TimelineEntry
from xinlian.network.models import Role

from .base import make_staff
from .screening_base import ScreeningTestCase

migration = importlib.import_module("xinlian.screening.migrations.0004_submit_timeline_tier")


class SubmitLineTierTests(ScreeningTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.leader = make_staff("T1011", "何校长", Role.LEADER, cls.school)

    def timeline_text(self, persona: str) -> str:
        self.login(persona)
        response = self.client.get(reverse("care-api:student-timeline", args=[self.student_a1.pk]))
        self.assertEqual(response.status_code, 200)
        return response.content.decode()

    def test_the_submit_line_is_written_at_the_risk_tier(self):
        self.take(self.assignment_a1)
        entry = TimelineEntry.objects.get(student=self.student_a1, kind="screening.submit")
        self.assertEqual(entry.tier, Tier.RISK)
        self.assertEqual(entry.params, {"campaign": self.campaign.name})

    def test_peers_and_leaders_do_not_read_who_took_part(self):
        self.take(self.assignment_a1)
        for persona in ("committee_a1", "liaison_a1", "leader"):
            with self.subTest(persona=persona):
                self.assertNotIn(self.campaign.name, self.timeline_text(persona))
        for persona in ("head_teacher_a1", "counsellor_a", "director"):
            with self.subTest(persona=persona):
                self.assertIn(self.campaign.name, self.timeline_text(persona))


class MigrationTests(ScreeningTestCase):
    def test_participation_lines_move_to_the_risk_tier_and_back(self):
        def line(kind: str, tier: int) -> TimelineEntry:
            return TimelineEntry.objects.create(student=self.student_a1, kind=kind, tier=tier,
                                                text="Completed screening %(campaign)s",
                                                params={"campaign": "X"})

        submit = line("screening.submit", Tier.ROSTER)
        consent = line("screening.guardian_consent", Tier.ROSTER)
        other = line("roster.note", Tier.ROSTER)
        concern = line("concern", Tier.RISK)

        def tiers() -> list[int]:
            return [TimelineEntry.objects.get(pk=e.pk).tier for e in (submit, consent, other, concern)]

        migration.to_risk(apps, None)
        self.assertEqual(tiers(), [Tier.RISK, Tier.RISK, Tier.ROSTER, Tier.RISK])
        migration.to_roster(apps, None)
        self.assertEqual(tiers(), [Tier.ROSTER, Tier.ROSTER, Tier.ROSTER, Tier.RISK])
