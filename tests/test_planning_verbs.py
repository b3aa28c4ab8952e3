"""Work plans, leadership-group meetings and action items (issue 12, section 4): the verbs, their
rules and bad input (each a clear message in Chinese and English, nothing half-written), the
notifications they send and the home page's work items."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.test import RequestFactory, TestCase
from django.urls import reverse
from django.utils import timezone, translation

from xinlian.access.models import AuditEvent
from xinlian.lib.actions import Conflict, Invalid, NotAllowed, NotFound
from xinlian.network.demo import seed_demo
from xinlian.network.models import Role, UnitKind, User
from xinlian.notify.models import Delivery
from xinlian.planning import actions, work
from xinlian.planning.demo import seed_demo_planning, term_of
from xinlian.planning.models import ActionItem, Meeting, PlanStatus, PlanTask, TaskStatus, WorkPlan

from .base import NetworkTestCase, make_staff

TODAY = timezone.localdate


def add_leadership(cls: Any) -> None:
    cls.leader = make_staff("T3001", "何校长", Role.LEADER, cls.school)
    cls.deputy = make_staff("T3002", "罗副校长", Role.DEPUTY_LEADER, cls.school)
    cls.member = make_staff("T3003", "韩处长", Role.LEADERSHIP_MEMBER, cls.school)
    cls.school_2 = cls.bureau.add_unit(kind=UnitKind.SCHOOL, code="SC2", name="第二中学", name_en="School 2")
    cls.director_2 = make_staff("T3004", "冯主任", Role.CENTRE_DIRECTOR, cls.school_2)


class PlanningTestCase(NetworkTestCase):
    """The personas with the school's leadership group: leader (组长), deputy (副组长) and a
    member; a centre director of another school."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        add_leadership(cls)

    def request(self, name: str | User) -> Any:
        user = self.persona(name) if isinstance(name, str) else User.objects.get(pk=name.pk)
        request = RequestFactory().post("/")
        request.user = user
        return request

    def period(self) -> tuple[dt.date, dt.date]:
        return TODAY() - dt.timedelta(days=30), TODAY() + dt.timedelta(days=90)

    def plan_input(self, **kw: Any) -> actions.PlanInput:
        start, end = self.period()
        data = {"kind": "term", "label": "2026–2027 学年第一学期", "starts_on": start, "ends_on": end,
                "title": "心理健康教育工作计划", "goals": "落实四级网络周报制度"}
        data.update(kw)
        return actions.PlanInput(**data)

    def draft(self, **kw: Any) -> WorkPlan:
        return actions.draft_plan(self.request("director"), self.plan_input(**kw))

    def task(self, plan: WorkPlan, owner: str = "counsellor_a", days: int = 10, title: str = "学院月报汇总") -> PlanTask:
        return actions.add_task(self.request("director"), plan.pk, actions.TaskInput(
            title=title, owner=getattr(self, owner).pk, due_on=TODAY() + dt.timedelta(days=days)))

    def approved(self) -> WorkPlan:
        plan = self.draft()
        self.task(plan)
        actions.submit_plan(self.request("director"), plan.pk)
        return actions.approve_plan(self.request("leader"), plan.pk)

    def meeting(self, attendees: tuple[str, ...] = ("leader", "deputy", "director", "head_teacher_a1"),
                **kw: Any) -> Meeting:
        data = {"held_on": TODAY() - dt.timedelta(days=2), "title": "领导小组例会",
                "attendees": [getattr(self, a).pk for a in attendees],
                "minutes": "研判重点学生", "decisions": "月底前完成月报"}
        data.update(kw)
        return actions.record_meeting(self.request("director"), actions.MeetingInput(**data))

    def item(self, meeting: Meeting, owner: str = "head_teacher_a1", days: int = 7, by: str = "director") -> ActionItem:
        return actions.add_action_item(self.request(by), meeting.pk, actions.ItemInput(
            text="提交培训名单", owner=getattr(self, owner).pk, due_on=TODAY() + dt.timedelta(days=days)))

    def audits(self, prefix: str = "planning.") -> list[tuple[str, str]]:
        return list(AuditEvent.objects.filter(action__startswith=prefix).order_by("pk").values_list("action", "result"))


