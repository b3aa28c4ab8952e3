"""The linkage pages as each persona uses them: report a concern, my reports, the alert inbox and
an alert, the risk register, crisis cases with break-glass, the chronology on the student page.

Pages are requested in English (the msgids), so the assertions hold once translations land."""

from __future__ import annotations

import datetime as dt
import uuid

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from xinlian.access.models import AuditEvent, AuditResult
from xinlian.care.models import (
    Alert,
    AlertStatus,
    Case,
    CaseRecord,
    CaseStatus,
    Concern,
    FollowUp,
    RiskEntry,
    fire_due_escalations,
)
from xinlian.network.models import Guardian, Role, User
from xinlian.notify.models import Channel, Delivery

from .base import NetworkTestCase, make_staff

SEEN = "最近常常一个人哭，说活着没意思"
REASON = "访谈后评估：有自伤念头"


SAFETY_PLAN = {"warning_signs": "失眠", "coping": "", "contacts": "辅导员", "means_restriction": "",
               "notes": ""}


def with_safety_plan(case: Case, by: User) -> Case:
    """What closing a case needs first (issue 10): a safety plan."""
    case.add_record("safety_plan", author=by, data=SAFETY_PLAN)
    return case


def put_up_for_closure(case: Case, by: User, summary: str = "稳定") -> Case:
    """A safety plan, then the closure request by ``by`` (the reviewer must be someone else)."""
    with_safety_plan(case, by)
    if by.pk != case.lead_id:
        case.members.add(by)
    case.request_closure(by, summary)
    return case


class CarePagesTestCase(NetworkTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.college_lead_a = make_staff("T2001", "林院长", Role.COLLEGE_LEAD, cls.college_a)
        cls.psych = make_staff("T2003", "何老师", Role.COUNSELLOR, cls.school)
        cls.guardian = Guardian.objects.create(student=cls.student_a1, name="张父", relation="father",
                                               phone="13800138000", is_primary=True)

    def setUp(self) -> None:
        self.client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    def url(self, name: str, *args) -> str:
        return reverse(name, args=args)

    def form(self, student=None, **kw) -> dict:
        student = self.student_a1 if student is None else student
        data = {"key": str(uuid.uuid4()), "student": getattr(student, "pk", student),
                "category": "emotional", "urgency": "routine", "seen": SEEN,
                "seen_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")}
        data.update(kw)
        return {k: v for k, v in data.items() if v is not None}

    def report(self, persona: str = "liaison_a1", **kw) -> Concern:
        """File a concern the direct way (core verb), as ``persona``."""
        args = dict(key=uuid.uuid4(), reporter=self.persona(persona), student=self.student_a1,
                    category="emotional", urgency="routine", seen=SEEN)
        args.update(kw)
        return Concern.submit(**args)[0]


# --- report a concern -----------------------------------------------------------------------------


