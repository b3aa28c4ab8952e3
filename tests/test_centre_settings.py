"""The centre's settings in the product (issues 10 and 14): alert levels and deadlines, channels
by level, office hours with the holiday calendar, help and hotline — each a verb with a
capability check, a scope, validation and an audit row, the pages adapters over them — and each
person's own notification settings with a test message through the outbox.

Clocks are fixed: every office-hours assertion passes an explicit Asia/Shanghai datetime."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.test import RequestFactory, override_settings
from django.urls import reverse
from django.utils import timezone, translation

from xinlian.access.models import AuditEvent, AuditResult
from xinlian.care import levels as care_levels
from xinlian.care.models import Alert, LevelSetting
from xinlian.lib.actions import Invalid, NotAllowed, NotFound
from xinlian.network.models import Role, Unit, UnitKind, User
from xinlian.notify import actions as notify_actions
from xinlian.notify.hours import is_holiday, is_out_of_hours, next_office_hours_start
from xinlian.notify.models import (
    Channel,
    ChannelPolicy,
    DayKind,
    Delivery,
    DeliveryStatus,
    Holiday,
    OfficeHours,
)
from xinlian.notify.sending import send_due
from xinlian.screening import settings_actions as help_actions
from xinlian.screening.models import CentreSettings

from .base import NetworkTestCase, make_staff
from .personal_receivers import AliyunSmsServer, WeComServer, settings_for

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


class SettingsTestCase(NetworkTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.admin_user = User.objects.create_superuser(username="root", password="x", full_name="管理员")

    def setUp(self) -> None:
        self.client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    @property
    def other_school(self) -> Unit:
        """A second school under the bureau, made on first use: with it, this installation
        serves two schools (one per installation is the default of these tests)."""
        if not hasattr(self, "_other_school"):
            self._other_school = self.bureau.add_unit(kind=UnitKind.SCHOOL, code="SCH2", name="第二中学",
                                                      name_en="Second School")
            make_staff("T2004", "孙主任", Role.CENTRE_DIRECTOR, self._other_school)
        return self._other_school

    def request_as(self, name_or_user):
        user = self.persona(name_or_user) if isinstance(name_or_user, str) else name_or_user
        request = RequestFactory().post("/")
        request.user = user
        return request

    def audits(self, action: str, result: str = AuditResult.ALLOWED):
        return AuditEvent.objects.filter(action=action, result=result)


# --- alert levels and deadlines ------------------------------------------------------------------


class LevelVerbTests(SettingsTestCase):
    GOOD = {"name": "一级（红）", "name_en": "Level 1", "colour": "#AA0000", "ack_hours": "1",
            "ack_minutes": "15", "follow_up_days": "2"}

    def test_the_director_renames_recolours_and_retimes_a_level(self):
        setting = care_levels.set_level(self.request_as("director"), "red", self.GOOD)
        self.assertEqual((setting.name, setting.colour, setting.ack_minutes, setting.follow_up_days),
                         ("一级（红）", "#aa0000", 75, 2))
        row = self.audits("settings.level").get()
        self.assertEqual(row.actor_id, self.director.pk)
        self.assertIn("ack_minutes 30->75", row.detail)

    def test_an_administrator_may_too(self):
        care_levels.set_level(self.request_as(self.admin_user), "yellow", self.GOOD)
        self.assertEqual(LevelSetting.for_level("yellow").ack_minutes, 75)

    def test_others_are_refused_with_an_audit_row(self):
        for persona in ("counsellor_a", "head_teacher_a1", "student_a1_user", "bureau_viewer"):
            with self.subTest(persona=persona), self.assertRaises(NotAllowed):
                care_levels.set_level(self.request_as(persona), "red", self.GOOD)
        self.assertEqual(LevelSetting.for_level("red").ack_minutes, 30)
        self.assertEqual(self.audits("settings.level", AuditResult.DENIED).count(), 4)

    def test_bad_input_names_each_field_and_writes_nothing(self):
        bad = {"name": "", "name_en": "x" * 33, "colour": "red", "ack_hours": "0", "ack_minutes": "0",
               "follow_up_days": "0"}
        with self.assertRaises(Invalid) as caught:
            care_levels.set_level(self.request_as("director"), "red", bad)
        self.assertEqual(set(caught.exception.errors),
                         {"name", "name_en", "colour", "ack_minutes", "follow_up_days"})
        for hours, minutes in (("abc", "0"), ("1", "60"), ("721", "0"), ("-1", "0"), ("１", "0")):
            with self.subTest(hours=hours, minutes=minutes), self.assertRaises(Invalid):
                care_levels.set_level(self.request_as("director"), "red",
                                      {**self.GOOD, "ack_hours": hours, "ack_minutes": minutes})
        with self.assertRaises(Invalid):
            care_levels.set_level(self.request_as("director"), "purple", self.GOOD)
        self.assertEqual(LevelSetting.for_level("red").ack_minutes, 30)
        self.assertFalse(self.audits("settings.level").exists())

    def test_open_alerts_keep_their_deadline_the_next_step_gets_the_new_one(self):
        """What the help text promises: the deadline is per step; an open alert keeps its own."""
        alert = Alert.raise_for(self.student_a1, "red", "concern")
        due = alert.due_at
        self.assertAlmostEqual((due - alert.created_at).total_seconds(), 30 * 60, delta=1)
        care_levels.set_level(self.request_as("director"), "red", {**self.GOOD, "ack_hours": "0",
                                                                     "ack_minutes": "20"})
        alert.refresh_from_db()
        self.assertEqual(alert.due_at, due)
        self.assertEqual(care_levels.open_alert_counts(), {"red": 1})
        now = timezone.now()
        alert.escalate(now)
        self.assertEqual(alert.due_at, now + dt.timedelta(minutes=20))
        fresh = Alert.raise_for(self.student_a2, "red", "concern")
        self.assertAlmostEqual((fresh.due_at - fresh.created_at).total_seconds(), 20 * 60, delta=1)


# --- channels ----------------------------------------------------------------------------------------


class ChannelVerbTests(SettingsTestCase):
    def test_the_policy_is_saved_and_audited(self):
        data = {"email": "in_hours", "push": "always", "sms": "out_hours", "sms_after_minutes": "15",
                "hold_in_quiet_hours": "on"}
        policy = notify_actions.set_channel_policy(self.request_as("director"), "orange", data)
        policy.refresh_from_db()
        self.assertEqual((policy.email, policy.push, policy.sms, policy.sms_after_minutes,
                          policy.hold_in_quiet_hours), ("in_hours", "always", "out_hours", 15, True))
        self.assertIn("sms_after_minutes=15", self.audits("settings.channels").get().detail)

    def test_bad_input_and_unsafe_red_are_refused(self):
        red = ChannelPolicy.for_level("red")
        cases = [
            ("orange", {"email": "sometimes", "push": "always", "sms": "always", "sms_after_minutes": "1"}, "email"),
            ("orange", {"email": "always", "push": "always", "sms": "always", "sms_after_minutes": "-5"},
             "sms_after_minutes"),
            ("orange", {"email": "always", "push": "always", "sms": "always", "sms_after_minutes": "1441"},
             "sms_after_minutes"),
            ("red", {"email": "always", "push": "always", "sms": "always", "sms_after_minutes": "0",
                     "hold_in_quiet_hours": "on"}, "hold_in_quiet_hours"),
            ("red", {"email": "always", "push": "never", "sms": "never", "sms_after_minutes": "0"}, "push"),
        ]
        for level, data, field in cases:
            with self.subTest(field=field), self.assertRaises(Invalid) as caught:
                notify_actions.set_channel_policy(self.request_as("director"), level, data)
            self.assertIn(field, caught.exception.errors)
        red.refresh_from_db()
        self.assertFalse(red.hold_in_quiet_hours)
        self.assertEqual(ChannelPolicy.for_level("orange").sms_after_minutes, 10)
        with self.assertRaises(NotAllowed):
            notify_actions.set_channel_policy(self.request_as("outsider_b"), "orange",
                                              {"email": "always", "push": "always", "sms": "always"})


# --- office hours and the holiday calendar -----------------------------------------------------


class OfficeHoursVerbTests(SettingsTestCase):
    def test_hours_are_saved_in_the_one_row(self):
        notify_actions.set_office_hours(self.request_as("director"), start="09:00", end="17:30",
                                        weekdays=["1", "2", "3", "4", "5", "6"])
        row = OfficeHours.objects.get()
        self.assertEqual((row.start, row.end, row.weekdays), (dt.time(9), dt.time(17, 30), "1,2,3,4,5,6"))
        self.assertFalse(is_out_of_hours(at(2026, 12, 12, 10, 0)))  # a Saturday, now an office day
        self.assertTrue(is_out_of_hours(at(2026, 12, 11, 17, 30)))
        self.assertTrue(self.audits("settings.hours").exists())

    def test_bad_hours_are_refused_and_nothing_changes(self):
        for start, end, days, field in (("18:00", "08:00", ["1"], "end"), ("8am", "18:00", ["1"], "start"),
                                        ("08:00", "18:00", [], "weekdays"), ("08:00", "18:00", ["8"], "weekdays")):
            with self.subTest(field=field), self.assertRaises(Invalid) as caught:
                notify_actions.set_office_hours(self.request_as("director"), start=start, end=end, weekdays=days)
            self.assertIn(field, caught.exception.errors)
        self.assertEqual(OfficeHours.objects.get().weekdays, "1,2,3,4,5")


class HolidayCalendarTests(SettingsTestCase):
    """Fixed dates around 2027's Spring Festival: 2027-02-06 (Sat) a make-up workday, 2027-02-08
    (Mon) to 2027-02-12 (Fri) holidays."""

    def setUp(self) -> None:
        super().setUp()
        OfficeHours.objects.update(start=dt.time(8), end=dt.time(18), weekdays="1,2,3,4,5")

    def test_a_holiday_has_no_office_hours_and_a_make_up_day_has_them(self):
        request = self.request_as("director")
        self.assertFalse(is_out_of_hours(at(2027, 2, 8, 10, 0)))  # an ordinary Monday, for now
        self.assertTrue(is_out_of_hours(at(2027, 2, 6, 10, 0)))  # an ordinary Saturday
        notify_actions.add_holiday(request, date="2027-02-08", kind="holiday", note="春节")
        notify_actions.add_holiday(request, date="2027-02-06", kind="workday")
        self.assertTrue(is_holiday(dt.date(2027, 2, 8)))
        self.assertFalse(is_holiday(dt.date(2027, 2, 6)))
        self.assertFalse(is_holiday(dt.date(2027, 2, 9)))
        self.assertTrue(is_out_of_hours(at(2027, 2, 8, 10, 0)))
        self.assertFalse(is_out_of_hours(at(2027, 2, 6, 10, 0)))
        self.assertTrue(is_out_of_hours(at(2027, 2, 6, 19, 0)))  # a make-up day ends at 18:00 too
        # 02:00 UTC on the make-up Saturday is 10:00 in Shanghai.
        self.assertFalse(is_out_of_hours(dt.datetime(2027, 2, 6, 2, 0, tzinfo=dt.UTC)))

    def test_next_office_hours_start_skips_holidays_and_counts_make_up_days(self):
        request = self.request_as("director")
        # Friday evening 2027-02-05: without a calendar, Monday 08:00.
        self.assertEqual(next_office_hours_start(at(2027, 2, 5, 19, 0)), at(2027, 2, 8, 8, 0))
        notify_actions.import_holidays(request, "\n".join(
            ["2027-02-06 workday 调休"] + [f"2027-02-{d:02d} holiday 春节" for d in range(8, 13)]))
        self.assertEqual(next_office_hours_start(at(2027, 2, 5, 19, 0)), at(2027, 2, 6, 8, 0))
        # Saturday evening: the holidays run to Friday 12th, the weekend follows: Monday 15th.
        self.assertEqual(next_office_hours_start(at(2027, 2, 6, 19, 0)), at(2027, 2, 15, 8, 0))
        self.assertEqual(next_office_hours_start(at(2027, 2, 10, 3, 0)), at(2027, 2, 15, 8, 0))
        inside = at(2027, 2, 6, 9, 0)
        self.assertEqual(next_office_hours_start(inside), inside)

    def test_a_quiet_hours_hold_waits_past_the_holiday(self):
        """The fan-out's hold (yellow: e-mail held in quiet hours) uses the calendar."""
        notify_actions.add_holiday(self.request_as("director"), date="2027-02-08")
        self.assertTrue(ChannelPolicy.for_level("yellow").hold_in_quiet_hours)
        self.assertEqual(next_office_hours_start(at(2027, 2, 7, 12, 0)), at(2027, 2, 9, 8, 0))

    def test_a_holiday_daytime_alert_reaches_the_person_on_duty(self):
        """The rota's routing asks is_out_of_hours: on a holiday the day is "out of hours", so a red
        alert at 10:00 also reaches the first line on duty (2027-10-01 is a Friday)."""
        from xinlian.care.models import AlertDuty, DutyRole, DutyShift, ShiftKind

        duty = make_staff("T3001", "何值班", Role.HEAD_TEACHER, self.class_a2)
        DutyShift.objects.create(unit=self.college_a, date=dt.date(2027, 10, 1), kind=ShiftKind.WEEKEND_DAY,
                                 role=DutyRole.FIRST_LINE, person=duty)
        ordinary = Alert.raise_for(self.student_a1, "red", "concern", now=at(2027, 10, 1, 10, 0))
        self.assertFalse(AlertDuty.objects.filter(alert=ordinary).exists())
        notify_actions.add_holiday(self.request_as("director"), date="2027-10-01", note="国庆")
        holiday = Alert.raise_for(self.student_a2, "red", "concern", now=at(2027, 10, 1, 10, 0))
        self.assertEqual(list(AlertDuty.objects.filter(alert=holiday).values_list("person_id", flat=True)),
                         [duty.pk])
        self.assertTrue(Delivery.objects.filter(recipient=duty, channel=Channel.INBOX,
                                                link=holiday.get_absolute_url()).exists())

    def test_import_is_all_or_nothing_with_each_bad_line_named(self):
        request = self.request_as("director")
        with self.assertRaises(Invalid) as caught, translation.override("en"):
            notify_actions.import_holidays(request, "2027-01-01\n2027-02-30\n# a comment\n2027-01-01\nsoon\n"
                                                    "2027-02-06 maybe")
        problems = caught.exception.errors["text"]
        self.assertEqual(len(problems), 4)
        self.assertTrue(problems[0].startswith("Line 2:"))
        self.assertIn("listed twice", problems[1])
        self.assertIn("write holiday (休) or workday (班)", problems[3])  # "maybe" is no kind
        self.assertFalse(Holiday.objects.exists())
        with self.assertRaises(Invalid):
            notify_actions.import_holidays(request, "  \n")
        rows = notify_actions.import_holidays(request, "2027-01-01\n2027/10/1 休 国庆\n2027-09-26 班")
        self.assertEqual([(r.date.isoformat(), r.kind) for r in rows],
                         [("2027-01-01", "holiday"), ("2027-09-26", "workday"), ("2027-10-01", "holiday")])
        self.assertEqual(Holiday.objects.get(date="2027-10-01").note, "国庆")
        self.assertIn("3 dates", self.audits("settings.holiday.import").get().detail)

    def test_add_changes_a_date_already_there_and_remove_removes_it(self):
        request = self.request_as("director")
        notify_actions.add_holiday(request, date="2027-05-01")
        row = notify_actions.add_holiday(request, date="2027-05-01", kind=DayKind.WORKDAY)
        self.assertEqual(Holiday.objects.get().kind, DayKind.WORKDAY)
        notify_actions.remove_holiday(request, str(row.pk))
        self.assertFalse(Holiday.objects.exists())
        with self.assertRaises(Invalid):
            notify_actions.remove_holiday(request, str(row.pk))
        for date in ("2027-13-01", "tomorrow", "1999-01-01"):
            with self.subTest(date=date), self.assertRaises(Invalid):
                notify_actions.add_holiday(request, date=date)
        with self.assertRaises(NotAllowed):
            notify_actions.add_holiday(self.request_as("counsellor_a"), date="2027-05-01")
        self.assertEqual(self.audits("settings.holiday.remove").count(), 1)