class PlanVerbTests(PlanningTestCase):
    def test_the_director_drafts_a_plan_with_an_audit_row(self):
        plan = self.draft()
        self.assertEqual((plan.school, plan.status, plan.drafted_by_id), (self.school, PlanStatus.DRAFT, self.director.pk))
        self.assertEqual(self.audits(), [("planning.plan.draft", "allowed")])

    def test_only_the_director_drafts(self):
        for persona in ("leader", "counsellor_a", "committee_a1"):
            with self.subTest(persona), self.assertRaises(NotAllowed):
                actions.draft_plan(self.request(persona), self.plan_input())
        self.assertFalse(WorkPlan.objects.exists())
        self.assertEqual({a for a in self.audits()}, {("planning.plan.draft", "denied")})

    def test_a_plan_that_ends_before_it_starts_is_refused_in_both_languages(self):
        start, _end = self.period()
        with self.assertRaises(Invalid) as zh:
            self.draft(ends_on=start - dt.timedelta(days=1))
        with self.assertRaises(Invalid) as en:
            self.draft(ends_on=start - dt.timedelta(days=1), title="")
        with translation.override("zh-hans"):
            self.assertEqual([str(e) for e in zh.exception.errors["ends_on"]], ["计划的结束日期须晚于开始日期。"])
        with translation.override("en"):
            self.assertEqual([str(e) for e in en.exception.errors["ends_on"]], ["The plan must end after it starts."])
        self.assertIn("title", en.exception.errors)
        self.assertFalse(WorkPlan.objects.exists())

    def test_a_bad_date_and_an_unknown_kind_are_messages_by_field(self):
        with self.assertRaises(Invalid) as caught:
            self.draft(starts_on="2026-13-01", kind="week")
        self.assertEqual(set(caught.exception.errors), {"starts_on", "kind"})

    def test_a_task_owner_outside_the_school_is_refused(self):
        plan = self.draft()
        for outsider in (self.director_2, self.bureau_viewer):
            with self.subTest(outsider.username), self.assertRaises(Invalid) as caught:
                actions.add_task(self.request("director"), plan.pk, actions.TaskInput(
                    title="x", owner=outsider.pk, due_on=TODAY()))
            self.assertEqual(list(caught.exception.errors), ["owner"])
        self.assertFalse(PlanTask.objects.exists())

    def test_a_due_date_outside_the_plan_period_is_refused(self):
        plan = self.draft()
        with translation.override("en"), self.assertRaises(Invalid) as caught:
            self.task(plan, days=200)
        self.assertIn("within the plan's period", str(caught.exception.errors["due_on"][0]))
        self.assertFalse(PlanTask.objects.exists())
        self.assertEqual(self.task(plan, days=5).owner_id, self.counsellor_a.pk)

    def test_a_submit_needs_goals_and_a_task(self):
        plan = self.draft(goals="")
        with self.assertRaises(Invalid) as caught:
            actions.submit_plan(self.request("director"), plan.pk)
        self.assertEqual(set(caught.exception.errors), {"goals", "tasks"})
        plan.refresh_from_db()
        self.assertEqual(plan.status, PlanStatus.DRAFT)

    def test_a_second_submit_changes_nothing(self):
        plan = self.draft()
        self.task(plan)
        first = actions.submit_plan(self.request("director"), plan.pk)
        second = actions.submit_plan(self.request("director"), plan.pk)
        self.assertEqual((first.status, second.submitted_at), (PlanStatus.SUBMITTED, first.submitted_at))
        self.assertEqual([a for a in self.audits() if a[0] == "planning.plan.submit"], [("planning.plan.submit", "allowed")])
        # The leader is told once.
        self.assertEqual(Delivery.objects.filter(recipient=self.leader, message=actions.PLAN_SUBMITTED).count(), 1)

    def test_only_the_leader_approves(self):
        plan = self.draft()
        self.task(plan)
        actions.submit_plan(self.request("director"), plan.pk)
        for persona in ("deputy", "member", "director"):
            with self.subTest(persona), self.assertRaises(NotAllowed):
                actions.approve_plan(self.request(persona), plan.pk)
        for persona in ("outsider_b", "head_teacher_a1", "director_2"):
            with self.subTest(persona), self.assertRaises(NotFound):
                actions.approve_plan(self.request(persona), plan.pk)
        plan.refresh_from_db()
        self.assertEqual(plan.status, PlanStatus.SUBMITTED)
        approved = actions.approve_plan(self.request("leader"), plan.pk)
        self.assertEqual((approved.status, approved.decided_by_id), (PlanStatus.APPROVED, self.leader.pk))
        with self.assertRaises(Conflict):
            actions.approve_plan(self.request("leader"), plan.pk)
        self.assertEqual(Delivery.objects.filter(recipient=self.director, message=actions.PLAN_APPROVED).count(), 1)
        self.assertEqual(AuditEvent.objects.filter(action="planning.plan.approve", result="denied").count(), 6)

    def test_a_draft_is_not_approved(self):
        plan = self.draft()
        with self.assertRaises(Conflict):
            actions.approve_plan(self.request("leader"), plan.pk)

    def test_a_return_needs_a_comment_then_the_director_edits_and_resubmits(self):
        plan = self.draft()
        self.task(plan)
        actions.submit_plan(self.request("director"), plan.pk)
        with self.assertRaises(Conflict):
            actions.edit_plan(self.request("director"), plan.pk, self.plan_input(goals="改"))
        with self.assertRaises(Invalid):
            actions.return_plan(self.request("leader"), plan.pk, "  ")
        returned = actions.return_plan(self.request("leader"), plan.pk, "请补充培训安排")
        self.assertEqual((returned.status, returned.return_comment), (PlanStatus.RETURNED, "请补充培训安排"))
        edited = actions.edit_plan(self.request("director"), plan.pk, self.plan_input(goals="补充培训安排"))
        self.assertEqual(edited.goals, "补充培训安排")
        self.assertEqual(actions.submit_plan(self.request("director"), plan.pk).status, PlanStatus.SUBMITTED)

    def test_an_approved_plan_is_fixed(self):
        plan = self.approved()
        with self.assertRaises(Conflict) as caught:
            actions.edit_plan(self.request("director"), plan.pk, self.plan_input(goals="新目标"))
        with translation.override("en"):
            self.assertIn("draft a new plan", caught.exception.text)
        with self.assertRaises(Conflict):
            self.task(plan)
        with self.assertRaises(Conflict):
            actions.submit_plan(self.request("director"), plan.pk)
        plan.refresh_from_db()
        self.assertEqual((plan.goals, plan.tasks.count()), ("落实四级网络周报制度", 1))

    def test_an_edit_keeps_the_tasks_inside_the_period(self):
        plan = self.draft()
        self.task(plan, days=60)
        with self.assertRaises(Invalid) as caught:
            actions.edit_plan(self.request("director"), plan.pk, self.plan_input(ends_on=TODAY() + dt.timedelta(days=30)))
        self.assertIn("ends_on", caught.exception.errors)

    def test_the_owner_or_the_director_marks_a_task_done(self):
        plan = self.draft()
        task = self.task(plan)
        second = self.task(plan, title="培训")
        with self.assertRaises(Conflict):  # not tracked before approval
            actions.mark_task_done(self.request("counsellor_a"), task.pk)
        actions.submit_plan(self.request("director"), plan.pk)
        actions.approve_plan(self.request("leader"), plan.pk)
        with self.assertRaises(NotAllowed):
            actions.mark_task_done(self.request("leader"), task.pk)
        with self.assertRaises(NotFound):
            actions.mark_task_done(self.request("outsider_b"), task.pk)
        done = actions.mark_task_done(self.request("counsellor_a"), task.pk, "已汇总")
        self.assertEqual((done.status, done.note, done.done_by_id), (TaskStatus.DONE, "已汇总", self.counsellor_a.pk))
        with self.assertRaises(Conflict):
            actions.mark_task_done(self.request("counsellor_a"), task.pk)
        self.assertEqual(actions.mark_task_done(self.request("director"), second.pk).status, TaskStatus.DONE)
        progress = actions.read_plan(self.request("director"), plan.pk).progress
        self.assertEqual((progress.done, progress.total, progress.percent), (2, 2, 100))

    def test_overdue_tasks_are_counted(self):
        plan = self.approved()
        PlanTask.objects.create(plan=plan, title="逾期", owner=self.counsellor_a, due_on=TODAY() - dt.timedelta(days=3))
        self.assertEqual(actions.read_plan(self.request("director"), plan.pk).progress.overdue, 1)
        listed = actions.list_plans(self.request("leader")).get(pk=plan.pk)
        self.assertEqual((listed.n_tasks, listed.n_done, listed.n_overdue), (2, 0, 1))

    def test_who_reads_plans(self):
        plan = self.approved()
        for persona, sees in (("leader", True), ("deputy", True), ("member", True), ("director", True),
                              ("counsellor_a", True), ("outsider_b", False), ("head_teacher_a1", False),
                              ("committee_a1", False), ("director_2", False), ("bureau_viewer", False)):
            with self.subTest(persona):
                self.assertEqual(actions.visible_plans(self.persona(persona)).filter(pk=plan.pk).exists(), sees)


