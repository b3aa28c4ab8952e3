"""The staff screening pages as each persona uses them: campaigns (create, edit, launch), live
progress by unit with drill-down, results (tier 3, audited), the report and the export, the
interview list and its record, the instrument library and the back office.

Pages are requested in English (the msgids), so the assertions hold once translations land."""

from __future__ import annotations

import datetime as dt
import io

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from xinlian.access.models import AuditEvent, AuditResult
from xinlian.care.models import RiskEntry, RiskLevel
from xinlian.network.models import Role, Student, Unit, UnitKind
from xinlian.screening.models import (
    Assignment,
    Campaign,
    CampaignInstrument,
    Instrument,
    Interview,
    InterviewStatus,
    RuleSet,
    Visibility,
    act_on_submissions,
)

from .base import make_staff, make_student
from .screening_base import PURPOSE, ScreeningTestCase

LOCAL = "%Y-%m-%dT%H:%M"

RESTRICTED_YAML = """
code: TESTR
version: "1.0"
rules_version: "t-1"
name: {zh-Hans: 测试受限量表, en: Test restricted scale}
short_name: TESTR
licence:
  status: restricted
  note: {zh-Hans: 须经版权方授权, en: Only with the rights holder's written permission}
source: "test"
needs_verification: true
wording: description
option_sets:
  yn:
    - {value: 0, label: {zh-Hans: 否, en: "No"}}
    - {value: 1, label: {zh-Hans: 是, en: "Yes"}}
items:
  - {number: 1, construct: a, options: yn, text: {zh-Hans: 问题一, en: Question one}}
  - {number: 2, construct: b, options: yn, text: {zh-Hans: 问题二, en: Question two}}
scores:
  - {id: total, op: sum, items: all, label: {zh-Hans: 总分, en: Total}}
"""

# Three schema problems at once: no source, an unknown licence status, an item without construct.
MALFORMED_YAML = """
code: BROKEN
version: "1.0"
rules_version: "t-1"
name: {zh-Hans: 坏, en: Broken}
licence: {status: maybe, note: {zh-Hans: 无, en: none}}
wording: description
option_sets:
  yn:
    - {value: 0, label: {zh-Hans: 否, en: "No"}}
    - {value: 1, label: {zh-Hans: 是, en: "Yes"}}
items:
  - {number: 1, options: yn, text: {zh-Hans: 一, en: One}}
scores:
  - {id: total, op: sum, items: all, label: {zh-Hans: 总分, en: Total}}
"""


def restricted_instrument() -> Instrument:
    return Instrument.objects.filter(code="TESTR").first() or Instrument.upload(RESTRICTED_YAML, by=None)