# --- help and hotline ------------------------------------------------------------------------------


class PhoneValidationTests(SettingsTestCase):
    def test_accepted_and_refused_numbers(self):
        for value in ("13800000000", "+86 138 0000 0000", "0571-88886666", "010-62700000", "010-6270 0000",
                      "(0571) 8888 6666", "12356", "110", "400-123-4567", "4001234567", "800 820 8820", "95588"):
            with self.subTest(value=value):
                self.assertIsNone(notify_actions.phone_error(value, service=True))
        for value in ("12345abc", "1380000000", "23800000000", "5712345", "+1 415 555 0100", "12", "0571",
                      "400-123", "https://x.cn"):
            with self.subTest(value=value):
                self.assertIsNotNone(notify_actions.phone_error(value, service=True))
        self.assertIsNotNone(notify_actions.phone_error("12356"))  # a person's own number is no service number


class HelpVerbTests(SettingsTestCase):
    DATA = {"help_phone": "0571-88881234", "help_hours": "周一至周五 8:30–17:30", "help_place": "学生活动中心 3 楼",
            "help_text": "", "hotline": "400-161-9995"}

    def test_the_director_sets_the_help_of_their_school(self):
        settings_row = help_actions.set_help(self.request_as("director"), self.school.pk, self.DATA)
        self.assertEqual(CentreSettings.for_school(self.school).hotline_number, "400-161-9995")
        self.assertEqual(settings_row.help_phone, "0571-88881234")
        row = self.audits("settings.help").get()
        self.assertEqual(row.object_id, str(self.school.pk))

    def test_another_school_is_not_found(self):
        with self.assertRaises(NotFound):
            help_actions.set_help(self.request_as("director"), self.other_school.pk, self.DATA)
        with self.assertRaises(NotFound):
            help_actions.set_help(self.request_as("director"), "not-an-id", self.DATA)
        self.assertFalse(CentreSettings.objects.exists())
        self.assertEqual(self.audits("settings.help", AuditResult.DENIED).count(), 2)
        # The administrator keeps every school's.
        help_actions.set_help(self.request_as(self.admin_user), self.other_school.pk, self.DATA)
        self.assertTrue(CentreSettings.objects.filter(school=self.other_school).exists())

    def test_bad_numbers_are_refused_and_an_empty_hotline_is_12356(self):
        with self.assertRaises(Invalid) as caught:
            help_actions.set_help(self.request_as("director"), self.school.pk,
                                  {**self.DATA, "help_phone": "call us", "hotline": "1235"})
        self.assertEqual(set(caught.exception.errors), {"help_phone", "hotline"})
        self.assertFalse(CentreSettings.objects.exists())
        help_actions.set_help(self.request_as("director"), self.school.pk, {**self.DATA, "hotline": ""})
        self.assertEqual(CentreSettings.objects.get().hotline, "12356")
        with self.assertRaises(NotAllowed):
            help_actions.set_help(self.request_as("counsellor_a"), self.school.pk, self.DATA)


