"""Periodic peer reports (issue 12, section 1): the verbs, their rules and bad input, review,
completeness numbers and their constant query count, the reminder jobs and the home page."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import connection
from django.test import RequestFactory, TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from xinlian.access.models import AuditEvent
from xinlian.care.models import Alert, Concern
from xinlian.duties import actions, cycles, jobs
from xinlian.duties.models import (
    Cadence,
    Flag,
    ReminderKind,
    Report,
    ReportCycle,
    ReportPeriod,
    ReportStatus,
)
from xinlian.lib.actions import Conflict, Invalid, NotAllowed, NotFound
from xinlian.network.models import Post, Role, UnitKind, User
from xinlian.notify.models import Channel, Delivery

from .base import NetworkTestCase, make_staff, make_student

TODAY = timezone.localdate


class DutiesTestCase(NetworkTestCase):
    """The personas with the school's default cycles, a college lead of college A and a
    committee member of class A2 (another peer)."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.cycles = {c.role: c for c in cycles.ensure_default_cycles(cls.school)}
        cls.college_lead_a = make_staff("T2001", "林院长", Role.COLLEGE_LEAD, cls.college_a)
        peer = make_student("S0101", "钱多多", cls.class_a2)
        Post.objects.create(person=peer.user, unit=cls.class_a2, role=Role.COMMITTEE_MEMBER,
                            starts_on=dt.date(2024, 9, 1))
        cls.committee_a2 = peer.user
        cls.head_teacher_a2 = make_staff("T2002", "郭老师", Role.HEAD_TEACHER, cls.class_a2)

    def request(self, name: str | User, method: str = "post") -> Any:
        user = self.persona(name) if isinstance(name, str) else User.objects.get(pk=name.pk)
        request = getattr(RequestFactory(), method)("/")
        request.user = user
        return request

    def weekly(self, day: dt.date | None = None, role: str = Role.COMMITTEE_MEMBER) -> ReportPeriod:
        """The weekly period open for a report now (the one due first)."""
        cycle = self.cycles[role]
        if day is not None:
            return cycles.period_on(cycle, day)
        return cycles.open_periods([cycle])[cycle.pk][0]

    def post_of(self, user: User, role: str = Role.COMMITTEE_MEMBER) -> Post:
        return Post.objects.get(person=user, role=role)

    def submit(self, name: str = "committee_a1", *, period: ReportPeriod | None = None, role: str = Role.COMMITTEE_MEMBER,
               **data: Any) -> Report:
        user = self.persona(name)
        period = period or self.weekly(role=role)
        return actions.submit_report(self.request(name), post_id=self.post_of(user, role).pk, period_id=period.pk,
                                     data=actions.ReportInput(**data))

    def flag(self, student: Any, seen: str = "看起来很疲惫", category: str = "emotional",
             urgency: str = "soon") -> actions.FlagInput:
        return actions.FlagInput(student=str(student.pk), seen=seen, category=category, urgency=urgency)


