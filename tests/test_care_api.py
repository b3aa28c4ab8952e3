"""The linkage REST API at /api/v1/care/: concerns, alerts, the register, cases, chronology."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import uuid
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone, translation

from xinlian.access.models import AuditEvent
from xinlian.care.models import (
    CLOSURE_NEEDS,
    Alert,
    AlertSource,
    Case,
    CaseRecord,
    Concern,
    FollowUp,
    RiskEntry,
    fire_due_escalations,
)
from xinlian.network.models import Role
from xinlian.notify.models import Channel, Delivery

from .base import make_staff, make_student
from .test_care_core import LadderTestCase
from .test_care_pages import with_safety_plan

SEEN = "最近常常一个人在宿舍哭"
REASON = "访谈后评估：有自伤念头"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def url(name: str, *args: object) -> str:
    return reverse(f"care-api:{name}", args=args)


class CareApiTestCase(LadderTestCase):
    def post(self, path: str, data: dict | None = None, **extra):
        return self.client.post(path, data or {}, content_type="application/json", **extra)

    def file_concern(self, persona: str = "liaison_a1", **kw):
        self.login(persona)
        body = {"key": str(uuid.uuid4()), "student": self.student_a1.pk, "category": "emotional",
                "urgency": "routine", "seen": SEEN}
        body.update(kw)
        return self.post(url("concern-list"), body)

    def alert_of(self, response) -> Alert:
        return Concern.objects.get(pk=response.json()["id"]).alerts.get()


# --- concerns -----------------------------------------------------------------------------------


class ConcernApiTests(CareApiTestCase):
    def test_filing_raises_an_alert_and_a_replay_returns_the_same_concern(self):
        key = str(uuid.uuid4())
        first = self.file_concern(key=key)
        self.assertEqual(first.status_code, 201)
        body = first.json()
        self.assertEqual((body["student"]["number"], body["category"], body["urgency"]),
                         ("S0001", "emotional", "routine"))
        self.assertNotIn("seen", body)  # the reporter is not shown back what they wrote
        again = self.file_concern(key=key)
        self.assertEqual(again.status_code, 200)
        self.assertEqual(again.json()["id"], body["id"])
        self.assertEqual(Concern.objects.count(), 1)
        self.assertEqual(Alert.objects.count(), 1)

    def test_a_guardians_call_filed_by_staff(self):
        response = self.file_concern("head_teacher_a1", heard_from="guardian")
        self.assertEqual(response.status_code, 201)
        self.assertEqual(response.json()["heard_from"], "guardian")
        self.assertEqual(self.file_concern(heard_from="rumour").status_code, 400)

    def test_self_harm_or_urgent_now_is_red(self):
        self.assertEqual(self.alert_of(self.file_concern(category="self_harm")).level, "red")
        self.assertEqual(self.alert_of(self.file_concern(urgency="now")).level, "red")
        self.assertEqual(self.alert_of(self.file_concern(urgency="soon")).level, "orange")

    def test_student_outside_the_reporters_scope_is_404(self):
        for persona, student in (("liaison_a1", self.classmate_a1),   # not a roommate
                                 ("committee_a1", self.student_a2),   # another class
                                 ("bureau_viewer", self.student_a1)):
            with self.subTest(persona=persona):
                self.assertEqual(self.file_concern(persona, student=student.pk).status_code, 404)
        self.assertEqual(self.file_concern("liaison_a1", student=999999).status_code, 404)
        self.assertFalse(Concern.objects.exists())

    def test_a_student_reports_about_a_classmate_not_another_class(self):
        self.assertEqual(self.file_concern("student_a1_user", student=self.classmate_a1.pk).status_code, 201)
        self.assertEqual(self.file_concern("student_a1_user", student=self.student_a2.pk).status_code, 404)

    def test_bad_input_is_400(self):
        self.assertEqual(self.file_concern(key="not-a-uuid").status_code, 400)
        self.assertEqual(self.file_concern(category="gossip").status_code, 400)
        self.assertEqual(self.file_concern(seen="").status_code, 400)
        future = (timezone.now() + dt.timedelta(days=1)).isoformat()
        self.assertEqual(self.file_concern(seen_at=future).status_code, 400)
        self.login("liaison_a1")
        self.assertEqual(self.post(url("concern-list"), {"student": self.student_a1.pk, "category": "other",
                                                         "urgency": "soon", "seen": "x"}).status_code, 400)
        self.assertFalse(Concern.objects.exists())

    def test_a_key_of_another_reporter_is_409(self):
        key = str(uuid.uuid4())
        self.assertEqual(self.file_concern("liaison_a1", key=key).status_code, 201)
        response = self.file_concern("committee_a1", key=key)
        self.assertEqual(response.status_code, 409)
        self.assertIn("detail", response.json())

    def test_a_peer_reporter_sees_only_their_own_reports_and_their_status(self):
        self.file_concern("liaison_a1")
        self.file_concern("committee_a1", student=self.classmate_a1.pk, seen="上课一直趴着")
        self.login("liaison_a1")
        response = self.client.get(url("concern-list"), **EN)
        rows = response.json()["results"]
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0]["student"]["number"], "S0001")
        self.assertEqual(rows[0]["status"], "Received — waiting for a responsible person")
        self.assertNotContains(response, "上课一直趴着")
        self.assertNotContains(response, SEEN)
        # Once someone acknowledges, the reporter sees that it is being followed up — no more.
        Alert.objects.get(concern__reporter=self.liaison_a1).acknowledge(self.persona("counsellor_a"), "已联系")
        rows = self.client.get(url("concern-list"), **EN).json()["results"]
        self.assertEqual(rows[0]["status"], "Being followed up")
        self.assertNotIn("已联系", str(rows))

    def test_concern_list_queries_constant(self):
        self.file_concern("liaison_a1")
        self.login("liaison_a1")
        with CaptureQueriesContext(connection) as before:
            self.client.get(url("concern-list"))
        for _i in range(5):
            self.file_concern("liaison_a1", student=self.roommate_a1.pk)
        self.login("liaison_a1")
        with CaptureQueriesContext(connection) as after:
            response = self.client.get(url("concern-list"))
        self.assertEqual(response.json()["count"], 6)
        self.assertEqual(len(before), len(after))

    def test_anonymous_is_refused(self):
        self.assertEqual(self.client.get(url("concern-list")).status_code, 403)
        self.assertEqual(self.post(url("concern-list"), {}).status_code, 403)


# --- alerts -------------------------------------------------------------------------------------


class AlertApiTests(CareApiTestCase):
    def setUp(self):
        self.alert = self.alert_of(self.file_concern())
        self.client.logout()

    def test_detail_by_persona(self):
        detail = url("alert-detail", self.alert.pk)
        for persona in ("outsider_b", "committee_a1", "liaison_a1", "student_a1_user", "bureau_viewer",
                        "leader"):
            with self.subTest(persona=persona):
                self.login(persona)
                self.assertEqual(self.client.get(detail).status_code, 404)
        for persona, can_act in (("counsellor_a", True), ("head_teacher_a1", True), ("director", True),
                                 ("college_lead_a", False)):
            with self.subTest(persona=persona):
                self.login(persona)
                response = self.client.get(detail)
                self.assertEqual(response.status_code, 200)
                self.assertEqual(response.json()["can_act"], can_act)

    def test_routed_head_teacher_reads_what_was_reported_not_who_while_it_is_theirs(self):
        # Issue 10: the 班主任 is asked to acknowledge it, so they read it (audited); the list
        # stays without the text, and the reporter's name stays with the clinical tiers.
        self.login("head_teacher_a1")
        response = self.client.get(url("alert-list"))
        self.assertEqual(response.status_code, 200)
        self.assertNotContains(response, SEEN)
        body = self.client.get(url("alert-detail", self.alert.pk)).json()
        self.assertEqual(body["concern"]["seen"], SEEN)
        self.assertEqual(body["concern"]["category"], "emotional")
        self.assertNotIn("reporter", body["concern"])
        self.assertTrue(AuditEvent.objects.filter(actor=self.head_teacher_a1, action="concern.view",
                                                  object_id=str(self.alert.concern_id)).exists())
        # Once resolved it is no longer theirs to act on: the text goes with it.
        self.login("counsellor_a")
        self.post(url("alert-acknowledge", self.alert.pk), {})
        self.post(url("alert-resolve", self.alert.pk), {})
        self.login("head_teacher_a1")
        body = self.client.get(url("alert-detail", self.alert.pk)).json()
        self.assertNotIn("concern", body)
        self.assertNotIn(SEEN, json.dumps(body, ensure_ascii=False))

    def test_counsellor_reads_the_concern_and_the_read_is_audited(self):
        self.login("counsellor_a")
        body = self.client.get(url("alert-detail", self.alert.pk)).json()
        self.assertEqual(body["concern"]["seen"], SEEN)
        self.assertEqual(body["concern"]["reporter"]["number"], "S0007")
        self.assertTrue(AuditEvent.objects.filter(actor=self.counsellor_a, action="concern.view",
                                                  object_id=str(self.alert.concern_id)).exists())

    def test_acknowledge_then_a_second_acknowledgement_is_409(self):
        self.login("counsellor_a")
        response = self.post(url("alert-acknowledge", self.alert.pk), {"note": "已电话联系"})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["status"], "acknowledged")
        self.assertEqual(response.json()["acknowledged_by"]["number"], "T1001")
        self.login("head_teacher_a1")
        response = self.post(url("alert-acknowledge", self.alert.pk), **EN)
        self.assertEqual(response.status_code, 409)
        self.assertIn("already", response.json()["detail"])
        # The head teacher sees that a note exists, not what it says.
        notes = self.client.get(url("alert-detail", self.alert.pk)).json()["notes"]
        self.assertEqual([(n["action"], n["text"]) for n in notes], [("acknowledge", None)])
        self.alert.refresh_from_db()
        self.assertEqual(self.alert.acknowledged_by_id, self.counsellor_a.pk)

    def test_triage_into_a_case_then_resolve(self):
        self.login("counsellor_a")
        self.assertEqual(self.post(url("alert-triage", self.alert.pk), {"decision": "maybe"}).status_code, 400)
        # A 辅导员 is not centre staff: opening a case is refused here as on the page (it was allowed).
        self.assertEqual(self.post(url("alert-triage", self.alert.pk), {"decision": "case"}).status_code, 403)
        self.login("director")
        response = self.post(url("alert-triage", self.alert.pk), {"decision": "case", "note": "需要干预"})
        self.assertEqual(response.status_code, 200)
        body = response.json()
        # The case takes the alert over: resolved at once (issue 10), nothing left to resolve.
        self.assertEqual((body["status"], body["triage"]), ("resolved", "case"))
        case = Case.objects.get(pk=body["cases"][0])
        self.assertEqual((case.lead_id, case.alert_id), (self.director.pk, self.alert.pk))
        self.assertEqual(self.post(url("alert-resolve", self.alert.pk)).status_code, 409)

    def test_someone_not_yet_responsible_may_not_act(self):
        self.login("college_lead_a")
        self.assertEqual(self.post(url("alert-acknowledge", self.alert.pk)).status_code, 403)
        self.login("outsider_b")
        self.assertEqual(self.post(url("alert-acknowledge", self.alert.pk)).status_code, 404)
        self.login("committee_a1")
        self.assertEqual(self.post(url("alert-triage", self.alert.pk), {"decision": "monitor"}).status_code, 404)
        self.alert.refresh_from_db()
        self.assertEqual(self.alert.status, "open")

    def test_inbox_puts_overdue_first_and_filters_by_status(self):
        late = Alert.raise_for(self.student_a1, "yellow", AlertSource.COUNSELLOR,
                               now=timezone.now() - dt.timedelta(days=5))
        done = Alert.raise_for(self.roommate_a1, "red", AlertSource.COUNSELLOR)
        done.acknowledge(self.persona("director"))
        self.login("counsellor_a")
        ids = [row["id"] for row in self.client.get(url("alert-list")).json()["results"]]
        self.assertEqual(ids, [late.pk, self.alert.pk, done.pk])
        rows = self.client.get(url("alert-list"), {"status": "acknowledged"}).json()["results"]
        self.assertEqual([r["id"] for r in rows], [done.pk])
        self.assertTrue(self.client.get(url("alert-list")).json()["results"][0]["is_overdue"])
        self.assertEqual(self.client.get(url("alert-list"), {"status": "lost"}).status_code, 400)

    def test_lists_are_scoped(self):
        Alert.raise_for(self.student_b1, "red", AlertSource.COUNSELLOR)
        self.login("head_teacher_a1")
        self.assertEqual([r["student"]["number"] for r in self.client.get(url("alert-list")).json()["results"]],
                         ["S0001"])
        self.login("outsider_b")
        self.assertEqual([r["student"]["number"] for r in self.client.get(url("alert-list")).json()["results"]],
                         ["S0005"])
        self.login("liaison_a1")  # no inbox for a peer reporter: 403, as on the page
        self.assertEqual(self.client.get(url("alert-list")).status_code, 403)

    def test_alert_list_queries_constant(self):
        self.login("director")
        with CaptureQueriesContext(connection) as before:
            self.client.get(url("alert-list"))
        for i in range(6):
            student = make_student(f"S3{i:03d}", f"学生{i}", self.class_a2)
            Alert.raise_for(student, ("red", "orange", "yellow")[i % 3], AlertSource.COUNSELLOR) \
                .acknowledge(self.persona("director"))
        self.login("director")
        with CaptureQueriesContext(connection) as after:
            response = self.client.get(url("alert-list"))
        self.assertEqual(response.json()["count"], 7)
        self.assertEqual(len(before), len(after))

    def test_wrong_methods_are_405(self):
        self.login("director")
        self.assertEqual(self.client.get(url("alert-acknowledge", self.alert.pk)).status_code, 405)
        self.assertEqual(self.client.delete(url("alert-detail", self.alert.pk)).status_code, 405)
        self.assertEqual(self.post(url("alert-list"), {}).status_code, 405)


class LadderViaApiTests(CareApiTestCase):
    """The whole ladder through the API: nobody acknowledges, the worker climbs a rung at a
    time, each rung may act once the alert reaches it, and the first acknowledgement stops it."""

    def can_act(self, persona: str, alert: Alert):
        self.login(persona)
        response = self.client.get(url("alert-detail", alert.pk))
        return response.json()["can_act"] if response.status_code == 200 else response.status_code

    def test_full_ladder(self):
        alert = self.alert_of(self.file_concern())
        self.assertEqual(self.can_act("counsellor_a", alert), True)
        self.assertEqual(self.can_act("college_lead_a", alert), False)
        self.assertEqual(self.can_act("leader", alert), 404)  # not theirs, not in their tier

        for step, persona in ((1, "college_lead_a"), (2, "director"), (3, "leader")):
            alert.refresh_from_db()
            self.assertEqual(fire_due_escalations(alert.due_at + dt.timedelta(seconds=1)), 1)
            alert.refresh_from_db()
            self.assertEqual(alert.step, step)
            self.assertEqual(self.can_act(persona, alert), True)
            self.assertEqual(Delivery.objects.filter(channel=Channel.INBOX,
                                                     recipient=getattr(self, persona)).count(), 1)

        self.login("leader")
        response = self.post(url("alert-acknowledge", alert.pk), {"note": "已督办"})
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["escalations"], 3)
        self.login("counsellor_a")
        self.assertEqual(self.post(url("alert-acknowledge", alert.pk)).status_code, 409)
        self.assertEqual(fire_due_escalations(alert.due_at + dt.timedelta(days=9)), 0)
        self.login("head_teacher_a1")
        kinds = [e["kind"] for e in self.client.get(url("student-timeline", self.student_a1.pk)).json()["results"]]
        self.assertEqual(kinds.count("alert.escalate"), 3)
        self.assertIn("alert.ack", kinds)


# --- the register and follow-ups ----------------------------------------------------------------


class RegisterApiTests(CareApiTestCase):
    def set_level(self, persona: str, student=None, **kw):
        self.login(persona)
        body = {"student": (student or self.student_a1).pk, "level": "orange", "reason": REASON}
        body.update(kw)
        return self.post(url("register-list"), body)

    def test_counsellor_sets_a_level_head_teacher_sees_level_and_guidance_only(self):
        review_on = (timezone.localdate() + dt.timedelta(days=30)).isoformat()
        response = self.set_level("counsellor_a", review_on=review_on)
        self.assertEqual(response.status_code, 201)
        self.assertEqual((response.json()["level"], response.json()["reason"]), ("orange", REASON))
        self.login("head_teacher_a1")
        response = self.client.get(url("register-list"), **EN)
        row = response.json()["results"][0]
        self.assertEqual((row["student"]["number"], row["level"], row["review_on"]),
                         ("S0001", "orange", review_on))
        self.assertIn("every week", row["guidance"])
        self.assertIsNotNone(row["follow_up_due_at"])
        self.assertNotIn("reason", row)
        self.assertNotContains(response, REASON)
        # Reading the register (tier 2) is audited as on the page; no reason was shown.
        row = AuditEvent.objects.get(action="register.view", actor=self.head_teacher_a1)
        self.assertIn("reasons=0", row.detail)

    def test_centre_reads_the_reason_and_the_read_is_audited(self):
        self.set_level("counsellor_a")
        self.login("director")
        row = self.client.get(url("register-list")).json()["results"][0]
        self.assertEqual(row["reason"], REASON)
        self.assertTrue(AuditEvent.objects.filter(action="register.view", actor=self.director).exists())

    def test_who_may_set_levels(self):
        self.assertEqual(self.set_level("head_teacher_a1").status_code, 403)
        self.assertEqual(self.set_level("college_lead_a").status_code, 403)  # risk tier, no scores
        self.assertEqual(self.set_level("committee_a1").status_code, 403)
        self.assertEqual(self.set_level("outsider_b").status_code, 404)
        self.assertEqual(self.set_level("counsellor_a", student=self.student_b1).status_code, 404)
        self.assertFalse(RiskEntry.objects.exists())
        self.assertEqual(self.set_level("director", level="red").status_code, 201)

    def test_a_reason_is_needed_except_to_take_a_student_off(self):
        self.assertEqual(self.set_level("counsellor_a", reason="").status_code, 400)
        self.assertEqual(self.set_level("counsellor_a", level="severe").status_code, 400)
        self.assertEqual(self.set_level("counsellor_a").status_code, 201)
        self.assertEqual(self.set_level("counsellor_a", level="none", reason="").status_code, 201)
        self.assertEqual(self.client.get(url("register-list")).json()["count"], 0)
        self.assertEqual(RiskEntry.objects.filter(student=self.student_a1).count(), 2)  # history kept

    def test_register_is_ordered_by_severity_and_scoped(self):
        director = self.persona("director")
        RiskEntry.set_level(self.student_a1, "yellow", by=director, reason="a")
        RiskEntry.set_level(self.roommate_a1, "red", by=director, reason="b")
        RiskEntry.set_level(self.student_b1, "orange", by=director, reason="c")
        self.login("counsellor_a")
        rows = self.client.get(url("register-list")).json()["results"]
        self.assertEqual([(r["student"]["number"], r["level"]) for r in rows], [("S0002", "red"), ("S0001", "yellow")])
        rows = self.client.get(url("register-list"), {"level": "yellow"}).json()["results"]
        self.assertEqual([r["student"]["number"] for r in rows], ["S0001"])
        self.login("committee_a1")  # no register for a peer reporter: 403, as on the page
        self.assertEqual(self.client.get(url("register-list")).status_code, 403)

    def test_register_queries_constant(self):
        director = self.persona("director")
        RiskEntry.set_level(self.student_a1, "yellow", by=director, reason="a")
        self.login("counsellor_a")
        with CaptureQueriesContext(connection) as before:
            self.client.get(url("register-list"))
        for i in range(6):
            RiskEntry.set_level(make_student(f"S4{i:03d}", f"学生{i}", self.class_a2), "orange",
                                by=director, reason="x")
        self.login("counsellor_a")
        with CaptureQueriesContext(connection) as after:
            response = self.client.get(url("register-list"))
        self.assertEqual(response.json()["count"], 7)
        self.assertEqual(len(before), len(after))

    def test_follow_up_moves_the_next_due_date(self):
        RiskEntry.set_level(self.student_a1, "red", by=self.persona("director"), reason="x")
        entry = RiskEntry.current_for(self.student_a1)
        RiskEntry.objects.filter(pk=entry.pk).update(follow_up_due_at=timezone.now() - dt.timedelta(hours=2))
        self.login("head_teacher_a1")
        response = self.post(url("follow-up-list"), {"student": self.student_a1.pk, "note": "电话联系，情绪平稳"})
        self.assertEqual(response.status_code, 201)
        self.assertNotIn("note", response.json())
        entry.refresh_from_db()
        self.assertGreater(entry.follow_up_due_at, timezone.now() + dt.timedelta(hours=20))
        self.assertEqual(FollowUp.objects.get().note, "电话联系，情绪平稳")
        self.login("outsider_b")
        self.assertEqual(self.post(url("follow-up-list"), {"student": self.student_a1.pk}).status_code, 404)
        self.login("committee_a1")
        self.assertEqual(self.post(url("follow-up-list"), {"student": self.student_a1.pk}).status_code, 403)
        self.assertEqual(self.client.get(url("follow-up-list")).status_code, 405)
        self.assertEqual(FollowUp.objects.count(), 1)


# --- crisis cases -------------------------------------------------------------------------------


# The page's field names: the record kinds are defined once (xinlian/care/records.py).
ASSESSMENT = {"ideation": True, "plan": False, "means": False, "past_attempts": False,
              "protective": "与母亲关系好", "risk": "high", "notes": "需每日联系"}


class CaseApiTests(CareApiTestCase):
    def setUp(self):
        self.case = Case.open_for(self.student_a1, by=self.persona("director"))

    def record(self, kind: str, data: dict, case: Case | None = None):
        return self.post(url("case-records", (case or self.case).pk), {"kind": kind, "data": data})

    def test_director_adds_records_and_reads_them_back(self):
        self.login("director")
        self.assertEqual(self.record("assessment", ASSESSMENT).status_code, 201)
        self.assertEqual(self.record("safety_plan", {"warning_signs": "失眠", "coping": "跑步",
                                                     "contacts": "室友、辅导员"}).status_code, 201)
        self.assertEqual(self.record("referral", {"where": "市精神卫生中心", "when": "2026-03-02"}).status_code, 201)
        self.assertEqual(self.record("measure", {"accompaniment": True, "notes": "室友陪伴"}).status_code, 201)
        self.assertEqual(self.record("note", {"text": "情况稳定"}).status_code, 201)
        body = self.client.get(url("case-detail", self.case.pk)).json()
        self.assertEqual([r["kind"] for r in body["records"]],
                         ["assessment", "safety_plan", "referral", "measure", "note"])
        self.assertEqual(body["records"][0]["data"]["protective"], "与母亲关系好")
        self.assertEqual(body["records"][2]["data"]["when"], "2026-03-02")
        self.assertTrue(body["can_write"] and body["can_close"])
        self.assertIsNone(body["break_glass_until"])
        self.assertTrue(AuditEvent.objects.filter(action="case.view", actor=self.director).exists())

    def test_record_content_is_validated_per_kind(self):
        self.login("director")
        response = self.record("assessment", {"ideation": True})
        self.assertEqual(response.status_code, 400)
        self.assertIn("plan", response.json()["data"])
        self.assertEqual(self.record("diagnosis", {"text": "x"}).status_code, 400)
        self.assertEqual(self.record("closure_review", {"review": "x"}).status_code, 400)
        self.assertEqual(self.record("measure", {"other": "", "notes": "休学"}).status_code, 400)  # none ticked
        self.assertEqual(self.record("guardian", {"who": "other"}).status_code, 400)
        self.assertFalse(CaseRecord.objects.exists())

    def test_guardian_notification_is_an_audited_disclosure(self):
        self.login("director")
        response = self.record("guardian", {"who": "other", "who_other": "张母（母亲）",
                                            "when": "2026-03-01T10:00:00+08:00",
                                            "how": "phone", "said": "说明了学生近况", "outcome": "家长当天到校"})
        self.assertEqual(response.status_code, 201)
        self.assertTrue(AuditEvent.objects.filter(action="case.guardian_notified", actor=self.director,
                                                  object_id=str(self.case.pk)).exists())

    def test_case_follow_up_moves_the_register(self):
        RiskEntry.set_level(self.student_a1, "red", by=self.persona("director"), reason="x")
        entry = RiskEntry.current_for(self.student_a1)
        RiskEntry.objects.filter(pk=entry.pk).update(follow_up_due_at=timezone.now() - dt.timedelta(hours=2))
        self.login("director")
        self.assertEqual(self.record("follow_up", {"note": "面谈"}).status_code, 201)
        entry.refresh_from_db()
        self.assertGreater(entry.follow_up_due_at, timezone.now())
        self.assertEqual(FollowUp.objects.get().case_id, self.case.pk)

    def test_a_closed_case_refuses_edits_until_reopened(self):
        self.login("director")
        self.assertEqual(self.post(url("case-close", self.case.pk), {"review": "x"}).status_code, 409)
        # No safety plan yet: the closure request is refused with its reason.
        response = self.post(url("case-request-closure", self.case.pk), {"summary": "稳定"})
        self.assertEqual(response.status_code, 409)
        with translation.override(settings.LANGUAGE_CODE):
            self.assertEqual(response.json()["detail"], str(CLOSURE_NEEDS["safety_plan"]))
        with_safety_plan(self.case, self.director)
        self.case.members.add(self.counsellor_a)
        self.login("counsellor_a")
        self.assertEqual(self.post(url("case-request-closure", self.case.pk), {"summary": "稳定"}).status_code, 200)
        self.login("director")
        response = self.post(url("case-close", self.case.pk), {"review": "同意结案"})
        self.assertEqual((response.status_code, response.json()["status"]), (200, "closed"))
        response = self.record("note", {"text": "x"})
        self.assertEqual(response.status_code, 409)
        self.assertIn("detail", response.json())
        self.assertEqual(self.post(url("case-request-closure", self.case.pk), {"summary": "y"}).status_code, 409)
        self.assertEqual(self.post(url("case-reopen", self.case.pk), {"reason": "再次出现风险"}).status_code, 200)
        self.assertEqual(self.record("note", {"text": "x"}).status_code, 201)

    def test_closure_needs_the_director(self):
        counsellor = make_staff("T3001", "何老师", Role.COUNSELLOR, self.school)
        case = Case.open_for(self.student_a2, by=self.persona("director"), lead=counsellor)
        with_safety_plan(case, counsellor)
        self.client.force_login(counsellor)
        self.assertEqual(self.post(url("case-request-closure", case.pk), {"summary": "稳定"}).status_code, 200)
        self.assertEqual(self.post(url("case-close", case.pk), {"review": "自己结案"}).status_code, 403)
        self.assertFalse(self.client.get(url("case-detail", case.pk)).json()["can_close"])
        self.login("director")
        self.assertEqual(self.post(url("case-close", case.pk), {"review": "同意结案"}).status_code, 200)

    def test_break_glass_flow(self):
        self.login("director")
        self.record("assessment", ASSESSMENT)
        self.login("counsellor_a")
        detail = url("case-detail", self.case.pk)
        response = self.client.get(detail)
        self.assertEqual(response.status_code, 403)
        body = response.json()
        self.assertTrue(body["break_glass"])
        self.assertEqual(body["break_glass_url"], url("case-break-glass", self.case.pk))
        self.assertNotContains(response, "与母亲关系好", status_code=403)
        self.assertEqual(self.record("note", {"text": "x"}).status_code, 403)
        self.assertEqual(self.post(body["break_glass_url"], {"reason": ""}).status_code, 400)
        response = self.post(body["break_glass_url"], {"reason": "家长来电，需要立即查看安全计划"})
        self.assertEqual(response.status_code, 201)
        body = self.client.get(detail).json()
        self.assertEqual(body["records"][0]["data"]["protective"], "与母亲关系好")
        self.assertIsNotNone(body["break_glass_until"])
        self.assertTrue(AuditEvent.objects.filter(actor=self.counsellor_a, action="case.view",
                                                  result="break_glass").exists())
        self.assertEqual(Delivery.objects.filter(channel=Channel.INBOX, recipient=self.director,
                                                 link=self.case.get_absolute_url()).count(), 1)

    def test_break_glass_is_not_for_everyone(self):
        for persona in ("outsider_b", "committee_a1", "student_a1_user", "bureau_viewer"):
            with self.subTest(persona=persona):
                self.login(persona)
                self.assertEqual(self.post(url("case-break-glass", self.case.pk),
                                           {"reason": "想看看这个个案"}).status_code, 404)
                self.assertEqual(self.client.get(url("case-detail", self.case.pk)).status_code, 404)
        self.login("director")  # already has access: nothing to break
        self.assertEqual(self.post(url("case-break-glass", self.case.pk), {"reason": "看看情况"}).status_code, 409)

    def test_case_list_is_the_team_and_the_case_tier(self):
        other = Case.open_for(self.student_b1, by=self.persona("director"))
        self.login("director")
        self.assertEqual({r["id"] for r in self.client.get(url("case-list")).json()["results"]},
                         {self.case.pk, other.pk})
        self.login("counsellor_a")
        self.assertEqual(self.client.get(url("case-list")).json()["count"], 0)
        self.case.members.add(self.counsellor_a)
        rows = self.client.get(url("case-list")).json()["results"]
        self.assertEqual([r["id"] for r in rows], [self.case.pk])
        self.assertEqual(self.client.get(url("case-detail", self.case.pk)).status_code, 200)
        self.assertEqual(self.client.get(url("case-detail", other.pk)).status_code, 404)

    def test_case_list_queries_constant(self):
        self.login("director")
        with CaptureQueriesContext(connection) as before:
            self.client.get(url("case-list"))
        for i in range(5):
            Case.open_for(make_student(f"S5{i:03d}", f"学生{i}", self.class_a2), by=self.persona("director"))
        self.login("director")
        with CaptureQueriesContext(connection) as after:
            response = self.client.get(url("case-list"))
        self.assertEqual(response.json()["count"], 6)
        self.assertEqual(len(before), len(after))

    def test_case_detail_queries_do_not_grow_with_records(self):
        self.login("director")
        self.record("note", {"text": "一"})
        with CaptureQueriesContext(connection) as before:
            self.client.get(url("case-detail", self.case.pk))
        for i in range(4):
            self.record("note", {"text": str(i)})
        self.case.members.add(self.counsellor_a, self.head_teacher_a1)
        with CaptureQueriesContext(connection) as after:
            self.client.get(url("case-detail", self.case.pk))
        self.assertEqual(len(before), len(after))


# --- chronology ---------------------------------------------------------------------------------


class TimelineApiTests(CareApiTestCase):
    def setUp(self):
        self.file_concern()
        self.case = Case.open_for(self.student_a1, by=self.persona("director"))
        self.case.add_record("assessment", author=self.persona("director"), data=ASSESSMENT)

    def kinds(self, persona: str) -> list[str]:
        self.login(persona)
        response = self.client.get(url("student-timeline", self.student_a1.pk))
        self.assertEqual(response.status_code, 200)
        return [e["kind"] for e in response.json()["results"]]

    def test_each_entry_only_at_a_tier_the_reader_holds(self):
        head = self.kinds("head_teacher_a1")
        self.assertIn("concern", head)
        self.assertIn("case.open", head)
        self.assertNotIn("case.assessment", head)
        self.assertIn("case.assessment", self.kinds("director"))
        self.assertEqual(self.kinds("student_a1_user"), [])
        self.assertEqual(self.kinds("liaison_a1"), [])  # roster tier only: no risk history

    def test_out_of_scope_is_404_and_texts_are_rendered(self):
        for persona in ("outsider_b", "bureau_viewer"):
            self.login(persona)
            self.assertEqual(self.client.get(url("student-timeline", self.student_a1.pk)).status_code, 404)
        self.login("director")
        response = self.client.get(url("student-timeline", self.student_a1.pk), **EN)
        texts = [e["text"] for e in response.json()["results"]]
        self.assertIn("Crisis case opened", texts)
        self.assertTrue(any(t.startswith("Level 3 (yellow) alert raised") for t in texts), texts)
        self.assertNotContains(response, SEEN)
        self.assertNotContains(response, "与母亲关系好")

    def test_timeline_queries_constant(self):
        self.login("director")
        path = url("student-timeline", self.student_a1.pk)
        with CaptureQueriesContext(connection) as before:
            self.client.get(path)
        for i in range(4):
            self.case.add_record("note", author=self.persona("director"), data={"text": str(i)})
        with CaptureQueriesContext(connection) as after:
            self.client.get(path)
        self.assertEqual(len(before), len(after))

    def test_pages_of_fifty(self):
        for i in range(55):
            self.case.add_record("note", author=self.director, data={"text": str(i)})
        self.login("director")
        body = self.client.get(url("student-timeline", self.student_a1.pk)).json()
        self.assertEqual(len(body["results"]), 50)
        self.assertIsNotNone(body["next"])


class CareSchemaTests(CareApiTestCase):
    def test_schema_still_validates_and_lists_care_paths(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "schema.yml"
            call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
            text = out.read_text()
        for path in ("/api/v1/care/concerns/", "/api/v1/care/alerts/{id}/acknowledge/",
                     "/api/v1/care/register/", "/api/v1/care/cases/{id}/break-glass/",
                     "/api/v1/care/students/{id}/timeline/", "CaseRecordData"):
            self.assertIn(path, text)

    def test_anonymous_is_refused_everywhere(self):
        for name in ("concern-list", "alert-list", "register-list", "case-list"):
            self.assertEqual(self.client.get(url(name)).status_code, 403)
        self.assertEqual(self.client.get(url("student-timeline", self.student_a1.pk)).status_code, 403)


class OpenCaseApiTests(CareApiTestCase):
    def test_centre_staff_open_a_case_others_may_not(self):
        counsellor = make_staff("T3002", "许老师", Role.COUNSELLOR, self.school)
        self.client.force_login(counsellor)
        response = self.post(url("case-list"), {"student": self.student_a1.pk})
        self.assertEqual(response.status_code, 201)
        case = Case.objects.get(pk=response.json()["id"])
        self.assertEqual((case.lead_id, case.opened_by_id), (counsellor.pk, counsellor.pk))
        self.assertTrue(response.json()["can_write"])
        self.assertEqual(self.post(url("case-list"), {"student": 999999}).status_code, 404)
        # A 辅导员 holds the screening tier but is not centre staff; a head teacher neither.
        self.login("counsellor_a")
        self.assertEqual(self.post(url("case-list"), {"student": self.student_a1.pk}).status_code, 403)
        self.login("head_teacher_a1")
        self.assertEqual(self.post(url("case-list"), {"student": self.student_a1.pk}).status_code, 403)
        self.login("outsider_b")
        self.assertEqual(self.post(url("case-list"), {"student": self.student_a1.pk}).status_code, 404)
        self.assertEqual(Case.objects.count(), 1)
