"""The urgent path shows numbers to call: the reporter's confirmation after an urgent concern,
and the student's thank-you page after a screening out of hours.

"Now" is made night or day the way a centre would: by its office hours (notify's OfficeHours),
which :func:`xinlian.notify.hours.is_out_of_hours` and the rota read."""

from __future__ import annotations

import datetime as dt
import re
import uuid

from django.urls import reverse
from django.utils import timezone

from xinlian.care import rota
from xinlian.care.models import Concern, DutyLine, DutyRole, DutyShift, ShiftKind
from xinlian.network.models import Post, Role
from xinlian.notify.hours import is_out_of_hours, local
from xinlian.notify.models import OfficeHours
from xinlian.screening.models import Assignment

from .screening_base import ScreeningTestCase

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
FDY_PHONE = "13800000001"
HT_PHONE = "13800000002"
NIGHT_LINE = "0571-88886666"
CENTRE_PHONE = "0571-88881234"


def make_night() -> dt.date:
    """Office hours that ended a minute after midnight (or begin a minute from now, just after
    midnight): now is out of hours. Returns the date of the night shift running now."""
    OfficeHours.objects.all().delete()  # one row holds the centre's hours
    now = local()
    if now.time() >= dt.time(0, 1):
        OfficeHours.objects.create(start=dt.time(0, 0), end=dt.time(0, 1), weekdays="1,2,3,4,5,6,7")
    else:
        OfficeHours.objects.create(start=dt.time(0, 2), end=dt.time(0, 3), weekdays="1,2,3,4,5,6,7")
    assert is_out_of_hours()
    return rota.shifts_at()[0][0]


def make_day() -> None:
    OfficeHours.objects.all().delete()
    OfficeHours.objects.create(start=dt.time(0, 0), end=dt.time(23, 59, 59), weekdays="1,2,3,4,5,6,7")
    assert not is_out_of_hours() or local().time() >= dt.time(23, 59, 59)


def urgent_section(html: str) -> str:
    match = re.search(r'<section class="xl-urgent.*?</section>', html, re.S)
    assert match, "no urgent section"
    return match.group(0)


class ConfirmationNumbersTests(ScreeningTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        for user, phone in ((cls.counsellor_a, FDY_PHONE), (cls.head_teacher_a1, HT_PHONE)):
            user.phone = phone
            user.save()
        DutyLine.objects.create(school=cls.school, night_phone=NIGHT_LINE, centre_phone=CENTRE_PHONE)

    def setUp(self) -> None:
        self.client.defaults.update(EN)

    def report(self, urgency: str = "now", category: str = "emotional") -> Concern:
        concern, _ = Concern.submit(key=uuid.uuid4(), reporter=self.persona("liaison_a1"),
                                    student=self.student_a1, category=category, urgency=urgency,
                                    seen="他说不想活了")
        return concern

    def confirmation(self, concern: Concern) -> str:
        self.login("liaison_a1")
        response = self.client.get(reverse("concern-mine") + f"?sent={concern.pk}")
        self.assertEqual(response.status_code, 200)
        return response.content.decode()

    def test_at_night_the_fudaoyuan_and_the_duty_line_besides_120_and_110(self):
        make_night()
        section = urgent_section(self.confirmation(self.report()))
        for tel in ("120", "110", FDY_PHONE, NIGHT_LINE):
            self.assertIn(f'href="tel:{tel}"', section)
        self.assertIn("Call the 辅导员", section)
        self.assertIn("Call the night duty line", section)
        self.assertNotIn(CENTRE_PHONE, section)

    def test_the_shifts_own_line_comes_first_at_night(self):
        night = make_night()
        outsider = self.persona("outsider_b")
        DutyShift.objects.create(unit=self.school, date=night, kind=ShiftKind.NIGHT,
                                 role=DutyRole.FIRST_LINE, person=outsider, phone="13900000009")
        section = urgent_section(self.confirmation(self.report(urgency="soon", category="self_harm")))
        self.assertIn('href="tel:13900000009"', section)
        self.assertNotIn(NIGHT_LINE, section)

    def test_in_hours_the_centres_phone(self):
        make_day()
        section = urgent_section(self.confirmation(self.report()))
        for tel in ("120", "110", FDY_PHONE, CENTRE_PHONE):
            self.assertIn(f'href="tel:{tel}"', section)
        self.assertNotIn(NIGHT_LINE, section)

    def test_a_school_without_fudaoyuan_gives_the_head_teacher(self):
        make_night()
        Post.objects.filter(role=Role.FUDAOYUAN).delete()
        section = urgent_section(self.confirmation(self.report()))
        self.assertIn(f'href="tel:{HT_PHONE}"', section)
        self.assertIn("Call the 班主任", section)
        self.assertNotIn(FDY_PHONE, section)

    def test_a_fudaoyuan_without_a_phone_gives_no_empty_button(self):
        make_night()
        user = self.persona("counsellor_a")
        user.phone = ""
        user.save()
        section = urgent_section(self.confirmation(self.report()))
        self.assertNotIn('href="tel:"', section)
        self.assertIn(NIGHT_LINE, section)

    def test_a_routine_report_shows_no_numbers(self):
        make_night()
        html = self.confirmation(self.report(urgency="routine"))
        self.assertNotIn('class="xl-urgent', html)
        self.assertNotIn(FDY_PHONE, html)

    def test_the_form_sends_the_reporter_to_a_url_without_name_or_text(self):
        make_night()
        self.login("liaison_a1")
        response = self.client.post(reverse("concern-new"), {
            "student": self.student_a1.pk, "category": "self_harm", "urgency": "now",
            "seen": "他说不想活了", "heard_from": "self", "key": str(uuid.uuid4()),
            "seen_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")})
        self.assertEqual(response.status_code, 302)
        location = response["Location"]
        self.assertRegex(location, r"^/care/reports/\?sent=\d+$")
        page = self.client.get(location).content.decode()
        self.assertIn(f'href="tel:{NIGHT_LINE}"', urgent_section(page))


class ThanksDutyLineTests(ScreeningTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        DutyLine.objects.create(school=cls.school, night_phone=NIGHT_LINE, centre_phone=CENTRE_PHONE)

    def setUp(self) -> None:
        self.client.defaults.update(EN)
        self.login("student_a1_user")
        # A critical answer (PHQ-9 item 9) — the page is the same whatever was answered.
        self.take(Assignment.objects.get(pk=self.assignment_a1.pk), 0, {9: 3}, act=False)
        self.url = reverse("screening:thanks", args=[self.assignment_a1.pk])

    def test_out_of_hours_the_duty_line_and_12356(self):
        make_night()
        page = self.client.get(self.url).content.decode()
        help_box = page[page.index('id="scr-help"'):]
        self.assertIn(f'href="tel:{NIGHT_LINE}"', help_box)
        self.assertIn('href="tel:12356"', help_box)
        self.assertIn("Night and weekend duty line", help_box)

    def test_in_hours_no_duty_line(self):
        make_day()
        page = self.client.get(self.url).content.decode()
        self.assertNotIn(NIGHT_LINE, page)
        self.assertIn('href="tel:12356"', page)
