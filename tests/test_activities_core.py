"""Activities: the verbs (plan, assign, record, photos, sign-in, campaign, course), their rules
and bad input, who sees what (with marker strings), and the photo files (no EXIF, private).

The personas (tests/base.py): the centre director plans a lecture for the school and assigns it
to classes A1 and A2 and college B; class A1's 心理委员, 班主任 and the 辅导员 of college A
record A1's; students of A1 sign in."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import override_settings
from django.test.client import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from xinlian.access.models import AuditEvent
from xinlian.activities import actions, photos
from xinlian.activities.models import Assignment, AssignmentStatus, Lesson, Photo, Record, SignIn
from xinlian.lib.actions import Conflict, Invalid, NotAllowed, NotFound
from xinlian.network.models import Role, Unit, UnitKind, User

from .base import NetworkTestCase, make_staff, make_student

SUMMARY_MARKER = "MKR-ACT-SUMMARY-A1"
PLACE_MARKER = "MKR-ACT-PLACE-A1"


def png_with_gps(size: tuple[int, int] = (64, 48), fmt: str = "PNG") -> bytes:
    """A real image with EXIF carrying a GPS position (tag 0x8825: latitude 39.9, longitude 116.4)."""
    image = Image.new("RGB", size, (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 0.0), 3: "E", 4: (116.0, 24.0, 0.0)}
    out = io.BytesIO()
    image.save(out, fmt, exif=exif.tobytes())
    return out.getvalue()


def upload(data: bytes, name: str = "photo.png", content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


class Signed100SecondsAgo(signing.TimestampSigner):
    """A code shown 100 seconds ago: past the 90 seconds one is taken."""

    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - 100)


class ActivitiesTestCase(NetworkTestCase):
    @classmethod
    def setUpClass(cls) -> None:
        cls._media = tempfile.mkdtemp(prefix="xl-act-")
        cls._override = override_settings(PRIVATE_MEDIA_ROOT=Path(cls._media))
        cls._override.enable()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls) -> None:
        super().tearDownClass()
        cls._override.disable()
        shutil.rmtree(cls._media, ignore_errors=True)

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.college_lead_a = make_staff("T1010", "何院长", Role.COLLEGE_LEAD, cls.college_a)
        cls.teacher = make_staff("T1011", "韩老师", Role.COUNSELLOR, cls.school)

    def setUp(self) -> None:
        super().setUp()
        shutil.rmtree(photos.root(), ignore_errors=True)

    def request(self, who: str):
        req = RequestFactory().post("/")
        req.user = self.persona(who)
        return req

    def plan(self, who: str = "director", units: list[Unit] | None = None, campaign=None, due=None):
        activity = actions.plan(self.request(who), actions.PlanInput(kind="lecture", title="心理健康讲座",
                                                                     campaign=campaign))
        units = units if units is not None else [self.class_a1, self.class_a2, self.college_b]
        actions.assign(self.request(who), activity.pk, units=[u.pk for u in units],
                       due_on=due or timezone.localdate() + dt.timedelta(days=7))
        return activity

    def a1(self, activity) -> Assignment:
        return Assignment.objects.get(activity=activity, unit=self.class_a1)

    def record_data(self, **kw) -> actions.RecordInput:
        data = {"held_on": timezone.localdate().isoformat(), "place": PLACE_MARKER, "audience": "全班",
                "attendance": "38", "summary": SUMMARY_MARKER, "key": str(uuid.uuid4())}
        data.update(kw)
        return actions.RecordInput(**data)


class PlanAndAssignTests(ActivitiesTestCase):
    def test_centre_plans_for_the_school_and_assigns_units_in_scope(self) -> None:
        activity = self.plan()
        self.assertEqual(activity.planner_unit, self.school)
        self.assertEqual(Assignment.objects.filter(activity=activity).count(), 3)
        self.assertTrue(AuditEvent.objects.filter(action="activities.plan").exists())
        self.assertTrue(AuditEvent.objects.filter(action="activities.assign").exists())

    def test_a_college_assigns_only_within_itself(self) -> None:
        activity = actions.plan(self.request("counsellor_a"), actions.PlanInput(kind="class_meeting", title="主题班会"))
        self.assertEqual(activity.planner_unit, self.college_a)
        with self.assertRaises(Invalid) as refused:
            actions.assign(self.request("counsellor_a"), activity.pk, units=[self.class_b1.pk], due_on="2026-12-20")
        self.assertIn("units", refused.exception.errors)
        self.assertFalse(Assignment.objects.filter(activity=activity).exists())
        done = actions.assign(self.request("counsellor_a"), activity.pk, units=[self.class_a1.pk, self.class_a1.pk],
                              due_on="2026-12-20")
        self.assertEqual(len(done), 1)

    def test_peers_and_outsiders_do_not_plan(self) -> None:
        with self.assertRaises(NotAllowed):
            actions.plan(self.request("committee_a1"), actions.PlanInput(kind="lecture", title="x"))
        activity = self.plan(units=[self.class_a1])
        with self.assertRaises(NotFound):  # not in college B's sight: assigned to class A1 only
            actions.assign(self.request("outsider_b"), activity.pk, units=[self.class_b1.pk], due_on="2026-12-20")
        with self.assertRaises(NotAllowed):  # the 心理委员 sees it (his class has it) but did not plan it
            actions.assign(self.request("committee_a1"), activity.pk, units=[self.class_a1.pk], due_on="2026-12-20")
        with self.assertRaises(NotAllowed):  # the 辅导员 sees it (his classes have it) but did not plan it
            actions.assign(self.request("counsellor_a"), activity.pk, units=[self.class_a1.pk], due_on="2026-12-20")

    def test_bad_plan_input_by_field(self) -> None:
        with self.assertRaises(Invalid) as refused:
            actions.plan(self.request("director"), actions.PlanInput(kind="party", title=" "))
        self.assertEqual(set(refused.exception.errors), {"kind", "title"})
        activity = actions.plan(self.request("director"), actions.PlanInput(kind="lecture", title="讲座"))
        with self.assertRaises(Invalid) as refused:
            actions.assign(self.request("director"), activity.pk, units=[self.school.pk], due_on="not a date")
        self.assertEqual(set(refused.exception.errors), {"units", "due_on"})


class RecordTests(ActivitiesTestCase):
    def test_the_units_people_record_and_the_assignment_is_done(self) -> None:
        activity = self.plan()
        rec, created = actions.record(self.request("committee_a1"), self.a1(activity).pk, self.record_data())
        self.assertTrue(created)
        self.assertEqual(self.a1(activity).status, AssignmentStatus.DONE)
        self.assertEqual(rec.attendance, 38)
        self.assertEqual(AuditEvent.objects.filter(action="activities.record").count(), 1)

    def test_the_same_submission_twice_is_one_write_and_a_second_record_edits_the_first(self) -> None:
        activity = self.plan()
        pk = self.a1(activity).pk
        data = self.record_data()
        first, _c = actions.record(self.request("committee_a1"), pk, data)
        again, created = actions.record(self.request("committee_a1"), pk, data)
        self.assertFalse(created)
        self.assertEqual(first.pk, again.pk)
        self.assertEqual(AuditEvent.objects.filter(action="activities.record").count(), 1)
        edited, created = actions.record(self.request("head_teacher_a1"), pk, self.record_data(attendance="40"))
        self.assertFalse(created)
        self.assertEqual(edited.pk, first.pk)
        self.assertEqual(Record.objects.get(pk=first.pk).attendance, 40)
        self.assertEqual(Record.objects.count(), 1)

    def test_record_for_a_unit_not_yours(self) -> None:
        activity = self.plan()
        a2 = Assignment.objects.get(activity=activity, unit=self.class_a2)
        with self.assertRaises(NotFound):  # class A2 is outside the 心理委员's sight
            actions.record(self.request("committee_a1"), a2.pk, self.record_data())
        with self.assertRaises(NotAllowed) as refused:  # the centre sees it but it is not its unit's record
            actions.record(self.request("director"), a2.pk, self.record_data())
        self.assertIn("自己班级", refused.exception.text)
        self.assertFalse(Record.objects.exists())
        self.assertTrue(AuditEvent.objects.filter(action="activities.record", result="denied").exists())

    def test_bad_record_input_writes_nothing(self) -> None:
        activity = self.plan()
        future = (timezone.localdate() + dt.timedelta(days=2)).isoformat()
        with self.assertRaises(Invalid) as refused:
            actions.record(self.request("committee_a1"), self.a1(activity).pk,
                           self.record_data(held_on=future, attendance="many", place="", summary="x" * 2001))
        self.assertEqual(set(refused.exception.errors), {"held_on", "attendance", "place", "summary"})
        with self.assertRaises(Invalid):
            actions.record(self.request("committee_a1"), self.a1(activity).pk, self.record_data(key="nope"))
        self.assertFalse(Record.objects.exists())
        self.assertEqual(self.a1(activity).status, AssignmentStatus.ASSIGNED)


class PhotoTests(ActivitiesTestCase):
    def recorded(self) -> Assignment:
        activity = self.plan()
        actions.record(self.request("committee_a1"), self.a1(activity).pk, self.record_data())
        return self.a1(activity)

    def files(self) -> list[Path]:
        folder = photos.root()
        return sorted(folder.glob("*")) if folder.exists() else []

    def test_a_png_with_gps_exif_is_stored_without_it(self) -> None:
        data = png_with_gps()
        with Image.open(io.BytesIO(data)) as original:  # the fixture really carries GPS
            self.assertIn(0x8825, original.getexif())
        assignment = self.recorded()
        photo = actions.add_photo(self.request("committee_a1"), assignment.pk, upload(data), "gps.png")
        stored = photos.path_of(photo.name)
        self.assertTrue(stored.is_file())
        self.assertTrue(str(stored).startswith(str(photos.root())))
        with Image.open(stored) as back:
            self.assertEqual(back.format, "PNG")
            self.assertEqual(dict(back.getexif()), {})
            self.assertNotIn("exif", back.info)
        self.assertNotIn(b"eXIf", stored.read_bytes())
        self.assertNotIn(b"PhoneMaker", stored.read_bytes())
        with Image.open(photos.path_of(photo.name, thumb=True)) as thumb:
            self.assertEqual(dict(thumb.getexif()), {})

    def test_a_jpeg_with_gps_exif_is_stored_without_it(self) -> None:
        assignment = self.recorded()
        photo = actions.add_photo(self.request("committee_a1"), assignment.pk,
                                  upload(png_with_gps(fmt="JPEG"), "a.jpg", "image/jpeg"), "a.jpg")
        with Image.open(photos.path_of(photo.name)) as back:
            self.assertEqual(back.format, "JPEG")
            self.assertEqual(dict(back.getexif()), {})
        self.assertNotIn(b"Exif\x00\x00", photos.path_of(photo.name).read_bytes())
        self.assertEqual(photo.content_type, "image/jpeg")

    def test_a_text_file_named_jpg_is_refused_and_leaves_nothing(self) -> None:
        assignment = self.recorded()
        with self.assertRaises(Invalid) as refused:
            actions.add_photo(self.request("committee_a1"), assignment.pk,
                              upload(b"not an image at all\n" * 10, "notes.jpg", "image/jpeg"), "notes.jpg")
        self.assertIn("不是 JPEG 或 PNG", refused.exception.text)
        self.assertFalse(Photo.objects.exists())
        self.assertEqual(self.files(), [])

    def test_a_gif_is_refused(self) -> None:
        assignment = self.recorded()
        out = io.BytesIO()
        Image.new("RGB", (8, 8)).save(out, "GIF")
        with self.assertRaises(Invalid):
            actions.add_photo(self.request("committee_a1"), assignment.pk, upload(out.getvalue(), "a.png"), "a.png")
        self.assertFalse(Photo.objects.exists())

    def test_an_oversize_photo_is_refused_and_leaves_nothing(self) -> None:
        assignment = self.recorded()
        with override_settings(ACTIVITY_PHOTO_MAX_MB=0.001):  # about 1 KB
            with self.assertRaises(Invalid) as refused:
                actions.add_photo(self.request("committee_a1"), assignment.pk,
                                  upload(png_with_gps((200, 200)) + b"\0" * 2048), "big.png")
        self.assertIn("MB", refused.exception.text)
        self.assertFalse(Photo.objects.exists())
        self.assertEqual(self.files(), [])

    def test_a_tenth_photo_is_refused(self) -> None:
        assignment = self.recorded()
        for i in range(9):
            actions.add_photo(self.request("committee_a1"), assignment.pk, upload(png_with_gps()), f"{i}.png")
        before = self.files()
        with self.assertRaises(Invalid) as refused:
            actions.add_photo(self.request("committee_a1"), assignment.pk, upload(png_with_gps()), "10.png")
        self.assertIn("9", refused.exception.text)
        self.assertEqual(Photo.objects.count(), 9)
        self.assertEqual(self.files(), before)

    def test_photos_need_a_record_and_the_units_people(self) -> None:
        activity = self.plan()
        with self.assertRaises(Conflict):
            actions.add_photo(self.request("committee_a1"), self.a1(activity).pk, upload(png_with_gps()), "a.png")
        self.assertEqual(self.files(), [])
        actions.record(self.request("committee_a1"), self.a1(activity).pk, self.record_data())
        with self.assertRaises(NotAllowed):
            actions.add_photo(self.request("director"), self.a1(activity).pk, upload(png_with_gps()), "a.png")

    def test_remove_deletes_row_and_files(self) -> None:
        assignment = self.recorded()
        photo = actions.add_photo(self.request("committee_a1"), assignment.pk, upload(png_with_gps()), "a.png")
        self.assertEqual(len(self.files()), 2)
        with self.captureOnCommitCallbacks(execute=True):
            actions.remove_photo(self.request("committee_a1"), photo.pk)
        self.assertFalse(Photo.objects.exists())
        self.assertEqual(self.files(), [])

    def test_the_photo_view_checks_access_and_is_private(self) -> None:
        assignment = self.recorded()
        photo = actions.add_photo(self.request("committee_a1"), assignment.pk, upload(png_with_gps()), "a.png")
        url = reverse("activities:photo", args=[photo.pk])
        self.assertNotIn(photo.name, url)
        for who in ("committee_a1", "head_teacher_a1", "counsellor_a", "director"):
            self.login(who)
            response = self.client.get(url)
            self.assertEqual(response.status_code, 200, who)
            self.assertEqual(response["Content-Type"], "image/png")
            self.assertIn("private", response["Cache-Control"])
            body = b"".join(response.streaming_content)
            self.assertEqual(body, photos.path_of(photo.name).read_bytes())
        for who in ("outsider_b", "liaison_a1", "student_a1_user", "bureau_viewer"):
            self.login(who)
            self.assertEqual(self.client.get(url).status_code, 404, who)
            self.assertEqual(self.client.get(reverse("activities:photo-thumb", args=[photo.pk])).status_code, 404)
        self.client.logout()
        self.assertEqual(self.client.get(url).status_code, 302)

    def test_the_private_root_is_not_static(self) -> None:
        from django.conf import settings

        self.assertFalse(str(settings.PRIVATE_MEDIA_ROOT).startswith(str(settings.STATIC_ROOT)))
        self.assertNotIn(str(settings.PRIVATE_MEDIA_ROOT), [str(d) for d in settings.STATICFILES_DIRS])


class SignInTests(ActivitiesTestCase):
    def code(self, activity, who: str = "head_teacher_a1") -> str:
        return actions.open_sign_in(self.request(who), self.a1(activity).pk).code

    def test_a_student_of_the_unit_signs_in_once(self) -> None:
        activity = self.plan()
        code = self.code(activity)
        done = actions.sign_in(self.request("student_a1_user"), code)
        self.assertTrue(done.created)
        again = actions.sign_in(self.request("student_a1_user"), code)
        self.assertFalse(again.created)
        self.assertEqual(SignIn.objects.count(), 1)
        self.assertEqual(SignIn.objects.get().assignment.unit, self.class_a1)

    def test_expired_foreign_and_forged_codes(self) -> None:
        activity = self.plan()
        other = self.plan()
        code = self.code(activity)
        with self.assertRaises(Invalid) as refused:
            actions.sign_in(self.request("student_a1_user"), code, activity_id=other.pk)
        self.assertIn("另一个活动", refused.exception.text)
        stale = Signed100SecondsAgo(salt=actions.SIGN_IN_SALT).sign_object({"a": activity.pk})
        with self.assertRaises(Invalid) as refused:
            actions.sign_in(self.request("student_a1_user"), stale)
        self.assertIn("已过期", refused.exception.text)
        with self.assertRaises(Invalid) as refused:
            actions.sign_in(self.request("student_a1_user"), code[:-3] + "abc")
        self.assertIn("不是签到码", refused.exception.text)
        self.assertFalse(SignIn.objects.exists())

    def test_a_shared_code_does_not_work_outside_the_audience(self) -> None:
        activity = self.plan(units=[self.class_a1])
        code = self.code(activity)
        with self.assertRaises(NotAllowed) as refused:
            actions.sign_in(self.request("student_a2_user"), code)
        self.assertIn("你不在其中", refused.exception.text)
        with self.assertRaises(NotAllowed):
            actions.sign_in(self.request("director"), code)
        self.assertFalse(SignIn.objects.exists())

    def test_only_organisers_open_the_sign_in(self) -> None:
        activity = self.plan()
        for who in ("counsellor_a", "head_teacher_a1", "director"):
            self.assertTrue(actions.open_sign_in(self.request(who), self.a1(activity).pk).code)
        with self.assertRaises(NotAllowed):
            actions.open_sign_in(self.request("committee_a1"), self.a1(activity).pk)
        with self.assertRaises(NotFound):
            actions.open_sign_in(self.request("outsider_b"), self.a1(activity).pk)

    @property
    def student_a2_user(self) -> User:
        return self.student_a2.user


class WhoSeesTests(ActivitiesTestCase):
    def setUp(self) -> None:
        self.activity = self.plan()
        self.assignment = self.a1(self.activity)
        actions.record(self.request("committee_a1"), self.assignment.pk, self.record_data())
        code = actions.open_sign_in(self.request("counsellor_a"), self.assignment.pk).code
        actions.sign_in(self.request("roommate"), code)

    @property
    def roommate(self) -> User:
        return self.roommate_a1.user

    def test_the_record_page_by_persona(self) -> None:
        url = reverse("activities:assignment", args=[self.assignment.pk])
        names = {"counsellor_a": True, "head_teacher_a1": True, "director": True, "committee_a1": False}
        for who, sees_names in names.items():
            self.login(who)
            body = self.client.get(url).content.decode()
            self.assertIn(SUMMARY_MARKER, body, who)
            self.assertEqual("李华" in body, sees_names, who)
        for who in ("outsider_b", "liaison_a1", "student_a1_user", "bureau_viewer"):
            self.login(who)
            response = self.client.get(url)
            self.assertEqual(response.status_code, 404, who)
            self.assertNotIn(SUMMARY_MARKER, response.content.decode())

    def test_the_centre_sees_the_school_and_a_college_its_own(self) -> None:
        url = reverse("activities:activity", args=[self.activity.pk])
        self.login("director")
        body = self.client.get(url).content.decode()
        for unit in ("2023级1班", "2023级2班", "外国语学院"):
            self.assertIn(unit, body)
        self.login("counsellor_a")
        body = self.client.get(url).content.decode()
        self.assertIn("2023级2班", body)
        self.assertNotIn("外国语学院", body)
        self.login("outsider_b")
        body = self.client.get(url).content.decode()
        self.assertIn("外国语学院", body)
        self.assertNotIn("2023级2班", body)
        self.login("committee_a1")  # the class's own row only
        body = self.client.get(url).content.decode()
        self.assertIn("2023级1班", body)
        self.assertNotIn("2023级2班", body)
        self.login("liaison_a1")
        self.assertEqual(self.client.get(url).status_code, 404)

    def test_the_table_has_a_constant_query_count(self) -> None:
        self.login("director")
        url = reverse("activities:activity", args=[self.activity.pk])
        self.client.get(url)
        with CaptureQueriesContext(connection) as few:
            self.client.get(url)
        for i in range(12):
            college = self.school.add_unit(kind=UnitKind.COLLEGE, code=f"CX{i}", name=f"学院{i}")
            actions.assign(self.request("director"), self.activity.pk, units=[college.pk], due_on="2026-12-30")
        with CaptureQueriesContext(connection) as many:
            response = self.client.get(url)
        self.assertContains(response, "学院11")
        self.assertEqual(len(many), len(few))

    def test_the_api_hides_names_from_the_peer(self) -> None:
        url = reverse("activities-api:assignment-detail", args=[self.assignment.pk])
        self.login("committee_a1")
        data = self.client.get(url).json()
        self.assertEqual(data["signed_in"], 1)
        self.assertEqual(data["sign_ins"], [])
        self.login("director")
        data = self.client.get(url).json()
        self.assertEqual(data["sign_ins"][0]["person"]["name"], "李华")
        self.assertTrue(AuditEvent.objects.filter(action="activities.sign_ins.view").exists())


class CampaignTests(ActivitiesTestCase):
    def test_progress_per_college(self) -> None:
        campaign = actions.create_campaign(self.request("director"), name="5·25 心理健康月",
                                           starts_on="2026-05-01", ends_on="2026-05-31")
        activity = self.plan(campaign=campaign.pk)
        actions.record(self.request("committee_a1"), self.a1(activity).pk, self.record_data())
        progress = actions.campaign_progress(self.request("director"), campaign.pk)
        by = {r.unit.code: (r.assigned, r.done) for r in progress.rows}
        self.assertEqual(by, {"CA": (2, 1), "CB": (1, 0)})
        mine = actions.campaign_progress(self.request("counsellor_a"), campaign.pk)
        self.assertEqual([(r.unit.code, r.assigned, r.done) for r in mine.rows], [("CA", 2, 1)])
        with self.assertRaises(NotFound):
            actions.campaign_progress(self.request("bureau_viewer"), campaign.pk)

    def test_only_the_centre_creates_a_campaign_and_dates_are_checked(self) -> None:
        with self.assertRaises(NotAllowed):
            actions.create_campaign(self.request("counsellor_a"), name="x", starts_on="2026-05-01", ends_on="2026-05-31")
        with self.assertRaises(Invalid) as refused:
            actions.create_campaign(self.request("director"), name="x", starts_on="2026-05-31", ends_on="2026-05-01")
        self.assertIn("ends_on", refused.exception.errors)


class CourseTests(ActivitiesTestCase):
    def course(self):
        return actions.set_course(self.request("director"), None, actions.CourseInput(
            title="大学生心理健康教育", term="2026-2027-1", teacher=self.teacher.pk,
            classes=[self.class_a1.pk, self.class_a2.pk], hours_planned="32"))

    def test_the_centre_sets_a_course_and_the_teacher_records_hours(self) -> None:
        course = self.course()
        today = timezone.localdate()
        actions.record_hours(self.request("teacher"), course.pk, held_on=today.isoformat(), hours="2")
        actions.record_hours(self.request("teacher"), course.pk, held_on=today.isoformat(), hours="1.5")
        self.assertEqual(Lesson.objects.get().hours, Decimal("1.5"))
        row = actions.course_list(self.request("teacher")).get(pk=course.pk)
        self.assertEqual(row.delivered, Decimal("1.5"))

    def test_only_the_teacher_records_and_bad_hours_are_refused(self) -> None:
        course = self.course()
        with self.assertRaises(NotAllowed):
            actions.record_hours(self.request("director"), course.pk, held_on="2026-01-05", hours="2")
        with self.assertRaises(NotFound):
            actions.record_hours(self.request("outsider_b"), course.pk, held_on="2026-01-05", hours="2")
        with self.assertRaises(Invalid) as refused:
            actions.record_hours(self.request("teacher"), course.pk, held_on="2099-01-05", hours="-1")
        self.assertEqual(set(refused.exception.errors), {"held_on", "hours"})
        self.assertFalse(Lesson.objects.exists())

    def test_bad_course_input(self) -> None:
        with self.assertRaises(Invalid) as refused:
            actions.set_course(self.request("director"), None, actions.CourseInput(
                title="", term="t", teacher=self.student_a1.user.pk, classes=[self.college_a.pk], hours_planned="x"))
        self.assertEqual(set(refused.exception.errors), {"title", "teacher", "classes", "hours_planned"})
        with self.assertRaises(NotAllowed):
            actions.set_course(self.request("counsellor_a"), None, actions.CourseInput(
                title="x", term="t", teacher=self.teacher.pk, classes=[self.class_a1.pk], hours_planned="2"))


class WorkItemTests(ActivitiesTestCase):
    def test_home_shows_activity_campaign_task_and_course(self) -> None:
        from xinlian.activities.work import work_for

        campaign = actions.create_campaign(self.request("director"), name="5·25 心理健康月",
                                           starts_on=timezone.localdate().isoformat(),
                                           ends_on=(timezone.localdate() + dt.timedelta(days=20)).isoformat())
        self.plan(campaign=campaign.pk)
        actions.set_course(self.request("director"), None, actions.CourseInput(
            title="大学生心理健康教育", term="2026-2027-1", teacher=self.teacher.pk,
            classes=[self.class_a1.pk], hours_planned="32"))
        kinds = {i.kind for i in work_for(self.request("committee_a1")).items}
        self.assertEqual(kinds, {"activity"})
        kinds = {i.kind for i in work_for(self.request("counsellor_a")).items}
        self.assertEqual(kinds, {"activity", "campaign_task"})
        self.assertEqual({i.kind for i in work_for(self.request("teacher")).items}, {"course"})
        self.login("committee_a1")
        self.assertContains(self.client.get(reverse("home")), "心理健康讲座")


    def test_finished_courses_of_earlier_terms_do_not_hide_the_current_one(self) -> None:
        from xinlian.activities.models import Course
        from xinlian.activities.work import SHOWN, work_for

        today = timezone.localdate()
        for n in range(SHOWN + 1):  # earlier terms, every hour delivered
            old = actions.set_course(self.request("director"), None, actions.CourseInput(
                title=f"旧课{n}", term=f"2020-2021-{n}", teacher=self.teacher.pk,
                classes=[self.class_a1.pk], hours_planned="1"))
            Course.objects.get(pk=old.pk).lessons.create(held_on=today - dt.timedelta(days=400 + n), hours=1,
                                                       recorded_by=self.teacher)
        actions.set_course(self.request("director"), None, actions.CourseInput(
            title="大学生心理健康教育", term="2026-2027-1", teacher=self.teacher.pk,
            classes=[self.class_a1.pk], hours_planned="32"))
        titles = [i.title for i in work_for(self.request("teacher")).items]
        self.assertEqual(titles, ["大学生心理健康教育 · 2026-2027-1"])


class PageBadInputTests(ActivitiesTestCase):
    def test_the_record_form_with_a_bad_file_keeps_the_record_and_says_why(self) -> None:
        activity = self.plan()
        pk = self.a1(activity).pk
        self.login("committee_a1")
        response = self.client.post(reverse("activities:assignment", args=[pk]), {
            "held_on": timezone.localdate().isoformat(), "place": "教室", "audience": "全班", "attendance": "30",
            "summary": "好", "key": str(uuid.uuid4()),
            "photos": [upload(b"hello", "x.jpg", "image/jpeg"), upload(png_with_gps(), "ok.png")]})
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "x.jpg 不是 JPEG 或 PNG 照片", status_code=400)
        self.assertEqual(Photo.objects.count(), 1)
        self.assertEqual(Record.objects.count(), 1)

    def test_the_page_in_english(self) -> None:
        activity = self.plan()
        self.login("committee_a1")
        response = self.client.post(reverse("activities:assignment", args=[self.a1(activity).pk]), {
            "held_on": "", "place": "", "audience": "", "attendance": "", "summary": "", "key": str(uuid.uuid4())},
            HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "This field is required.", status_code=400)
        self.assertFalse(Record.objects.exists())

    def test_the_scan_page_says_why(self) -> None:
        activity = self.plan(units=[self.class_a1])
        code = actions.open_sign_in(self.request("director"), self.a1(activity).pk).code
        self.login("student_a1_user")
        url = reverse("activities:sign-in", args=[code])
        self.assertContains(self.client.get(url), activity.title)
        self.assertContains(self.client.post(url), "你已签到")
        self.assertContains(self.client.post(url), "你之前已签到")
        self.assertEqual(SignIn.objects.count(), 1)
        response = self.client.get(reverse("activities:sign-in", args=["abc:def:ghi"]))
        self.assertContains(response, "不是签到码", status_code=400)
        other = make_student("S0999", "路人", self.class_b1)
        self.client.force_login(other.user)
        self.assertContains(self.client.post(url), "你不在其中", status_code=403)


class DemoTests(ActivitiesTestCase):
    def test_the_demo_seeds_a_campaign_with_records_photos_and_a_course(self) -> None:
        from xinlian.activities.demo import seed_demo_activities
        from xinlian.activities.models import Campaign, Course

        with self.captureOnCommitCallbacks(execute=True):  # the photo files are written on commit
            written = seed_demo_activities(dt.date(2026, 12, 7))
        self.assertEqual(written, 4)  # two activities, two colleges
        campaign = Campaign.objects.get()
        self.assertEqual((campaign.starts_on, campaign.ends_on), (dt.date(2026, 5, 1), dt.date(2026, 5, 31)))
        progress = actions.campaign_progress(self.request("director"), campaign.pk)
        self.assertEqual(progress.assigned, 4)
        self.assertEqual(progress.done, 3)  # college B's psychodrama is still open
        photo = Photo.objects.first()
        self.assertIsNotNone(photo)
        with Image.open(photos.path_of(photo.name)) as image:
            self.assertEqual(dict(image.getexif()), {})
        self.assertEqual(Course.objects.get().lessons.count(), 5)
        self.assertEqual(seed_demo_activities(dt.date(2026, 12, 7)), 0)  # once
