"""The linkage in the back office: level settings, group robots, read-only care records."""

from __future__ import annotations

import datetime as dt
import uuid

from django.urls import reverse
from django.utils import timezone

from xinlian.access.models import AuditEvent
from xinlian.care.models import (
    Alert,
    AlertSource,
    BreakGlass,
    Case,
    CaseRecord,
    Concern,
    LevelSetting,
    RiskEntry,
    TimelineEntry,
)
from xinlian.network.models import Unit, UnitKind
from xinlian.notify.models import Channel, Delivery, DeliveryStatus, Robot

from .base import NetworkTestCase

WEBHOOK = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=9f1c-secret-robot-key"
SECRET = "SEC-signing-secret-4711"
SEEN = "在宿舍里说不想活了"
CASE_NOTE = "评估：有计划，无手段"


def admin_url(model: str, view: str, *args: object) -> str:
    return reverse(f"admin:{model}_{view}", args=args)


class LevelSettingAdminTests(NetworkTestCase):
    def form(self, setting: LevelSetting, **changes) -> dict:
        data = {"name": setting.name, "name_en": setting.name_en, "colour": setting.colour,
                "ack_minutes": setting.ack_minutes, "follow_up_days": setting.follow_up_days}
        data.update(changes)
        return data

    def test_director_edits_a_level_and_new_alerts_follow_it(self):
        red = LevelSetting.objects.get(level="red")
        self.login("director")
        change = admin_url("care_levelsetting", "change", red.pk)
        self.assertContains(self.client.get(admin_url("care_levelsetting", "changelist")), red.name)
        response = self.client.post(change, self.form(red, ack_minutes=15, colour="#AA0000", name="一级红色"))
        self.assertEqual(response.status_code, 302)
        red.refresh_from_db()
        self.assertEqual((red.ack_minutes, red.colour, red.name), (15, "#aa0000", "一级红色"))
        alert = Alert.raise_for(self.student_a1, "red", AlertSource.COUNSELLOR)
        self.assertAlmostEqual((alert.due_at - alert.created_at).total_seconds(), 15 * 60)

    def test_bad_values_are_refused(self):
        yellow = LevelSetting.objects.get(level="yellow")
        self.login("director")
        change = admin_url("care_levelsetting", "change", yellow.pk)
        for bad in ({"colour": "red"}, {"ack_minutes": 0}, {"follow_up_days": 0}):
            with self.subTest(bad=bad):
                self.assertEqual(self.client.post(change, self.form(yellow, **bad)).status_code, 200)
        yellow.refresh_from_db()
        self.assertEqual(yellow.ack_minutes, 72 * 60)

    def test_levels_are_neither_added_nor_deleted(self):
        red = LevelSetting.objects.get(level="red")
        self.login("director")
        self.assertEqual(self.client.get(admin_url("care_levelsetting", "add")).status_code, 403)
        self.assertEqual(self.client.post(admin_url("care_levelsetting", "delete", red.pk), {"post": "yes"}).status_code,
                         403)
        self.assertEqual(LevelSetting.objects.count(), 3)

    def test_only_the_back_office_reaches_it(self):
        self.login("counsellor_a")
        response = self.client.get(admin_url("care_levelsetting", "changelist"))
        self.assertEqual(response.status_code, 302)
        self.assertTrue(response["Location"].startswith(reverse("admin:login")))


