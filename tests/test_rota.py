"""The duty rota (值班): routing out of hours through the duty chain, the rota's verbs and page,
the .xlsx import, gap warnings and the home page. Fixed clocks: 02:00 and 10:00 Asia/Shanghai
on a Tuesday (office hours default to Monday–Friday 08:00–18:00)."""

from __future__ import annotations

import datetime as dt
import io
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone
from openpyxl import Workbook, load_workbook

from xinlian.access.models import AuditEvent
from xinlian.care import actions, rota
from xinlian.care.access import get_alert_for_user, may_act_on_alert, visible_alerts
from xinlian.care.models import (
    Alert,
    AlertDuty,
    DutyLine,
    DutyRole,
    DutyShift,
    ShiftKind,
    fire_due_escalations,
)
from xinlian.lib.actions import Conflict, Invalid, NotFound
from xinlian.network.models import Role
from xinlian.notify.models import Channel, Delivery

from .base import NetworkTestCase, make_staff

SH = ZoneInfo("Asia/Shanghai")
NIGHT_AT = dt.datetime(2026, 12, 8, 2, 0, tzinfo=SH)   # Tuesday 02:00: Monday night's shift
DAY_AT = dt.datetime(2026, 12, 8, 10, 0, tzinfo=SH)    # Tuesday 10:00: office hours
MONDAY = dt.date(2026, 12, 7)
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def day(n: int) -> dt.date:
    """``n`` days from today: the verbs take dates from a month back to a year ahead."""
    return timezone.localdate() + dt.timedelta(days=n)


def iso(n: int) -> str:
    return day(n).isoformat()