class ReportConcernTests(CarePagesTestCase):
    def test_liaison_chooses_among_roommates_only(self):
        self.login("liaison_a1")
        response = self.client.get(self.url("concern-new"))
        self.assertEqual(response.status_code, 200)
        for name in ("张小明", "李华"):
            self.assertContains(response, name)
        for name in ("王芳", "赵磊", "陈静"):  # classmate outside the dorm, class A2, college B
            self.assertNotContains(response, name)
        self.assertContains(response, 'name="key"')

    def test_preselect_from_the_student_page(self):
        self.login("head_teacher_a1")
        response = self.client.get(self.url("concern-new"), {"student": self.student_a1.pk})
        self.assertContains(response, f'value="{self.student_a1.pk}" checked')
        self.assertEqual(self.client.get(self.url("concern-new"),
                                         {"student": self.student_b1.pk}).status_code, 404)

    def test_submit_raises_the_alert_and_goes_to_my_reports(self):
        self.login("liaison_a1")
        response = self.client.post(self.url("concern-new"), self.form())
        concern = Concern.objects.get()
        self.assertRedirects(response, f"{self.url('concern-mine')}?sent={concern.pk}")
        self.assertEqual((concern.reporter_id, concern.student_id), (self.liaison_a1.pk, self.student_a1.pk))
        self.assertEqual(concern.alerts.get().level, "yellow")
        page = self.client.get(response["Location"])
        self.assertContains(page, "Your report has been received")
        self.assertNotContains(page, "tel:120")

    def test_head_teacher_relays_a_guardians_call(self):
        self.login("head_teacher_a1")
        response = self.client.post(self.url("concern-new"), {**self.form(), "heard_from": "guardian"})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(Concern.objects.get().heard_from, "guardian")

    def test_double_tap_is_one_concern(self):
        self.login("liaison_a1")
        data = self.form()
        first = self.client.post(self.url("concern-new"), data)
        second = self.client.post(self.url("concern-new"), data)
        self.assertEqual(Concern.objects.count(), 1)
        self.assertEqual(Alert.objects.count(), 1)
        self.assertEqual(first["Location"], second["Location"])

    def test_student_outside_the_dorm_is_404_and_audited(self):
        user = self.login("liaison_a1")
        for student in (self.classmate_a1, self.student_b1):
            # Even an otherwise invalid form: the scope answers before any form message.
            for data in (self.form(student), self.form(student, category=None)):
                self.assertEqual(self.client.post(self.url("concern-new"), data).status_code, 404)
        self.assertEqual(self.client.post(self.url("concern-new"), self.form(student="x1")).status_code, 404)
        self.assertFalse(Concern.objects.exists())
        self.assertTrue(AuditEvent.objects.filter(actor=user, action="concern.new",
                                                  result=AuditResult.DENIED).exists())

    def test_invalid_form_keeps_what_was_typed(self):
        self.login("liaison_a1")
        response = self.client.post(self.url("concern-new"), self.form(urgency=None))
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, SEEN, status_code=400)
        self.assertFalse(Concern.objects.exists())

    def test_time_in_the_future_is_refused(self):
        self.login("liaison_a1")
        later = (timezone.localtime() + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
        response = self.client.post(self.url("concern-new"), self.form(seen_at=later))
        self.assertContains(response, "This time is in the future.", status_code=400)

    def test_self_harm_tells_the_reporter_who_was_alerted(self):
        self.login("committee_a1")
        response = self.client.post(self.url("concern-new"), self.form(category="self_harm"), follow=True)
        self.assertContains(response, "The responsible people have been alerted.")
        self.assertNotContains(response, "tel:120")
        self.assertEqual(Alert.objects.get().level, "red")

    def test_urgent_now_says_stay_and_call(self):
        self.login("liaison_a1")
        response = self.client.post(self.url("concern-new"), self.form(urgency="now"), follow=True)
        self.assertContains(response, "The responsible people have been alerted.")
        self.assertContains(response, "stay with them")
        self.assertContains(response, 'href="tel:120"')
        self.assertContains(response, 'href="tel:110"')

    def test_student_names_a_classmate_by_number_without_seeing_the_class(self):
        self.login("student_a1_user")
        page = self.client.get(self.url("concern-new"))
        self.assertContains(page, "Myself")
        self.assertContains(page, 'name="student_number"')
        self.assertNotContains(page, "李华")
        response = self.client.post(self.url("concern-new"),
                                    self.form(student="", student_number="S0002"))
        self.assertEqual(response.status_code, 302)
        self.assertEqual(Concern.objects.get().student_id, self.roommate_a1.pk)
        # Another college's student and a number nobody has get the same words: nothing leaks.
        other = self.client.post(self.url("concern-new"), self.form(student="", student_number="S0005"))
        none = self.client.post(self.url("concern-new"), self.form(student="", student_number="S9999"))
        message = "No student you can report about has this number."
        self.assertContains(other, message, status_code=400)
        self.assertContains(none, message, status_code=400)
        self.assertNotContains(other, "陈静", status_code=400)
        self.assertEqual(Concern.objects.count(), 1)

    def test_bureau_viewer_reports_about_nobody(self):
        self.login("bureau_viewer")
        self.assertEqual(self.client.get(self.url("concern-new")).status_code, 403)

    def test_search_for_a_wide_scope(self):
        self.login("director")
        from .base import make_student

        for i in range(70):
            make_student(f"X{i:04d}", f"学生{i}", self.class_a2)
        page = self.client.get(self.url("concern-new"))
        self.assertContains(page, 'id="student-q"')
        self.assertNotContains(page, "学生5")
        found = self.client.get(self.url("concern-new"), {"q": "X0042"}, HTTP_HX_REQUEST="true")
        self.assertContains(found, "学生42")
        self.assertNotContains(found, "<html")


class MyReportsTests(CarePagesTestCase):
    def test_a_peer_sees_only_own_reports_and_their_status(self):
        mine = self.report("liaison_a1", category="self_harm")
        self.report("committee_a1", student=self.classmate_a1, seen="别人的报告")
        self.login("liaison_a1")
        response = self.client.get(self.url("concern-mine"))
        self.assertContains(response, "张小明")
        self.assertNotContains(response, "王芳")
        self.assertContains(response, "waiting for a responsible person")
        for hidden in (SEEN, "别人的报告", "Level 1", "red", "一级"):
            self.assertNotContains(response, hidden)
        mine.alerts.get().acknowledge(self.persona("counsellor_a"), "已联系")
        self.assertContains(self.client.get(self.url("concern-mine")), "Being followed up")

    def test_someone_elses_sent_marker_shows_nothing(self):
        other = self.report("committee_a1", urgency="now")
        self.login("liaison_a1")
        response = self.client.get(self.url("concern-mine"), {"sent": other.pk})
        self.assertNotContains(response, "have been alerted")


# --- alerts ---------------------------------------------------------------------------------------


class AlertPageTests(CarePagesTestCase):
    def test_inbox_overdue_first_with_name_class_and_countdown(self):
        later = self.report(category="academic", urgency="routine").alerts.get()
        overdue = self.report(student=self.roommate_a1, urgency="soon").alerts.get()
        Alert.objects.filter(pk=overdue.pk).update(due_at=timezone.now() - dt.timedelta(hours=2))
        self.login("counsellor_a")
        response = self.client.get(self.url("alert-inbox"))
        self.assertEqual([a.pk for a in response.context["alerts"]], [overdue.pk, later.pk])
        body = response.content.decode()
        self.assertLess(body.index("李华"), body.index("张小明"))
        self.assertContains(response, "College A Class A1")
        self.assertContains(response, "Overdue by")
        self.assertContains(response, "Acknowledge within")
        self.assertContains(response, "Yours to act on")
        self.assertContains(response, "#e17055")  # the orange level's colour
        self.assertNotContains(response, SEEN)

    def test_inbox_is_for_the_network_only(self):
        for persona in ("committee_a1", "liaison_a1", "student_a1_user", "bureau_viewer"):
            self.login(persona)
            self.assertEqual(self.client.get(self.url("alert-inbox")).status_code, 403, persona)
        self.report()
        self.login("outsider_b")
        response = self.client.get(self.url("alert-inbox"))
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, "张小明")

    def test_head_teacher_routed_sees_what_was_reported_but_not_who_reported(self):
        # Issue 10: whoever an alert is routed to reads what it is about (category, urgency,
        # text) while it is theirs; the reporter's name stays with the clinical tiers.
        alert = self.report(category="self_harm").alerts.get()
        self.login("head_teacher_a1")
        response = self.client.get(alert.get_absolute_url())
        self.assertContains(response, "Level 1 (red)")
        self.assertContains(response, "Contact the student every day")
        self.assertContains(response, "Acknowledge — I am on it")
        self.assertContains(response, SEEN)
        self.assertContains(response, "Self-harm or suicide talk")
        self.assertNotContains(response, "孙悦")  # the reporter

    def test_fudaoyuan_sees_the_concern(self):
        alert = self.report(category="self_harm").alerts.get()
        self.login("counsellor_a")
        response = self.client.get(alert.get_absolute_url())
        self.assertContains(response, SEEN)
        self.assertContains(response, "Self-harm or suicide talk")

    def test_acknowledge_then_a_second_acknowledgement_is_refused_with_its_reason(self):
        alert = self.report().alerts.get()
        self.login("counsellor_a")
        response = self.client.post(self.url("alert-acknowledge", alert.pk), {"ack-note": "已电话联系"})
        self.assertRedirects(response, alert.get_absolute_url())
        alert.refresh_from_db()
        self.assertEqual((alert.status, alert.acknowledged_by_id), (AlertStatus.ACKNOWLEDGED, self.counsellor_a.pk))
        self.login("head_teacher_a1")
        again = self.client.post(self.url("alert-acknowledge", alert.pk), {"ack-note": ""}, follow=True)
        self.assertEqual(again.status_code, 200)
        self.assertContains(again, "This alert is already Acknowledged.")
        alert.refresh_from_db()
        self.assertEqual(alert.acknowledged_by_id, self.counsellor_a.pk)

    def test_readers_who_cannot_act_get_403_on_post(self):
        alert = self.report().alerts.get()
        self.login("college_lead_a")  # sees college A's alerts, but the rung is not theirs yet
        self.assertEqual(self.client.get(alert.get_absolute_url()).status_code, 200)
        for name in ("alert-acknowledge", "alert-triage", "alert-resolve"):
            self.assertEqual(self.client.post(self.url(name, alert.pk), {}).status_code, 403, name)
        self.assertNotContains(self.client.get(alert.get_absolute_url()), "Acknowledge — I am on it")
        alert.refresh_from_db()
        self.assertEqual(alert.status, AlertStatus.OPEN)

    def test_out_of_scope_alert_is_404(self):
        alert = self.report().alerts.get()
        for persona in ("outsider_b", "committee_a1", "liaison_a1"):
            self.login(persona)
            self.assertEqual(self.client.get(alert.get_absolute_url()).status_code, 404, persona)
            self.assertEqual(self.client.post(self.url("alert-acknowledge", alert.pk)).status_code,
                             404, persona)

    def test_wrong_methods(self):
        alert = self.report().alerts.get()
        self.login("director")
        self.assertEqual(self.client.get(self.url("alert-acknowledge", alert.pk)).status_code, 405)
        self.assertEqual(self.client.post(alert.get_absolute_url()).status_code, 405)
        self.assertEqual(self.client.delete(self.url("alert-inbox")).status_code, 405)

    def test_triage_open_a_case_is_for_centre_staff(self):
        alert = self.report(urgency="now").alerts.get()
        self.login("counsellor_a")
        page = self.client.get(alert.get_absolute_url())
        self.assertNotContains(page, 'value="case"')
        response = self.client.post(self.url("alert-triage", alert.pk),
                                    {"triage-decision": "case", "triage-note": ""})
        self.assertEqual(response.status_code, 403)  # not offered, and refused by the action (as the API)
        self.assertFalse(Case.objects.exists())
        self.login("director")
        response = self.client.post(self.url("alert-triage", alert.pk),
                                    {"triage-decision": "case", "triage-note": "需要危机干预"})
        case = Case.objects.get()
        self.assertRedirects(response, case.get_absolute_url())
        self.assertEqual((case.alert_id, case.lead_id), (alert.pk, self.director.pk))

    def test_triage_and_resolve_with_notes(self):
        alert = self.report().alerts.get()
        self.login("counsellor_a")
        self.client.post(self.url("alert-triage", alert.pk), {"triage-decision": "monitor",
                                                               "triage-note": "每周谈话"})
        self.client.post(self.url("alert-resolve", alert.pk), {"resolve-note": "情况稳定"})
        alert.refresh_from_db()
        self.assertEqual((alert.status, alert.triage), (AlertStatus.RESOLVED, "monitor"))
        page = self.client.get(alert.get_absolute_url())
        self.assertContains(page, "Alert triaged: Monitor")
        self.assertContains(page, "情况稳定")
        self.assertContains(page, "Nothing left to do")
        self.login("head_teacher_a1")  # notes are clinical: not for the head teacher
        self.assertNotContains(self.client.get(alert.get_absolute_url()), "每周谈话")

    def test_escalation_history_is_shown(self):
        alert = self.report().alerts.get()
        fire_due_escalations(alert.due_at + dt.timedelta(seconds=1))
        self.login("college_lead_a")
        page = self.client.get(alert.get_absolute_url())
        self.assertContains(page, "Alert not acknowledged in time: escalated to step 2")
        self.assertContains(page, "College mental-health lead")
        self.assertContains(page, "Acknowledge — I am on it")  # now it is their rung