class RobotAdminTests(NetworkTestCase):
    def add_form(self, **changes) -> dict:
        data = {"unit": self.college_a.pk, "name": "计算机学院心理群", "kind": "wecom",
                "new_url": WEBHOOK, "new_secret": SECRET, "level_choices": ["red", "orange"],
                "is_active": "on"}
        data.update(changes)
        return data

    def test_add_stores_the_address_and_never_shows_it_again(self):
        self.login("director")
        response = self.client.post(admin_url("notify_robot", "add"), self.add_form())
        self.assertEqual(response.status_code, 302)
        robot = Robot.objects.get()
        self.assertEqual((robot.url, robot.secret, robot.levels), (WEBHOOK, SECRET, "red,orange"))
        for page in (admin_url("notify_robot", "change", robot.pk), admin_url("notify_robot", "changelist"),
                     admin_url("notify_robot", "history", robot.pk)):
            with self.subTest(page=page):
                response = self.client.get(page)
                self.assertEqual(response.status_code, 200)
                self.assertNotContains(response, "9f1c-secret-robot-key")
                self.assertNotContains(response, SECRET)
        self.assertContains(self.client.get(admin_url("notify_robot", "changelist")), "计算机学院心理群")

    def test_a_refused_form_does_not_echo_what_was_typed(self):
        self.login("director")
        response = self.client.post(admin_url("notify_robot", "add"), self.add_form(name=""))
        self.assertEqual(response.status_code, 200)  # the form again, with an error
        self.assertNotContains(response, "9f1c-secret-robot-key")
        self.assertNotContains(response, SECRET)
        self.assertFalse(Robot.objects.exists())

    def test_a_new_robot_needs_an_address_and_an_empty_box_keeps_it(self):
        self.login("director")
        self.assertEqual(self.client.post(admin_url("notify_robot", "add"), self.add_form(new_url="")).status_code, 200)
        self.assertEqual(self.client.post(admin_url("notify_robot", "add"),
                                          self.add_form(new_url="ftp://x")).status_code, 200)
        self.assertFalse(Robot.objects.exists())
        self.client.post(admin_url("notify_robot", "add"), self.add_form())
        robot = Robot.objects.get()
        response = self.client.post(admin_url("notify_robot", "change", robot.pk),
                                    self.add_form(new_url="", new_secret="", name="改名了",
                                                  level_choices=["red"]))
        self.assertEqual(response.status_code, 302)
        robot.refresh_from_db()
        self.assertEqual((robot.name, robot.url, robot.secret, robot.levels), ("改名了", WEBHOOK, SECRET, "red"))
        self.client.post(admin_url("notify_robot", "change", robot.pk),
                         self.add_form(new_url="", new_secret="", clear_secret="on"))
        robot.refresh_from_db()
        self.assertEqual((robot.url, robot.secret), (WEBHOOK, ""))

    def test_robots_are_scoped_to_managed_units(self):
        other_school = self.bureau.add_unit(kind=UnitKind.SCHOOL, code="SCH2", name="第二中学")
        theirs = Robot.objects.create(unit=other_school, name="二中群", kind="dingtalk", url=WEBHOOK)
        self.login("director")
        self.assertNotContains(self.client.get(admin_url("notify_robot", "changelist")), "二中群")
        self.assertEqual(self.client.get(admin_url("notify_robot", "change", theirs.pk)).status_code, 302)
        # The unit choice offers only managed units.
        response = self.client.post(admin_url("notify_robot", "add"), self.add_form(unit=other_school.pk))
        self.assertEqual(response.status_code, 200)
        self.assertEqual(Robot.objects.count(), 1)
        self.assertFalse(Unit.objects.filter(code="SCH2", robots__name="计算机学院心理群").exists())

    def test_failed_webhook_deliveries_are_shown_to_the_centre(self):
        robot = Robot.objects.create(unit=self.college_a, name="学院群", kind="feishu", url=WEBHOOK)
        Delivery.objects.create(channel=Channel.WEBHOOK, robot=robot, message="m",
                                status=DeliveryStatus.FAILED, last_error="HTTP 500")
        self.login("director")
        response = self.client.get(admin_url("notify_delivery", "changelist"), {"status__exact": "failed"})
        self.assertContains(response, "HTTP 500")
        self.assertNotContains(response, "9f1c-secret-robot-key")