class RotaTestCase(NetworkTestCase):
    """Monday night: 辅导员 on rotation for college A and (a college-B 辅导员) for the school, a
    centre counsellor and a leader on call."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        # First line on rotation from college A: class A2's head teacher, not one of student A1's own.
        cls.duty_fdy = make_staff("T3001", "何值班", Role.HEAD_TEACHER, cls.class_a2)
        cls.centre_counsellor = make_staff("T3002", "许咨询", Role.COUNSELLOR, cls.school)
        cls.leader = make_staff("T3003", "黄校长", Role.LEADER, cls.school)

    def put_on(self, unit, person, role, date=MONDAY, kind=ShiftKind.NIGHT, phone=""):
        return DutyShift.objects.create(unit=unit, date=date, kind=kind, role=role, person=person,
                                        phone=phone)

    def full_night(self) -> None:
        self.put_on(self.college_a, self.duty_fdy, DutyRole.FIRST_LINE)
        self.put_on(self.school, self.outsider_b, DutyRole.FIRST_LINE)
        self.put_on(self.school, self.centre_counsellor, DutyRole.CENTRE)
        self.put_on(self.school, self.leader, DutyRole.LEADER)

    def inbox(self, user) -> list[Delivery]:
        return list(Delivery.objects.filter(channel=Channel.INBOX, recipient=user).order_by("pk"))

    def request(self, persona):
        req = RequestFactory().get("/")
        req.user = self.persona(persona)
        return req


class ShiftWindowTests(RotaTestCase):
    def test_the_shift_running_at_each_hour(self):
        self.assertEqual(rota.shifts_at(NIGHT_AT), [(MONDAY, ShiftKind.NIGHT)])
        self.assertEqual(rota.shifts_at(dt.datetime(2026, 12, 7, 22, 0, tzinfo=SH)),
                         [(MONDAY, ShiftKind.NIGHT)])
        # In the day: the centre's daytime duty on a workday, the weekend-day shift on a Saturday.
        self.assertEqual(rota.shifts_at(DAY_AT), [(DAY_AT.date(), ShiftKind.DAY)])
        saturday = dt.datetime(2026, 12, 12, 10, 0, tzinfo=SH)
        self.assertEqual(rota.shifts_at(saturday), [(saturday.date(), ShiftKind.WEEKEND_DAY)])
        self.assertEqual(rota.shifts_at(saturday.replace(hour=7)), [(dt.date(2026, 12, 11), ShiftKind.NIGHT)])
        # A UTC clock reading is taken in Shanghai time: 18:00 UTC on Monday is 02:00 Tuesday.
        self.assertEqual(rota.shifts_at(dt.datetime(2026, 12, 7, 18, 0, tzinfo=dt.UTC)),
                         [(MONDAY, ShiftKind.NIGHT)])


class NightRoutingTests(RotaTestCase):
    def test_red_at_two_reaches_the_first_line_on_duty_as_well_as_the_students_own_people(self):
        self.full_night()
        alert = Alert.raise_for(self.student_a1, "red", "concern", now=NIGHT_AT)
        for user in (self.counsellor_a, self.head_teacher_a1, self.director,  # as in the day
                     self.duty_fdy, self.outsider_b):                         # the first line on duty
            self.assertEqual(len(self.inbox(user)), 1, user.username)
        for user in (self.centre_counsellor, self.leader):  # higher rungs wait for the escalation
            self.assertEqual(self.inbox(user), [], user.username)
        alert.refresh_from_db()
        self.assertEqual(alert.duty_step, 0)
        self.assertEqual(set(AlertDuty.objects.filter(alert=alert).values_list("person_id", flat=True)),
                         {self.duty_fdy.pk, self.outsider_b.pk})
        # The college-B 辅导员 on the school's duty reads and acts on it while it is theirs.
        self.assertTrue(may_act_on_alert(self.persona("outsider_b"), alert))
        self.assertEqual(get_alert_for_user(self.request("outsider_b"), alert.pk)[0], alert)
        # Messages still carry no name.
        for d in Delivery.objects.filter(recipient=self.outsider_b):
            self.assertNotIn(self.student_a1.user.full_name, d.text())

    def test_orange_at_night_reaches_the_duty_but_yellow_does_not(self):
        self.full_night()
        Alert.raise_for(self.student_a1, "orange", "concern", now=NIGHT_AT)
        self.assertEqual(len(self.inbox(self.duty_fdy)), 1)
        yellow = Alert.raise_for(self.student_a1, "yellow", "concern", now=NIGHT_AT)
        self.assertEqual(len(self.inbox(self.duty_fdy)), 1)
        self.assertIsNone(yellow.duty_step)
        self.assertFalse(visible_alerts(self.persona("outsider_b")).filter(pk=yellow.pk).exists())

    def test_in_hours_nothing_changes(self):
        self.full_night()
        for shift in DutyShift.objects.all():  # the same people on today's daytime duty
            self.put_on(shift.unit, shift.person, shift.role, date=DAY_AT.date(), kind=ShiftKind.DAY)
        alert = Alert.raise_for(self.student_a1, "red", "concern", now=DAY_AT)
        self.assertIsNone(alert.duty_step)
        for user in (self.duty_fdy, self.outsider_b, self.centre_counsellor, self.leader):
            self.assertEqual(self.inbox(user), [], user.username)
        self.assertFalse(AlertDuty.objects.exists())
        fire_due_escalations(DAY_AT + dt.timedelta(minutes=31))
        for user in (self.duty_fdy, self.outsider_b, self.centre_counsellor, self.leader):
            self.assertEqual(self.inbox(user), [], user.username)

    def test_escalation_climbs_the_duty_chain_beside_the_ladder(self):
        self.full_night()
        college_lead = make_staff("T3004", "林院长", Role.COLLEGE_LEAD, self.college_a)
        alert = Alert.raise_for(self.student_a1, "red", "concern", now=NIGHT_AT)
        self.assertEqual(fire_due_escalations(NIGHT_AT + dt.timedelta(minutes=31)), 1)
        alert.refresh_from_db()
        self.assertEqual((alert.step, alert.duty_step), (1, 1))
        self.assertEqual(len(self.inbox(college_lead)), 1)          # the ladder's next rung
        self.assertEqual(len(self.inbox(self.centre_counsellor)), 1)  # the duty chain's
        self.assertEqual(self.inbox(self.leader), [])
        self.assertEqual(fire_due_escalations(NIGHT_AT + dt.timedelta(minutes=62)), 1)
        alert.refresh_from_db()
        self.assertEqual(alert.duty_step, 2)
        self.assertEqual(len(self.inbox(self.leader)), 1)
        self.assertEqual(set(AlertDuty.objects.filter(alert=alert).values_list("role", flat=True)),
                         {"first_line", "centre", "leader"})
        # Past the top of the chain, nobody more from the rota.
        fire_due_escalations(NIGHT_AT + dt.timedelta(minutes=93))
        self.assertEqual(len(self.inbox(self.leader)), 2)  # the ladder's top reminds the leadership
        self.assertEqual(AlertDuty.objects.filter(alert=alert).count(), 4)

    def test_an_empty_rung_of_the_chain_is_skipped(self):
        self.put_on(self.school, self.centre_counsellor, DutyRole.CENTRE)
        alert = Alert.raise_for(self.student_a1, "red", "concern", now=NIGHT_AT)
        self.assertEqual(alert.duty_step, 1)
        self.assertEqual(len(self.inbox(self.centre_counsellor)), 1)

    def test_nobody_on_duty_routes_as_in_the_day(self):
        alert = Alert.raise_for(self.student_a1, "red", "concern", now=NIGHT_AT)
        self.assertIsNone(alert.duty_step)
        self.assertEqual(len(self.inbox(self.counsellor_a)), 1)

    def test_a_college_b_night_does_not_reach_college_a(self):
        self.put_on(self.college_b, self.outsider_b, DutyRole.FIRST_LINE)
        Alert.raise_for(self.student_a1, "red", "concern", now=NIGHT_AT)
        self.assertEqual(self.inbox(self.outsider_b), [])

    def test_an_inactive_duty_person_is_passed_over(self):
        self.put_on(self.college_a, self.duty_fdy, DutyRole.FIRST_LINE)
        self.duty_fdy.is_active = False
        self.duty_fdy.save()
        alert = Alert.raise_for(self.student_a1, "red", "concern", now=NIGHT_AT)
        self.assertIsNone(alert.duty_step)


class RotaVerbTests(RotaTestCase):
    def shift(self, **kw):
        data = {"unit_id": self.college_a.pk, "date": iso(2), "kind": "night",
                "role": "first_line", "person": str(self.duty_fdy.pk), "phone": ""}
        data.update(kw)
        return actions.ShiftInput(**data)

    def test_director_adds_to_every_college_and_the_school_with_an_audit_row(self):
        shift = actions.add_shift(self.request("director"), self.shift())
        self.assertEqual((shift.unit, shift.person, shift.kind), (self.college_a, self.duty_fdy, "night"))
        self.assertTrue(AuditEvent.objects.filter(action="rota.add", object_id=str(shift.pk),
                                                  actor=self.director).exists())
        actions.add_shift(self.request("director"), self.shift(
            unit_id=self.school.pk, role="centre", person=str(self.centre_counsellor.pk)))
        self.assertEqual([u.code for u in rota.editable_units(self.persona("director"))],
                         ["SCH", "CA", "CB"])

    def test_a_fudaoyuan_keeps_only_their_college(self):
        actions.add_shift(self.request("counsellor_a"), self.shift())
        with self.assertRaises(NotFound):
            actions.add_shift(self.request("counsellor_a"), self.shift(unit_id=self.college_b.pk))
        with self.assertRaises(NotFound):
            actions.add_shift(self.request("head_teacher_a1"), self.shift())
        self.assertTrue(AuditEvent.objects.filter(action="rota.edit", result="denied",
                                                  actor=self.head_teacher_a1).exists())

    def test_the_person_must_fit_the_rung(self):
        # A college-B 辅导员 is no first line for college A; a 辅导员 is no leader on call.
        for kw in ({"person": str(self.outsider_b.pk)}, {"role": "leader"},
                   {"person": str(self.student_a1.user.pk)}, {"person": "x"}):
            with self.assertRaises(Invalid) as caught:
                actions.add_shift(self.request("director"), self.shift(**kw))
            self.assertIn("person", caught.exception.errors)
        for far in (iso(-40), iso(400), "0001-01-01"):
            with self.assertRaises(Invalid) as caught:
                actions.add_shift(self.request("director"), self.shift(date=far))
            self.assertEqual(set(caught.exception.errors), {"date"})
        with self.assertRaises(Invalid) as caught:
            actions.add_shift(self.request("director"), self.shift(date="2026-13-01", kind="noon",
                                                                   role="boss", phone="123"))
        self.assertEqual(set(caught.exception.errors), {"date", "kind", "role", "phone"})

    def test_the_same_person_twice_on_a_shift_is_a_conflict_held_by_the_database(self):
        actions.add_shift(self.request("director"), self.shift())
        with self.assertRaises(Conflict):
            actions.add_shift(self.request("counsellor_a"), self.shift())
        with self.assertRaises(IntegrityError), transaction.atomic():
            self.put_on(self.college_a, self.duty_fdy, DutyRole.CENTRE, date=day(2))
        for bad in ({"kind": "noon"}, {"role": "boss"}):
            with self.assertRaises(IntegrityError), transaction.atomic():
                DutyShift.objects.create(**{"unit": self.college_a, "date": day(3), "kind": "night",
                                            "role": "first_line", "person": self.duty_fdy, **bad})
        self.assertEqual(DutyShift.objects.count(), 1)

    def test_remove_and_the_school_numbers(self):
        shift = actions.add_shift(self.request("director"), self.shift())
        with self.assertRaises(NotFound):
            actions.remove_shift(self.request("outsider_b"), self.college_a.pk, shift.pk)
        actions.remove_shift(self.request("counsellor_a"), self.college_a.pk, shift.pk)
        self.assertFalse(DutyShift.objects.exists())
        self.assertTrue(AuditEvent.objects.filter(action="rota.remove", actor=self.counsellor_a,
                                                  result="allowed").exists())
        with self.assertRaises(NotFound):
            actions.set_duty_line(self.request("counsellor_a"), self.school.pk, night_phone="0571-88886666",
                                  centre_phone="")
        with self.assertRaises(Invalid):
            actions.set_duty_line(self.request("director"), self.school.pk, night_phone="call me",
                                  centre_phone="")
        actions.set_duty_line(self.request("director"), self.school.pk, night_phone="0571-88886666",
                              centre_phone="0571-88881234")
        line = DutyLine.objects.get(school=self.school)
        self.assertEqual((line.night_phone, line.centre_phone), ("0571-88886666", "0571-88881234"))

    def test_set_duty_line_is_the_school_directors(self):
        other = make_staff("T3005", "钱副主任", Role.CENTRE_DIRECTOR, self.college_a)
        req = RequestFactory().get("/")
        req.user = other
        with self.assertRaises(NotFound):  # keeps college A's rota, not the school's
            actions.set_duty_line(req, self.school.pk, night_phone="", centre_phone="")
        with self.assertRaises(NotFound):  # a college has no numbers of its own
            actions.set_duty_line(req, self.college_a.pk, night_phone="", centre_phone="")

    def test_duty_line_of_a_shift_before_the_schools(self):
        DutyLine.objects.create(school=self.school, night_phone="0571-88886666")
        self.assertEqual(rota.duty_line(self.school, NIGHT_AT), "0571-88886666")
        self.put_on(self.school, self.leader, DutyRole.LEADER, phone="13900000008")
        self.put_on(self.school, self.centre_counsellor, DutyRole.CENTRE)
        self.put_on(self.school, self.outsider_b, DutyRole.FIRST_LINE, phone="13900000009")
        self.assertEqual(rota.duty_line(self.school, NIGHT_AT), "13900000009")  # the first line's
        self.assertEqual(rota.duty_line(self.school, DAY_AT), "0571-88886666")

    def test_phone_numbers_are_encrypted_at_rest(self):
        from django.db import connection

        from xinlian.lib.crypto import PREFIX

        DutyLine.objects.create(school=self.school, night_phone="0571-88886666", centre_phone="0571-88881234")
        self.put_on(self.school, self.outsider_b, DutyRole.FIRST_LINE, phone="13900000009")
        with connection.cursor() as cursor:
            cursor.execute("SELECT phone FROM care_dutyshift UNION ALL SELECT night_phone FROM care_dutyline "
                           "UNION ALL SELECT centre_phone FROM care_dutyline")
            stored = [r[0] for r in cursor.fetchall()]
        self.assertEqual(len(stored), 3)
        for value in stored:
            self.assertNotRegex(value, r"1390|0571")
            self.assertTrue(value.startswith(f"{PREFIX}:"), value[:10])


def _xlsx(rows, header=None) -> io.BytesIO:
    wb = Workbook()
    ws = wb.active
    ws.append(header or actions.ROTA_HEADER)
    for r in rows:
        ws.append(r)
    out = io.BytesIO()
    wb.save(out)
    out.seek(0)
    out.name = "rota.xlsx"
    return out


class RotaPageTests(RotaTestCase):
    def setUp(self) -> None:
        self.client.defaults.update(EN)

    def test_the_week_grid_and_adding_through_the_form(self):
        self.login("counsellor_a")
        day = timezone.localdate() + dt.timedelta(days=2)
        response = self.client.post(reverse("rota-add", args=[self.college_a.pk]), {
            "date": day.isoformat(), "kind": "night", "role": "first_line",
            "person": self.duty_fdy.pk, "phone": "13900000009"})
        self.assertEqual(response.status_code, 302)
        page = self.client.get(response["Location"])
        self.assertContains(page, "何值班")
        self.assertContains(page, 'href="tel:13900000009"')
        self.assertContains(page, f'data-date="{day.isoformat()}"')
        month = self.client.get(reverse("rota-unit", args=[self.college_a.pk]) + "?span=month")
        self.assertEqual(month.content.decode().count('class="xl-rota-day'), 28)
        # Wrong input comes back with its message, a duplicate with the conflict's.
        bad = self.client.post(reverse("rota-add", args=[self.college_a.pk]), {
            "date": "soon", "kind": "night", "role": "first_line", "person": self.duty_fdy.pk})
        self.assertContains(bad, "Give the date as YYYY-MM-DD.", status_code=400)
        again = self.client.post(reverse("rota-add", args=[self.college_a.pk]), {
            "date": day.isoformat(), "kind": "night", "role": "first_line", "person": self.duty_fdy.pk})
        self.assertContains(again, "already on this shift", status_code=409)
        shift = DutyShift.objects.get()
        removed = self.client.post(reverse("rota-remove", args=[self.college_a.pk, shift.pk]))
        self.assertEqual(removed.status_code, 302)
        self.assertFalse(DutyShift.objects.exists())

    def test_outsiders_get_404(self):
        self.login("outsider_b")
        self.assertEqual(self.client.get(reverse("rota-unit", args=[self.college_a.pk])).status_code, 404)
        self.assertEqual(self.client.post(reverse("rota-add", args=[self.college_a.pk]), {}).status_code, 404)
        self.login("head_teacher_a1")
        self.assertEqual(self.client.get(reverse("rota")).status_code, 404)

    def test_gap_warning_on_the_rota_page_and_the_home_page(self):
        today = timezone.localdate()
        for i in range(7):
            if i != 3:
                self.put_on(self.college_a, self.duty_fdy, DutyRole.FIRST_LINE, date=today + dt.timedelta(days=i))
        gap_day = today + dt.timedelta(days=3)
        self.assertEqual(rota.gaps([self.college_a], today), [(self.college_a, gap_day)])
        self.login("counsellor_a")
        page = self.client.get(reverse("rota-unit", args=[self.college_a.pk])).content.decode()
        warning = page[page.index('id="rota-gaps"'):]
        self.assertIn(gap_day.strftime("%m-%d"), warning[:warning.index("</section>")])
        home = self.client.get(reverse("home")).content.decode()
        self.assertIn('id="home-duty-gaps"', home)
        self.assertIn(gap_day.strftime("%m-%d"), home)
        # The director is warned of every college and the school.
        self.login("director")
        home = self.client.get(reverse("home")).content.decode()
        for name in ("Demo University", "College A", "College B"):
            self.assertIn(name, home[home.index('id="home-duty-gaps"'):])

    def test_the_school_page_summarises_each_college_in_one_line(self):
        today = timezone.localdate()
        for i in range(7):
            if i != 3:
                self.put_on(self.college_a, self.duty_fdy, DutyRole.FIRST_LINE, date=today + dt.timedelta(days=i))
        self.login("director")
        page = self.client.get(reverse("rota-unit", args=[self.school.pk])).content.decode()
        units = page[page.index('id="rota-gaps-units"'):]
        units = units[:units.index("</ul>")]
        gap_day = today + dt.timedelta(days=3)
        self.assertIn(f'href="{reverse("rota-unit", args=[self.college_a.pk])}"', units)
        self.assertIn("1 night with nobody on duty", units)
        self.assertIn("7 nights with nobody on duty", units)  # college B
        self.assertNotIn(gap_day.strftime("%m-%d"), units)     # the dates stay on the college's page
        own = page[page.index('id="rota-gaps-own"'):]
        self.assertIn("Demo University", own[:own.index("</p>")])
        college = self.client.get(reverse("rota-unit", args=[self.college_a.pk])).content.decode()
        self.assertNotIn('id="rota-gaps-units"', college)
        self.assertIn(gap_day.strftime("%m-%d"), college[college.index('id="rota-gaps-own"'):])
        self.assertEqual(college.count("xl-rota-day xl-gap"), 1)

    def test_a_start_date_the_listing_refuses_is_a_400_with_its_message(self):
        self.login("counsellor_a")
        for bad in ("soon", "1999-01-01"):
            response = self.client.get(reverse("rota-unit", args=[self.college_a.pk]), {"start": bad})
            self.assertEqual(response.status_code, 400)
            self.assertContains(response, "Showing the rota from today.", status_code=400)
            self.assertContains(response, f'data-date="{timezone.localdate().isoformat()}"', status_code=400)

    def test_duty_people_see_their_next_shifts_at_home(self):
        tomorrow = timezone.localdate() + dt.timedelta(days=1)
        self.put_on(self.school, self.centre_counsellor, DutyRole.CENTRE, date=tomorrow, kind=ShiftKind.DAY)
        self.login("centre_counsellor")
        home = self.client.get(reverse("home")).content.decode()
        shifts = home[home.index('id="home-duty-shifts"'):]
        self.assertIn("Daytime duty counsellor", shifts[:400])
        self.assertIn("Centre counsellor on duty", shifts[:400])
        self.assertNotIn("home-duty-gaps", home)  # keeps no rota
        self.login("head_teacher_a1")
        self.assertNotIn("home-duty", self.client.get(reverse("home")).content.decode())

    def test_import_the_shipped_template_filled_in(self):
        self.login("director")
        template = self.client.get(reverse("rota-template"))
        self.assertEqual(template.status_code, 200)
        wb = load_workbook(io.BytesIO(template.content))
        ws = wb.active
        self.assertEqual([c.value for c in ws[1]], actions.ROTA_HEADER)
        ws.delete_rows(2, ws.max_row)
        ws.append(["CA", iso(2), "night", "first_line", "T3001", "13900000009"])
        ws.append(["SCH", day(2), "夜班", "中心值班", "T3002", ""])
        ws.append(["SCH", iso(3), "day", "centre", "T3002", None])
        ws.append(["SCH", iso(5), "周末白班", "带班领导", "T3003", ""])
        out = io.BytesIO()
        wb.save(out)
        out.seek(0)
        out.name = "值班表.xlsx"
        response = self.client.post(reverse("rota-import", args=[self.school.pk]), {"file": out})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(DutyShift.objects.count(), 4)
        self.assertEqual(DutyShift.objects.get(person=self.leader).kind, "weekend_day")
        self.assertTrue(AuditEvent.objects.filter(action="rota.import", result="allowed").exists())

    def test_import_is_all_or_nothing_with_every_row_error(self):
        self.login("counsellor_a")
        upload = _xlsx([
            ["CA", iso(2), "night", "first_line", "T3001", ""],        # fine
            ["CB", iso(2), "night", "first_line", "T1003", ""],        # not their college
            ["CA", iso(2) + "x", "night", "first_line", "T3001", ""],  # a bad date
            ["CA", iso(3), "night", "first_line", "-2+3+cmd|' /C calc'!A0", ""],  # a formula
            ["CA", iso(2), "night", "first_line", "T3001", ""],        # the first row again
            ["CA", iso(4), "night", "leader", "T3001", ""],            # no leader
            ["CA", iso(400), "night", "first_line", "T3001", ""],      # too far ahead
        ])
        response = self.client.post(reverse("rota-import", args=[self.college_a.pk]), {"file": upload})
        self.assertEqual(response.status_code, 400)
        page = response.content.decode()
        for row in (3, 4, 5, 6, 7, 8):
            self.assertIn(f"Row {row}", page)
        self.assertIn("from a month ago to a year ahead", page)
        self.assertNotIn("Row 2", page)
        self.assertIn("must not start like a formula", page)
        self.assertFalse(DutyShift.objects.exists())
        self.assertTrue(AuditEvent.objects.filter(action="rota.import", result="denied").exists())

    def test_import_refuses_other_files(self):
        self.login("counsellor_a")
        url = reverse("rota-import", args=[self.college_a.pk])
        wrong = _xlsx([["CA"]], header=["unit", "date"])
        self.assertContains(self.client.post(url, {"file": wrong}), "Use the rota template", status_code=400)
        junk = io.BytesIO(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
        junk.name = "old.xls"
        self.assertContains(self.client.post(url, {"file": junk}), ".xls", status_code=400)
        empty = _xlsx([])
        self.assertContains(self.client.post(url, {"file": empty}), "no rows", status_code=400)
        self.assertContains(self.client.post(url, {}), "Choose a file", status_code=400)
        self.assertFalse(DutyShift.objects.exists())


class EligibleTests(RotaTestCase):
    def test_the_form_offers_exactly_whom_the_rule_accepts(self):
        for unit in (self.college_a, self.college_b, self.school):
            offered = set(rota.eligible_people(unit))
            accepted = {u for u in (self.duty_fdy, self.centre_counsellor, self.leader, self.counsellor_a,
                                    self.head_teacher_a1, self.outsider_b, self.director,
                                    self.bureau_viewer, self.student_a1.user)
                        if any(rota.may_stand_on(u, unit, r) for r in DutyRole.values)}
            self.assertEqual(offered, accepted, unit.code)
        self.assertNotIn(self.outsider_b, rota.eligible_people(self.college_a))
        self.assertIn(self.outsider_b, rota.eligible_people(self.school))

    def test_the_rota_page_reads_a_bounded_number_of_queries(self):
        for n in range(30):
            make_staff(f"T4{n:03d}", f"教师{n}", Role.HEAD_TEACHER, self.class_a1)
        self.client.force_login(self.director)
        url = reverse("rota-unit", args=[self.college_a.pk])
        self.client.get(url)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as queries:
            self.assertEqual(self.client.get(url).status_code, 200)
        self.assertLess(len(queries), 30)


class GapWarningJobTests(RotaTestCase):
    """The worker's daily warning of rota gaps, at a fixed clock (Tuesday 10:00 Shanghai)."""

    def warnings(self, user) -> list[Delivery]:
        return [d for d in self.inbox(user) if d.message == rota.GAP_WARNING]

    def test_each_keeper_is_warned_once_a_day_with_a_count_and_a_link(self):
        from xinlian.notify.jobs import JOBS

        self.assertIn("rota-gaps", [name for name, _job in JOBS])
        today = DAY_AT.date()
        for i in range(7):  # college A: every night but the fourth
            if i != 3:
                self.put_on(self.college_a, self.duty_fdy, DutyRole.FIRST_LINE, date=today + dt.timedelta(days=i))
        self.assertGreater(rota.warn_of_gaps(DAY_AT), 0)
        [to_fdy] = self.warnings(self.counsellor_a)
        self.assertEqual(to_fdy.params, {"unit": "计算机学院", "nights": 1, "first": "2026-12-11",
                                         "last": "2026-12-11"})
        self.assertEqual(to_fdy.link, reverse("rota-unit", args=[self.college_a.pk]))
        self.assertEqual(to_fdy.text("en"), "Duty rota of 计算机学院: 1 of the next 7 nights have nobody on "
                                            "the first line (2026-12-11 to 2026-12-11). Fill the rota.")
        self.assertIn("计算机学院", to_fdy.text("zh-hans"))
        [to_b] = self.warnings(self.outsider_b)  # college B's 辅导员: their own college only
        self.assertEqual((to_b.params["nights"], to_b.link), (7, reverse("rota-unit", args=[self.college_b.pk])))
        [to_director] = self.warnings(self.director)  # the school's rota (the colleges have keepers)
        self.assertEqual(to_director.link, reverse("rota-unit", args=[self.school.pk]))
        for user in (self.head_teacher_a1, self.duty_fdy, self.leader, self.student_a1.user):
            self.assertEqual(self.warnings(user), [], user.username)
        # No student in it: the rota names staff only.
        for d in Delivery.objects.filter(message=rota.GAP_WARNING):
            self.assertNotIn(self.student_a1.user.full_name, d.text("zh-hans") + d.text("en") + d.link)
        # Again the same day (a second worker, a restart, a later pass): nothing new.
        count = Delivery.objects.count()
        self.assertEqual(rota.warn_of_gaps(DAY_AT + dt.timedelta(hours=5)), 0)
        self.assertEqual(Delivery.objects.count(), count)
        # The next day, again.
        self.assertGreater(rota.warn_of_gaps(DAY_AT + dt.timedelta(days=1)), 0)
        self.assertEqual(len(self.warnings(self.counsellor_a)), 2)

    def test_not_before_office_hours_and_not_for_a_full_rota(self):
        self.assertEqual(rota.warn_of_gaps(DAY_AT.replace(hour=7)), 0)
        self.assertFalse(Delivery.objects.exists())
        today = DAY_AT.date()
        for unit, person in ((self.college_a, self.duty_fdy), (self.college_b, self.outsider_b),
                             (self.school, self.outsider_b)):
            for i in range(7):
                self.put_on(unit, person, DutyRole.FIRST_LINE, date=today + dt.timedelta(days=i))
        self.assertEqual(rota.warn_of_gaps(DAY_AT), 0)
        self.assertFalse(Delivery.objects.exists())

    def test_a_college_without_keepers_warns_the_centre_director_and_email_follows_the_inbox(self):
        from xinlian.network.models import UnitKind

        college_c = self.school.add_unit(kind=UnitKind.COLLEGE, code="CC", name="外语学院", name_en="College C")
        director = self.persona("director")
        director.email = "director@example.edu.cn"
        director.save(update_fields=["email"])
        rota.warn_of_gaps(DAY_AT)
        links = sorted(d.link for d in self.warnings(self.director))
        self.assertEqual(links, sorted([reverse("rota-unit", args=[self.school.pk]),
                                        reverse("rota-unit", args=[college_c.pk])]))
        emails = Delivery.objects.filter(message=rota.GAP_WARNING, channel=Channel.EMAIL)
        self.assertEqual(sorted(d.link for d in emails), links)
        self.assertEqual({d.address for d in emails}, {"director@example.edu.cn"})

    def test_two_workers_write_each_warning_once(self):
        """A worker that wrote part of the day's warnings (and was killed), then two at once."""
        rota.warn_of_gaps(DAY_AT)
        first = set(Delivery.objects.values_list("key", "recipient_id", "link"))
        Delivery.objects.filter(recipient=self.outsider_b).delete()  # as if killed before these
        self.assertEqual(rota.warn_of_gaps(DAY_AT), 1)
        self.assertEqual(set(Delivery.objects.values_list("key", "recipient_id", "link")), first)
        # Two workers racing: the second one's insert meets the first one's keys and adds nothing.
        Delivery.objects.filter(recipient=self.outsider_b).delete()
        rows = [Delivery(key=k, channel=Channel.INBOX, recipient_id=r, message=rota.GAP_WARNING, link=link,
                         status="sent") for k, r, link in first if r == self.outsider_b.pk]
        Delivery.objects.bulk_create(rows)  # the other worker's, written after our check
        Delivery.objects.bulk_create(rows, ignore_conflicts=True)  # ours: no error, no second row
        self.assertEqual(set(Delivery.objects.values_list("key", "recipient_id", "link")), first)


