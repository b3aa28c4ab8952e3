"""Booking counselling from a phone (issue 11): the verbs through the pages and the API, each
bad input with its message and nothing half-written, the risk question's alert, the waiting
list, reminders, the rota turned into slots."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, connection, transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from xinlian.access.models import AuditEvent
from xinlian.care.models import Alert, AlertDuty, DutyRole, DutyShift, ShiftKind
from xinlian.counseling import rules
from xinlian.counseling.models import (
    Booking,
    BookingStatus,
    CentreRules,
    Slot,
    WaitlistEntry,
    WaitStatus,
    WeeklyAvailability,
)
from xinlian.notify.models import Delivery, Holiday

from .test_counseling_base import (
    INTAKE,
    CounselingTestCase,
    active,
    add_time,
    local_day,
    past_slot,
    slot_in,
)


class BookingPageTests(CounselingTestCase):
    def book(self, slot: Slot, **extra: str):
        return self.client.post(reverse("counseling:book"), {"slot": str(slot.pk), **INTAKE, **extra})

    def test_free_slots_then_book_then_confirmation(self):
        self.login("student_a1_user")
        page = self.client.get(reverse("counseling:slots"))
        self.assertEqual(page.status_code, 200)
        for slot in self.slots:
            self.assertContains(page, f'data-slot="{slot.pk}"')
        self.assertContains(page, "沈咨询")
        form = self.client.get(reverse("counseling:book") + f"?slot={self.slots[0].pk}")
        self.assertContains(form, 'name="risk_now"')
        self.assertContains(form, "你现在有伤害自己的想法吗？")
        response = self.book(self.slots[0])
        booking = Booking.objects.get()
        self.assertRedirects(response, reverse("counseling:booking", args=[booking.pk]) + "?new=1")
        self.assertEqual((booking.client_id, booking.student_id, booking.slot_id),
                         (self.student_a1.user_id, self.student_a1.pk, self.slots[0].pk))
        self.assertEqual(booking.starts_at, self.slots[0].starts_at)
        confirmation = self.client.get(reverse("counseling:booking", args=[booking.pk]) + "?new=1")
        self.assertContains(confirmation, 'id="booked"')
        self.assertNotContains(confirmation, 'id="urgent"')
        # the student does not get the intake shown back, and the slot is no longer free
        self.assertNotContains(confirmation, INTAKE["topic"])
        self.assertNotContains(self.client.get(reverse("counseling:slots")), f'data-slot="{self.slots[0].pk}"')
        self.assertTrue(AuditEvent.objects.filter(action="counseling.book", object_id=str(booking.pk)).exists())

    def test_times_are_shown_in_the_schools_zone_and_stored_in_utc(self):
        self.login("student_a1_user")
        slot = self.slots[0]
        self.assertEqual(timezone.localtime(slot.starts_at, rules.zone()).time(), dt.time(9, 0))
        self.assertEqual(slot.starts_at.utcoffset(), dt.timedelta(0))
        self.assertEqual(slot.starts_at.astimezone(dt.UTC).hour, 1)  # 09:00 in Shanghai is 01:00 UTC
        self.assertContains(self.client.get(reverse("counseling:slots")), "09:00–10:00")

    def test_intake_is_encrypted_at_rest(self):
        self.login("student_a1_user")
        self.book(self.slots[0])
        with connection.cursor() as cursor:
            cursor.execute("SELECT topic FROM counseling_booking")
            raw = cursor.fetchone()[0]
        self.assertNotIn("睡不好", raw)
        self.assertEqual(Booking.objects.get().topic, INTAKE["topic"])

    def test_missing_intake_is_refused_with_each_message_and_nothing_written(self):
        self.login("student_a1_user")
        with override("en"):
            response = self.client.post(reverse("counseling:book"), {"slot": str(self.slots[0].pk)},
                                        HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(response.status_code, 400)
        self.assertEqual(Booking.objects.count(), 0)
        response = self.client.post(reverse("counseling:book"), {"slot": str(self.slots[0].pk)})
        self.assertContains(response, "请回答这个问题", status_code=400)

    def test_held_slot_gives_the_next_free_times(self):
        self.login("student_a1_user")
        Booking.objects.create(slot=self.slots[0], client=self.student_a2.user, student=self.student_a2,
                               starts_at=self.slots[0].starts_at, topic="x")
        response = self.book(self.slots[0])
        self.assertEqual(response.status_code, 409)
        self.assertContains(response, "刚刚被别人预约", status_code=409)
        for slot in self.slots[1:]:
            self.assertContains(response, f'data-slot="{slot.pk}"', status_code=409)
        self.assertEqual(len(active(self.slots[0])), 1)
        self.assertEqual(Booking.objects.filter(client=self.student_a1.user).count(), 0)

    def test_past_slot_outside_the_window_and_a_holiday_are_refused(self):
        self.login("student_a1_user")
        cases = []
        old = past_slot(self.psy, self.school)
        cases.append((old, 400, "已经过去"))
        far = add_time(self.psy, self.school, 30)[0]
        cases.append((far, 400, "最多可提前 14 天预约"))
        holiday_slot = add_time(self.psy2, self.school, 3)[0]
        Holiday.objects.create(date=local_day(3), note="校庆")
        cases.append((holiday_slot, 400, "节假日"))
        for slot, status, text in cases:
            response = self.book(slot)
            self.assertContains(response, text, status_code=status)
        self.assertEqual(Booking.objects.count(), 0)
        # a holiday has no free times on the list either
        self.assertNotContains(self.client.get(reverse("counseling:slots")), f'data-slot="{holiday_slot.pk}"')

    def test_window_follows_the_centres_rule(self):
        CentreRules.objects.create(school=self.school, book_ahead_days=40)
        self.login("student_a1_user")
        far = add_time(self.psy, self.school, 30)[0]
        response = self.book(far)
        self.assertEqual(response.status_code, 302)

    def test_double_booking_at_the_same_time_is_refused(self):
        other = add_time(self.psy2, self.school, 2)[0]  # 09:00 with the other counsellor
        self.login("student_a1_user")
        self.assertEqual(self.book(self.slots[0]).status_code, 302)
        response = self.book(other)
        self.assertContains(response, "这个时间你已经有预约", status_code=409)
        self.assertEqual(Booking.objects.filter(status=BookingStatus.ACTIVE).count(), 1)

    def test_any_counsellor_on_a_day_takes_the_first_free_time(self):
        self.login("student_a1_user")
        Booking.objects.create(slot=self.slots[0], client=self.student_a2.user, starts_at=self.slots[0].starts_at,
                               topic="x")
        response = self.client.post(reverse("counseling:book"), {"day": local_day(2).isoformat(), **INTAKE})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(Booking.objects.get(client=self.student_a1.user).slot, self.slots[1])
        # a day with nothing free: the message and no booking
        response = self.client.post(reverse("counseling:book"), {"day": local_day(5).isoformat(), **INTAKE,
                                                                 "key": ""})
        self.assertContains(response, "这一天没有空闲时间", status_code=409)

    def test_staff_client_books(self):
        self.login("teacher_a")
        response = self.book(self.slots[1])
        self.assertEqual(response.status_code, 302)
        booking = Booking.objects.get()
        self.assertEqual((booking.client_id, booking.student_id), (self.teacher_a.pk, None))

    def test_counsellor_cannot_book_their_own_time(self):
        self.login("psy")
        self.assertNotContains(self.client.get(reverse("counseling:slots")), f'data-slot="{self.slots[0].pk}"')
        self.assertEqual(self.book(self.slots[0]).status_code, 400)

    @override_settings(COUNSELING_BOOKING_RATE_PER_HOUR=2)
    def test_booking_rate_limit(self):
        self.login("student_a1_user")
        for slot in self.slots[:2]:
            self.assertEqual(self.book(slot).status_code, 302)
            Booking.objects.filter(slot=slot).update(status=BookingStatus.CANCELLED)
        response = self.book(self.slots[2])
        self.assertEqual(response.status_code, 429)
        self.assertContains(response, "最近一小时", status_code=429)
        self.assertTrue(AuditEvent.objects.filter(action="ratelimit.counseling.booking").exists())


class RiskQuestionTests(CounselingTestCase):
    def test_yes_raises_a_red_alert_to_the_duty_counsellor_and_shows_the_numbers(self):
        DutyShift.objects.create(unit=self.school, date=timezone.localdate(), kind=ShiftKind.DAY,
                                 role=DutyRole.CENTRE, person=self.psy2)
        DutyShift.objects.create(unit=self.school, date=timezone.localdate(), kind=ShiftKind.NIGHT,
                                 role=DutyRole.CENTRE, person=self.psy2)
        DutyShift.objects.create(unit=self.school, date=timezone.localdate() - dt.timedelta(days=1),
                                 kind=ShiftKind.NIGHT, role=DutyRole.CENTRE, person=self.psy2)
        DutyShift.objects.create(unit=self.school, date=timezone.localdate(), kind=ShiftKind.WEEKEND_DAY,
                                 role=DutyRole.CENTRE, person=self.psy2)
        self.login("student_a1_user")
        topic = "我不想活了 MKR-secret-topic"
        response = self.client.post(reverse("counseling:book"), {"slot": str(self.slots[0].pk), "topic": topic,
                                                                 "previous": "here", "risk_now": "yes"})
        booking = Booking.objects.get()
        self.assertTrue(booking.risk_now)
        alert = Alert.objects.get(student=self.student_a1)
        self.assertEqual((alert.level, booking.alert_id), ("red", alert.pk))
        self.assertTrue(AlertDuty.objects.filter(alert=alert, person=self.psy2).exists())
        self.assertTrue(Delivery.objects.filter(recipient=self.psy2, channel="inbox").exists())
        self.assertTrue(Delivery.objects.filter(recipient=self.director).exists())  # red: the centre at once
        # nothing of the intake in any notification, nor in the concern care filed
        for d in Delivery.objects.all():
            self.assertNotIn("MKR-secret-topic", d.text() + d.link + str(d.params))
        self.assertNotIn("MKR-secret-topic", alert.concern.seen)
        page = self.client.get(response["Location"])
        self.assertContains(page, 'id="urgent"')
        self.assertContains(page, 'href="tel:120"')
        self.assertContains(page, "tel:12356")

    def test_yes_never_waits_for_a_slot(self):
        """A yes with the slot already taken: the alert goes out, the page shows the numbers."""
        Booking.objects.create(slot=self.slots[0], client=self.student_a2.user, starts_at=self.slots[0].starts_at,
                               topic="x")
        self.login("student_a1_user")
        response = self.client.post(reverse("counseling:book"), {"slot": str(self.slots[0].pk), "topic": "难受",
                                                                 "previous": "none", "risk_now": "yes"})
        self.assertEqual(response.status_code, 409)
        self.assertContains(response, 'id="urgent"', status_code=409)
        self.assertTrue(Alert.objects.filter(student=self.student_a1, level="red").exists())
        # even with the intake left empty
        Alert.objects.all().delete()
        response = self.client.post(reverse("counseling:book"), {"slot": str(self.slots[1].pk), "risk_now": "yes"})
        self.assertContains(response, 'id="urgent"', status_code=400)
        self.assertTrue(Alert.objects.filter(student=self.student_a1, level="red").exists())

    def test_staff_client_yes_tells_the_duty_counsellor(self):
        self.login("teacher_a")
        self.client.post(reverse("counseling:book"), {"slot": str(self.slots[0].pk), "topic": "x",
                                                      "previous": "none", "risk_now": "yes"})
        self.assertTrue(Delivery.objects.filter(recipient=self.director, message__startswith="Urgent").exists())
        self.assertTrue(AuditEvent.objects.filter(action="counseling.risk").exists())


class CancelTests(CounselingTestCase):
    def setUp(self) -> None:
        self.booking = Booking.objects.create(slot=self.slots[0], client=self.student_a1.user,
                                              student=self.student_a1, starts_at=self.slots[0].starts_at,
                                              topic="x")

    def test_client_cancels_before_the_cutoff_and_the_slot_is_free_again(self):
        self.login("student_a1_user")
        response = self.client.post(reverse("counseling:cancel", args=[self.booking.pk]))
        self.assertRedirects(response, reverse("counseling:appointments"))
        self.booking.refresh_from_db()
        self.assertEqual(self.booking.status, BookingStatus.CANCELLED)
        self.assertIn(self.slots[0], Slot.objects.bookable())
        again = self.client.post(reverse("counseling:cancel", args=[self.booking.pk]))
        self.assertContains(again, "已经取消", status_code=409)

    def test_client_cannot_cancel_after_the_cutoff(self):
        soon = slot_in(self.psy, self.school, 5)
        late = Booking.objects.create(slot=soon, client=self.student_a2.user, starts_at=soon.starts_at, topic="x")
        self.client.force_login(self.student_a2.user)
        response = self.client.post(reverse("counseling:cancel", args=[late.pk]))
        self.assertContains(response, "24 小时", status_code=409)
        late.refresh_from_db()
        self.assertEqual(late.status, BookingStatus.ACTIVE)

    def test_counsellor_cancels_any_time_with_a_reason_and_the_client_is_told(self):
        self.login("psy")
        response = self.client.post(reverse("counseling:cancel", args=[self.booking.pk]), {"reason": ""})
        self.assertContains(response, "请告诉来访者原因", status_code=400)
        self.booking.refresh_from_db()
        self.assertEqual(self.booking.status, BookingStatus.ACTIVE)
        self.client.post(reverse("counseling:cancel", args=[self.booking.pk]), {"reason": "临时外出培训"})
        self.booking.refresh_from_db()
        self.assertEqual((self.booking.status, self.booking.cancelled_by_id), (BookingStatus.CANCELLED, self.psy.pk))
        told = Delivery.objects.get(recipient=self.student_a1.user, channel="inbox")
        self.assertNotIn("临时外出培训", told.text())

    def test_freed_slot_is_kept_for_the_first_person_waiting(self):
        WaitlistEntry.objects.create(client=self.student_a2.user, school=self.school, day_from=local_day(1),
                                     day_to=local_day(3))
        self.login("student_a1_user")
        self.client.post(reverse("counseling:cancel", args=[self.booking.pk]))
        slot = Slot.objects.get(pk=self.slots[0].pk)
        self.assertEqual(slot.offered_to_id, self.student_a2.user_id)
        self.assertEqual(WaitlistEntry.objects.get().status, WaitStatus.OFFERED)
        self.assertTrue(Delivery.objects.filter(recipient=self.student_a2.user).exists())
        # someone else cannot take it while it is kept; the person waiting can
        self.client.force_login(self.classmate_a1.user)
        refused = self.client.post(reverse("counseling:book"), {"slot": str(slot.pk), **INTAKE})
        self.assertEqual(refused.status_code, 409)
        self.client.force_login(self.student_a2.user)
        ok = self.client.post(reverse("counseling:book"), {"slot": str(slot.pk), **INTAKE})
        self.assertEqual(ok.status_code, 302)
        self.assertEqual(WaitlistEntry.objects.get().status, WaitStatus.BOOKED)


class WaitlistTests(CounselingTestCase):
    def test_join_only_when_nothing_is_free(self):
        self.login("student_a1_user")
        response = self.client.post(reverse("counseling:waitlist"), {"day_from": local_day(2).isoformat(),
                                                                     "day_to": local_day(2).isoformat()})
        self.assertContains(response, "有空闲时间", status_code=409)
        self.assertEqual(WaitlistEntry.objects.count(), 0)
        response = self.client.post(reverse("counseling:waitlist"), {"day_from": local_day(4).isoformat(),
                                                                     "day_to": local_day(6).isoformat()},
                                    follow=True)
        self.assertEqual(WaitlistEntry.objects.get().status, WaitStatus.WAITING)
        self.assertContains(response, 'id="waiting"')
        again = self.client.post(reverse("counseling:waitlist"), {"day_from": local_day(4).isoformat(),
                                                                  "day_to": local_day(5).isoformat()})
        self.assertContains(again, "已经在候补名单", status_code=409)
        entry = WaitlistEntry.objects.get()
        self.client.post(reverse("counseling:waitlist-leave", args=[entry.pk]))
        entry.refresh_from_db()
        self.assertEqual(entry.status, WaitStatus.WITHDRAWN)


class MyAppointmentsTests(CounselingTestCase):
    def test_list_ics_and_home(self):
        booking = Booking.objects.create(slot=self.slots[1], client=self.student_a1.user, student=self.student_a1,
                                         starts_at=self.slots[1].starts_at, topic="不该出现在日历里")
        self.login("student_a1_user")
        page = self.client.get(reverse("counseling:appointments"))
        self.assertContains(page, f'data-booking="{booking.pk}"')
        ics = self.client.get(reverse("counseling:ics", args=[booking.pk]))
        self.assertEqual(ics["Content-Type"], "text/calendar; charset=utf-8")
        body = ics.content.decode()
        start = self.slots[1].starts_at.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        self.assertIn(f"DTSTART:{start}", body)
        self.assertIn("咨询室一", body)
        self.assertNotIn("不该出现", body)
        home = self.client.get(reverse("home"))
        self.assertContains(home, 'data-kind="counseling"')
        self.assertContains(home, reverse("counseling:booking", args=[booking.pk]))
        self.assertContains(home, reverse("counseling:slots"))  # the menu entry

    def test_counsellor_sees_bookings_today_and_their_list(self):
        today = slot_in(self.psy, self.school, 0.5)
        if rules.local_day(today.starts_at) != rules.local_day(timezone.now()):
            today = Slot.objects.create(counsellor=self.psy, school=self.school,
                                        starts_at=timezone.now() + dt.timedelta(minutes=1),
                                        ends_at=timezone.now() + dt.timedelta(minutes=2))
        Booking.objects.create(slot=today, client=self.student_a1.user, starts_at=today.starts_at, topic="x",
                               risk_now=True)
        self.login("psy")
        home = self.client.get(reverse("home"))
        self.assertContains(home, "今天有 1 个预约")
        page = self.client.get(reverse("counseling:staff"))
        self.assertContains(page, "张小明")
        self.assertContains(page, "风险：是")
        self.assertNotContains(page, "x</p>")
        # the other counsellor's own list does not have it; the director's "every counsellor" does
        self.client.force_login(self.psy2)
        self.assertNotContains(self.client.get(reverse("counseling:staff")), "张小明")
        self.login("director")
        self.assertContains(self.client.get(reverse("counseling:staff") + "?all=1"), "张小明")


class RotaTests(CounselingTestCase):
    def test_weekly_time_becomes_slots_except_on_holidays(self):
        day = local_day(3)
        Holiday.objects.create(date=local_day(10), note="假")
        self.login("psy")
        response = self.client.post(reverse("counseling:rota-weekly", args=[self.psy.pk]), {
            "weekday": str(day.weekday()), "start": "14:00", "end": "16:00", "slot_minutes": "50", "mode": "room",
            "room": str(self.room.pk)})
        self.assertEqual(response.status_code, 302)
        weekly = WeeklyAvailability.objects.get()
        slots = Slot.objects.filter(weekly=weekly, cancelled=False)
        days = {rules.local_day(s.starts_at) for s in slots}
        self.assertEqual(days, {day})  # a week later is a holiday: no slot that day
        self.assertEqual(len([s for s in slots if rules.local_day(s.starts_at) == day]), 2)  # 14:00, 14:50
        Holiday.objects.all().delete()
        rules.materialise(self.psy.pk, self.school.pk, local_day(0), rules.window(self.school.pk).last)
        days = {rules.local_day(s.starts_at) for s in Slot.objects.filter(weekly=weekly, cancelled=False)}
        self.assertEqual(days, {day, local_day(10)})

    def test_bad_weekly_input_is_refused_with_messages(self):
        self.login("psy")
        response = self.client.post(reverse("counseling:rota-weekly", args=[self.psy.pk]), {
            "weekday": "9", "start": "16:00", "end": "14:00", "slot_minutes": "5", "mode": "room"})
        self.assertEqual(response.status_code, 400)
        for text in ("请选择星期几", "结束时间早于开始时间", "10 到 240 分钟", "请选择"):
            self.assertContains(response, text, status_code=400)
        self.assertEqual(WeeklyAvailability.objects.count(), 0)

    def test_not_available_withdraws_free_slots_and_refuses_over_a_booking(self):
        self.login("psy")
        Booking.objects.create(slot=self.slots[2], client=self.student_a1.user, starts_at=self.slots[2].starts_at,
                               topic="x")
        day = local_day(2).isoformat()
        refused = self.client.post(reverse("counseling:rota-change", args=[self.psy.pk]), {
            "date": day, "kind": "cancelled", "start": "09:00", "end": "12:00"})
        self.assertContains(refused, "个预约在这段时间内", status_code=409)
        self.assertFalse(Slot.objects.filter(pk=self.slots[0].pk, cancelled=True).exists())
        ok = self.client.post(reverse("counseling:rota-change", args=[self.psy.pk]), {
            "date": day, "kind": "cancelled", "start": "09:00", "end": "11:00"})
        self.assertEqual(ok.status_code, 302)
        self.assertEqual(set(Slot.objects.filter(pk__in=[s.pk for s in self.slots], cancelled=True)
                             .values_list("pk", flat=True)), {self.slots[0].pk, self.slots[1].pk})

    def test_who_edits_whose_availability(self):
        self.login("psy")
        self.assertEqual(self.client.get(reverse("counseling:rota-counsellor", args=[self.psy2.pk])).status_code, 403)
        self.login("director")
        self.assertEqual(self.client.get(reverse("counseling:rota-counsellor", args=[self.psy2.pk])).status_code, 200)
        for persona in ("counsellor_a", "head_teacher_a1", "student_a1_user"):
            self.login(persona)
            self.assertEqual(self.client.get(reverse("counseling:rota")).status_code, 404)

    def test_extend_slots_job_keeps_the_window_filled(self):
        weekly = WeeklyAvailability.objects.create(
            counsellor=self.psy2, school=self.school, weekday=local_day(1).weekday(), start_time=dt.time(8),
            end_time=dt.time(9), slot_minutes=60, mode="phone", valid_from=local_day(0), created_by=self.psy2)
        made = rules.extend_slots()
        self.assertGreaterEqual(made, 2)
        self.assertEqual(rules.extend_slots(), 0)  # up to date: nothing more
        weekly.refresh_from_db()
        self.assertEqual(weekly.generated_until, rules.window(self.school.pk).last)


class ReminderTests(CounselingTestCase):
    def test_reminded_once_the_day_before_without_the_intake(self):
        booking = Booking.objects.create(slot=self.slots[0], client=self.student_a1.user,
                                         starts_at=self.slots[0].starts_at, topic="秘密的话")
        day_before = rules.at_local(local_day(1), dt.time(10))
        self.assertEqual(rules.send_reminders(day_before - dt.timedelta(days=1)), 0)
        self.assertEqual(rules.send_reminders(day_before), 1)
        self.assertEqual(rules.send_reminders(day_before + dt.timedelta(hours=1)), 0)
        inbox = Delivery.objects.get(recipient=self.student_a1.user, channel="inbox")
        self.assertIn(timezone.localtime(self.slots[0].starts_at).strftime("%H:%M"), inbox.text())
        self.assertNotIn("秘密", inbox.text())
        booking.refresh_from_db()
        self.assertIsNotNone(booking.reminded_at)


class ConstraintTests(CounselingTestCase):
    def test_the_database_holds_one_active_booking_per_slot(self):
        Booking.objects.create(slot=self.slots[0], client=self.student_a1.user, starts_at=self.slots[0].starts_at,
                               topic="a")
        with self.assertRaises(IntegrityError), transaction.atomic():
            Booking.objects.create(slot=self.slots[0], client=self.student_a2.user,
                                   starts_at=self.slots[0].starts_at, topic="b")
        # a cancelled booking does not hold the slot
        Booking.objects.filter(slot=self.slots[0]).update(status=BookingStatus.CANCELLED)
        Booking.objects.create(slot=self.slots[0], client=self.student_a2.user, starts_at=self.slots[0].starts_at,
                               topic="b")

    def test_the_database_holds_one_active_booking_per_client_and_time(self):
        other = add_time(self.psy2, self.school, 2)[0]
        Booking.objects.create(slot=self.slots[0], client=self.student_a1.user, starts_at=self.slots[0].starts_at,
                               topic="a")
        with self.assertRaises(IntegrityError), transaction.atomic():
            Booking.objects.create(slot=other, client=self.student_a1.user, starts_at=other.starts_at, topic="b")
