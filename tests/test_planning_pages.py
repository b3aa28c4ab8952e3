"""The planning pages and API as their users take them: forms re-rendered beside a clear message
with nothing written, the account menu's entry, an approved plan's edit refused on both front-ends."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from xinlian.planning.models import ActionItem, Meeting, PlanStatus, WorkPlan

from .test_planning_verbs import TODAY, PlanningTestCase


class PlanningPageTests(PlanningTestCase):
    def test_a_plan_form_with_bad_dates_is_shown_again_with_the_message(self):
        self.login("director")
        response = self.client.post(reverse("planning:plan-new"), {
            "kind": "term", "label": "第一学期", "title": "计划", "goals": "",
            "starts_on": "2026-09-01", "ends_on": "2026-08-01"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
        self.assertContains(response, "计划的结束日期须晚于开始日期。", status_code=400)
        self.assertContains(response, 'value="第一学期"', status_code=400)  # what was typed stays
        self.assertFalse(WorkPlan.objects.exists())

    def test_the_drafted_plan_opens_with_its_task_form(self):
        self.login("director")
        response = self.client.post(reverse("planning:plan-new"), {
            "kind": "term", "label": "第一学期", "title": "计划", "goals": "目标",
            "starts_on": TODAY().isoformat(), "ends_on": (TODAY() + dt.timedelta(days=30)).isoformat()})
        plan = WorkPlan.objects.get()
        self.assertRedirects(response, reverse("planning:plan", args=[plan.pk]))
        page = self.client.get(reverse("planning:plan", args=[plan.pk]))
        self.assertContains(page, 'id="task-form"')
        self.assertContains(page, f'<option value="{self.counsellor_a.pk}">周辅导</option>', html=True)

    def test_an_approved_plan_offers_no_edit_and_refuses_one(self):
        plan = self.approved()
        self.login("director")
        page = self.client.get(reverse("planning:plan", args=[plan.pk]))
        self.assertNotContains(page, 'id="edit-plan"')
        self.assertNotContains(page, 'id="task-form"')
        self.assertEqual(self.client.get(reverse("planning:plan-edit", args=[plan.pk])).status_code, 403)
        posted = self.client.post(reverse("planning:plan-edit", args=[plan.pk]), {
            "kind": "term", "label": "x", "title": "x", "goals": "改", "starts_on": plan.starts_on.isoformat(),
            "ends_on": plan.ends_on.isoformat()})
        self.assertContains(posted, "该计划已获批准，不能再修改", status_code=409)
        api = self.client.patch(reverse("planning-api:plan-detail", args=[plan.pk]), {"goals": "改"},
                                content_type="application/json")
        self.assertEqual(api.status_code, 409)
        plan.refresh_from_db()
        self.assertEqual((plan.goals, plan.status), ("落实四级网络周报制度", PlanStatus.APPROVED))

    def test_the_api_edits_a_draft(self):
        plan = self.draft()
        self.login("director")
        api = self.client.patch(reverse("planning-api:plan-detail", args=[plan.pk]), {"goals": "新目标"},
                                content_type="application/json")
        self.assertEqual((api.status_code, api.json()["goals"]), (200, "新目标"))

    def test_the_leader_sees_the_decision_form_only_while_the_plan_waits(self):
        plan = self.draft()
        self.task(plan)
        self.login("leader")
        self.assertNotContains(self.client.get(reverse("planning:plan", args=[plan.pk])), 'id="approve-form"')
        from xinlian.planning import actions
        actions.submit_plan(self.request("director"), plan.pk)
        self.assertContains(self.client.get(reverse("planning:plan", args=[plan.pk])), 'id="approve-form"')
        self.login("deputy")
        self.assertNotContains(self.client.get(reverse("planning:plan", args=[plan.pk])), 'id="approve-form"')

    def test_a_meeting_with_an_attendee_of_another_school_is_refused_whole(self):
        self.login("director")
        response = self.client.post(reverse("planning:meeting-new"), {
            "held_on": TODAY().isoformat(), "title": "例会", "minutes": "纪要",
            "attendees": [str(self.leader.pk), str(self.director_2.pk)]}, HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(response, "Choose someone who holds a post at this school.", status_code=400)
        self.assertFalse(Meeting.objects.exists())

    def test_an_action_item_form_refuses_a_date_before_the_meeting(self):
        meeting = self.meeting()
        self.login("director")
        response = self.client.post(reverse("planning:item-add", args=[meeting.pk]), {
            "text": "名单", "owner": str(self.counsellor_a.pk),
            "due_on": (meeting.held_on - dt.timedelta(days=1)).isoformat()})
        self.assertContains(response, "截止日期不能早于会议日期。", status_code=400)
        self.assertFalse(ActionItem.objects.exists())

    def test_the_account_menu_entry(self):
        for persona, target in (("director", "planning:plans"), ("leader", "planning:plans"),
                                ("counsellor_a", "planning:mine"), ("head_teacher_a1", "planning:mine")):
            with self.subTest(persona):
                self.login(persona)
                self.assertContains(self.client.get(reverse("my-posts")),
                                    f'href="{reverse(target)}" id="menu-planning"')
        for persona in ("committee_a1", "student_a1_user"):
            with self.subTest(persona):
                self.login(persona)
                self.assertNotContains(self.client.get(reverse("my-posts")), 'id="menu-planning"')

    def test_someone_who_plans_nothing_gets_403_on_the_lists(self):
        self.login("committee_a1")
        self.assertEqual(self.client.get(reverse("planning:plans")).status_code, 403)
        self.assertEqual(self.client.get(reverse("planning:mine")).status_code, 200)
