"""Who reads a leadership-group meeting's minutes and decisions (tier-4-like: the leadership group
and the centre director only), proved with marker strings over every planning URL, page and API,
as every persona. The fixtures are tests/sweep_planning.py's: the meeting's minutes and decisions
are ``MKR-T4-minutes-PLAN`` and ``MKR-T4-decisions-PLAN``; head_teacher_a1 attended it and owns its
action item; counsellor_a (a 辅导员) attended nothing."""

from __future__ import annotations

from django.db import connection
from django.urls import reverse

from xinlian.access.models import AuditEvent
from xinlian.planning.models import ActionItem

from .test_planning_verbs import PlanningTestCase
from .test_sweep import EXTRA_MODULES

# The sweep imports its modules first (importing sweep_planning here first would be a cycle).
sweep_planning = next(m for m in EXTRA_MODULES if m.__name__ == "tests.sweep_planning")
MINUTES, DECISIONS = sweep_planning.MINUTES, sweep_planning.DECISIONS

READERS = {"leader", "deputy", "member", "director"}
PERSONAS = (*PlanningTestCase.PERSONAS, "leader", "deputy", "member", "director_2")


class MinutesMarkerTests(PlanningTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        sweep_planning.setup(cls)

    def bodies(self, persona: str) -> dict[str, str]:
        """Every planning URL a GET may answer, as ``persona``: name → the answer's text."""
        self.login(persona)
        out = {}
        for name in sweep_planning.EXPECT:
            kwargs = sweep_planning.KWARGS[name](self) if name in sweep_planning.KWARGS else {}
            response = self.client.get(reverse(name, kwargs=kwargs))
            out[name] = response.content.decode()
        return out

    def test_markers_only_for_the_leadership_group_and_the_director(self):
        problems = []
        for persona in PERSONAS:
            seen = {name for name, body in self.bodies(persona).items() if MINUTES in body or DECISIONS in body}
            if persona in READERS:
                # The positive control: the page and the API both show them.
                if not {"planning:meeting", "planning-api:meeting-detail"} <= seen:
                    problems.append(f"{persona} is not shown the minutes ({sorted(seen)})")
            elif seen:
                problems.append(f"{persona} sees the minutes on {sorted(seen)}")
        self.assertEqual(problems, [])

    def test_the_stored_minutes_are_encrypted(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT minutes, decisions FROM planning_meeting WHERE id = %s", [self.lg_meeting.pk])
            stored = " ".join(cursor.fetchone())
        self.assertNotIn("MKR", stored)

    def test_a_fudaoyuan_attending_nothing_learns_nothing_of_the_meeting(self):
        self.login("counsellor_a")
        self.assertEqual(self.client.get(reverse("planning:meeting", args=[self.lg_meeting.pk])).status_code, 404)
        api = self.client.get(reverse("planning-api:meeting-detail", args=[self.lg_meeting.pk]))
        self.assertEqual(api.status_code, 404)
        self.assertEqual(self.client.get(reverse("planning-api:meeting-list")).json(), [])
        self.assertNotContains(self.client.get(reverse("planning:meetings")), "领导小组例会")

    def test_an_attendee_outside_the_group_sees_the_meeting_not_its_minutes(self):
        self.login("head_teacher_a1")
        page = self.client.get(reverse("planning:meeting", args=[self.lg_meeting.pk]))
        self.assertContains(page, "提交名单")
        self.assertContains(page, 'id="minutes-hidden"')
        api = self.client.get(reverse("planning-api:meeting-detail", args=[self.lg_meeting.pk])).json()
        self.assertEqual((api["minutes"], api["decisions"]), ("", ""))
        self.assertEqual([i["text"] for i in api["items"]], ["提交名单"])

    def test_an_item_owner_who_did_not_attend_sees_no_minutes(self):
        ActionItem.objects.create(meeting=self.lg_meeting, text="辅导员待办", owner=self.counsellor_a,
                                  due_on=self.lg_meeting.held_on)
        self.login("counsellor_a")
        page = self.client.get(reverse("planning:meeting", args=[self.lg_meeting.pk]))
        self.assertContains(page, "辅导员待办")
        self.assertNotContains(page, MINUTES)
        self.assertNotContains(page, DECISIONS)

    def test_each_read_of_the_minutes_is_audited(self):
        self.login("member")
        self.client.get(reverse("planning:meeting", args=[self.lg_meeting.pk]))
        self.client.get(reverse("planning-api:meeting-detail", args=[self.lg_meeting.pk]))
        self.assertEqual(AuditEvent.objects.filter(action="planning.meeting.view", actor=self.member,
                                                   object_id=str(self.lg_meeting.pk), result="allowed").count(), 2)
        self.login("head_teacher_a1")
        self.client.get(reverse("planning:meeting", args=[self.lg_meeting.pk]))
        self.assertFalse(AuditEvent.objects.filter(action="planning.meeting.view", actor=self.head_teacher_a1).exists())

    def test_out_of_scope_ids_are_404_with_a_denied_row(self):
        self.login("outsider_b")
        self.assertEqual(self.client.get(reverse("planning:plan", args=[self.work_plan.pk])).status_code, 404)
        self.assertTrue(AuditEvent.objects.filter(action="planning.plan.view", actor=self.outsider_b,
                                                  result="denied").exists())