class MeetingVerbTests(PlanningTestCase):
    def test_the_director_records_a_meeting_with_encrypted_minutes(self):
        meeting = self.meeting(minutes="纪要内容", decisions="决定内容")
        self.assertEqual(set(meeting.attendees.values_list("username", flat=True)), {"T3001", "T3002", "T1004", "T1002"})
        from django.db import connection
        with connection.cursor() as cursor:
            cursor.execute("SELECT minutes, decisions FROM planning_meeting WHERE id = %s", [meeting.pk])
            stored = cursor.fetchone()
        self.assertNotIn("纪要", stored[0])
        self.assertNotIn("决定", stored[1])
        self.assertEqual(Meeting.objects.get(pk=meeting.pk).minutes, "纪要内容")
        self.assertEqual(self.audits(), [("planning.meeting.record", "allowed")])

    def test_who_records_meetings(self):
        self.assertEqual(actions.record_meeting(self.request("leader"), actions.MeetingInput(
            held_on=TODAY(), title="例会", attendees=[self.leader.pk])).school, self.school)
        for persona in ("member", "counsellor_a", "head_teacher_a1"):
            with self.subTest(persona), self.assertRaises(NotAllowed):
                actions.record_meeting(self.request(persona), actions.MeetingInput(
                    held_on=TODAY(), title="例会", attendees=[self.leader.pk]))
        self.assertEqual(Meeting.objects.count(), 1)

    def test_an_attendee_outside_the_school_is_refused(self):
        with self.assertRaises(Invalid) as caught:
            self.meeting(attendees=("leader", "director_2"))
        with translation.override("zh-hans"):
            self.assertEqual([str(e) for e in caught.exception.errors["attendees"]], ["请选择在本校任职的人员。"])
        with self.assertRaises(Invalid):
            self.meeting(attendees=())
        self.assertFalse(Meeting.objects.exists())

    def test_action_items_rules(self):
        meeting = self.meeting()
        with self.assertRaises(Invalid) as caught:
            self.item(meeting, owner="director_2")
        self.assertEqual(list(caught.exception.errors), ["owner"])
        with self.assertRaises(Invalid) as caught:
            self.item(meeting, days=-10)
        self.assertEqual(list(caught.exception.errors), ["due_on"])
        with self.assertRaises(NotAllowed):
            self.item(meeting, by="member")
        with self.assertRaises(NotFound):
            self.item(meeting, by="outsider_b")
        self.assertFalse(ActionItem.objects.exists())
        item = self.item(meeting)
        self.assertEqual(Delivery.objects.filter(recipient=self.head_teacher_a1, message=actions.ITEM_GIVEN).count(), 1)
        with self.assertRaises(NotAllowed):
            actions.mark_item_done(self.request("director"), item.pk)
        with self.assertRaises(NotFound):
            actions.mark_item_done(self.request("outsider_b"), item.pk)
        done = actions.mark_item_done(self.request("head_teacher_a1"), item.pk)
        self.assertTrue(done.done and done.done_at)
        with self.assertRaises(Conflict):
            actions.mark_item_done(self.request("head_teacher_a1"), item.pk)

    def test_an_item_owner_who_did_not_attend_opens_the_meeting_without_its_minutes(self):
        meeting = self.meeting(attendees=("leader", "director"))
        self.item(meeting, owner="counsellor_a")
        view = actions.read_meeting(self.request("counsellor_a"), meeting.pk)
        self.assertFalse(view.reads_minutes)
        with self.assertRaises(NotFound):
            actions.read_meeting(self.request("outsider_b"), meeting.pk)
        self.assertTrue(actions.read_meeting(self.request("member"), meeting.pk).reads_minutes)
        self.assertEqual(AuditEvent.objects.filter(action="planning.meeting.view", result="allowed",
                                                   actor=self.member).count(), 1)