class StaffPagesTestCase(ScreeningTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.phq9 = Instrument.latest("PHQ9")

    def setUp(self) -> None:
        self.client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    def url(self, name: str, *args: object) -> str:
        return reverse(f"screening:{name}", args=args)

    def assignment(self, student: Student, campaign: Campaign | None = None) -> Assignment:
        return Assignment.objects.get(campaign=campaign or self.campaign, student=student)

    def row(self, response, code: str):  # noqa: ANN001, ANN201
        rows = {r.unit.code if r.unit else "staff": r for r in response.context["rows"]}
        return rows.get(code)

    def campaign_form(self, **kw: object) -> dict[str, object]:
        now = timezone.localtime()
        data: dict[str, object] = {
            "name": "2026级新生心理普查", "instruments": [self.phq9.pk], f"order_{self.phq9.pk}": "1",
            "units": [self.college_a.pk], "cohort": "2023",
            "opens_at": now.strftime(LOCAL), "closes_at": (now + dt.timedelta(days=10)).strftime(LOCAL),
            "purpose": PURPOSE, "visibility": Visibility.CENTRE_AND_FUDAOYUAN,
        }
        data.update(kw)
        return {k: v for k, v in data.items() if v is not None}


# --- campaigns ----------------------------------------------------------------------------------


class CampaignManageTests(StaffPagesTestCase):
    def test_director_creates_a_draft_campaign(self) -> None:
        self.login("director")
        self.assertEqual(self.client.get(self.url("campaign-new")).status_code, 200)
        response = self.client.post(self.url("campaign-new"), self.campaign_form())
        campaign = Campaign.objects.get(name="2026级新生心理普查")
        self.assertRedirects(response, campaign.get_absolute_url())
        self.assertEqual(campaign.school, self.school)
        self.assertEqual(campaign.created_by, self.director)
        self.assertEqual(list(campaign.units.all()), [self.college_a])
        self.assertEqual(campaign.cohort, 2023)
        self.assertIsNone(campaign.launched_at)
        self.assertEqual(campaign.ordered_instruments(), [self.phq9])
        self.assertTrue(AuditEvent.objects.filter(action="screening.campaign.create",
                                                  object_id=str(campaign.pk)).exists())

    def test_numbers_set_the_order_of_the_questionnaires(self) -> None:
        gad7 = Instrument.latest("GAD7")
        self.login("director")
        self.client.post(self.url("campaign-new"), self.campaign_form(
            instruments=[self.phq9.pk, gad7.pk], **{f"order_{self.phq9.pk}": "2", f"order_{gad7.pk}": "1"}))
        campaign = Campaign.objects.get(name="2026级新生心理普查")
        self.assertEqual([i.code for i in campaign.ordered_instruments()], ["GAD7", "PHQ9"])

    def test_extra_critical_items_are_stored_as_code_and_id(self) -> None:
        inst = Instrument.latest("SCL90")
        item = next(c for c in inst.spec.optional_critical() if c["id"] == "item15")
        self.login("director")
        form = self.campaign_form(instruments=[inst.pk], extra_critical=[f"{inst.code}:{item['id']}"],
                                  **{f"order_{inst.pk}": "1"})
        self.client.post(self.url("campaign-new"), form)
        campaign = Campaign.objects.get(name="2026级新生心理普查")
        self.assertEqual(campaign.extra_critical, [f"{inst.code}:{item['id']}"])
        # An item of a questionnaire that is not chosen is refused.
        response = self.client.post(self.url("campaign-new"), self.campaign_form(
            name="另一个", extra_critical=[f"{inst.code}:{item['id']}"]))
        self.assertEqual(response.status_code, 400)
        self.assertFalse(Campaign.objects.filter(name="另一个").exists())

    def test_form_offers_only_the_schools_units(self) -> None:
        other = self.bureau.add_unit(kind=UnitKind.SCHOOL, code="SCH2", name="另一所大学", name_en="Other U")
        far = other.add_unit(kind=UnitKind.COLLEGE, code="O-C", name="远方学院", name_en="Far College")
        self.login("director")
        page = self.client.get(self.url("campaign-new")).content.decode()
        self.assertIn("College A", page)
        self.assertNotIn("Far College", page)
        response = self.client.post(self.url("campaign-new"), self.campaign_form(units=[far.pk]))
        self.assertEqual(response.status_code, 400)
        self.assertFalse(Campaign.objects.filter(name="2026级新生心理普查").exists())

    def test_window_must_close_after_it_opens(self) -> None:
        self.login("director")
        now = timezone.localtime()
        response = self.client.post(self.url("campaign-new"), self.campaign_form(
            closes_at=(now - dt.timedelta(days=1)).strftime(LOCAL)))
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "The window must close after it opens.", status_code=400)

    def test_only_the_director_manages(self) -> None:
        draft = Campaign.objects.create(school=self.school, name="草稿", opens_at=timezone.now(),
                                        closes_at=timezone.now() + dt.timedelta(days=3), purpose=PURPOSE,
                                        created_by=self.director)
        for persona in ("counsellor_a", "outsider_b", "head_teacher_a1"):
            with self.subTest(persona=persona):
                self.login(persona)
                self.assertEqual(self.client.get(self.url("campaign-new")).status_code, 403)
                self.assertEqual(self.client.post(self.url("campaign-new"), self.campaign_form()).status_code, 403)
                self.assertEqual(self.client.get(self.url("campaign-detail", draft.pk)).status_code, 200)
                self.assertEqual(self.client.get(self.url("campaign-edit", draft.pk)).status_code, 403)
                self.assertEqual(self.client.post(self.url("campaign-launch", draft.pk)).status_code, 403)
        self.login("committee_a1")
        self.assertEqual(self.client.get(self.url("campaign-edit", draft.pk)).status_code, 404)
        self.assertEqual(self.client.post(self.url("campaign-launch", draft.pk)).status_code, 404)
        draft.refresh_from_db()
        self.assertIsNone(draft.launched_at)
        self.assertFalse(Campaign.objects.filter(name="2026级新生心理普查").exists())

    def test_launch_invites_once_and_says_how_many(self) -> None:
        self.login("director")
        self.client.post(self.url("campaign-new"), self.campaign_form(units=[], cohort=None))
        campaign = Campaign.objects.get(name="2026级新生心理普查")
        response = self.client.post(self.url("campaign-launch", campaign.pk), follow=True)
        everyone = Student.objects.count()
        self.assertContains(response, f"Launched: {everyone} people invited.")
        self.assertEqual(campaign.assignments.count(), everyone)
        response = self.client.post(self.url("campaign-launch", campaign.pk), follow=True)
        self.assertContains(response, "Everyone in the audience is already invited.")
        make_student("S0088", "新来的", self.class_a2)
        response = self.client.post(self.url("campaign-launch", campaign.pk), follow=True)
        self.assertContains(response, "1 newcomer invited.")
        self.assertEqual(campaign.assignments.count(), everyone + 1)
        self.assertEqual(AuditEvent.objects.filter(action="screening.campaign.launch").count(), 3)

    def test_after_launch_only_name_closing_and_purpose_change(self) -> None:
        self.login("director")
        page = self.client.get(self.url("campaign-edit", self.campaign.pk))
        self.assertNotContains(page, 'name="instruments"')
        self.assertNotContains(page, 'name="opens_at"')
        closes = timezone.localtime() + dt.timedelta(days=20)
        response = self.client.post(self.url("campaign-edit", self.campaign.pk), {
            "name": "改名后的普查", "closes_at": closes.strftime(LOCAL), "purpose": PURPOSE,
            "instruments": [Instrument.latest("GAD7").pk], "cohort": "2019"})
        self.assertRedirects(response, self.campaign.get_absolute_url())
        campaign = Campaign.objects.get(pk=self.campaign.pk)
        self.assertEqual(campaign.name, "改名后的普查")
        self.assertEqual(campaign.consent_version, 1)  # same purpose: same consent
        self.assertEqual([i.code for i in campaign.ordered_instruments()], ["PHQ9"])
        self.assertIsNone(campaign.cohort)
        # A new purpose is a new consent text.
        response = self.client.post(self.url("campaign-edit", self.campaign.pk), {
            "name": "改名后的普查", "closes_at": closes.strftime(LOCAL), "purpose": PURPOSE + "（已更新）"},
            follow=True)
        campaign.refresh_from_db()
        self.assertEqual(campaign.consent_version, 2)
        self.assertContains(response, "consent version 2")

    def test_a_draft_may_change_everything(self) -> None:
        self.login("director")
        self.client.post(self.url("campaign-new"), self.campaign_form())
        campaign = Campaign.objects.get(name="2026级新生心理普查")
        page = self.client.get(self.url("campaign-edit", campaign.pk))
        self.assertContains(page, 'name="instruments"')
        gad7 = Instrument.latest("GAD7")
        response = self.client.post(self.url("campaign-edit", campaign.pk), self.campaign_form(
            instruments=[gad7.pk], units=[self.college_b.pk], cohort=None, **{f"order_{gad7.pk}": "1"}))
        self.assertRedirects(response, campaign.get_absolute_url())
        campaign.refresh_from_db()
        self.assertEqual([i.code for i in campaign.ordered_instruments()], ["GAD7"])
        self.assertEqual(list(campaign.units.all()), [self.college_b])
        self.assertIsNone(campaign.cohort)
        self.assertEqual(campaign.consent_version, 1)

    def test_another_schools_staff_do_not_see_the_campaign(self) -> None:
        other = self.bureau.add_unit(kind=UnitKind.SCHOOL, code="SCH2", name="另一所大学")
        college = other.add_unit(kind=UnitKind.COLLEGE, code="O-C", name="远方学院")
        make_staff("T4001", "外校主任", Role.CENTRE_DIRECTOR, other)
        make_staff("T4002", "外校辅导员", Role.FUDAOYUAN, college)
        for number in ("T4001", "T4002"):
            with self.subTest(number=number):
                self.client.force_login(type(self.director).objects.get(username=number))
                for name in ("campaign-detail", "campaign-edit", "campaign-report", "campaign-export"):
                    self.assertEqual(self.client.get(self.url(name, self.campaign.pk)).status_code, 404)
                self.assertEqual(self.client.post(self.url("campaign-launch", self.campaign.pk)).status_code, 404)
                listing = self.client.get(self.url("campaign-list"))
                self.assertNotContains(listing, self.campaign.name)

    def test_restricted_licence_is_shown_on_list_form_and_detail(self) -> None:
        inst = restricted_instrument()
        campaign = Campaign.objects.create(school=self.school, name="受限普查", opens_at=timezone.now(),
                                           closes_at=timezone.now() + dt.timedelta(days=3), purpose=PURPOSE,
                                           created_by=self.director)
        CampaignInstrument.objects.create(campaign=campaign, instrument=inst)
        note = "Only with the rights holder&#x27;s written permission"
        self.login("director")
        listing = self.client.get(self.url("campaign-list"))
        self.assertContains(listing, "Restricted licence")
        self.assertContains(listing, note)
        detail = self.client.get(self.url("campaign-detail", campaign.pk))
        self.assertContains(detail, 'id="restricted-licence"')
        self.assertContains(detail, note)
        self.assertContains(detail, "Needs verification")
        form = self.client.get(self.url("campaign-edit", campaign.pk))
        self.assertContains(form, 'id="restricted-licence"')
        self.assertContains(form, note)
        # The open PHQ-9 campaign carries no warning.
        self.assertNotContains(self.client.get(self.url("campaign-detail", self.campaign.pk)),
                               'id="restricted-licence"')