class CycleTests(DutiesTestCase):
    def test_weekly_periods_are_due_the_monday_after_with_grace(self):
        cycle = self.cycles[Role.COMMITTEE_MEMBER]
        start, end, due, closes = cycle.bounds(dt.date(2026, 12, 2))  # a Wednesday
        self.assertEqual((start, end, due, closes),
                         (dt.date(2026, 11, 30), dt.date(2026, 12, 6), dt.date(2026, 12, 7), dt.date(2026, 12, 9)))

    def test_fortnightly_and_monthly(self):
        cycle = ReportCycle(school=self.school, role=Role.COMMITTEE_MEMBER, cadence=Cadence.FORTNIGHTLY,
                            due_weekday=4, grace_days=1, anchor=dt.date(2026, 9, 7))
        self.assertEqual(cycle.bounds(dt.date(2026, 9, 20))[:3],
                         (dt.date(2026, 9, 7), dt.date(2026, 9, 20), dt.date(2026, 9, 25)))
        self.assertEqual(cycle.bounds(dt.date(2026, 9, 21))[0], dt.date(2026, 9, 21))
        monthly = self.cycles[Role.FUDAOYUAN]
        self.assertEqual(monthly.bounds(dt.date(2026, 2, 14)),
                         (dt.date(2026, 2, 1), dt.date(2026, 2, 28), dt.date(2026, 3, 5), dt.date(2026, 3, 8)))

    def test_open_periods_are_made_once(self):
        cycle = self.cycles[Role.COMMITTEE_MEMBER]
        first = cycles.open_periods([cycle])[cycle.pk]
        again = cycles.open_periods([cycle])[cycle.pk]
        self.assertEqual([p.pk for p in first], [p.pk for p in again])
        self.assertTrue(all(p.starts_on <= TODAY() <= p.closes_on for p in first))
        self.assertEqual(ReportPeriod.objects.filter(cycle=cycle).count(), len(first))

    def test_the_director_sets_a_cycle_others_may_not(self):
        cycle = self.cycles[Role.COMMITTEE_MEMBER]
        data = actions.CycleInput(cadence="monthly", due_weekday="0", due_day="10", grace_days="3")
        actions.set_cycle(self.request("director"), cycle.pk, data)
        cycle.refresh_from_db()
        self.assertEqual((cycle.cadence, cycle.due_day, cycle.grace_days), ("monthly", 10, 3))
        with self.assertRaises(NotAllowed):
            actions.set_cycle(self.request("counsellor_a"), cycle.pk, data)
        with self.assertRaises(NotFound):
            actions.set_cycle(self.request("committee_a1"), cycle.pk, data)
        with self.assertRaises(Invalid) as bad:
            actions.set_cycle(self.request("director"), cycle.pk, actions.CycleInput(
                cadence="daily", due_weekday="9", due_day="31", grace_days="-1"))
        self.assertEqual(set(bad.exception.errors), {"cadence", "due_weekday", "due_day", "grace_days"})