# --- the risk register ----------------------------------------------------------------------------


class RegisterPageTests(CarePagesTestCase):
    def setUp(self) -> None:
        super().setUp()
        RiskEntry.set_level(self.student_a1, "red", by=self.persona("director"), reason=REASON)
        RiskEntry.set_level(self.roommate_a1, "yellow", by=self.persona("director"), reason="观察")

    def test_head_teacher_sees_level_and_guidance_not_the_reason(self):
        self.login("head_teacher_a1")
        response = self.client.get(self.url("register"))
        self.assertContains(response, "张小明")
        self.assertContains(response, "Level 1 (red)")
        self.assertContains(response, "Contact the student every day")
        self.assertNotContains(response, REASON)
        student_page = self.client.get(self.url("student-detail", self.student_a1.pk))
        self.assertContains(student_page, "Contact the student every day")
        self.assertNotContains(student_page, REASON)
        self.assertNotContains(student_page, "Set the risk level")

    def test_fudaoyuan_sees_the_reason_and_filters(self):
        self.login("counsellor_a")
        self.assertContains(self.client.get(self.url("register")), REASON)
        yellow = self.client.get(self.url("register"), {"level": "yellow"})
        self.assertContains(yellow, "李华")
        self.assertNotContains(yellow, "张小明")
        self.assertTrue(AuditEvent.objects.filter(actor=self.counsellor_a, action="register.view").exists())

    def test_overdue_follow_up_filter(self):
        RiskEntry.objects.filter(student=self.roommate_a1, is_current=True).update(
            follow_up_due_at=timezone.now() - dt.timedelta(days=1))
        self.login("counsellor_a")
        response = self.client.get(self.url("register"), {"due": "overdue"})
        self.assertContains(response, "李华")
        self.assertContains(response, "Overdue by")
        self.assertNotContains(response, "张小明")

    def test_register_is_scoped(self):
        self.login("outsider_b")
        self.assertNotContains(self.client.get(self.url("register")), "张小明")
        for persona in ("committee_a1", "liaison_a1", "student_a1_user", "bureau_viewer"):
            self.login(persona)
            self.assertEqual(self.client.get(self.url("register")).status_code, 403, persona)

    def test_paged(self):
        from .base import make_student

        director = self.persona("director")
        for i in range(30):
            RiskEntry.set_level(make_student(f"R{i:04d}", f"关注{i}", self.class_a2), "orange",
                                by=director, reason="x")
        self.login("director")
        first = self.client.get(self.url("register"))
        self.assertEqual(len(first.context["entries"]), 25)
        self.assertEqual(len(self.client.get(self.url("register"), {"page": 2}).context["entries"]), 7)

    def test_who_sets_a_level(self):
        url = self.url("register-set", self.student_a1.pk)
        data = {"level": "orange", "reason": "好转", "next": self.url("register")}
        self.login("head_teacher_a1")
        self.assertEqual(self.client.post(url, data).status_code, 403)
        self.login("college_lead_a")
        self.assertEqual(self.client.post(url, data).status_code, 403)
        self.login("outsider_b")
        self.assertEqual(self.client.post(url, data).status_code, 404)
        self.assertEqual(RiskEntry.current_for(self.student_a1).level, "red")
        for persona, level in (("counsellor_a", "orange"), ("psych", "yellow")):
            self.login(persona)
            response = self.client.post(url, {**data, "level": level})
            self.assertRedirects(response, self.url("register"))
            self.assertEqual(RiskEntry.current_for(self.student_a1).level, level)
        self.assertTrue(AuditEvent.objects.filter(action="risk.set", actor=self.psych).exists())
        self.assertEqual(self.client.get(url).status_code, 405)

    def test_set_level_needs_a_reason_and_refuses_offsite_next(self):
        self.login("counsellor_a")
        response = self.client.post(self.url("register-set", self.student_a1.pk),
                                    {"level": "orange", "reason": "", "next": "https://evil.example/"})
        self.assertRedirects(response, self.url("student-detail", self.student_a1.pk),
                             fetch_redirect_response=False)
        self.assertEqual(RiskEntry.current_for(self.student_a1).level, "red")

    def test_follow_up(self):
        url = self.url("follow-up-new", self.student_a1.pk)
        self.login("committee_a1")
        self.assertEqual(self.client.post(url, {"note": "x"}).status_code, 403)
        self.login("outsider_b")
        self.assertEqual(self.client.post(url, {"note": "x"}).status_code, 404)
        self.login("head_teacher_a1")
        before = RiskEntry.current_for(self.student_a1).follow_up_due_at
        response = self.client.post(url, {"note": "当面谈话"})
        self.assertRedirects(response, self.url("student-detail", self.student_a1.pk))
        self.assertEqual(FollowUp.objects.get().by_id, self.head_teacher_a1.pk)
        self.assertGreaterEqual(RiskEntry.current_for(self.student_a1).follow_up_due_at, before)