class ReadOnlyCareAdminTests(NetworkTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        director = cls.director
        cls.concern, _ = Concern.submit(key=uuid.uuid4(), reporter=cls.liaison_a1, student=cls.student_a1,
                                        category="self_harm", urgency="now", seen=SEEN)
        cls.alert = cls.concern.alerts.get()
        cls.entry = RiskEntry.set_level(cls.student_a1, "red", by=director, reason="有明确计划")
        cls.case = Case.open_for(cls.student_a1, by=director)
        cls.record = cls.case.add_record("assessment", author=director, data={"notes": CASE_NOTE})
        cls.grant = BreakGlass.objects.create(case=cls.case, user=cls.counsellor_a, reason="家长来电",
                                              expires_at=timezone.now() + dt.timedelta(minutes=30))

    PAGES = {
        "care_alert": "alert", "care_concern": "concern", "care_riskentry": "entry", "care_case": "case",
        "care_caserecord": "record", "care_breakglass": "grant",
    }

    def test_changelists_and_detail_pages_open_for_the_director(self):
        self.login("director")
        for model, attr in self.PAGES.items():
            with self.subTest(model=model):
                response = self.client.get(admin_url(model, "changelist"))
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, "张小明")
                obj = getattr(self, attr)
                self.assertEqual(self.client.get(admin_url(model, "change", obj.pk)).status_code, 200)
        self.assertEqual(self.client.get(admin_url("care_timelineentry", "changelist")).status_code, 200)

    def test_change_add_and_delete_are_refused(self):
        self.login("director")
        for model, attr in self.PAGES.items():
            obj = getattr(self, attr)
            with self.subTest(model=model):
                self.assertEqual(self.client.get(admin_url(model, "add")).status_code, 403)
                self.assertEqual(self.client.post(admin_url(model, "change", obj.pk), {}).status_code, 403)
                self.assertEqual(self.client.post(admin_url(model, "delete", obj.pk), {"post": "yes"}).status_code,
                                 403)
                self.assertTrue(type(obj).objects.filter(pk=obj.pk).exists())
        self.alert.refresh_from_db()
        self.assertEqual(self.alert.status, "open")

    def test_clinical_content_never_reaches_the_admin(self):
        self.login("director")
        for page in (admin_url("care_concern", "changelist"), admin_url("care_concern", "change", self.concern.pk),
                     admin_url("care_caserecord", "changelist"),
                     admin_url("care_caserecord", "change", self.record.pk),
                     admin_url("care_riskentry", "changelist"), admin_url("care_breakglass", "changelist"),
                     admin_url("care_alert", "change", self.alert.pk)):
            with self.subTest(page=page):
                response = self.client.get(page)
                self.assertEqual(response.status_code, 200)
                self.assertNotContains(response, SEEN)
                self.assertNotContains(response, CASE_NOTE)
                self.assertNotContains(response, "有明确计划")  # reasons: detail page only
                self.assertNotContains(response, "家长来电")

    def test_an_encrypted_reason_on_a_detail_page_is_an_audited_read(self):
        self.login("director")
        response = self.client.get(admin_url("care_riskentry", "change", self.entry.pk))
        self.assertContains(response, "有明确计划")
        self.assertTrue(AuditEvent.objects.filter(actor=self.director, action="admin.view",
                                                  object_type="care.riskentry",
                                                  object_id=str(self.entry.pk)).exists())
        self.assertContains(self.client.get(admin_url("care_breakglass", "change", self.grant.pk)), "家长来电")
        self.assertTrue(AuditEvent.objects.filter(actor=self.director, action="admin.view",
                                                  object_type="care.breakglass").exists())

    def test_another_school_is_out_of_scope(self):
        from .base import make_student

        other_school = self.bureau.add_unit(kind=UnitKind.SCHOOL, code="SCH2", name="第二中学")
        college = other_school.add_unit(kind=UnitKind.COLLEGE, code="S2-C", name="二中学院")
        klass = college.add_unit(kind=UnitKind.CLASS, code="S2-1", name="高一1班")
        outsider = make_student("X0001", "外校生", klass)
        theirs = Alert.raise_for(outsider, "yellow", AlertSource.COUNSELLOR)
        self.login("director")
        self.assertNotContains(self.client.get(admin_url("care_alert", "changelist")), "外校生")
        self.assertNotContains(self.client.get(admin_url("care_timelineentry", "changelist")), "外校生")
        self.assertEqual(self.client.get(admin_url("care_alert", "change", theirs.pk)).status_code, 302)
        self.assertTrue(TimelineEntry.objects.filter(student=outsider).exists())
        self.assertTrue(CaseRecord.objects.exists())