# --- the pages -------------------------------------------------------------------------------------------


PAGES = ("settings-levels", "settings-channels", "settings-hours", "settings-help")


class SettingsPageTests(SettingsTestCase):
    def test_the_director_opens_every_section_others_get_403(self):
        self.login("director")
        for name in PAGES:
            with self.subTest(name=name):
                response = self.client.get(reverse(name))
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, 'id="settings-tabs"')
        for persona in ("counsellor_a", "head_teacher_a1", "committee_a1", "student_a1_user", "bureau_viewer"):
            self.login(persona)
            for name in PAGES:
                with self.subTest(persona=persona, name=name):
                    self.assertEqual(self.client.get(reverse(name)).status_code, 403)
                    self.assertEqual(self.client.post(reverse(name), {"level": "red"}).status_code, 403)
        self.client.logout()
        self.assertRedirects(self.client.get(reverse("settings-levels")),
                             f"{reverse('login')}?next={reverse('settings-levels')}")

    def test_the_navbar_offers_settings_to_the_director_only(self):
        self.login("director")
        self.assertContains(self.client.get(reverse("home")), f'href="{reverse("settings-levels")}"')
        self.login("counsellor_a")
        home = self.client.get(reverse("home"))
        self.assertNotContains(home, f'href="{reverse("settings-levels")}"')
        self.assertContains(home, f'href="{reverse("my-notifications")}"')

    def test_levels_page_explains_the_deadline_and_saves(self):
        self.login("director")
        page = self.client.get(reverse("settings-levels"))
        self.assertContains(page, "The deadline is per step.")
        self.assertContains(page, "alerts already open keep the deadline they were given")
        response = self.client.post(reverse("settings-levels"), {
            "level": "orange", "name": "二级", "name_en": "Level 2", "colour": "#e17055",
            "ack_hours": "12", "ack_minutes": "0", "follow_up_days": "7"})
        self.assertRedirects(response, reverse("settings-levels"))
        self.assertEqual(LevelSetting.for_level("orange").ack_minutes, 12 * 60)
        bad = self.client.post(reverse("settings-levels"), {
            "level": "orange", "name": "二级", "name_en": "Level 2", "colour": "orange",
            "ack_hours": "0", "ack_minutes": "0", "follow_up_days": "7"})
        self.assertEqual(bad.status_code, 400)
        self.assertContains(bad, "Enter a colour as #rrggbb.", status_code=400)
        self.assertContains(bad, "A step needs at least one minute", status_code=400)
        self.assertContains(bad, 'value="orange"', status_code=400)  # what was typed stays
        self.assertEqual(LevelSetting.for_level("orange").ack_minutes, 12 * 60)

    def test_messages_are_chinese_by_default(self):
        self.client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
        self.login("director")
        page = self.client.get(reverse("settings-levels"))
        self.assertContains(page, "每一级的签收时限")
        bad = self.client.post(reverse("settings-help"), {"school": self.school.pk, "help_phone": "abc",
                                                          "hotline": "12356"})
        self.assertContains(bad, "请输入电话号码", status_code=400)

    def test_channels_page_saves_and_shows_errors(self):
        self.login("director")
        response = self.client.post(reverse("settings-channels"), {
            "level": "yellow", "email": "in_hours", "push": "never", "sms": "never", "sms_after_minutes": "0"})
        self.assertRedirects(response, reverse("settings-channels"))
        self.assertFalse(ChannelPolicy.for_level("yellow").hold_in_quiet_hours)
        bad = self.client.post(reverse("settings-channels"), {
            "level": "red", "email": "always", "push": "always", "sms": "always", "sms_after_minutes": "0",
            "hold_in_quiet_hours": "on"})
        self.assertContains(bad, "A red alert is never held until office hours.", status_code=400)

    def test_hours_page_saves_hours_and_edits_the_calendar(self):
        self.login("director")
        url = reverse("settings-hours")
        self.assertRedirects(self.client.post(url, {"op": "hours", "start": "08:30", "end": "17:30",
                                                    "weekdays": ["1", "2", "3", "4", "5"]}), url)
        self.assertEqual(OfficeHours.objects.get().start, dt.time(8, 30))
        self.assertRedirects(self.client.post(url, {"op": "add", "date": "2027-01-01", "kind": "holiday",
                                                    "note": "元旦"}), url)
        bad = self.client.post(url, {"op": "import", "text": "2027-02-11\nnext week"})
        self.assertContains(bad, "Line 2:", status_code=400)
        self.assertContains(bad, "next week", status_code=400)  # the pasted text stays
        self.assertEqual(Holiday.objects.count(), 1)
        self.assertRedirects(self.client.post(url, {"op": "import", "text": "2027-02-11\n2027-02-07 workday"}), url)
        page = self.client.get(url)
        self.assertContains(page, 'data-date="2027-02-07" data-kind="workday"')
        holiday = Holiday.objects.get(date="2027-01-01")
        self.assertRedirects(self.client.post(url, {"op": "remove", "holiday": holiday.pk}), url)
        again = self.client.post(url, {"op": "remove", "holiday": holiday.pk})
        self.assertContains(again, "no longer in the calendar", status_code=400)
        self.assertEqual(self.client.post(url, {"op": "nonsense"}).status_code, 400)
        bad_hours = self.client.post(url, {"op": "hours", "start": "18:00", "end": "08:00", "weekdays": ["1"]})
        self.assertContains(bad_hours, "Office hours must end after they begin.", status_code=400)

    def test_help_page_for_their_school_only(self):
        self.login("director")
        url = reverse("settings-help")
        response = self.client.post(url, {"school": self.school.pk, **HelpVerbTests.DATA})
        self.assertRedirects(response, f"{url}?school={self.school.pk}")
        self.assertContains(self.client.get(url), "400-161-9995")
        self.assertEqual(self.client.get(url, {"school": self.other_school.pk}).status_code, 404)
        self.assertEqual(self.client.post(url, {"school": self.other_school.pk, **HelpVerbTests.DATA}).status_code, 404)
        bad = self.client.post(url, {"school": self.school.pk, **HelpVerbTests.DATA, "hotline": "hotline"})
        self.assertContains(bad, "a service number (12356, 400-123-4567)", status_code=400)

    def test_an_administrator_chooses_the_school(self):
        self.client.force_login(self.admin_user)
        page = self.client.get(reverse("settings-help"), {"school": self.other_school.pk})
        self.assertContains(page, "Second School")
        self.assertContains(page, f'href="?school={self.school.pk}"')


