"""The screening verbs end to end: launch, consent, save, submit, act, interview."""

from __future__ import annotations

import datetime as dt
import uuid
from unittest import mock

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from xinlian.care.models import Alert, AlertSource, RiskEntry, RiskLevel, Tier, TimelineEntry
from xinlian.network.models import Student
from xinlian.notify.models import Delivery
from xinlian.screening.models import (
    Assignment,
    AssignmentStatus,
    Interview,
    InterviewStatus,
    Response,
    Result,
    RuleSet,
    ScreeningError,
    SubmitAction,
    act_on_submissions,
)

from .base import make_student
from .screening_base import ScreeningTestCase


class LaunchTests(ScreeningTestCase):
    def test_launch_invites_every_student_of_the_school_once(self) -> None:
        self.assertEqual(self.campaign.assignments.count(), Student.objects.count())
        again = self.campaign.launch(self.director)
        self.assertEqual(again, 0)
        newcomer = make_student("S0099", "新同学", self.class_a2)
        self.assertEqual(self.campaign.launch(self.director), 1)
        self.assertTrue(self.campaign.assignments.filter(student=newcomer).exists())

    def test_cohort_and_units_narrow_the_audience(self) -> None:
        self.campaign.units.set([self.college_a])
        self.assertNotIn(self.student_b1, self.campaign.audience_students())
        self.campaign.cohort = 2019
        self.assertEqual(self.campaign.audience_students().count(), 0)


class ConsentTests(ScreeningTestCase):
    def test_decline_is_recorded_with_version_and_blocks_answers(self) -> None:
        a = self.assignment_a1
        a.consent(False, 1)
        self.assertEqual(a.status, AssignmentStatus.DECLINED)
        self.assertEqual(a.consent_version, 1)
        self.assertIsNotNone(a.consent_at)
        with self.assertRaises(ScreeningError):
            a.save_answer(self.cis()[0].pk, 1, 0)
        a.consent(True, 1)  # changed their mind while the window is open
        a.save_answer(self.cis()[0].pk, 1, 0)
        self.assertEqual(a.status, AssignmentStatus.IN_PROGRESS)

    def test_stale_consent_version_is_refused(self) -> None:
        with self.assertRaises(ScreeningError) as ctx:
            self.assignment_a1.consent(True, 0)
        self.assertEqual(ctx.exception.code, "version")

    def test_under_14_needs_guardian_consent_first(self) -> None:
        student = self.student_a1
        student.birth_date = timezone.localdate() - dt.timedelta(days=365 * 13)
        student.save()
        a = Assignment.objects.get(pk=self.assignment_a1.pk)
        self.assertTrue(a.needs_guardian_consent)
        with self.assertRaises(ScreeningError) as ctx:
            a.consent(True, 1)
        self.assertEqual(ctx.exception.code, "guardian")
        a.record_guardian_consent(self.head_teacher_a1, "电话确认（母亲）")
        self.assertFalse(a.needs_guardian_consent)
        a.consent(True, 1)
        self.assertTrue(a.may_answer)

    def test_closed_and_not_yet_open_campaigns_refuse(self) -> None:
        a = self.assignment_a1
        with self.assertRaises(ScreeningError) as ctx:
            a.consent(True, 1, now=self.campaign.closes_at + dt.timedelta(minutes=1))
        self.assertEqual(ctx.exception.code, "closed")
        with self.assertRaises(ScreeningError) as ctx:
            a.consent(True, 1, now=self.campaign.opens_at - dt.timedelta(minutes=1))
        self.assertEqual(ctx.exception.code, "not_open")


