"""Who sees what of counselling (issue 11): the fact of a booking and its intake are for the
client and the centre's counselling staff only — never the 辅导员, the 班主任, a 心理委员, or a
staff client's own college lead.

The markers (tests/sweep_counseling.py writes them): S0001's booking has its intake
``MKR-T5-intake-S0001`` and sits in the room ``MKR-T5-room-S0001`` that no other slot uses, so the
room's name shows wherever the booking does; the staff client 林老师 (T1023, college A) likewise.
Every URL of the project (the sweep's table, with its arguments) is opened as each of the four
and no answer may carry a marker; the director's pages show them (the positive control)."""

from __future__ import annotations

from django.urls import reverse

from xinlian.access.models import AuditEvent

from .base import NetworkTestCase
from .test_sweep import EXPECT, KWARGS, setup_extra, swept_names

MARKERS = ("MKR-T5-intake-S0001", "MKR-T5-room-S0001", "MKR-T5-intake-T1023", "MKR-T5-room-T1023")
NOT_COUNSELLING = ("counsellor_a", "head_teacher_a1", "committee_a1", "college_lead_a", "liaison_a1",
                   "outsider_b", "leader", "bureau_viewer")


class CounselingMarkerSweepTests(NetworkTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        from xinlian.network.models import Role

        from .base import make_staff

        setup_extra(cls)  # every sweep module's fixtures, ours among them
        if not hasattr(cls, "leader"):
            cls.leader = make_staff("T1011", "何校长", Role.LEADER, cls.school)

    def body(self, response) -> str:
        content = b"".join(response.streaming_content) if response.streaming else response.content
        return content.decode("utf-8", errors="replace")

    def walk(self, persona: str) -> dict[str, str]:
        """URL name → body, for every URL the sweep knows (GET)."""
        self.client.force_login(self.persona(persona))
        bodies = {}
        for name in swept_names():
            if name not in EXPECT:
                continue
            kwargs = KWARGS[name](self) if name in KWARGS else {}
            bodies[name] = self.body(self.client.get(reverse(name, kwargs=kwargs)))
        return bodies

    def test_no_one_outside_counselling_sees_a_booking_or_an_intake_anywhere(self):
        leaks = []
        for persona in NOT_COUNSELLING:
            for name, body in self.walk(persona).items():
                leaks += [f"{persona} on {name}: {m}" for m in MARKERS if m in body]
        self.assertEqual(leaks, [])

    def test_the_director_is_shown_them_and_each_intake_read_is_audited(self):
        """The positive control: the markers are rendered where counselling staff look."""
        self.client.force_login(self.persona("director"))
        page = self.client.get(reverse("counseling:booking", args=[self.cs_booking.pk]))
        self.assertContains(page, "MKR-T5-intake-S0001")
        self.assertContains(page, "MKR-T5-room-S0001")
        api = self.client.get(reverse("counseling-api:booking", args=[self.cs_teacher_booking.pk])).json()
        self.assertEqual(api["intake"]["topic"], "MKR-T5-intake-T1023")
        self.assertEqual(AuditEvent.objects.filter(action="counseling.intake.read").count(), 2)
        staff = self.client.get(reverse("counseling:staff") + "?all=1")
        self.assertContains(staff, "张小明")
        self.assertContains(staff, "林老师")

    def test_the_client_sees_their_booking_but_not_the_intake_back(self):
        self.client.force_login(self.student_a1.user)
        page = self.client.get(reverse("counseling:booking", args=[self.cs_booking.pk]))
        self.assertContains(page, "MKR-T5-room-S0001")
        self.assertNotContains(page, "MKR-T5-intake-S0001")
        self.assertEqual(self.client.get(reverse("counseling:booking", args=[self.cs_teacher_booking.pk])).status_code,
                         404)
        self.client.force_login(self.teacher_a)
        self.assertContains(self.client.get(reverse("counseling:appointments")), "MKR-T5-room-T1023")

    def test_out_of_scope_is_404_and_audited(self):
        for persona in ("counsellor_a", "college_lead_a", "committee_a1", "head_teacher_a1"):
            self.client.force_login(self.persona(persona))
            for url in (reverse("counseling:booking", args=[self.cs_booking.pk]),
                        reverse("counseling:ics", args=[self.cs_teacher_booking.pk]),
                        reverse("counseling-api:booking", args=[self.cs_teacher_booking.pk])):
                self.assertEqual(self.client.get(url).status_code, 404, (persona, url))
            cancel = self.client.post(reverse("counseling-api:booking-cancel", args=[self.cs_booking.pk]))
            self.assertEqual(cancel.status_code, 404)
        self.assertTrue(AuditEvent.objects.filter(action="counseling.booking.view", result="denied").exists())

    def test_a_counsellor_reads_the_intake_of_their_school(self):
        self.client.force_login(self.psy2)
        page = self.client.get(reverse("counseling:booking", args=[self.cs_booking.pk]))
        self.assertContains(page, "MKR-T5-intake-S0001")
