"""The demo's counselling service (xinlian seed-demo): rooms, weekly times, a week of bookings
with the demo student among the clients; seeding twice writes nothing more."""

from __future__ import annotations

from django.test import TestCase
from django.utils import timezone

from xinlian.counseling.demo import seed_demo_counseling
from xinlian.counseling.models import Booking, BookingStatus, Room, Slot, WeeklyAvailability
from xinlian.network.demo import seed_demo

YEAR = 2026


class CounselingDemoTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        seed_demo(300, 7, year=YEAR)
        cls.bookings = seed_demo_counseling()

    def test_rota_slots_and_a_week_of_bookings(self):
        self.assertEqual(Room.objects.count(), 2)
        self.assertGreaterEqual(WeeklyAvailability.objects.count(), 4)
        self.assertGreater(Slot.objects.filter(cancelled=False, starts_at__gt=timezone.now()).count(), 20)
        self.assertGreater(self.bookings, 5)
        self.assertEqual(Booking.objects.filter(status=BookingStatus.ACTIVE).count(), self.bookings)
        self.assertTrue(Booking.objects.filter(client__username="student").exists())
        self.assertTrue(Booking.objects.filter(client__kind="staff").exists())  # staff are clients too
        self.assertFalse(Booking.objects.filter(risk_now=True).exists())

    def test_seeding_again_writes_nothing(self):
        self.assertEqual(seed_demo_counseling(), 0)

    def test_the_demo_student_sees_the_next_appointment_at_home(self):
        from django.contrib.auth import get_user_model

        self.client.force_login(get_user_model().objects.get(username="student"))
        home = self.client.get("/")
        self.assertContains(home, 'data-kind="counseling"')