class SubmitTests(DutiesTestCase):
    def test_a_zero_report_in_one_call(self):
        report = self.submit(zero=True)
        self.assertEqual((report.status, report.is_zero, report.state), ("submitted", True, "calm"))
        self.assertIsNotNone(report.submitted_at)
        self.assertEqual(report.unit_id, self.class_a1.pk)
        self.assertTrue(AuditEvent.objects.filter(action="duties.report.submit", object_id=str(report.pk),
                                                  actor=self.committee_a1).exists())

    def test_a_second_submit_edits_the_first_until_sign_off(self):
        first = self.submit(zero=True)
        second = self.submit(flags=[self.flag(self.student_a1)])
        self.assertEqual(first.pk, second.pk)
        self.assertEqual(Report.objects.count(), 1)
        self.assertEqual((second.is_zero, second.state), (False, "concerns"))
        self.assertEqual(first.submitted_at, Report.objects.get().submitted_at)  # the first time stays
        self.assertEqual(list(Flag.objects.values_list("student_id", flat=True)), [self.student_a1.pk])
        actions.sign_off_report(self.request("counsellor_a"), first.pk)
        with self.assertRaises(Conflict):
            self.submit(zero=True)
        self.assertEqual(Flag.objects.count(), 1)

    def test_an_urgent_flag_becomes_a_concern_at_once_the_others_do_not(self):
        report = self.submit(flags=[self.flag(self.student_a1, urgency="now", seen="说不想活了"),
                                    self.flag(self.roommate_a1, urgency="routine")])
        concern = Concern.objects.get()
        self.assertEqual((concern.student_id, concern.reporter_id, concern.urgency),
                         (self.student_a1.pk, self.committee_a1.pk, "now"))
        self.assertEqual(concern.seen, "说不想活了")
        self.assertTrue(Alert.objects.filter(concern=concern, level="red").exists())
        flags = {f.student_id: f for f in report.flags.all()}
        self.assertEqual(flags[self.student_a1.pk].concern_id, concern.pk)
        self.assertIsNone(flags[self.roommate_a1.pk].concern_id)
        # Filing again (an edit) does not raise the same concern twice.
        self.submit(flags=[self.flag(self.student_a1, urgency="now", seen="说不想活了")])
        self.assertEqual(Concern.objects.count(), 1)

    def test_talk_of_self_harm_is_a_concern_whatever_the_urgency(self):
        self.submit(flags=[self.flag(self.student_a1, category="self_harm", urgency="routine")])
        self.assertEqual(Concern.objects.get().category, "self_harm")

    def test_what_was_seen_is_encrypted(self):
        self.submit(flags=[self.flag(self.student_a1, seen="MKR-secret-seen")], note="MKR-secret-note")
        with connection.cursor() as cur:
            cur.execute("SELECT seen FROM duties_flag")
            stored = cur.fetchone()[0]
            cur.execute("SELECT note FROM duties_report")
            note = cur.fetchone()[0]
        self.assertTrue(stored.startswith("v1:"))
        self.assertNotIn("MKR", stored + note)

    def test_a_draft_is_not_submitted_and_raises_no_concern(self):
        report = self.submit(flags=[self.flag(self.student_a1, urgency="now")], draft=True)
        self.assertEqual((report.status, report.submitted_at), ("draft", None))
        self.assertFalse(Concern.objects.exists())
        report = self.submit(zero=True)
        self.assertEqual(report.status, "submitted")
        with self.assertRaises(Conflict):
            self.submit(zero=True, draft=True)

    def test_a_student_outside_the_unit_is_refused_and_nothing_is_written(self):
        for student in (self.student_a2, self.student_b1):
            with self.assertRaises(Invalid) as refused:
                self.submit(flags=[self.flag(self.student_a1), self.flag(student)])
            self.assertIn("flags", refused.exception.errors)
        self.assertFalse(Report.objects.exists())
        self.assertFalse(Flag.objects.exists())

    def test_a_dorm_liaison_flags_only_roommates(self):
        self.submit("liaison_a1", role=Role.DORM_LIAISON, flags=[self.flag(self.roommate_a1)])
        with self.assertRaises(Invalid):
            self.submit("liaison_a1", role=Role.DORM_LIAISON, flags=[self.flag(self.classmate_a1)])

    def test_bad_flags(self):
        cases = [
            [self.flag(self.student_a1, seen="")],
            [self.flag(self.student_a1, category="gossip")],
            [self.flag(self.student_a1, urgency="yesterday")],
            [self.flag(self.student_a1), self.flag(self.student_a1)],
            [actions.FlagInput(student="²", seen="x", category="other", urgency="soon")],
            [self.flag(self.student_a1, seen="x" * 2001)],
        ]
        for flags in cases:
            with self.assertRaises(Invalid):
                self.submit(flags=flags)
        with self.assertRaises(Invalid):
            self.submit(zero=True, flags=[self.flag(self.student_a1)])
        with self.assertRaises(Invalid):
            self.submit(state="stormy")
        with self.assertRaises(Invalid):
            self.submit(state="concerns")  # concerns, but neither a flag nor a word
        self.assertFalse(Report.objects.exists())

    def test_a_closed_period_and_one_not_started_are_refused(self):
        closed = self.weekly(TODAY() - dt.timedelta(days=30))
        with self.assertRaises(Conflict):
            self.submit(period=closed, zero=True)
        future = self.weekly(TODAY() + dt.timedelta(days=15))
        with self.assertRaises(Conflict):
            self.submit(period=future, zero=True)
        self.assertFalse(Report.objects.exists())

    def test_no_report_outside_the_term_on_the_post(self):
        post = self.post_of(self.committee_a1)
        period = self.weekly()
        post.starts_on = period.ends_on + dt.timedelta(days=1)
        post.save()
        with self.assertRaises(NotAllowed):
            self.submit(period=period, zero=True)
        self.assertFalse(Report.objects.exists())

    def test_another_persons_post_is_missing_and_another_unit_is_refused(self):
        other = self.post_of(self.committee_a2)
        with self.assertRaises(NotFound):
            actions.submit_report(self.request("committee_a1"), post_id=other.pk, period_id=self.weekly().pk,
                                  data=actions.ReportInput(zero=True))
        with self.assertRaises(Invalid) as refused:
            actions.submit_report(self.request("committee_a1"), unit_id=self.class_a2.pk,
                                  data=actions.ReportInput(zero=True))
        self.assertIn("unit", refused.exception.errors)
        self.assertTrue(AuditEvent.objects.filter(action="duties.report.submit", result="denied").exists())
        # By unit, without a period: the open period due first.
        report = actions.submit_report(self.request("committee_a1"), unit_id=self.class_a1.pk,
                                       data=actions.ReportInput(zero=True))
        self.assertEqual(report.period_id, self.weekly().pk)

    def test_a_period_of_another_cycle_is_missing(self):
        period = self.weekly(role=Role.DORM_LIAISON)
        with self.assertRaises(NotFound):
            self.submit(period=period, zero=True)