# --- my notifications ------------------------------------------------------------------------------------


class MyNotificationsTests(SettingsTestCase):
    def test_any_user_sets_their_channels_the_number_is_encrypted_and_not_audited(self):
        self.login("head_teacher_a1")
        url = reverse("my-notifications")
        response = self.client.post(url, {"wecom_userid": "wulaoshi", "dingtalk_userid": "",
                                          "phone": "138 0013 8000"})
        self.assertRedirects(response, url)
        user = User.objects.get(pk=self.head_teacher_a1.pk)
        self.assertEqual((user.wecom_userid, user.phone), ("wulaoshi", "13800138000"))
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT phone FROM {User._meta.db_table} WHERE id = %s", [user.pk])
            stored = cursor.fetchone()[0]
        self.assertNotIn("13800138000", stored)
        row = self.audits("me.channels").get()
        self.assertEqual(row.detail, "wecom_userid,phone")
        self.assertNotIn("13800138000", f"{row.detail} {row.object_id}")
        self.assertContains(self.client.get(url), 'value="13800138000"')

    def test_bad_ids_and_numbers_are_refused(self):
        self.login("student_a1_user")
        response = self.client.post(reverse("my-notifications"), {"wecom_userid": "有空格 的", "dingtalk_userid": "a" * 65,
                                                                  "phone": "12345"})
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "A user id has 1 to 64 letters", count=2, status_code=400)
        self.assertContains(response, "Enter a phone number", status_code=400)
        user = User.objects.get(pk=self.student_a1.user.pk)
        self.assertEqual((user.wecom_userid, user.dingtalk_userid, user.phone), ("", "", ""))
        self.assertFalse(self.audits("me.channels").exists())

    def test_the_page_shows_what_reaches_them_at_night(self):
        self.login("counsellor_a")
        page = self.client.get(reverse("my-notifications"))
        self.assertContains(page, 'id="reach-nothing"')
        user = self.persona("counsellor_a")
        user.wecom_userid, user.phone = "zhoufudao", "13800000001"
        user.save()
        with WeComServer(users=("zhoufudao",)) as wecom, AliyunSmsServer() as sms, \
                override_settings(**settings_for(wecom=wecom, sms=sms)):
            reach = {r.level: r for r in notify_actions.reach_at_night(user)}
            page = self.client.get(reverse("my-notifications"))
        self.assertNotContains(page, 'id="reach-nothing"')
        self.assertEqual(reach["red"].channels, ["In-app inbox", "WeCom (企业微信) message", "SMS"])
        self.assertEqual(reach["red"].sms_after_minutes, 0)
        self.assertEqual(reach["orange"].sms_after_minutes, 10)
        self.assertEqual(reach["yellow"].channels, ["In-app inbox"])  # no e-mail address
        self.assertContains(page, "SMS only if not acknowledged within 10 minutes")

    def test_a_test_message_goes_through_the_outbox_to_each_channel(self):
        user = self.persona("counsellor_a")
        user.wecom_userid, user.phone = "zhoufudao", "13800000001"
        user.save()
        self.login("counsellor_a")
        with WeComServer(users=("zhoufudao",)) as wecom, AliyunSmsServer() as sms, \
                override_settings(**settings_for(wecom=wecom, sms=sms)):
            response = self.client.post(reverse("my-notifications-test"))
            self.assertRedirects(response, reverse("my-notifications"))
            queued = Delivery.objects.filter(recipient=user, message=notify_actions.TEST_MESSAGE)
            self.assertEqual(sorted(queued.values_list("channel", flat=True)), [Channel.SMS, Channel.WECOM_APP])
            for _ in range(3):
                if not send_due():
                    break
            again = self.client.post(reverse("my-notifications-test"))
            self.assertContains(again, "less than five minutes ago", status_code=409)
        self.assertEqual(set(queued.values_list("status", flat=True)), {DeliveryStatus.SENT})
        self.assertEqual([h.body["touser"] for h in wecom.messages], ["zhoufudao"])
        self.assertIn("College A", wecom.messages[0].body["textcard"]["description"])  # the place, in the requester's language
        self.assertNotIn(self.student_a1.user.full_name, wecom.messages[0].body["textcard"]["description"])
        self.assertEqual([h.query["PhoneNumbers"] for h in sms.messages], ["13800000001"])
        self.assertEqual(self.audits("me.test_message").get().detail, "wecom_app,sms")
        self.assertEqual(queued.count(), 2)

    def test_nothing_to_test_is_a_clear_message(self):
        self.login("committee_a1")
        response = self.client.post(reverse("my-notifications-test"))
        self.assertContains(response, "Nothing to test", status_code=400)
        self.assertFalse(Delivery.objects.exists())
        with self.assertRaises(Invalid):
            notify_actions.send_test_message(self.request_as("committee_a1"))