class HolidayTests(RotaTestCase):
    """A weekday public holiday is a day off: out of hours, its daytime shift is the weekend one."""

    def test_a_weekday_holiday_routes_to_the_weekend_day_shift(self):
        from xinlian.notify.models import Holiday

        tuesday = DAY_AT.date()
        self.put_on(self.college_a, self.duty_fdy, DutyRole.FIRST_LINE, date=tuesday, kind=ShiftKind.WEEKEND_DAY)
        # The centre's usual Tuesday daytime duty: not on duty on a holiday (the centre is closed).
        self.put_on(self.school, self.centre_counsellor, DutyRole.CENTRE, date=tuesday, kind=ShiftKind.DAY)
        self.assertFalse(rota.is_day_off(tuesday))
        Alert.raise_for(self.student_a1, "red", "concern", now=DAY_AT)
        self.assertEqual(self.inbox(self.duty_fdy), [])  # an ordinary Tuesday: office hours
        Holiday.objects.create(date=tuesday, kind="holiday", note="元旦")
        self.assertTrue(rota.is_day_off(tuesday))
        self.assertEqual(rota.shifts_at(DAY_AT), [(tuesday, ShiftKind.WEEKEND_DAY)])
        chain = rota.on_duty([self.college_a, self.school], DAY_AT)
        self.assertEqual((chain[DutyRole.FIRST_LINE], chain[DutyRole.CENTRE]), ([self.duty_fdy], []))
        Alert.raise_for(self.student_a1, "red", "concern", now=DAY_AT)
        self.assertEqual(len(self.inbox(self.duty_fdy)), 1)

    def test_a_make_up_workday_is_a_workday(self):
        from xinlian.notify.models import Holiday

        saturday = dt.date(2026, 12, 12)
        self.assertTrue(rota.is_day_off(saturday))
        Holiday.objects.create(date=saturday, kind="workday", note="调休")
        self.assertFalse(rota.is_day_off(saturday))
        self.assertEqual(rota.shifts_at(dt.datetime(2026, 12, 12, 10, 0, tzinfo=SH)), [(saturday, ShiftKind.DAY)])