class ReviewTests(DutiesTestCase):
    def test_the_fudaoyuan_signs_off(self):
        report = self.submit(zero=True)
        actions.sign_off_report(self.request("counsellor_a"), report.pk, "好")
        report.refresh_from_db()
        self.assertEqual((report.status, report.reviewed_by_id, report.review_comment),
                         ("signed_off", self.counsellor_a.pk, "好"))
        self.assertTrue(AuditEvent.objects.filter(action="duties.report.sign_off").exists())
        with self.assertRaises(Conflict):
            actions.sign_off_report(self.request("counsellor_a"), report.pk)

    def test_only_the_fudaoyuan_of_the_college_signs_off(self):
        report = self.submit(zero=True)
        for name in ("outsider_b", "head_teacher_a1", "liaison_a1", "committee_a2", "student_a1_user"):
            with self.assertRaises(NotFound, msg=name):
                actions.sign_off_report(self.request(name), report.pk)
        for name in ("director", "college_lead_a", "committee_a1"):
            with self.assertRaises(NotAllowed, msg=name):
                actions.sign_off_report(self.request(name), report.pk)
        self.assertEqual(Report.objects.get().status, "submitted")
        self.assertTrue(AuditEvent.objects.filter(action="duties.report.sign_off", result="denied").exists())

    def test_send_back_needs_a_comment_and_the_reporter_files_again(self):
        report = self.submit(flags=[self.flag(self.student_a1)])
        with self.assertRaises(Invalid):
            actions.send_back_report(self.request("counsellor_a"), report.pk, " ")
        actions.send_back_report(self.request("counsellor_a"), report.pk, "请写清楚具体情况")
        report.refresh_from_db()
        self.assertEqual(report.status, "sent_back")
        message = Delivery.objects.get(recipient=self.committee_a1, channel=Channel.INBOX)
        self.assertNotIn("张小明", message.text())
        with self.assertRaises(Conflict):
            actions.sign_off_report(self.request("counsellor_a"), report.pk)
        again = self.submit(flags=[self.flag(self.student_a1, seen="上课哭了两次")])
        self.assertEqual((again.pk, again.status), (report.pk, "submitted"))

    def test_the_college_summary_is_approved_by_the_college_lead_and_reaches_the_centre(self):
        cycle = self.cycles[Role.FUDAOYUAN]
        period = cycles.open_periods([cycle])[cycle.pk][0]
        report = self.submit("counsellor_a", role=Role.FUDAOYUAN, period=period, state="concerns",
                             note="本月两名学生需关注")
        with self.assertRaises(NotAllowed):
            actions.sign_off_report(self.request("counsellor_a"), report.pk)
        with self.assertRaises(NotAllowed):
            actions.sign_off_report(self.request("director"), report.pk)
        actions.sign_off_report(self.request("college_lead_a"), report.pk)
        self.assertEqual(Report.objects.get().status, "signed_off")
        self.assertTrue(Delivery.objects.filter(recipient=self.director, channel=Channel.INBOX).exists())
        view = actions.read_report(self.request("director", "get"), report.pk)
        self.assertEqual(view.report.note, "本月两名学生需关注")

    def test_the_review_list_holds_what_waits_for_the_actor(self):
        mine = self.submit(zero=True)
        other = self.submit("committee_a2", zero=True)
        waiting = list(actions.list_reports(self.request("counsellor_a", "get"), to_review=True))
        self.assertEqual({r.pk for r in waiting}, {mine.pk, other.pk})
        self.assertEqual(list(actions.list_reports(self.request("outsider_b", "get"), to_review=True)), [])
        self.assertEqual(list(actions.list_reports(self.request("college_lead_a", "get"), to_review=True)), [])
        with self.assertRaises(Invalid):
            actions.list_reports(self.request("counsellor_a", "get"), status="lost")