class AnswerTests(ScreeningTestCase):
    def setUp(self) -> None:
        self.a = Assignment.objects.get(pk=self.assignment_a1.pk)
        self.a.consent(True, 1)
        self.ci = self.cis()[0]

    def test_answers_are_kept_item_by_item_and_encrypted(self) -> None:
        self.a.save_answer(self.ci.pk, 1, 2, 3.5)
        self.a.save_answer(self.ci.pk, 1, 3, 2.0)  # changed answer
        self.a.save_answer(self.ci.pk, 2, 0, 1.0)
        resp = Response.objects.get(assignment=self.a)
        self.assertEqual(resp.answers, {1: 3, 2: 0})
        self.assertEqual(resp.payload["seconds"], {"1": 2.0, "2": 1.0})
        from django.db import connection
        with connection.cursor() as cur:
            cur.execute("SELECT data FROM screening_response WHERE id = %s", [resp.pk])
            raw = cur.fetchone()[0]
        self.assertNotIn("answers", raw)

    def test_bad_values_are_refused_with_a_reason(self) -> None:
        for item, value, code in ((1, 7, "bad_value"), (99, 0, "unknown_item"), (1, True, "bad_value")):
            with self.assertRaises(ScreeningError) as ctx:
                self.a.save_answer(self.ci.pk, item, value)
            self.assertEqual(ctx.exception.code, code)
        with self.assertRaises(ScreeningError):
            self.a.save_answer(999999, 1, 0)

    def test_half_finished_questionnaire_is_kept_not_scored(self) -> None:
        self.a.save_answer(self.ci.pk, 1, 2)
        with self.assertRaises(ScreeningError) as ctx:
            self.a.submit("k1")
        self.assertEqual(ctx.exception.code, "incomplete")
        self.assertEqual(Result.objects.count(), 0)
        self.assertEqual(Response.objects.get(assignment=self.a).answers, {1: 2})