# --- cases ----------------------------------------------------------------------------------------


class CasePageTests(CarePagesTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.case = Case.open_for(self.student_a1, by=self.persona("director"))

    def record(self, kind: str, data: dict, persona: str = "director"):
        self.login(persona)
        return self.client.post(self.url("case-record", self.case.pk, kind),
                                {f"{kind}-{k}": v for k, v in data.items()})

    ASSESSMENT = {"ideation": "yes", "plan": "no", "means": "no", "past_attempts": "yes",
                  "protective": "与母亲关系好", "notes": "愿意接受帮助"}

    def test_open_a_case_is_for_centre_staff(self):
        url = self.url("case-new")
        self.login("head_teacher_a1")
        self.assertEqual(self.client.post(url, {"student": self.roommate_a1.pk}).status_code, 403)
        self.login("counsellor_a")  # a 辅导员 reads scores but is not centre staff
        self.assertEqual(self.client.post(url, {"student": self.roommate_a1.pk}).status_code, 403)
        self.login("outsider_b")
        self.assertEqual(self.client.post(url, {"student": self.roommate_a1.pk}).status_code, 404)
        self.login("psych")
        response = self.client.post(url, {"student": self.roommate_a1.pk})
        case = Case.objects.get(student=self.roommate_a1)
        self.assertRedirects(response, case.get_absolute_url())
        self.assertEqual(case.lead_id, self.psych.pk)
        self.assertEqual(self.client.get(url).status_code, 405)
        # one open case per student: a second "open" leads to the first
        again = self.client.post(url, {"student": self.roommate_a1.pk})
        self.assertRedirects(again, case.get_absolute_url())
        self.assertEqual(Case.objects.filter(student=self.roommate_a1).count(), 1)

    def test_assessment_is_structured_ordered_and_attributed(self):
        response = self.record("assessment", self.ASSESSMENT)
        self.assertEqual(response.status_code, 302)
        self.record("note", {"text": "第二条"})
        record = CaseRecord.objects.get(kind="assessment")
        self.assertEqual(record.content["ideation"], True)
        self.assertEqual(record.content["plan"], False)
        page = self.client.get(self.case.get_absolute_url())
        body = page.content.decode()
        self.assertIn("Suicidal ideation", body)
        self.assertIn("与母亲关系好", body)
        self.assertIn("钱主任", body)
        self.assertLess(body.index("与母亲关系好"), body.index("第二条"))

    def test_an_incomplete_assessment_is_refused_and_kept(self):
        response = self.record("assessment", {**self.ASSESSMENT, "plan": ""})
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "与母亲关系好", status_code=400)
        self.assertFalse(CaseRecord.objects.exists())
        self.assertEqual(self.client.post(self.url("case-record", self.case.pk, "bogus")).status_code, 404)

    def test_guardian_notification_is_an_audited_disclosure(self):
        now = timezone.localtime().strftime("%Y-%m-%dT%H:%M")
        response = self.record("guardian", {"who": str(self.guardian.pk), "when": now, "how": "phone",
                                            "said": "告知学生近况，建议来校", "outcome": "同意明天到校"})
        self.assertEqual(response.status_code, 302)
        record = CaseRecord.objects.get(kind="guardian")
        self.assertEqual(record.content["guardian_id"], self.guardian.pk)
        row = AuditEvent.objects.get(action="case.guardian_notified")
        self.assertEqual((row.actor_id, row.object_id), (self.director.pk, str(self.case.pk)))
        self.assertNotIn("告知", row.detail)
        page = self.client.get(self.case.get_absolute_url())
        self.assertContains(page, "张父 · Father")
        self.assertContains(page, "Phone")

    def test_safety_plan_referral_measures_and_follow_up(self):
        self.record("safety_plan", {"warning_signs": "失眠", "coping": "散步", "contacts": "辅导员",
                                    "means_restriction": "收走药物", "notes": ""})
        self.record("referral", {"where": "市精神卫生中心", "when": "2026-03-01", "outcome": "门诊",
                                 "return_assessment": ""})
        self.record("measure", {"accompaniment": "on", "other": "", "notes": ""})
        self.record("follow_up", {"note": "每日电话"})
        kinds = list(CaseRecord.objects.values_list("kind", flat=True))
        self.assertEqual(kinds, ["safety_plan", "referral", "measure", "follow_up"])
        self.assertEqual(FollowUp.objects.get().case_id, self.case.pk)
        refused = self.record("measure", {"other": "", "notes": ""})
        self.assertContains(refused, "Tick at least one measure", status_code=400)
        page = self.client.get(self.case.get_absolute_url())
        self.assertContains(page, "市精神卫生中心")
        self.assertContains(page, "Accompaniment around the clock")

    def test_team_lead_and_members(self):
        self.login("director")
        response = self.client.post(self.url("case-team", self.case.pk),
                                    {"lead": self.psych.pk,
                                     "members": [self.head_teacher_a1.pk, self.counsellor_a.pk]})
        self.assertRedirects(response, self.case.get_absolute_url())
        self.case.refresh_from_db()
        self.assertEqual(self.case.lead_id, self.psych.pk)
        self.assertEqual(set(self.case.members.values_list("pk", flat=True)),
                         {self.head_teacher_a1.pk, self.counsellor_a.pk})
        self.login("head_teacher_a1")  # on the team now: in, and may write
        self.assertEqual(self.client.get(self.case.get_absolute_url()).status_code, 200)
        self.assertEqual(self.record("note", {"text": "班主任记录"}, "head_teacher_a1").status_code, 302)
        # a member is not the lead: the team is not theirs to change
        self.assertEqual(self.client.post(self.url("case-team", self.case.pk),
                                          {"lead": self.head_teacher_a1.pk}).status_code, 403)
        # only staff with a post over the student can join
        self.login("director")
        response = self.client.post(self.url("case-team", self.case.pk), {"lead": self.outsider_b.pk})
        self.assertEqual(response.status_code, 400)

    def test_closure_needs_the_director_and_a_closed_case_refuses_edits(self):
        self.case.members.add(self.head_teacher_a1)
        with_safety_plan(self.case, self.director)
        self.login("head_teacher_a1")
        self.client.post(self.url("case-request-closure", self.case.pk), {"closure-summary": "稳定"})
        self.case.refresh_from_db()
        self.assertEqual(self.case.status, CaseStatus.REVIEW)
        self.assertEqual(self.client.post(self.url("case-close", self.case.pk),
                                          {"review-review": "同意"}).status_code, 403)
        self.login("director")
        self.client.post(self.url("case-close", self.case.pk), {"review-review": "同意结案"})
        self.case.refresh_from_db()
        self.assertEqual(self.case.status, CaseStatus.CLOSED)
        page = self.client.get(self.case.get_absolute_url())
        self.assertNotContains(page, "Add a record")
        self.assertContains(page, "Reopen the case")
        refused = self.client.post(self.url("case-record", self.case.pk, "note"),
                                   {"note-text": "关闭后"}, follow=True)
        self.assertEqual(refused.redirect_chain, [(self.case.get_absolute_url(), 302)])
        self.assertContains(refused, "This case is closed; reopen it before changing it.")
        self.assertFalse(CaseRecord.objects.filter(kind="note").exists())
        self.client.post(self.url("case-reopen", self.case.pk), {"reopen-reason": "再次出现风险"})
        self.case.refresh_from_db()
        self.assertEqual(self.case.status, CaseStatus.OPEN)
        self.assertEqual(self.record("note", {"text": "重新开案后"}).status_code, 302)

    def test_close_before_a_request_shows_the_reason(self):
        self.login("director")
        response = self.client.post(self.url("case-close", self.case.pk), {"review-review": "x"},
                                    follow=True)
        self.assertContains(response, "Request closure before the review.")

    def test_break_glass_flow(self):
        self.login("counsellor_a")
        page = self.client.get(self.case.get_absolute_url())
        self.assertEqual(page.status_code, 403)
        self.assertContains(page, "Break the glass", status_code=403)
        self.assertNotContains(page, "13800138000", status_code=403)
        self.assertEqual(self.record("note", {"text": "x"}, "counsellor_a").status_code, 403)
        short = self.client.post(self.url("case-break-glass", self.case.pk), {"reason": "看看"})
        self.assertEqual(short.status_code, 400)
        response = self.client.post(self.url("case-break-glass", self.case.pk),
                                    {"reason": "家长来电称学生失联，需要立即查看安全计划"})
        self.assertRedirects(response, self.case.get_absolute_url())
        page = self.client.get(self.case.get_absolute_url())
        self.assertEqual(page.status_code, 200)
        self.assertContains(page, "break-glass access until")
        self.assertContains(page, "13800138000")
        self.assertTrue(AuditEvent.objects.filter(actor=self.counsellor_a, action="case.view",
                                                  result=AuditResult.BREAK_GLASS).exists())
        self.assertTrue(AuditEvent.objects.filter(actor=self.counsellor_a, action="case.break_glass",
                                                  result=AuditResult.BREAK_GLASS).exists())
        inbox = Delivery.objects.filter(channel=Channel.INBOX, recipient=self.director)
        self.assertEqual(inbox.count(), 1)
        self.assertIn("Break-glass", inbox.get().message)

    def test_break_glass_window_ends(self):
        from xinlian.care.models import BreakGlass

        self.login("counsellor_a")
        self.client.post(self.url("case-break-glass", self.case.pk),
                         {"reason": "家长来电称学生失联，需要立即查看安全计划"})
        BreakGlass.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
        self.assertEqual(self.client.get(self.case.get_absolute_url()).status_code, 403)

    def test_out_of_scope_case_is_404(self):
        for persona in ("outsider_b", "committee_a1", "student_a1_user", "bureau_viewer"):
            self.login(persona)
            self.assertEqual(self.client.get(self.case.get_absolute_url()).status_code, 404, persona)
            self.assertEqual(self.client.post(self.url("case-break-glass", self.case.pk),
                                              {"reason": "x" * 40}).status_code, 404, persona)
        # Refused attempts are audited as refused (they were not audited at all); none was granted.
        self.assertFalse(AuditEvent.objects.filter(action="case.break_glass").exclude(result="denied").exists())
        self.assertEqual(AuditEvent.objects.filter(action="case.break_glass", result="denied").count(), 4)

    def test_case_list(self):
        self.login("director")
        self.assertContains(self.client.get(self.url("case-list")), "张小明")
        self.login("head_teacher_a1")  # not on the team: the list does not name the student
        response = self.client.get(self.url("case-list"))
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, "张小明")
        self.login("committee_a1")
        self.assertEqual(self.client.get(self.url("case-list")).status_code, 403)