class CompletenessTests(DutiesTestCase):
    def setUp(self) -> None:
        self.period = self.weekly()

    def table(self, name: str = "director", **kw: Any) -> actions.Completeness:
        kw.setdefault("cycle_id", self.cycles[Role.COMMITTEE_MEMBER].pk)
        kw.setdefault("period_id", self.period.pk)
        return actions.completeness(self.request(name, "get"), **kw)

    def numbers(self, tally: actions.Tally) -> tuple[int, ...]:
        return (tally.expected, tally.on_time, tally.late, tally.missing, tally.zero)

    def test_rolled_up_class_college_school(self):
        committee_b1 = make_student("S0102", "周一", self.class_b1)
        Post.objects.create(person=committee_b1.user, unit=self.class_b1, role=Role.COMMITTEE_MEMBER,
                            starts_on=dt.date(2024, 9, 1))
        on_time = self.submit(zero=True)
        late = self.submit("committee_a2", flags=[self.flag(self.student_a2)])
        # Both times set: filed now, the report would be late while the earliest open period is
        # last week's, in its grace days (after midnight at the end of its due day).
        Report.objects.filter(pk=on_time.pk).update(submitted_at=self.period.deadline - dt.timedelta(hours=3))
        Report.objects.filter(pk=late.pk).update(submitted_at=self.period.deadline + dt.timedelta(hours=3))
        school = self.table()
        self.assertEqual(school.unit, self.school)
        self.assertEqual(self.numbers(school.total), (3, 1, 1, 1, 1))
        rows = {r.unit.code: self.numbers(r.tally) for r in school.rows}
        self.assertEqual(rows, {"CA": (2, 1, 1, 0, 1), "CB": (1, 0, 0, 1, 0)})
        college = self.table(unit_id=self.college_a.pk)
        self.assertEqual({r.unit.code: self.numbers(r.tally) for r in college.rows},
                         {"CA-1": (1, 1, 0, 0, 1), "CA-2": (1, 0, 1, 0, 0)})
        klass = self.table(unit_id=self.class_a1.pk)
        self.assertEqual([(r.post.person_id, r.status) for r in klass.rows], [(self.committee_a1.pk, "submitted")])
        liaison = self.table(unit_id=self.class_a1.pk, cycle_id=self.cycles[Role.DORM_LIAISON].pk,
                             period_id=self.weekly(role=Role.DORM_LIAISON).pk)
        self.assertEqual(self.numbers(liaison.total), (1, 0, 0, 1, 0))

    def test_a_reporter_who_left_is_no_longer_expected(self):
        post = self.post_of(self.committee_a2)
        post.ends_on = self.period.due_on - dt.timedelta(days=1)
        post.save()
        self.assertEqual(self.table(unit_id=self.college_a.pk).total.expected, 1)

    def test_scope(self):
        self.assertEqual(self.table("counsellor_a").unit, self.college_a)
        with self.assertRaises(NotFound):
            self.table("counsellor_a", unit_id=self.college_b.pk)
        for name in ("committee_a1", "head_teacher_a1", "student_a1_user", "bureau_viewer"):
            with self.assertRaises(NotAllowed, msg=name):
                self.table(name)
        with self.assertRaises(Invalid):
            self.table(period_id=self.weekly(role=Role.DORM_LIAISON).pk)

    def test_default_period_is_the_one_last_due(self):
        table = actions.completeness(self.request("director", "get"))
        self.assertLessEqual(table.period.due_on, TODAY())
        self.assertGreater(table.period.due_on + dt.timedelta(days=7), TODAY())

    def _grow(self, classes: int) -> None:
        for i in range(classes):
            college = self.college_a if i % 2 else self.college_b
            klass = college.add_unit(kind=UnitKind.CLASS, code=f"X-{uuid.uuid4().hex[:8]}", name=f"扩{i}班")
            student = make_student(f"S9{i:06d}", f"学生{i}", klass)  # unique: a random number once collided
            Post.objects.create(person=student.user, unit=klass, role=Role.COMMITTEE_MEMBER,
                                starts_on=dt.date(2024, 9, 1))
            if i % 3 == 0:
                Report.objects.create(period=self.period, post=Post.objects.get(person=student.user),
                                      unit=klass, reporter=student.user, status="submitted",
                                      submitted_at=timezone.now(), is_zero=True)

    def count_queries(self, **kw: Any) -> int:
        request = self.request("director", "get")
        actions.completeness(request, **kw)  # the posts cache warm, as on a page
        with CaptureQueriesContext(connection) as ctx:
            actions.completeness(request, **kw)
        return len(ctx)

    def test_constant_query_count_at_two_sizes(self):
        kw = {"cycle_id": self.cycles[Role.COMMITTEE_MEMBER].pk, "period_id": self.period.pk}
        small_school = self.count_queries(**kw)
        small_college = self.count_queries(unit_id=self.college_a.pk, **kw)
        self._grow(30)
        request = self.request("director", "get")
        actions.completeness(request, **kw)
        with self.assertNumQueries(small_school):
            big = actions.completeness(request, **kw)
        with self.assertNumQueries(small_college):
            actions.completeness(request, unit_id=self.college_a.pk, **kw)
        self.assertEqual(big.total.expected, 32)
        self.assertEqual(small_school, 6)


