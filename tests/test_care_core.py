"""The linkage core: concern → alert → escalation up the ladder → register → case."""

import datetime as dt
import uuid

from django.test import RequestFactory
from django.utils import timezone

from xinlian.access.models import AuditEvent
from xinlian.access.policy import caps_over_student
from xinlian.care.access import NeedsBreakGlass, chronology_for, get_case_for_user
from xinlian.care.actions import break_glass
from xinlian.care.models import (
    Alert,
    AlertStatus,
    CareError,
    Case,
    Concern,
    FollowUp,
    RiskEntry,
    TimelineEntry,
    Triage,
    fire_due_escalations,
    raise_overdue_follow_ups,
)
from xinlian.network.models import Post, Role, User
from xinlian.notify.models import Channel, Delivery

from .base import NetworkTestCase, make_staff


class LadderTestCase(NetworkTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.college_lead_a = make_staff("T2001", "林院长", Role.COLLEGE_LEAD, cls.college_a)
        cls.leader = make_staff("T2002", "黄校长", Role.LEADER, cls.school)

    def report(self, **kw):
        args = dict(key=uuid.uuid4(), reporter=self.persona("liaison_a1"), student=self.student_a1,
                    category="emotional", urgency="routine", seen="最近常常一个人哭")
        args.update(kw)
        return Concern.submit(**args)

    def inbox(self, persona) -> list[Delivery]:
        return list(Delivery.objects.filter(channel=Channel.INBOX, recipient=getattr(self, persona)))


class ConcernTests(LadderTestCase):
    def test_routine_concern_raises_yellow_to_first_rung(self):
        concern, created = self.report()
        self.assertTrue(created)
        alert = concern.alerts.get()
        self.assertEqual((alert.level, alert.step, alert.status), ("yellow", 0, "open"))
        self.assertAlmostEqual((alert.due_at - alert.created_at).total_seconds(), 72 * 3600)
        self.assertEqual(len(self.inbox("counsellor_a")), 1)
        self.assertEqual(len(self.inbox("head_teacher_a1")), 1)
        self.assertEqual(self.inbox("director"), [])

    def test_self_harm_is_red_and_reaches_the_centre_at_once(self):
        concern, _ = self.report(category="self_harm", urgency="routine")
        alert = concern.alerts.get()
        self.assertEqual(alert.level, "red")
        self.assertAlmostEqual((alert.due_at - alert.created_at).total_seconds(), 30 * 60)
        self.assertEqual(len(self.inbox("director")), 1)

    def test_urgent_now_is_red(self):
        concern, _ = self.report(urgency="now")
        self.assertEqual(concern.alerts.get().level, "red")

    def test_replayed_submission_creates_nothing(self):
        key = uuid.uuid4()
        first, created1 = self.report(key=key)
        again, created2 = self.report(key=key)
        self.assertEqual((first.pk, created1, created2), (again.pk, True, False))
        self.assertEqual(Alert.objects.count(), 1)

    def test_messages_carry_no_sensitive_detail(self):
        self.report(category="self_harm")
        for d in Delivery.objects.all():
            for lang in ("zh-hans", "en"):
                text = d.text(lang)
                self.assertNotIn("张小明", text)
                self.assertNotIn("S0001", text)
                self.assertNotIn("哭", text)
                self.assertNotIn("self", text.lower())
                self.assertIn("2023级1班", text)

    def test_what_was_seen_is_encrypted(self):
        from django.db import connection

        concern, _ = self.report()
        with connection.cursor() as cur:
            cur.execute("SELECT seen FROM care_concern WHERE id = %s", [concern.pk])
            self.assertNotIn("哭", cur.fetchone()[0])


class EscalationTests(LadderTestCase):
    def test_unacknowledged_alert_climbs_one_rung_at_a_time(self):
        concern, _ = self.report()
        alert = concern.alerts.get()
        t = alert.due_at + dt.timedelta(seconds=1)
        self.assertEqual(fire_due_escalations(t), 1)
        self.assertEqual(fire_due_escalations(t), 0)  # exactly once
        alert.refresh_from_db()
        self.assertEqual((alert.step, alert.escalations), (1, 1))
        self.assertEqual(len(self.inbox("college_lead_a")), 1)
        fire_due_escalations(alert.due_at + dt.timedelta(seconds=1))
        alert.refresh_from_db()
        self.assertEqual(alert.step, 2)
        self.assertEqual(len(self.inbox("director")), 1)
        fire_due_escalations(alert.due_at + dt.timedelta(seconds=1))
        alert.refresh_from_db()
        self.assertEqual(alert.step, 3)
        self.assertEqual(len(self.inbox("leader")), 1)
        kinds = list(TimelineEntry.objects.filter(student=self.student_a1, kind="alert.escalate"))
        self.assertEqual(len(kinds), 3)

    def test_empty_rung_is_skipped(self):
        Post.objects.filter(person=self.college_lead_a).delete()
        concern, _ = self.report()
        alert = concern.alerts.get()
        fire_due_escalations(alert.due_at + dt.timedelta(seconds=1))
        alert.refresh_from_db()
        self.assertEqual(alert.step, 2)  # straight to the centre director

    def test_acknowledged_alert_does_not_escalate(self):
        concern, _ = self.report()
        alert = concern.alerts.get()
        alert.acknowledge(self.persona("counsellor_a"), "已联系")
        self.assertEqual(fire_due_escalations(alert.due_at + dt.timedelta(hours=1)), 0)

    def test_second_acknowledgement_refused(self):
        concern, _ = self.report()
        alert = concern.alerts.get()
        alert.acknowledge(self.persona("counsellor_a"))
        with self.assertRaises(CareError):
            alert.acknowledge(self.persona("head_teacher_a1"))
        alert.refresh_from_db()
        self.assertEqual(alert.acknowledged_by_id, self.counsellor_a.pk)

    def test_worker_down_fires_once_when_back(self):
        concern, _ = self.report()
        alert = concern.alerts.get()
        much_later = alert.due_at + dt.timedelta(days=30)
        self.assertEqual(fire_due_escalations(much_later), 1)
        alert.refresh_from_db()
        self.assertEqual(alert.escalations, 1)

    def test_inbox_sees_only_own_rung(self):
        concern, _ = self.report()
        alert = concern.alerts.get()
        self.assertTrue(Alert.objects.for_responsible(self.persona("counsellor_a")).filter(pk=alert.pk).exists())
        self.assertFalse(Alert.objects.for_responsible(self.persona("college_lead_a")).filter(pk=alert.pk).exists())
        self.assertFalse(Alert.objects.for_responsible(self.persona("outsider_b")).filter(pk=alert.pk).exists())

    def test_triage_to_case_and_resolve(self):
        concern, _ = self.report(urgency="now")
        alert = concern.alerts.get()
        director = self.persona("director")
        alert.acknowledge(director)
        case = alert.triage_as(director, Triage.CASE, "需要危机干预")
        self.assertIsInstance(case, Case)
        # The case takes the alert over (issue 10): resolved, and the student at orange at least.
        self.assertEqual((alert.status, alert.triage), (AlertStatus.RESOLVED, Triage.CASE))
        self.assertEqual(RiskEntry.current_for(self.student_a1).level, "orange")
        with self.assertRaises(CareError):
            alert.resolve(director, "已转入个案")


class RegisterTests(LadderTestCase):
    def test_levels_history_and_follow_up_escalation(self):
        director = self.persona("director")
        RiskEntry.set_level(self.student_a1, "orange", by=director, reason="访谈后评估")
        RiskEntry.set_level(self.student_a1, "red", by=director, reason="有自伤计划")
        self.assertEqual(RiskEntry.current_for(self.student_a1).level, "red")
        self.assertEqual(RiskEntry.objects.filter(student=self.student_a1).count(), 2)
        entry = RiskEntry.current_for(self.student_a1)
        later = entry.follow_up_due_at + dt.timedelta(minutes=1)
        self.assertEqual(raise_overdue_follow_ups(later), 1)
        self.assertEqual(raise_overdue_follow_ups(later), 0)
        alert = Alert.objects.get(source="follow_up")
        self.assertEqual(alert.level, "red")
        FollowUp.record(self.student_a1, by=self.persona("counsellor_a"), note="电话联系")
        entry.refresh_from_db()
        self.assertIsNone(entry.overdue_alert)
        self.assertGreater(entry.follow_up_due_at, timezone.now())


class CaseTests(LadderTestCase):
    def setUp(self):
        self.director_u = self.persona("director")
        self.case = Case.open_for(self.student_a1, by=self.director_u)
        self.rf = RequestFactory()

    def request(self, persona):
        req = self.rf.get("/")
        req.user = self.persona(persona)
        return req

    def test_closed_case_refuses_edits_until_reopened(self):
        self.case.add_record("assessment", author=self.director_u, data={"ideation": True, "plan": False})
        with self.assertRaises(CareError):  # no safety plan yet
            self.case.request_closure(self.director_u, "稳定")
        self.case.add_record("safety_plan", author=self.director_u, data={"warning_signs": "失眠", "contacts": "辅导员"})
        self.case.request_closure(self.director_u, "稳定")
        with self.assertRaises(CareError):  # the requester does not review their own request
            self.case.close(self.director_u, "同意结案")
        self.case.close(User.objects.get(pk=self.counsellor_a.pk), "同意结案")
        with self.assertRaises(CareError):
            self.case.add_record("note", author=self.director_u, data={"text": "x"})
        self.case.reopen(self.director_u, "再次出现风险")
        self.case.add_record("note", author=self.director_u, data={"text": "x"})
        self.assertEqual(self.case.records.filter(kind="note").count(), 1)

    def test_close_needs_a_request_first(self):
        with self.assertRaises(CareError):
            self.case.close(self.director_u, "x")

    def test_case_access(self):
        case, can_write = get_case_for_user(self.request("director"), self.case.pk)
        self.assertTrue(can_write)
        with self.assertRaises(NeedsBreakGlass):
            get_case_for_user(self.request("counsellor_a"), self.case.pk)
        from xinlian.lib.actions import NotFound

        for persona in ("outsider_b", "committee_a1", "student_a1_user"):
            with self.assertRaises(NotFound):
                get_case_for_user(self.request(persona), self.case.pk)

    def test_break_glass_opens_for_a_window_and_notifies_the_director(self):
        req = self.request("counsellor_a")
        break_glass(req, self.case.pk, "学生家长来电，需要立即查看安全计划")
        case, can_write = get_case_for_user(self.request("counsellor_a"), self.case.pk)
        self.assertEqual(case.pk, self.case.pk)
        self.assertFalse(can_write)  # break-glass reads (and adds a note); it does not write
        self.assertTrue(AuditEvent.objects.filter(result="break_glass", actor=self.counsellor_a).exists())
        self.assertEqual(len(self.inbox("director")), 1)

    def test_chronology_by_tier(self):
        self.case.add_record("assessment", author=self.director_u, data={"ideation": True})
        student = self.student_a1
        head = self.persona("head_teacher_a1")
        req = self.request("head_teacher_a1")
        kinds = set(chronology_for(req, student, caps_over_student(head, student)).values_list("kind", flat=True))
        self.assertIn("case.open", kinds)
        self.assertNotIn("case.assessment", kinds)
        kinds = set(chronology_for(self.request("director"), student,
                                   caps_over_student(self.director_u, student)).values_list("kind", flat=True))
        self.assertIn("case.assessment", kinds)


class HeardFromTests(LadderTestCase):
    def test_a_guardians_call_is_reported_through_staff(self):
        concern, _ = self.report(reporter=self.persona("head_teacher_a1"), heard_from="guardian",
                                 seen="家长来电：孩子这周不肯吃饭")
        concern.refresh_from_db()
        self.assertEqual(concern.heard_from, "guardian")
        self.assertEqual(concern.alerts.get().level, "yellow")

    def test_default_is_first_hand(self):
        concern, _ = self.report()
        self.assertEqual(concern.heard_from, "self")