class SubmitTests(ScreeningTestCase):
    def test_negative_screen_no_alert_no_interview(self) -> None:
        outcome = self.take(self.assignment_a1, 0)
        self.assertFalse(outcome.replay)
        result = Result.objects.get()
        self.assertFalse(result.positive)
        self.assertEqual(result.detail["scores"]["total"], 0)
        self.assertEqual(result.rule_version, "xl-2026.1")
        self.assertEqual(Alert.objects.count(), 0)
        self.assertEqual(Interview.objects.count(), 0)

    def test_replayed_submit_creates_nothing_twice(self) -> None:
        a = self.assignment_a1
        a.consent(True, 1)
        self.answer_all(a, 3)
        first = a.submit("key-1")
        again = Assignment.objects.get(pk=a.pk).submit("key-1")
        act_on_submissions()
        other = Assignment.objects.get(pk=a.pk).submit("key-2")
        act_on_submissions()
        self.assertFalse(first.replay)
        self.assertTrue(again.replay and other.replay)
        self.assertEqual(Result.objects.count(), 1)
        self.assertEqual(Alert.objects.count(), 1)
        self.assertEqual(Interview.objects.count(), 1)

    def test_critical_item_raises_a_red_alert_at_once_and_an_urgent_interview(self) -> None:
        outcome = self.take(self.assignment_a1, 0, {9: 1}, act=False)
        # The submit scores and marks; the worker's next pass (within a second) acts.
        self.assertEqual(Assignment.objects.get(pk=self.assignment_a1.pk).action_due, SubmitAction.URGENT)
        self.assertTrue(outcome.results[0].critical)
        self.assertEqual(Alert.objects.count(), 0)
        self.assertEqual(act_on_submissions(), 1)
        self.assertEqual(act_on_submissions(), 0)  # once only
        self.assertIsNone(Assignment.objects.get(pk=self.assignment_a1.pk).action_due)
        alert = Alert.objects.get()
        self.assertEqual((alert.level, alert.source), ("red", AlertSource.SCREENING))
        interview = Interview.objects.get()
        self.assertTrue(interview.urgent)
        self.assertEqual(interview.assigned_to, self.psych_teacher)
        self.assertEqual(interview.due_on, timezone.localdate() + dt.timedelta(days=1))
        # The centre director hears the red alert; nothing sensitive in any message.
        texts = " ".join(d.render() if hasattr(d, "render") else d.message for d in Delivery.objects.all())
        self.assertNotIn("张小明", texts)
        self.assertNotIn("PHQ", texts)

    def test_the_worker_acts_on_critical_items_first(self) -> None:
        self.take(self.assignment_a1, 2, {9: 0}, act=False)  # positive, submitted first
        b1 = Assignment.objects.get(campaign=self.campaign, user=self.student_b1.user)
        self.take(b1, 0, {9: 3}, act=False)  # critical, submitted second
        self.assertEqual(act_on_submissions(batch=1), 1)
        self.assertEqual(Alert.objects.get().student, self.student_b1)
        self.assertEqual(Interview.objects.get().student, self.student_b1)
        act_on_submissions()
        self.assertEqual(Interview.objects.count(), 2)

    def test_a_crash_while_acting_keeps_the_mark_and_the_next_pass_acts(self) -> None:
        self.take(self.assignment_a1, 0, {9: 1}, act=False)
        with mock.patch.object(Interview, "open_for", side_effect=RuntimeError("database went away")), \
                self.assertRaises(RuntimeError):
            act_on_submissions()
        # The alert raised before the crash is rolled back with everything else of the pass.
        self.assertEqual(Alert.objects.count(), 0)
        self.assertEqual(Assignment.objects.get(pk=self.assignment_a1.pk).action_due, SubmitAction.URGENT)
        self.assertEqual(act_on_submissions(), 1)
        self.assertEqual((Alert.objects.count(), Interview.objects.count()), (1, 1))

    def test_a_negative_submission_asks_the_worker_for_its_chronology_line_only(self) -> None:
        self.take(self.assignment_a1, 0, act=False)
        a = Assignment.objects.get(pk=self.assignment_a1.pk)
        self.assertEqual(a.action_due, SubmitAction.RECORD)
        self.assertFalse(TimelineEntry.objects.filter(kind="screening.submit").exists())
        self.assertEqual(act_on_submissions(), 1)
        self.assertEqual(act_on_submissions(), 0)
        # The line carries the submit time and the campaign, never a score.
        entry = TimelineEntry.objects.get(student=self.student_a1, kind="screening.submit")
        self.assertEqual((entry.params, entry.at, entry.tier), ({"campaign": self.campaign.name}, a.submitted_at, Tier.RISK))
        self.assertEqual((Alert.objects.count(), Interview.objects.count()), (0, 0))

    def test_plain_submissions_are_recorded_in_batches(self) -> None:
        students = [make_student(f"R{n:04d}", f"学生{n}", self.class_a1) for n in range(7)]
        self.campaign.launch(self.director)
        for student in students:
            self.take(Assignment.objects.get(campaign=self.campaign, student=student), 0, act=False)
        with mock.patch("xinlian.screening.models.RECORD_BATCH", 5), CaptureQueriesContext(connection) as ctx:
            self.assertEqual(act_on_submissions(), 5)
        # One statement each: lock five, insert their five lines, clear their five marks.
        sql = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]
        self.assertEqual([q.split()[0] for q in sql], ["SELECT", "SELECT", "INSERT", "UPDATE"])
        self.assertEqual(act_on_submissions(), 2)
        self.assertEqual(TimelineEntry.objects.filter(kind="screening.submit").count(), 7)
        self.assertFalse(Assignment.objects.filter(action_due__isnull=False).exists())

    def test_positive_screen_goes_to_the_interview_list_without_a_level(self) -> None:
        self.take(self.assignment_a1, 2, {9: 0})  # total 16
        self.assertEqual(Alert.objects.count(), 0)
        interview = Interview.objects.get()
        self.assertFalse(interview.urgent)
        self.assertEqual(interview.due_on, timezone.localdate() + dt.timedelta(days=7))
        self.assertIsNone(RiskEntry.current_for(self.student_a1))  # a screen never sets a level

    def test_interview_outcome_sets_and_clears_the_level(self) -> None:
        self.take(self.assignment_a1, 2, {9: 0})
        interview = Interview.objects.get()
        interview.record(self.psych_teacher, RiskLevel.ORANGE, "情绪低落两周，约定每周面谈。")
        self.assertEqual(RiskEntry.current_for(self.student_a1).level, RiskLevel.ORANGE)
        self.assertEqual(interview.status, InterviewStatus.DONE)
        with self.assertRaises(ScreeningError):
            interview.record(self.psych_teacher, RiskLevel.NONE, "")
        # A second campaign's interview clears it.
        other = Interview.objects.get(pk=interview.pk)
        Interview.objects.filter(pk=other.pk).update(status=InterviewStatus.PENDING)
        other.refresh_from_db()
        other.record(self.psych_teacher, RiskLevel.NONE, "复核后无明显问题")
        self.assertEqual(RiskEntry.current_for(self.student_a1).level, RiskLevel.NONE)

    def test_rule_set_changes_the_cutoff_and_is_recorded(self) -> None:
        RuleSet.objects.create(instrument_code="PHQ9", version="centre-2026-7", overrides={"cutoff": 7})
        self.take(self.assignment_a1, 1, {9: 0, 1: 0})  # total 7
        result = Result.objects.get()
        self.assertTrue(result.positive)
        self.assertEqual(result.rule_version, "centre-2026-7")

    def test_too_fast_is_flagged(self) -> None:
        a = self.assignment_a1
        a.consent(True, 1)
        ci = self.cis()[0]
        for item in range(1, 11):
            a.save_answer(ci.pk, item, 0, 0.4)
        a.submit(uuid.uuid4().hex)
        self.assertIn("too_fast", Result.objects.get().flags)

    def test_student_who_changed_class_is_followed_in_the_new_class(self) -> None:
        self.student_a1.klass = self.class_b1
        self.student_a1.dorm = None
        self.student_a1.save()
        self.take(self.assignment_a1, 0, {9: 2})
        alert = Alert.objects.get()
        self.assertEqual(alert.student.klass, self.class_b1)