class JobTests(DutiesTestCase):
    def test_reporters_are_reminded_before_the_due_day_once(self):
        period = self.weekly()
        self.submit("liaison_a1", role=Role.DORM_LIAISON, zero=True)
        sent = jobs.remind_reporters(period.due_on - dt.timedelta(days=1))
        inboxes = set(Delivery.objects.filter(channel=Channel.INBOX).values_list("recipient_id", flat=True))
        self.assertIn(self.committee_a1.pk, inboxes)
        self.assertIn(self.committee_a2.pk, inboxes)
        self.assertNotIn(self.liaison_a1.pk, inboxes)  # filed already
        self.assertGreaterEqual(sent, 2)
        self.assertEqual(jobs.remind_reporters(period.due_on - dt.timedelta(days=1)), 0)
        self.assertEqual(jobs.remind_reporters(period.due_on - dt.timedelta(days=4)), 0)  # too early

    def test_the_fudaoyuan_hears_of_missing_reports_after_grace(self):
        period = self.weekly()
        self.submit(zero=True)
        jobs.remind_missing(period.closes_on)  # still within the grace days: not yet
        self.assertFalse(Delivery.objects.filter(message=jobs.MISSING, params__period=period.label).exists())
        after = period.closes_on + dt.timedelta(days=1)
        jobs.remind_missing(after)
        messages = Delivery.objects.filter(recipient=self.counsellor_a, channel=Channel.INBOX,
                                           message=jobs.MISSING, params__period=period.label)
        # One per cycle: class A2's committee member, dorm 101's liaison (class A1's filed).
        self.assertEqual(sorted(m.params["n"] for m in messages), ["1", "1"])
        self.assertFalse(Delivery.objects.filter(recipient=self.outsider_b, message=jobs.MISSING).exists())
        self.assertEqual(jobs.remind_missing(after), 0)

    def test_a_reporter_who_left_is_not_reminded(self):
        period = self.weekly()
        post = self.post_of(self.committee_a2)
        post.ends_on = period.starts_on
        post.save()
        jobs.remind_reporters(period.due_on)
        self.assertFalse(Delivery.objects.filter(recipient=self.committee_a2, message=jobs.DUE_SOON).exists())
        self.assertTrue(Delivery.objects.filter(recipient=self.committee_a1, message=jobs.DUE_SOON).exists())

    def test_the_jobs_are_registered_with_the_worker(self):
        from xinlian.notify import jobs as worker_jobs

        names = [n for n, _ in worker_jobs.JOBS]
        self.assertIn("report-reminders", names)
        self.assertIn("report-missing", names)
        self.assertEqual(ReminderKind.DUE, "due")