# --- the student page -----------------------------------------------------------------------------


class ChronologyTests(CarePagesTestCase):
    def setUp(self) -> None:
        super().setUp()
        director = self.persona("director")
        concern = self.report(category="self_harm")
        alert = concern.alerts.get()
        alert.acknowledge(director, "")
        case = alert.triage_as(director, "case", "")
        case.add_record("assessment", author=director, data={"ideation": True})
        RiskEntry.set_level(self.student_a1, "red", by=director, reason=REASON)

    def test_director_sees_every_line_translated_with_labels(self):
        self.login("director")
        response = self.client.get(self.url("student-detail", self.student_a1.pk))
        for text in ("Concern reported", "Level 1 (red) alert raised (Concern report)",
                     "Alert acknowledged", "Alert triaged: Open a crisis case", "Crisis case opened",
                     "Case record: Risk assessment", "Alert resolved",
                     # the case put the student at orange, then the level was set to red
                     "Risk level: None → Level 2 (orange)", "Risk level: Level 2 (orange) → Level 1 (red)"):
            self.assertContains(response, text)
        self.assertContains(response, REASON)
        self.assertContains(response, "Set the risk level")
        self.assertContains(response, "Case #")  # the open case, instead of a button for another
        self.assertNotContains(response, f'action="{reverse("case-new")}"')
        other = self.client.get(self.url("student-detail", self.roommate_a1.pk))
        self.assertContains(other, f'action="{reverse("case-new")}"')
        body = response.content.decode()
        # newest first
        self.assertLess(body.index("Risk level: Level 2 (orange)"), body.index("Concern reported"))

    def test_head_teacher_sees_tier_two_lines_only(self):
        self.login("head_teacher_a1")
        response = self.client.get(self.url("student-detail", self.student_a1.pk))
        self.assertContains(response, "Crisis case opened")
        self.assertContains(response, "Contact the student every day")
        for hidden in ("Case record", REASON, SEEN, "孙悦", f'action="{reverse("case-new")}"'):
            self.assertNotContains(response, hidden)

    def test_peers_and_the_student_see_no_care_section(self):
        for persona in ("liaison_a1", "student_a1_user"):
            self.login(persona)
            response = self.client.get(self.url("student-detail", self.student_a1.pk))
            self.assertNotContains(response, 'id="care-section"')
            self.assertNotContains(response, "Concern reported")

    def test_no_level_yet(self):
        self.login("head_teacher_a1")
        response = self.client.get(self.url("student-detail", self.roommate_a1.pk))
        self.assertContains(response, "Risk level: not yet recorded")
        self.assertContains(response, f"{reverse('concern-new')}?student={self.roommate_a1.pk}")


class NavTests(CarePagesTestCase):
    def test_navbar_offers_what_each_person_may_use(self):
        expected = {
            "liaison_a1": {"Report a concern", "My reports"},
            # the rest of the care pages are one tap away in the care sub-menu
            "head_teacher_a1": {"Report a concern", "Alerts"},
            "bureau_viewer": set(),
        }
        everything = {"Report a concern", "My reports", "Alerts", "Risk register", "Cases"}
        for persona, items in expected.items():
            self.login(persona)
            response = self.client.get(reverse("home"))
            for item in everything:
                if item in items:
                    self.assertContains(response, f">{item}</a>", msg_prefix=persona)
                else:
                    self.assertNotContains(response, f">{item}</a>", msg_prefix=persona)