class HomeCardTests(ScreeningTestCase):
    def test_home_offers_the_open_screening_until_it_is_done(self) -> None:
        self.client.force_login(self.student_a1.user)
        take = f"/screening/a/{self.assignment_a1.pk}/"
        self.assertContains(self.client.get("/"), take)
        self.take(self.assignment_a1, 0)
        self.assertNotContains(self.client.get("/"), take)

    def test_closed_campaign_is_not_offered(self) -> None:
        self.campaign.closes_at = timezone.now() - dt.timedelta(minutes=1)
        self.campaign.save()
        self.client.force_login(self.student_a1.user)
        self.assertNotContains(self.client.get("/"), f"/screening/a/{self.assignment_a1.pk}/")

    def test_navbar_items_follow_the_policy(self) -> None:
        self.client.force_login(self.student_a1.user)
        self.assertContains(self.client.get("/"), "/screening/\"")
        self.client.force_login(self.head_teacher_a1)
        body = self.client.get("/").content.decode()
        self.assertIn("/screening/campaigns/", body)
        self.assertNotIn("/screening/interviews/", body)
        self.client.force_login(self.counsellor_a)
        self.assertContains(self.client.get("/"), "/screening/interviews/")
        self.client.force_login(self.committee_a1)
        body = self.client.get("/").content.decode()
        self.assertNotIn("/screening/campaigns/", body)
        self.assertNotIn("/screening/interviews/", body)


class SettingsCacheTests(ScreeningTestCase):
    def test_a_new_rule_set_applies_at_once_in_this_process(self) -> None:
        # Load the (empty) rule-set table into the per-process cache first.
        self.take(Assignment.objects.get(campaign=self.campaign, student=self.roommate_a1), 0)
        RuleSet.objects.create(instrument_code="PHQ9", version="centre-7", overrides={"cutoff": 7})
        self.take(self.assignment_a1, 1, {9: 0, 1: 0})  # total 7
        result = Result.objects.get(assignment=self.assignment_a1)
        self.assertEqual((result.positive, result.rule_version), (True, "centre-7"))

    def test_a_changed_threshold_applies_at_once_in_this_process(self) -> None:
        from xinlian.screening.models import CentreSettings

        self.take(Assignment.objects.get(campaign=self.campaign, student=self.roommate_a1), 0)
        CentreSettings.objects.create(school=self.school, min_median_seconds=10.0)
        self.take(self.assignment_a1, 0)  # 4 s per item
        self.assertIn("too_fast", Result.objects.get(assignment=self.assignment_a1).flags)