class WorkItemTests(PlanningTestCase):
    def items(self, persona: str, kind: str) -> list[Any]:
        request = RequestFactory().get("/")
        request.user = self.persona(persona)
        return [i for i in work.work_for(request).items if i.kind == kind]

    def test_an_action_item_shows_on_its_owners_home_until_done(self):
        item = self.item(self.meeting(), days=3)
        [found] = self.items("head_teacher_a1", "action_item")
        self.assertEqual((found.title, found.overdue), ("提交培训名单", False))
        self.assertEqual(self.items("director", "action_item"), [])
        self.login("head_teacher_a1")
        self.assertContains(self.client.get(reverse("home")), "提交培训名单")
        self.client.post(reverse("planning:item-done", args=[item.pk]))
        self.assertNotContains(self.client.get(reverse("home")), "提交培训名单")
        self.assertEqual(self.items("head_teacher_a1", "action_item"), [])

    def test_an_overdue_item_says_so(self):
        item = self.item(self.meeting(held_on=TODAY() - dt.timedelta(days=20)), days=-5)
        [found] = self.items("head_teacher_a1", "action_item")
        self.assertTrue(found.overdue)
        self.assertEqual(found.due_at.date(), item.due_on + dt.timedelta(days=1))

    def test_a_task_of_an_approved_plan_is_work_until_done(self):
        plan = self.draft()
        task = self.task(plan, days=4)
        self.assertEqual(self.items("counsellor_a", "plan_task"), [])  # not tracked yet
        actions.submit_plan(self.request("director"), plan.pk)
        [waiting] = self.items("leader", "plan_approval")
        self.assertEqual(waiting.url, reverse("planning:plan", args=[plan.pk]))
        self.assertEqual(self.items("deputy", "plan_approval"), [])
        actions.approve_plan(self.request("leader"), plan.pk)
        self.assertEqual(self.items("leader", "plan_approval"), [])
        [found] = self.items("counsellor_a", "plan_task")
        self.assertEqual((found.title, found.band), ("学院月报汇总", 1))
        actions.mark_task_done(self.request("counsellor_a"), task.pk)
        self.assertEqual(self.items("counsellor_a", "plan_task"), [])


