"""The demo's sessions (xinlian seed-demo): last week's bookings with their sessions — two
recorded, one no-show — and a group with members and a meeting; the demo's day view and group
page open for the counsellor."""

from __future__ import annotations

from django.test import TestCase
from django.urls import reverse

from xinlian.counseling.demo import seed_demo_counseling
from xinlian.counseling.models import Booking, CounselingGroup, GroupAttendance, Session
from xinlian.network.demo import seed_demo

YEAR = 2026


class SessionDemoTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        seed_demo(300, 7, year=YEAR)
        cls.bookings = seed_demo_counseling()

    def test_last_weeks_sessions_and_a_group(self):
        past = Session.objects.exclude(kind="group")
        self.assertEqual(sorted(past.values_list("attendance", flat=True)), ["attended", "attended", "no_show"])
        self.assertEqual(past.filter(recorded_at__isnull=False).count(), 2)
        self.assertTrue(all(s.booking_id and s.episode_id for s in past))
        self.assertEqual(Booking.objects.filter(status="active").count(), self.bookings)
        group = CounselingGroup.objects.get()
        self.assertEqual(group.members.count(), 4)
        meeting = Session.objects.get(kind="group")
        self.assertEqual(GroupAttendance.objects.filter(session=meeting).count(), 4)

    def test_the_counsellor_opens_the_days_and_the_group(self):
        s = Session.objects.exclude(kind="group").order_by("starts_at").first()
        self.client.force_login(s.counsellor)
        day = self.client.get(reverse("counseling:day") + f"?date={s.booking.slot.local_start.date()}")
        self.assertContains(day, f'data-session="{s.pk}"')
        self.assertContains(self.client.get(reverse("counseling:session", args=[s.pk])), s.notes)
        self.assertContains(self.client.get(reverse("counseling:group", args=[CounselingGroup.objects.get().pk])),
                            'id="grid"')
