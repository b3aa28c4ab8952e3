"""Issue 10, section 1: whoever an alert is routed to sees what they must act on.

Marker strings (written into the concern's text, the critical item's question) are looked for in
the page AND the API answer of each persona: shown to the routed 班主任, college lead, leader and
duty person while the alert is theirs, never to someone it is not routed to."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from unittest import mock

from django.conf import settings
from django.urls import reverse
from django.utils import translation

from xinlian.access.models import AuditEvent
from xinlian.care.models import Alert, AlertDuty, AlertStatus, Concern, RiskEntry
from xinlian.network.models import Post, Role
from xinlian.screening import actions as screening_actions
from xinlian.screening import reports
from xinlian.screening.models import Result, Visibility

from .base import make_staff, make_student
from .screening_base import ScreeningTestCase
from .test_care_pages import CarePagesTestCase

MARK = "MKR-T3-routed-report-S0001"


class RoutedReadsTheReportTests(CarePagesTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.head_teacher_a2 = make_staff("T2101", "钱老师", Role.HEAD_TEACHER, cls.class_a2)
        cls.leader = make_staff("T2102", "何校长", Role.LEADER, cls.school)
        cls.duty = make_staff("T2103", "值班辅导员", Role.FUDAOYUAN, cls.college_b)

    def setUp(self) -> None:
        super().setUp()
        self.alert = self.report(seen=MARK, category="family", urgency="soon").alerts.get()

    def as_(self, user) -> None:
        self.client.force_login(user)

    def page_and_api(self, user) -> tuple[int, str, int, str]:
        self.as_(user)
        page = self.client.get(self.alert.get_absolute_url())
        api = self.client.get(reverse("care-api:alert-detail", args=[self.alert.pk]))
        return page.status_code, page.content.decode(), api.status_code, api.content.decode()

    def assert_reads(self, user) -> None:
        page_status, page, api_status, api = self.page_and_api(user)
        self.assertEqual((page_status, api_status), (200, 200), user.username)
        self.assertIn(MARK, page, user.username)
        self.assertIn("Family change", page, user.username)       # the category
        self.assertIn("Soon", page, user.username)                # the urgency
        self.assertEqual(json.loads(api)["concern"]["seen"], MARK)
        self.assertEqual(json.loads(api)["concern"]["urgency"], "soon")
        self.assertNotIn("孙悦", page)  # the reporter stays with the clinical tiers
        self.assertTrue(AuditEvent.objects.filter(actor=user, action="concern.view",
                                                  object_id=str(self.alert.concern_id)).exists())

    def assert_blind_or_missing(self, user, status: int) -> None:
        page_status, page, api_status, api = self.page_and_api(user)
        self.assertEqual((page_status, api_status), (status, status), user.username)
        self.assertNotIn(MARK, page, user.username)
        self.assertNotIn(MARK, api, user.username)

    def test_first_rung_head_teacher_reads_it_another_class_head_teacher_never(self):
        self.assert_reads(self.head_teacher_a1)
        self.assert_blind_or_missing(self.head_teacher_a2, 404)
        self.assert_blind_or_missing(self.outsider_b, 404)

    def test_college_lead_reads_it_once_it_climbs_to_them(self):
        self.assert_blind_or_missing(self.college_lead_a, 200)  # sees the level (risk tier), not the text
        Alert.objects.filter(pk=self.alert.pk).update(step=1)
        self.assert_reads(self.college_lead_a)

    def test_leadership_reads_it_after_escalation_only(self):
        self.assert_blind_or_missing(self.leader, 404)
        Alert.objects.filter(pk=self.alert.pk).update(step=3)
        self.assert_reads(self.leader)

    def test_the_duty_person_of_the_night_reads_it(self):
        self.assert_blind_or_missing(self.duty, 404)
        AlertDuty.objects.create(alert=self.alert, person=self.duty, role="first_line")
        self.assert_reads(self.duty)

    def test_once_resolved_it_is_no_longer_theirs_to_read(self):
        self.assert_reads(self.head_teacher_a1)
        self.alert.acknowledge(self.counsellor_a)
        self.alert.resolve(self.counsellor_a)
        self.assert_blind_or_missing(self.head_teacher_a1, 200)
        # The clinical tiers keep reading it.
        self.as_(self.counsellor_a)
        self.assertContains(self.client.get(self.alert.get_absolute_url()), MARK)

    def test_no_action_is_not_offered_to_who_cannot_judge_it(self):
        self.as_(self.head_teacher_a1)
        page = self.client.get(self.alert.get_absolute_url())
        self.assertContains(page, 'value="monitor"')
        self.assertNotContains(page, 'value="no_action"')
        body = self.client.get(reverse("care-api:alert-detail", args=[self.alert.pk])).json()
        self.assertEqual((body["can_act"], body["can_dismiss"]), (True, False))
        refused = self.client.post(reverse("care-api:alert-triage", args=[self.alert.pk]),
                                   {"decision": "no_action"}, content_type="application/json")
        self.assertEqual(refused.status_code, 403)
        self.as_(self.counsellor_a)
        self.assertContains(self.client.get(self.alert.get_absolute_url()), 'value="no_action"')
        self.assertTrue(self.client.get(reverse("care-api:alert-detail", args=[self.alert.pk])).json()["can_dismiss"])


class GuardianContactsTests(CarePagesTestCase):
    def test_fudaoyuan_and_head_teacher_read_guardian_contacts_audited_peers_never(self):
        for persona in ("counsellor_a", "head_teacher_a1"):
            user = self.login(persona)
            page = self.client.get(reverse("student-detail", args=[self.student_a1.pk]))
            self.assertContains(page, "13800138000", msg_prefix=persona)
            self.assertContains(page, 'href="tel:13800138000"', msg_prefix=persona)
            self.assertTrue(AuditEvent.objects.filter(actor=user, action="guardian.view",
                                                      object_id=str(self.student_a1.pk)).exists())
        for persona in ("committee_a1", "liaison_a1", "student_a1_user"):
            self.login(persona)
            page = self.client.get(reverse("student-detail", args=[self.student_a1.pk]))
            self.assertNotContains(page, "13800138000", msg_prefix=persona)
        # Another class's student: the head teacher of A1 reads nothing of B1's guardians.
        self.login("head_teacher_a1")
        self.assertEqual(self.client.get(reverse("student-detail", args=[self.student_b1.pk])).status_code, 404)


class EveryoneReportsTests(CarePagesTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.teacher = make_staff("T2201", "任课老师", None)  # a 任课老师 without a post
        cls.member = make_staff("T2202", "委员", Role.LEADERSHIP_MEMBER, cls.school)
        cls.parent_rep = make_staff("T2203", "家长代表", Role.PARENT_REP, cls.college_a)
        rep = make_student("S2204", "学生代表", cls.class_a2)
        Post.objects.create(person=rep.user, unit=cls.college_a, role=Role.STUDENT_REP,
                            starts_on=dt.date(2024, 9, 1))
        cls.student_rep = rep.user

    def file(self, user, student) -> int:
        self.client.force_login(user)
        return self.client.post(reverse("care-api:concern-list"), {
            "student": student.pk, "key": str(uuid.uuid4()), "category": "emotional",
            "urgency": "soon", "seen": "上课时一直哭"}, content_type="application/json").status_code

    def test_staff_without_a_post_leadership_and_representatives_report(self):
        for user in (self.teacher, self.member, self.parent_rep, self.student_rep):
            self.assertEqual(self.file(user, self.student_a1), 201, user.username)
            self.client.force_login(user)
            page = self.client.get(reverse("concern-new"))
            self.assertEqual(page.status_code, 200, user.username)
            self.assertContains(page, "Report a concern", msg_prefix=user.username)
        self.assertEqual(Concern.objects.count(), 4)
        self.assertEqual(Alert.objects.count(), 4)

    def test_the_page_takes_a_student_number_from_a_teacher_without_a_post(self):
        self.client.force_login(self.teacher)
        response = self.client.post(reverse("concern-new"), {
            **self.form(), "student": str(self.student_a1.pk)})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(Concern.objects.get().reporter_id, self.teacher.pk)

    def test_representatives_report_and_read_nothing(self):
        # A student representative reports within the unit of their post; staff (a parent
        # representative is posted as staff) report about any student by number.
        self.assertEqual(self.file(self.student_rep, self.student_b1), 404)
        for user in (self.parent_rep, self.student_rep):
            self.client.force_login(user)
            self.assertEqual(self.client.get(reverse("student-detail", args=[self.student_a1.pk])).status_code,
                             404, user.username)
            self.assertEqual(self.client.get(reverse("alert-inbox")).status_code, 403, user.username)

    def test_the_bureau_viewer_stays_outside(self):
        self.assertEqual(self.file(self.persona("bureau_viewer"), self.student_a1), 404)


class ScreeningAlertSaysWhyTests(ScreeningTestCase):
    CRITICAL_TEXT_EN = "Thoughts that you would be better off dead, or of hurting yourself"

    def setUp(self) -> None:
        self.client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
        # item 9 at 1, everything else at 0: a critical item in a result whose band is minimal.
        self.take(self.assignment_a1, 0, {9: 1})
        self.alert = Alert.objects.get(student=self.student_a1)
        spec = self.cis()[0].instrument.spec
        self.item9 = spec.label(next(it for it in spec.items if it.number == 9).text, "en")

    def test_the_routed_head_teacher_reads_why_without_the_result(self):
        self.client.force_login(self.head_teacher_a1)
        page = self.client.get(self.alert.get_absolute_url())
        self.assertContains(page, "Why the screening raised it")
        self.assertContains(page, "PHQ-9")
        self.assertContains(page, "Item 9 (thoughts of death or self-harm)")
        self.assertContains(page, self.item9)
        self.assertNotContains(page, 'id="alert-result-link"')
        body = self.client.get(reverse("care-api:alert-detail", args=[self.alert.pk])).json()
        reason = body["screening_reason"]
        self.assertIn("PHQ-9", reason["instrument"])
        self.assertEqual(reason["critical"][0]["question"], self.item9)
        self.assertTrue(reason["band"])
        self.assertIsNone(reason["result"])
        self.assertTrue(AuditEvent.objects.filter(actor=self.head_teacher_a1, action="alert.reason").exists())

    def test_the_fudaoyuan_gets_the_link_to_the_result(self):
        self.client.force_login(self.counsellor_a)
        page = self.client.get(self.alert.get_absolute_url())
        link = reverse("screening:result-detail", args=[self.assignment_a1.pk])
        self.assertContains(page, f'href="{link}"')
        self.assertEqual(self.client.get(link).status_code, 200)
        body = self.client.get(reverse("care-api:alert-detail", args=[self.alert.pk])).json()
        self.assertEqual(body["screening_reason"]["result"], self.assignment_a1.pk)

    def test_not_routed_reads_no_reason(self):
        self.client.force_login(self.outsider_b)
        self.assertEqual(self.client.get(self.alert.get_absolute_url()).status_code, 404)
        body = self.client.get(reverse("care-api:alert-detail", args=[self.alert.pk]))
        self.assertEqual(body.status_code, 404)
        self.assertNotIn(self.item9, body.content.decode())

    def test_a_critical_result_is_never_badged_negative(self):
        self.client.force_login(self.director)
        page = self.client.get(reverse("screening:result-detail", args=[self.assignment_a1.pk]))
        self.assertContains(page, "xl-critical-badge")
        self.assertContains(page, "text-bg-danger fs-6 xl-classification")
        self.assertContains(page, "Critical item — not a negative screen")
        self.assertNotContains(page, "Screen negative")
        self.assertNotContains(page, "text-bg-light border fs-6 xl-classification")
        # Nor in the alert's reason, nor in the campaign's report.
        self.assertNotIn("negative", json.dumps(json.loads(self.alert.reason)["band"]))
        with translation.override("en"):
            summary = reports.instrument_summaries(Result.objects.all(), [self.cis()[0].instrument])[0]
        counts = {label: n for label, _positive, n, _share in summary.classes}
        self.assertEqual((counts["Screen negative"], counts["Critical item — not a negative screen"]), (0, 1))
        with translation.override("en"):
            sheets, rows = reports.export_sheets(Result.objects.all())
        self.assertEqual(rows, 1)
        line = sheets[0][2][0]
        self.assertIn("Critical item — not a negative screen", line)
        self.assertNotIn("Screen negative", line)

    def test_opening_a_case_from_it_resolves_it_and_puts_the_student_at_orange(self):
        self.client.force_login(self.director)
        self.client.post(reverse("case-new"), {"student": self.student_a1.pk, "alert": self.alert.pk})
        self.alert.refresh_from_db()
        self.assertEqual(self.alert.status, AlertStatus.RESOLVED)
        self.assertEqual(RiskEntry.current_for(self.student_a1).level, "orange")


class ConsentFollowsTheRoutingTests(ScreeningTestCase):
    def text(self, visibility: str = Visibility.CENTRE_AND_FUDAOYUAN) -> str:
        with translation.override("en"):
            return " ".join(screening_actions.who_learns_what(visibility))

    def test_the_head_teacher_is_named_among_those_alerted(self):
        text = self.text()
        self.assertIn("your 辅导员, your head teacher and the counselling-centre director are alerted at once", text)
        self.assertIn("your college's mental-health lead and the school's leadership", text)
        self.assertNotIn("head teacher sees only", text)

    def test_changing_the_routing_changes_the_text(self):
        ladder = [(Role.FUDAOYUAN,), (Role.COLLEGE_LEAD,), (Role.CENTRE_DIRECTOR,), (Role.LEADER, Role.DEPUTY_LEADER)]
        with mock.patch("xinlian.care.network.LADDER", ladder):
            text = self.text()
        self.assertIn("your 辅导员 and the counselling-centre director are alerted at once", text)
        self.assertNotIn("head teacher", text)
        with mock.patch("xinlian.care.network.RED_AT_ONCE", ()):
            text = self.text()
        self.assertIn("your 辅导员 and your head teacher are alerted at once", text)
        self.assertIn("the counselling-centre director", text)  # later, up the ladder

    def test_changing_who_reads_results_changes_the_text(self):
        self.assertIn("and your 辅导员.", self.text())
        self.assertNotIn("your 辅导员.", self.text(Visibility.CENTRE_ONLY).split("alerted")[0])

    def test_the_student_reads_it_in_both_languages(self):
        self.client.force_login(self.student_a1.user)
        take = reverse("screening:take", args=[self.assignment_a1.pk])
        page = self.client.get(take)
        with translation.override(settings.LANGUAGE_CODE):
            expected = screening_actions.who_learns_what(Visibility.CENTRE_AND_FUDAOYUAN)
        for line in expected:
            self.assertContains(page, line.replace("'", "&#x27;"))


class GuardianContactsApiTests(CarePagesTestCase):
    def test_the_api_gives_them_to_the_same_readers_audited(self):
        path = reverse("care-api:student-guardians", args=[self.student_a1.pk])
        for persona in ("counsellor_a", "head_teacher_a1", "director"):
            user = self.login(persona)
            response = self.client.get(path)
            self.assertEqual(response.status_code, 200, persona)
            self.assertEqual(response.json()[0]["phone"], "13800138000")
            self.assertTrue(AuditEvent.objects.filter(actor=user, action="guardian.view", result="allowed",
                                                      object_id=str(self.student_a1.pk)).exists())
        for persona, status in (("committee_a1", 403), ("student_a1_user", 403), ("outsider_b", 404)):
            self.login(persona)
            response = self.client.get(path)
            self.assertEqual(response.status_code, status, persona)
            self.assertNotIn("13800138000", response.content.decode())
        self.assertTrue(AuditEvent.objects.filter(action="guardian.view", result="denied").exists())