# --- progress -----------------------------------------------------------------------------------


class ProgressTests(StaffPagesTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.committee_student = Student.objects.get(user=cls.committee_a1)
        cls.liaison_student = Student.objects.get(user=cls.liaison_a1)

    def setUp(self) -> None:
        super().setUp()
        self.take(self.assignment(self.student_a1), 0)                      # A1: completed
        started = self.assignment(self.roommate_a1)                            # A1: started
        started.consent(True, 1)
        started.save_answer(self.cis()[0].pk, 1, 1, 3.0)
        self.assignment(self.classmate_a1).consent(False, 1)                  # A1: declined
        self.take(self.assignment(self.student_b1), 0)                        # B1: completed

    def test_director_sees_every_college_with_counts(self) -> None:
        self.login("director")
        response = self.client.get(self.url("campaign-detail", self.campaign.pk))
        a, b = self.row(response, "CA"), self.row(response, "CB")
        # College A: five in class A1 (a1, roommate, classmate, committee, liaison) + one in A2.
        self.assertEqual((a.tally.invited, a.tally.completed, a.tally.started, a.tally.declined,
                          a.tally.not_started), (6, 1, 1, 1, 3))
        self.assertEqual((b.tally.invited, b.tally.completed), (1, 1))
        self.assertEqual(response.context["total"].invited, 7)
        self.assertContains(response, self.url("campaign-unit", self.campaign.pk, self.college_a.pk))

    def test_campaign_list_counts_the_students_one_follows(self) -> None:
        self.login("director")
        self.assertContains(self.client.get(self.url("campaign-list")), "2 of 7 completed")
        self.login("head_teacher_a1")
        self.assertContains(self.client.get(self.url("campaign-list")), "1 of 5 completed")
        self.login("outsider_b")
        self.assertContains(self.client.get(self.url("campaign-list")), "1 of 1 completed")

    def test_drill_down_college_then_class(self) -> None:
        self.login("director")
        college = self.client.get(self.url("campaign-unit", self.campaign.pk, self.college_a.pk))
        a1, a2 = self.row(college, "CA-1"), self.row(college, "CA-2")
        self.assertEqual((a1.tally.invited, a1.tally.completed, a1.tally.declined), (5, 1, 1))
        self.assertEqual((a2.tally.invited, a2.tally.not_started), (1, 1))
        klass = self.client.get(self.url("campaign-unit", self.campaign.pk, self.class_a1.pk))
        waiting = {a.student.number: a.get_status_display() for a in klass.context["waiting"]}
        self.assertEqual(waiting, {"S0002": "Started", "S0003": "Declined", "S0006": "Not started",
                                   "S0007": "Not started"})
        self.assertNotContains(klass, "张小明")  # completed: nothing to remind
        self.assertTrue(AuditEvent.objects.filter(action="screening.progress.view",
                                                  object_id=str(self.class_a1.pk)).exists())

    def test_head_teacher_sees_their_class_but_no_results(self) -> None:
        self.login("head_teacher_a1")
        detail = self.client.get(self.url("campaign-detail", self.campaign.pk))
        self.assertEqual([r.unit for r in detail.context["rows"]], [self.class_a1])
        self.assertNotContains(detail, "Export results")
        klass = self.client.get(self.url("campaign-unit", self.campaign.pk, self.class_a1.pk))
        self.assertContains(klass, "李华")
        self.assertEqual(self.client.get(self.url("campaign-unit", self.campaign.pk, self.class_a2.pk)).status_code,
                         404)
        a1 = self.assignment(self.student_a1)
        self.assertEqual(self.client.get(self.url("result-detail", a1.pk)).status_code, 404)
        self.assertEqual(self.client.get(self.url("campaign-report", self.campaign.pk)).status_code, 403)
        self.assertEqual(self.client.get(self.url("campaign-export", self.campaign.pk)).status_code, 403)
        # The college page above their class counts their class only.
        college = self.client.get(self.url("campaign-unit", self.campaign.pk, self.college_a.pk))
        self.assertEqual([r.unit for r in college.context["rows"]], [self.class_a1])

    def test_outsider_in_college_b_sees_the_campaign_but_not_college_a(self) -> None:
        self.login("outsider_b")
        detail = self.client.get(self.url("campaign-detail", self.campaign.pk))
        self.assertEqual(detail.status_code, 200)
        self.assertEqual([r.unit for r in detail.context["rows"]], [self.class_b1])
        self.assertNotContains(detail, "College A")
        for unit in (self.college_a, self.class_a1, self.school):
            with self.subTest(unit=unit.code):
                self.assertEqual(self.client.get(self.url("campaign-unit", self.campaign.pk, unit.pk)).status_code,
                                 404 if unit != self.school else 200)
        school = self.client.get(self.url("campaign-unit", self.campaign.pk, self.school.pk))
        self.assertEqual([r.unit for r in school.context["rows"]], [self.college_b])

    def test_student_moved_mid_campaign_is_counted_in_the_new_class(self) -> None:
        self.student_a2.klass = self.class_b1
        self.student_a2.save()
        self.login("director")
        detail = self.client.get(self.url("campaign-detail", self.campaign.pk))
        self.assertEqual(self.row(detail, "CA").tally.invited, 5)
        self.assertEqual(self.row(detail, "CB").tally.invited, 2)
        klass = self.client.get(self.url("campaign-unit", self.campaign.pk, self.class_b1.pk))
        self.assertContains(klass, "赵磊")
        college = self.client.get(self.url("campaign-unit", self.campaign.pk, self.college_a.pk))
        self.assertIsNone(self.row(college, "CA-2"))

    def test_peers_and_the_bureau_see_no_campaign(self) -> None:
        for persona in ("committee_a1", "liaison_a1", "student_a1_user", "bureau_viewer"):
            with self.subTest(persona=persona):
                self.login(persona)
                self.assertEqual(self.client.get(self.url("campaign-list")).status_code, 403)
                self.assertEqual(self.client.get(self.url("campaign-detail", self.campaign.pk)).status_code, 404)


class LateActionTests(StaffPagesTestCase):
    """A stopped worker must not go unnoticed: alerts of submitted screenings depend on it."""

    def test_the_centre_is_told_when_submissions_wait_for_the_worker(self) -> None:
        detail = self.url("campaign-detail", self.campaign.pk)
        self.take(self.assignment(self.student_a1), 0, {9: 2}, act=False)
        self.login("director")
        self.assertNotContains(self.client.get(detail), 'id="late-actions"')  # just submitted
        Assignment.objects.filter(campaign=self.campaign).update(
            submitted_at=timezone.now() - dt.timedelta(minutes=5))
        page = self.client.get(detail, HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(page, 'id="late-actions"')
        self.assertContains(page, "1 submission with a critical item or a positive screen has waited 5 minutes")
        self.assertNotContains(page, "张小明")  # who it is stays behind the results tier
        page = self.client.get(detail, HTTP_ACCEPT_LANGUAGE="zh-hans")
        self.assertContains(page, "xinlian worker")
        act_on_submissions()
        self.assertNotContains(self.client.get(detail), 'id="late-actions"')


class GuardianConsentTests(StaffPagesTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.student_a1.birth_date = timezone.localdate() - dt.timedelta(days=365 * 13)
        self.student_a1.save()
        self.a1 = self.assignment(self.student_a1)

    def test_head_teacher_records_how_the_guardian_consented(self) -> None:
        self.login("head_teacher_a1")
        page = self.client.get(self.url("campaign-unit", self.campaign.pk, self.class_a1.pk))
        self.assertContains(page, "Under 14: guardian consent needed")
        self.assertContains(page, self.url("guardian-consent", self.a1.pk))
        response = self.client.post(self.url("guardian-consent", self.a1.pk), {"note": "电话确认（母亲）"})
        self.assertRedirects(response, self.url("campaign-unit", self.campaign.pk, self.class_a1.pk))
        a1 = Assignment.objects.get(pk=self.a1.pk)
        self.assertIsNotNone(a1.guardian_consent_at)
        self.assertEqual(a1.guardian_consent_by, self.head_teacher_a1)
        self.assertEqual(a1.guardian_consent_note, "电话确认（母亲）")
        self.assertFalse(a1.needs_guardian_consent)
        self.assertTrue(AuditEvent.objects.filter(action="screening.guardian_consent",
                                                  result=AuditResult.ALLOWED).exists())

    def test_a_note_is_required(self) -> None:
        self.login("counsellor_a")
        self.client.post(self.url("guardian-consent", self.a1.pk), {"note": ""})
        self.assertIsNone(Assignment.objects.get(pk=self.a1.pk).guardian_consent_at)

    def test_outside_the_risk_tier_is_404(self) -> None:
        for persona in ("outsider_b", "committee_a1", "student_a1_user", "bureau_viewer"):
            with self.subTest(persona=persona):
                self.login(persona)
                response = self.client.post(self.url("guardian-consent", self.a1.pk), {"note": "x"})
                self.assertEqual(response.status_code, 404)
        self.assertIsNone(Assignment.objects.get(pk=self.a1.pk).guardian_consent_at)
        self.login("director")
        self.assertEqual(self.client.get(self.url("guardian-consent", self.a1.pk)).status_code, 405)


# --- results ------------------------------------------------------------------------------------


class ResultTests(StaffPagesTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.take(self.assignment(self.student_a1), 2, {9: 1})  # total 17, item 9: critical
        self.take(self.assignment(self.student_b1), 0)
        self.a1 = self.assignment(self.student_a1)
        self.b1 = self.assignment(self.student_b1)

    def test_counsellor_a_reads_college_a_results_audited(self) -> None:
        self.login("counsellor_a")
        response = self.client.get(self.url("result-detail", self.a1.pk))
        self.assertEqual(response.status_code, 200)
        for text in ("张小明", "Total", "17", "Moderately severe", "Screen positive", "Item 9",
                     "Total at or above the cut-off", "Feeling down or hopeless", "More than half the days",
                     "Instrument version 1.0", "@media print"):
            self.assertContains(response, text)
        self.assertTrue(AuditEvent.objects.filter(action="screening.result.view", object_id=str(self.a1.pk),
                                                  result=AuditResult.ALLOWED).exists())
        response = self.client.get(self.url("result-detail", self.b1.pk))
        self.assertEqual(response.status_code, 404)
        self.assertTrue(AuditEvent.objects.filter(action="screening.result.view", object_id=str(self.b1.pk),
                                                  result=AuditResult.DENIED).exists())

    def test_each_read_writes_an_audit_row(self) -> None:
        self.login("director")
        before = AuditEvent.objects.filter(action="screening.result.view").count()
        self.client.get(self.url("result-detail", self.a1.pk))
        self.client.get(self.url("result-detail", self.a1.pk))
        self.assertEqual(AuditEvent.objects.filter(action="screening.result.view").count(), before + 2)

    def test_centre_only_hides_results_from_the_fudaoyuan(self) -> None:
        Campaign.objects.filter(pk=self.campaign.pk).update(visibility=Visibility.CENTRE_ONLY)
        self.login("counsellor_a")
        self.assertEqual(self.client.get(self.url("result-detail", self.a1.pk)).status_code, 404)
        self.assertEqual(self.client.get(self.url("campaign-report", self.campaign.pk)).status_code, 403)
        self.login("director")
        self.assertEqual(self.client.get(self.url("result-detail", self.a1.pk)).status_code, 200)

    def test_head_teacher_and_peers_read_no_result(self) -> None:
        for persona in ("head_teacher_a1", "committee_a1", "outsider_b", "student_a1_user"):
            with self.subTest(persona=persona):
                self.login(persona)
                self.assertEqual(self.client.get(self.url("result-detail", self.a1.pk)).status_code, 404)

    def test_student_page_links_results_for_tier_3_and_status_for_head_teachers(self) -> None:
        self.login("counsellor_a")
        page = self.client.get(reverse("student-detail", args=[self.student_a1.pk]))
        self.assertContains(page, self.url("result-detail", self.a1.pk))
        self.assertContains(page, "Interview pending")
        self.login("head_teacher_a1")
        page = self.client.get(reverse("student-detail", args=[self.student_a1.pk])).content.decode()
        section = page.split('id="student-screenings"', 1)[1].split("</div>", 1)[0]
        self.assertIn("Interview pending", section)
        self.assertNotIn("<a ", section)  # status only: no link to results or the interview
        self.assertNotIn(self.url("result-detail", self.a1.pk), page)


class ReportExportTests(StaffPagesTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.formula = make_student("S0050", "=HYPERLINK(\"http://x\")", cls.class_a1)
        cls.campaign.launch(cls.director)

    def setUp(self) -> None:
        super().setUp()
        self.take(self.assignment(self.student_a1), 2, {9: 1})      # positive + critical
        self.take(self.assignment(self.roommate_a1), 2, {9: 0})     # positive
        self.take(self.assignment(self.formula), 0)                 # negative
        self.take(self.assignment(self.student_b1), 3, {9: 0})      # positive (college B)

    def test_report_by_unit_from_plain_columns(self) -> None:
        self.login("director")
        response = self.client.get(self.url("campaign-report", self.campaign.pk))
        self.assertEqual(response.status_code, 200)
        a, b = self.row(response, "CA"), self.row(response, "CB")
        self.assertEqual((a.tally.completed, a.tally.positive, a.tally.critical), (3, 2, 1))
        self.assertEqual((a.tally.pending, a.tally.done), (2, 0))
        self.assertEqual((b.tally.completed, b.tally.positive), (1, 1))
        summary = response.context["summaries"][0]
        self.assertEqual((summary.results, summary.positive, summary.critical), (4, 3, 1))
        bands = dict((b.label, b.n) for b in summary.bands[0][1])
        self.assertEqual(bands["None or minimal"], 1)
        self.assertEqual(bands["Moderately severe"], 2)  # 17 and 16
        self.assertEqual(bands["Severe"], 1)             # 24
        # Drill down: college A's classes.
        college = self.client.get(self.url("campaign-report", self.campaign.pk), {"unit": self.college_a.pk})
        self.assertEqual(self.row(college, "CA-1").tally.positive, 2)
        self.assertEqual(college.context["summaries"][0].results, 3)

    def test_overdue_interviews_are_counted(self) -> None:
        Interview.objects.filter(student=self.roommate_a1).update(due_on=timezone.localdate() - dt.timedelta(days=2))
        self.login("director")
        response = self.client.get(self.url("campaign-report", self.campaign.pk))
        self.assertEqual(self.row(response, "CA").tally.overdue, 1)

    def test_fudaoyuan_report_covers_their_college_only(self) -> None:
        self.login("counsellor_a")
        response = self.client.get(self.url("campaign-report", self.campaign.pk))
        self.assertEqual([r.unit for r in response.context["rows"]], [self.class_a1, self.class_a2])
        self.assertEqual(response.context["summaries"][0].results, 3)
        self.assertNotContains(response, "College B")

    def test_report_refused_without_results_tier(self) -> None:
        self.login("head_teacher_a1")
        self.assertEqual(self.client.get(self.url("campaign-report", self.campaign.pk)).status_code, 403)
        self.login("committee_a1")
        self.assertEqual(self.client.get(self.url("campaign-report", self.campaign.pk)).status_code, 404)

    def read(self, response) -> list[list[object]]:  # noqa: ANN001
        book = load_workbook(io.BytesIO(response.content), read_only=True)
        return [list(r) for sheet in book.worksheets for r in sheet.iter_rows(values_only=True)]

    def test_export_rows_in_scope_formula_safe_and_audited(self) -> None:
        self.login("counsellor_a")
        response = self.client.get(self.url("campaign-export", self.campaign.pk))
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response["Content-Type"].startswith("application/vnd.openxmlformats"))
        rows = self.read(response)
        header, body = rows[0], rows[1:]
        self.assertEqual(header[:3], ["Number", "Name", "Class"])
        self.assertIn("Total", header)
        numbers = sorted(r[0] for r in body)
        self.assertEqual(numbers, ["S0001", "S0002", "S0050"])  # 陈静 (college B) is not there
        formula_row = next(r for r in body if r[0] == "S0050")
        self.assertEqual(formula_row[1], "'=HYPERLINK(\"http://x\")")
        a1_row = next(r for r in body if r[0] == "S0001")
        self.assertEqual(a1_row[2], "College A Class A1")
        self.assertEqual(a1_row[5], "Yes")
        self.assertIn("Item 9", a1_row[6])
        self.assertIn(17, a1_row)
        event = AuditEvent.objects.get(action="screening.export")
        self.assertEqual(event.detail, "3 rows")
        self.assertEqual(event.actor, self.counsellor_a)

    def test_director_exports_everything(self) -> None:
        self.login("director")
        rows = self.read(self.client.get(self.url("campaign-export", self.campaign.pk)))
        self.assertEqual(len(rows) - 1, 4)


# --- interviews ---------------------------------------------------------------------------------


class InterviewTests(StaffPagesTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.take(self.assignment(self.student_a1), 2, {9: 0})  # positive, not urgent
        self.take(self.assignment(self.roommate_a1), 0, {9: 2})  # critical: urgent
        self.take(self.assignment(self.student_b1), 2, {9: 0})
        self.iv_a1 = Interview.objects.get(student=self.student_a1)
        self.iv_room = Interview.objects.get(student=self.roommate_a1)

    def test_list_for_tier_3_urgent_first(self) -> None:
        self.login("director")
        response = self.client.get(self.url("interview-list"))
        listed = [i.student.number for i in response.context["interviews"]]
        self.assertEqual(listed[0], "S0002")  # the critical item comes first
        self.assertEqual(set(listed), {"S0001", "S0002", "S0005"})
        self.assertContains(response, "Critical item")
        self.assertContains(response, "孙老师")
        self.assertTrue(AuditEvent.objects.filter(action="screening.interview.list").exists())

    def test_filters_mine_overdue_done(self) -> None:
        Interview.objects.filter(pk=self.iv_a1.pk).update(due_on=timezone.localdate() - dt.timedelta(days=1))
        self.iv_room.record(self.psych_teacher, RiskLevel.RED, "")
        self.client.force_login(self.psych_teacher)
        numbers = lambda show: [i.student.number for i in  # noqa: E731
                                self.client.get(self.url("interview-list"), {"show": show}).context["interviews"]]
        self.assertEqual(set(numbers("mine")), {"S0001", "S0005"})
        self.assertEqual(numbers("overdue"), ["S0001"])
        self.assertEqual(numbers("done"), ["S0002"])
        self.assertEqual(set(numbers("all")), {"S0001", "S0002", "S0005"})

    def test_fudaoyuan_sees_college_a_only(self) -> None:
        self.login("counsellor_a")
        response = self.client.get(self.url("interview-list"))
        self.assertEqual({i.student.number for i in response.context["interviews"]}, {"S0001", "S0002"})
        self.assertEqual(self.client.get(self.url("interview-detail", Interview.objects.get(
            student=self.student_b1).pk)).status_code, 404)

    def test_head_teacher_sees_status_only(self) -> None:
        self.login("head_teacher_a1")
        response = self.client.get(self.url("interview-list"))
        self.assertEqual(response.status_code, 200)
        self.assertFalse(response.context["tier3"])
        self.assertEqual({i.student.number for i in response.context["statuses"]}, {"S0001", "S0002"})
        self.assertContains(response, "Interview pending")
        self.assertNotContains(response, "Critical item")
        self.assertNotContains(response, self.url("interview-detail", self.iv_room.pk))
        self.assertNotContains(response, "陈静")
        self.assertEqual(self.client.get(self.url("interview-detail", self.iv_a1.pk)).status_code, 404)
        self.login("committee_a1")
        self.assertEqual(self.client.get(self.url("interview-list")).status_code, 403)

    def test_detail_shows_why(self) -> None:
        self.login("counsellor_a")
        response = self.client.get(self.url("interview-detail", self.iv_room.pk))
        self.assertContains(response, "Item 9 (thoughts of death or self-harm)")
        self.assertContains(response, self.url("result-detail", self.iv_room.assignment_id))
        self.assertNotContains(response, 'id="interview-form"')  # not assigned, not centre
        self.assertEqual(self.client.post(self.url("interview-detail", self.iv_room.pk),
                                          {"outcome": "red"}).status_code, 403)

    def test_record_sets_the_level_and_none_clears_it(self) -> None:
        self.client.force_login(self.psych_teacher)
        page = self.client.get(self.url("interview-detail", self.iv_a1.pk))
        self.assertContains(page, 'id="interview-form"')
        review = (timezone.localdate() + dt.timedelta(days=14)).isoformat()
        response = self.client.post(self.url("interview-detail", self.iv_a1.pk),
                                    {"outcome": "orange", "notes": "情绪低落两周", "review_on": review})
        self.assertRedirects(response, self.url("interview-detail", self.iv_a1.pk))
        entry = RiskEntry.current_for(self.student_a1)
        self.assertEqual(entry.level, RiskLevel.ORANGE)
        self.assertEqual(entry.review_on.isoformat(), review)
        self.iv_a1.refresh_from_db()
        self.assertEqual((self.iv_a1.status, self.iv_a1.notes), (InterviewStatus.DONE, "情绪低落两周"))
        done = self.client.get(self.url("interview-detail", self.iv_a1.pk))
        self.assertNotContains(done, 'id="interview-form"')
        self.assertContains(done, "情绪低落两周")
        # Already done: refused, nothing changes.
        self.client.post(self.url("interview-detail", self.iv_a1.pk), {"outcome": "none"})
        self.assertEqual(RiskEntry.current_for(self.student_a1).level, RiskLevel.ORANGE)
        # The roommate's interview, by the director: none clears their level.
        RiskEntry.set_level(self.roommate_a1, RiskLevel.YELLOW, by=self.director, reason="x")
        self.login("director")
        self.client.post(self.url("interview-detail", self.iv_room.pk), {"outcome": "none", "notes": ""})
        self.assertEqual(RiskEntry.current_for(self.roommate_a1).level, RiskLevel.NONE)
        self.assertEqual(AuditEvent.objects.filter(action="screening.interview.record").count(), 2)

    def test_past_review_date_is_refused(self) -> None:
        self.client.force_login(self.psych_teacher)
        response = self.client.post(self.url("interview-detail", self.iv_a1.pk), {
            "outcome": "yellow", "review_on": (timezone.localdate() - dt.timedelta(days=1)).isoformat()})
        self.assertEqual(response.status_code, 400)
        self.assertIsNone(RiskEntry.current_for(self.student_a1))


# --- instruments --------------------------------------------------------------------------------


class InstrumentTests(StaffPagesTestCase):
    def test_list_with_licence_and_verification_badges(self) -> None:
        restricted_instrument()
        self.login("director")
        response = self.client.get(self.url("instrument-list"))
        self.assertContains(response, "PHQ9")
        self.assertContains(response, "Open licence")
        self.assertContains(response, "Restricted licence")
        self.assertContains(response, "Needs verification")
        self.assertContains(response, "Uploaded")
        self.client.force_login(self.psych_teacher)  # centre staff read the library
        self.assertEqual(self.client.get(self.url("instrument-list")).status_code, 200)
        for persona in ("counsellor_a", "head_teacher_a1"):
            self.login(persona)
            self.assertEqual(self.client.get(self.url("instrument-list")).status_code, 403)

    def test_detail_shows_items_settings_and_active_rule_set(self) -> None:
        RuleSet.objects.create(instrument_code="PHQ9", version="centre-7", overrides={"cutoff": 7},
                               note="王 2014")
        self.login("director")
        response = self.client.get(self.url("instrument-detail", self.phq9.pk))
        for text in ("Little interest or pleasure in doing things", "Not at all", "centre-7", "cutoff",
                     "Screen positive", "Item 9", "Public domain"):
            self.assertContains(response, text)
        self.assertContains(response, "<strong>7</strong>", html=True)

    def test_malformed_upload_lists_every_error_and_saves_nothing(self) -> None:
        self.login("director")
        before = Instrument.objects.count()
        response = self.client.post(self.url("instrument-upload"), {
            "file": SimpleUploadedFile("broken.yaml", MALFORMED_YAML.encode())})
        self.assertEqual(response.status_code, 400)
        errors = response.context["errors"]
        self.assertGreaterEqual(len(errors), 3)
        text = " ".join(errors)
        for field in ("source", "licence.status", "construct"):
            self.assertIn(field, text)
        self.assertContains(response, "nothing was saved", status_code=400)
        self.assertEqual(Instrument.objects.count(), before)

    def test_upload_of_a_valid_file_and_of_a_shipped_code(self) -> None:
        self.login("director")
        response = self.client.post(self.url("instrument-upload"), {
            "file": SimpleUploadedFile("mine.yaml", RESTRICTED_YAML.encode())})
        inst = Instrument.objects.get(code="TESTR")
        self.assertRedirects(response, self.url("instrument-detail", inst.pk))
        self.assertEqual(inst.uploaded_by, self.director)
        self.assertTrue(AuditEvent.objects.filter(action="screening.instrument.upload").exists())
        again = self.client.post(self.url("instrument-upload"), {
            "file": SimpleUploadedFile("mine.yaml", RESTRICTED_YAML.encode())})
        self.assertContains(again, "already loaded", status_code=400)
        shipped = RESTRICTED_YAML.replace("code: TESTR", "code: PHQ9")
        response = self.client.post(self.url("instrument-upload"), {
            "file": SimpleUploadedFile("phq.yaml", shipped.encode())})
        self.assertContains(response, "code of a shipped instrument", status_code=400)

    def test_only_the_director_uploads(self) -> None:
        self.client.force_login(self.psych_teacher)
        self.assertEqual(self.client.get(self.url("instrument-upload")).status_code, 403)
        self.assertEqual(self.client.post(self.url("instrument-upload"), {
            "file": SimpleUploadedFile("mine.yaml", RESTRICTED_YAML.encode())}).status_code, 403)
        self.assertFalse(Instrument.objects.filter(code="TESTR").exists())


class AdminTests(StaffPagesTestCase):
    def test_director_opens_the_screening_back_office(self) -> None:
        self.login("director")
        for name in ("instrument", "ruleset", "centresettings"):
            with self.subTest(name=name):
                self.assertEqual(self.client.get(reverse(f"admin:screening_{name}_changelist")).status_code, 200)
        self.assertEqual(self.client.get(reverse("admin:screening_instrument_add")).status_code, 403)

    def test_rule_set_is_validated_against_the_instrument_settings(self) -> None:
        self.login("director")
        url = reverse("admin:screening_ruleset_add")
        response = self.client.post(url, {"instrument_code": "PHQ9", "version": "bad",
                                          "overrides": '{"cutof": 7}', "note": "", "active": "on"})
        self.assertContains(response, "unknown setting")
        response = self.client.post(url, {"instrument_code": "PHQ9", "version": "bad",
                                          "overrides": '{"cutoff": "seven"}', "note": "", "active": "on"})
        self.assertContains(response, "is not a valid number")
        self.assertFalse(RuleSet.objects.exists())
        response = self.client.post(url, {"instrument_code": "PHQ9", "version": "centre-7",
                                          "overrides": '{"cutoff": 7}', "note": "", "active": "on"})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(RuleSet.objects.get().created_by, self.director)
        # A second active rule set for the same instrument is a form error, not a crash.
        response = self.client.post(url, {"instrument_code": "PHQ9", "version": "centre-8",
                                          "overrides": '{"cutoff": 8}', "note": "", "active": "on"})
        self.assertContains(response, "deactivate it first")

    def test_centre_settings_offer_only_the_managed_school(self) -> None:
        other = self.bureau.add_unit(kind=UnitKind.SCHOOL, code="SCH2", name="另一所大学")
        self.login("director")
        page = self.client.get(reverse("admin:screening_centresettings_add")).content.decode()
        self.assertIn("Demo University", page)
        self.assertNotIn("另一所大学", page)
        self.assertNotIn("College A", page)  # a college is not a school
        self.assertTrue(Unit.objects.filter(pk=other.pk).exists())

    def test_head_teacher_is_sent_to_the_admin_login(self) -> None:
        self.login("head_teacher_a1")
        response = self.client.get(reverse("admin:screening_ruleset_changelist"))
        self.assertEqual(response.status_code, 302)


# --- cost ---------------------------------------------------------------------------------------


class QueryCountTests(StaffPagesTestCase):
    """The progress pages issue the same number of queries whatever the number of students."""

    def add_students(self, n: int, start: int) -> None:
        for k in range(start, start + n):
            make_student(f"Q{k:05d}", f"学生{k}", self.class_a2 if k % 2 else self.class_b1)
        self.campaign.launch(self.director)

    def count(self, url: str) -> int:
        self.login("director")
        self.client.get(url)  # the session's renewal (a save at most once a minute) is done
        with CaptureQueriesContext(connection) as ctx:
            response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        return len(ctx.captured_queries)

    def test_detail_and_unit_pages_do_not_grow_with_students(self) -> None:
        detail = self.url("campaign-detail", self.campaign.pk)
        college = self.url("campaign-unit", self.campaign.pk, self.college_a.pk)
        klass = self.url("campaign-unit", self.campaign.pk, self.class_a2.pk)
        self.add_students(5, 0)
        small = [self.count(u) for u in (detail, college, klass)]
        self.add_students(45, 5)
        self.assertEqual(self.campaign.assignments.count(), Student.objects.count())
        large = [self.count(u) for u in (detail, college, klass)]
        self.assertEqual(small, large)
        # Measured with 5 and with 50 students: the session with its user (one statement: a
        # session this process has seen, xinlian/web/middleware.py), posts, the school of each
        # post (2), the campaign, its questionnaires, the colleges, ONE grouped progress query,
        # the audience units, the submissions waiting for the worker. No session save: the
        # session was renewed less than a minute ago.
        with self.assertNumQueries(10):
            self.client.get(detail)


class PsychTeacherTests(StaffPagesTestCase):
    """Centre staff without the director's post: they read results and progress of the whole
    school but do not manage campaigns."""

    def test_psych_teacher_reads_but_does_not_manage(self) -> None:
        self.take(self.assignment(self.student_b1), 0)
        self.client.force_login(self.psych_teacher)
        detail = self.client.get(self.url("campaign-detail", self.campaign.pk))
        self.assertEqual(detail.status_code, 200)
        self.assertEqual({r.unit.code for r in detail.context["rows"]}, {"CA", "CB"})
        self.assertNotContains(detail, 'id="launch"')
        self.assertEqual(self.client.get(self.url("campaign-edit", self.campaign.pk)).status_code, 403)
        self.assertEqual(self.client.get(self.url("result-detail", self.assignment(self.student_b1).pk)).status_code,
                         200)

    def test_staff_respondents_are_a_row_for_the_centre(self) -> None:
        Campaign.objects.filter(pk=self.campaign.pk).update(include_staff=True)
        self.campaign.refresh_from_db()
        teacher = make_staff("T3001", "新老师", Role.HEAD_TEACHER, self.class_a2)
        self.campaign.launch(self.director)
        self.assertTrue(Assignment.objects.filter(campaign=self.campaign, user=teacher).exists())
        self.login("director")
        detail = self.client.get(self.url("campaign-detail", self.campaign.pk))
        self.assertIsNotNone(self.row(detail, "staff"))
        self.login("counsellor_a")
        detail = self.client.get(self.url("campaign-detail", self.campaign.pk))
        self.assertIsNone(self.row(detail, "staff"))


class QualityListTests(StaffPagesTestCase):
    """MHT validity scale ≥ 7 → the retest list; an engine flag (too fast) → the review list."""

    CODES = ("MHT", "PHQ9")

    def test_report_lists_retests_first_then_reviews(self) -> None:
        self.take(self.assignment(self.student_a1), 1)  # every MHT item "yes": validity 10
        self.take(self.assignment(self.roommate_a1), 0)
        from xinlian.screening.models import Result

        Result.objects.filter(student=self.roommate_a1, instrument__code="PHQ9").update(flags=["too_fast"])
        self.take(self.assignment(self.student_b1), 1)  # college B: outside the 辅导员's scope
        self.login("director")
        response = self.client.get(self.url("campaign-report", self.campaign.pk))
        rows, total = response.context["quality"]
        self.assertEqual(total, 3)
        self.assertEqual([(r.number, r.retest) for r in rows], [("S0001", True), ("S0005", True), ("S0002", False)])
        section = response.content.decode().split('id="quality"', 1)[1]
        self.assertIn("Retest", section)
        self.assertIn("Answered too fast", section)
        self.login("counsellor_a")
        rows, total = self.client.get(self.url("campaign-report", self.campaign.pk)).context["quality"]
        self.assertEqual(sorted(r.number for r in rows), ["S0001", "S0002"])
        # The audit row of the report says how many named students the list showed.
        event = AuditEvent.objects.filter(action="screening.report.view").latest("pk")
        self.assertIn("quality_rows=2", event.detail)

    def test_retests_come_first_even_past_the_limit(self) -> None:
        from xinlian.screening.models import Result
        from xinlian.screening.reports import quality_rows

        self.take(self.assignment(self.roommate_a1), 0)
        Result.objects.filter(student=self.roommate_a1, instrument__code="PHQ9").update(flags=["too_fast"])
        self.take(self.assignment(self.student_b1), 1)  # a retest that sorts after S0002 by class
        rows, total = quality_rows(Result.objects.all(), limit=1)
        self.assertEqual(([(r.number, r.retest) for r in rows], total), ([("S0005", True)], 2))