class PageTests(DutiesTestCase):
    def test_home_shows_the_due_report_on_top_and_the_form_lists_the_roster_only(self):
        self.login("committee_a1")
        home = self.client.get(reverse("home"))
        period = self.weekly()
        form_url = reverse("duties:report-form", args=[self.post_of(self.committee_a1).pk, period.pk])
        self.assertContains(home, form_url)
        form = self.client.get(form_url)
        self.assertContains(form, 'id="zero-report"')
        for name in ("张小明", "李华", "王芳"):
            self.assertContains(form, name)
        for name in ("赵磊", "陈静", "钱多多"):
            self.assertNotContains(form, name)
        done = self.client.post(form_url, {"zero": "1"})
        self.assertRedirects(done, f"{reverse('duties:home')}?sent={Report.objects.get().pk}")
        self.assertNotContains(self.client.get(reverse("home")), form_url)

    def test_a_flagged_report_through_the_form_and_bad_input(self):
        self.login("committee_a1")
        url = reverse("duties:report-form", args=[self.post_of(self.committee_a1).pk, self.weekly().pk])
        bad = self.client.post(url, {"flag-0-student": str(self.student_b1.pk), "flag-0-seen": "x",
                                     "flag-0-category": "other", "flag-0-urgency": "soon"},
                               HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(bad.status_code, 400)
        self.assertContains(bad, "not on the roster of your class or dormitory", status_code=400)
        self.assertFalse(Report.objects.exists())
        good = self.client.post(url, {"flag-0-student": str(self.student_a1.pk), "flag-0-seen": "失眠",
                                      "flag-0-category": "sleep_eating", "flag-0-urgency": "soon",
                                      "note": "其他都好"})
        self.assertEqual(good.status_code, 302)
        report = Report.objects.get()
        self.assertEqual((report.state, report.note, report.flags.get().seen), ("concerns", "其他都好", "失眠"))

    def test_the_fudaoyuan_reviews_and_signs_off_through_the_pages(self):
        report = self.submit(flags=[self.flag(self.student_a1, seen="食欲差")])
        self.login("counsellor_a")
        self.assertContains(self.client.get(reverse("home")), reverse("duties:review"))
        listing = self.client.get(reverse("duties:review"))
        self.assertContains(listing, reverse("duties:report-detail", args=[report.pk]))
        detail = self.client.get(reverse("duties:report-detail", args=[report.pk]))
        self.assertContains(detail, "食欲差")
        self.assertTrue(AuditEvent.objects.filter(action="duties.report.view", actor=self.counsellor_a).exists())
        refused = self.client.post(reverse("duties:report-send-back", args=[report.pk]), {"comment": ""})
        self.assertEqual(refused.status_code, 400)
        done = self.client.post(reverse("duties:report-sign-off", args=[report.pk]), {"comment": ""})
        self.assertRedirects(done, reverse("duties:review"))
        self.assertEqual(Report.objects.get().status, ReportStatus.SIGNED_OFF)

    def test_the_completeness_page_drills_down(self):
        self.submit(zero=True)
        self.login("director")
        page = self.client.get(reverse("duties:completeness"))
        self.assertContains(page, 'id="completeness"')
        self.assertContains(page, f"?unit={self.college_a.pk}&amp;")
        self.assertContains(page, 'id="cycle-settings"')
        self.login("counsellor_a")
        college = self.client.get(reverse("duties:completeness"))
        self.assertContains(college, f"?unit={self.class_a1.pk}&amp;")
        self.assertNotContains(college, 'id="cycle-settings"')
        self.assertEqual(self.client.get(reverse("duties:completeness"), {"unit": self.college_b.pk}).status_code, 404)
        self.login("committee_a1")
        self.assertEqual(self.client.get(reverse("duties:completeness")).status_code, 403)

    def test_the_navbar_offers_reports_to_those_who_have_them(self):
        for name, shown in (("committee_a1", True), ("counsellor_a", True), ("director", True),
                            ("student_a1_user", False), ("head_teacher_a1", False)):
            self.login(name)
            page = self.client.get(reverse("home"))
            self.assertEqual(reverse("duties:home") in page.content.decode(), shown, name)

    def test_the_director_sets_the_cycle_on_the_page(self):
        cycle = self.cycles[Role.DORM_LIAISON]
        self.login("director")
        response = self.client.post(reverse("duties:cycle-set", args=[cycle.pk]),
                                    {"cadence": "fortnightly", "due_weekday": "4", "due_day": "5",
                                     "grace_days": "1", "active": "1"})
        self.assertEqual(response.status_code, 302)
        cycle.refresh_from_db()
        self.assertEqual((cycle.cadence, cycle.due_weekday, cycle.grace_days), ("fortnightly", 4, 1))
        self.login("counsellor_a")
        self.assertEqual(self.client.post(reverse("duties:cycle-set", args=[cycle.pk]), {}).status_code, 403)


class ApiTests(DutiesTestCase):
    def test_submit_list_sign_off_and_completeness(self):
        self.login("committee_a1")
        url = reverse("duties-api:report-list")
        created = self.client.post(url, {"unit": self.class_a1.pk, "zero": True}, content_type="application/json")
        self.assertEqual(created.status_code, 201, created.content)
        body = created.json()
        self.assertEqual((body["is_zero"], body["status"], body["flags"]), (True, "submitted", []))
        bad = self.client.post(url, {"unit": self.class_a2.pk, "zero": True}, content_type="application/json")
        self.assertEqual(bad.status_code, 400)
        self.assertIn("unit", bad.json())
        self.assertEqual(self.client.post(url, {"unit": self.class_a1.pk, "flags": "lots"},
                                          content_type="application/json").status_code, 400)
        self.assertEqual([r["id"] for r in self.client.get(url).json()], [body["id"]])
        self.login("counsellor_a")
        waiting = self.client.get(url, {"to_review": "1"}).json()
        self.assertEqual([r["id"] for r in waiting], [body["id"]])
        signed = self.client.post(reverse("duties-api:report-sign-off", args=[body["id"]]), {},
                                  content_type="application/json")
        self.assertEqual(signed.json()["status"], "signed_off")
        again = self.client.post(reverse("duties-api:report-sign-off", args=[body["id"]]), {},
                                 content_type="application/json")
        self.assertEqual(again.status_code, 409)
        table = self.client.get(reverse("duties-api:completeness")).json()
        self.assertEqual(table["unit"]["code"], "CA")
        self.assertEqual(table["total"]["expected"], 2)
        self.login("outsider_b")
        self.assertEqual(self.client.get(reverse("duties-api:report-detail", args=[body["id"]])).status_code, 404)

    def test_the_schema_shows_the_endpoints(self):
        self.login("director")
        schema = self.client.get(reverse("api-schema")).content.decode()
        for path in ("/api/v1/duties/reports/", "/api/v1/duties/reports/{id}/",
                     "/api/v1/duties/reports/{id}/sign-off/", "/api/v1/duties/reports/{id}/send-back/",
                     "/api/v1/duties/completeness/"):
            self.assertIn(f"{path}:", schema)


class DemoTests(TestCase):
    def test_the_demo_seeds_weeks_of_reports_and_leaves_the_demo_reporters_week_open(self):
        from xinlian.duties.demo import DEMO_WEEKS, seed_demo_reports
        from xinlian.network.demo import seed_demo

        seed_demo(300, 7)
        written = seed_demo_reports()
        self.assertGreater(written, 0)
        self.assertEqual(seed_demo_reports(), 0)  # once
        periods = set(Report.objects.values_list("period__starts_on", flat=True))
        self.assertEqual(len(periods), DEMO_WEEKS + 1)
        self.assertTrue(Report.objects.filter(status="signed_off").exists())
        self.assertTrue(Flag.objects.exists())
        committee = User.objects.get(username="committee")
        due = actions.reports_due(committee)
        self.assertTrue(due and not due[0].done)  # the demo 心理委员's home opens on it
        request = RequestFactory().get("/")
        request.user = User.objects.get(username="director")
        table = actions.completeness(request)
        self.assertGreater(table.total.expected, 0)


class JobPaceTests(DutiesTestCase):
    def test_the_worker_loop_looks_again_only_every_few_minutes(self):
        jobs._last_pass.clear()
        with CaptureQueriesContext(connection) as first:
            jobs.remind_reporters()
        with CaptureQueriesContext(connection) as again:
            self.assertEqual(jobs.remind_reporters(), 0)
        self.assertGreater(len(first), 0)
        self.assertEqual(len(again), 0)
        jobs._last_pass.clear()