class DemoTests(PlanningTestCase):
    def test_the_demo_plan_and_meeting(self):
        for persona, name in (("leader", "leader"), ("director", "director"), ("counsellor_a", "fudaoyuan")):
            User.objects.filter(pk=getattr(self, persona).pk).update(username=name)
        written = seed_demo_planning()
        self.assertEqual(written, 5)
        plan = WorkPlan.objects.get()
        self.assertEqual((plan.status, plan.school, plan.decided_by_id), (PlanStatus.APPROVED, self.school, self.leader.pk))
        self.assertEqual(set(plan.tasks.values_list("owner_id", flat=True)), {self.director.pk, self.counsellor_a.pk})
        self.assertEqual(ActionItem.objects.get().owner_id, self.counsellor_a.pk)
        self.assertEqual(seed_demo_planning(), 0)  # once
        label, start, end = term_of(dt.date(2026, 12, 7))
        self.assertEqual((label, start, end), ("2026–2027 学年第一学期", dt.date(2026, 9, 1), dt.date(2027, 1, 31)))
        self.assertEqual(term_of(dt.date(2027, 3, 1))[1:], (dt.date(2027, 2, 1), dt.date(2027, 8, 31)))


class SeededDemoPlanningTests(TestCase):
    """On the real demo network: the demo 辅导员's home page shows the meeting's action item and
    the plan's tasks; the leader's the approved plan among the plans."""

    @classmethod
    def setUpTestData(cls) -> None:
        seed_demo(300, 7)
        cls.written = seed_demo_planning()

    def test_the_demo_fudaoyuan_owes_the_action_item(self):
        self.assertEqual(self.written, 5)
        self.client.force_login(User.objects.get(username="fudaoyuan"))
        home = self.client.get(reverse("home"))
        self.assertContains(home, "提交本学院心理委员培训名单")
        self.assertContains(home, 'data-kind="plan_task"')
        self.client.force_login(User.objects.get(username="leader"))
        self.assertContains(self.client.get(reverse("planning:plans")), "心理健康教育工作计划")