class SeveralSchoolsTests(SettingsTestCase):
    """One installation serving several schools (a bureau's): levels, channels, office hours and
    holidays are shared, so one school's director may not change them; an administrator may."""

    def test_a_directors_change_of_shared_settings_is_refused_and_audited(self):
        self.assertTrue(self.other_school)
        for verb, action in (
                (lambda r: care_levels.set_level(r, "red", LevelVerbTests.GOOD), "settings.level"),
                (lambda r: notify_actions.set_office_hours(r, start="08:00", end="17:00", weekdays=["1", "2", "3", "4", "5"]),
                 "settings.hours"),
                (lambda r: notify_actions.add_holiday(r, date="2027-01-01"), "settings.holiday")):
            with self.assertRaises(NotAllowed):
                verb(self.request_as("director"))
            self.assertTrue(self.audits(action, AuditResult.DENIED).exists())
            verb(self.request_as(self.admin_user))  # the administrator keeps them
        self.assertEqual(LevelSetting.for_level("red").name, LevelVerbTests.GOOD["name"])

    def test_the_page_says_so_before_the_director_tries(self):
        self.assertTrue(self.other_school)
        self.login("director")
        body = self.client.get(reverse("settings-levels")).content.decode()
        self.assertIn('id="installation-locked"', body)
        self.assertNotIn('id="installation-locked"', self.client.get(reverse("settings-help")).content.decode())
        response = self.client.post(reverse("settings-levels"), {"level": "red", **LevelVerbTests.GOOD})
        self.assertEqual(response.status_code, 403)

    def test_alone_the_director_keeps_them(self):
        self.login("director")
        self.assertNotIn('id="installation-locked"', self.client.get(reverse("settings-levels")).content.decode())
