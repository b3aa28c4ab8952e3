"""Each planning action through both front-ends (modelled on tests/test_duties_parity.py): the
page (a form POST) and the API (JSON), from the same starting state, must end the same way — the
same outcome class, the same stored rows and the same audit rows. Each run is rolled back to a
savepoint, so both start from exactly the same state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.urls import reverse

from xinlian.access.models import AuditEvent
from xinlian.planning import actions
from xinlian.planning.models import ActionItem, PlanTask, WorkPlan

from .test_planning_verbs import TODAY, PlanningTestCase

Req = tuple[str, str, dict[str, Any]]


@dataclass
class Scenario:
    name: str
    persona: str
    expect: str
    page: Callable[[Any], Req]
    api: Callable[[Any], Req]
    setup: Callable[[Any], None] = lambda t: None


def submitted(t: Any) -> None:
    t.plan = t.draft()
    t.the_task = t.task(t.plan)
    actions.submit_plan(t.request("director"), t.plan.pk)


def approved(t: Any) -> None:
    submitted(t)
    actions.approve_plan(t.request("leader"), t.plan.pk)


def drafted(t: Any) -> None:
    t.plan = t.draft()


def with_item(t: Any) -> None:
    t.the_meeting = t.meeting()
    t.the_item = t.item(t.the_meeting)


def decide(name: str, persona: str, expect: str, action: str, comment: str = "",
           setup: Callable[[Any], None] = submitted) -> Scenario:
    def page(t: Any) -> Req:
        return ("post", reverse(f"planning:plan-{action}", args=[t.plan.pk]), {"comment": comment})

    def api(t: Any) -> Req:
        return ("json", reverse(f"planning-api:plan-{action}", args=[t.plan.pk]), {"comment": comment})
    return Scenario(name, persona, expect, page, api, setup)


def task_done(name: str, persona: str, expect: str, setup: Callable[[Any], None] = approved) -> Scenario:
    return Scenario(name, persona, expect,
                    lambda t: ("post", reverse("planning:task-done", args=[t.the_task.pk]), {"note": "已完成"}),
                    lambda t: ("json", reverse("planning-api:task-done", args=[t.the_task.pk]), {"note": "已完成"}),
                    setup)


def item_done(name: str, persona: str, expect: str) -> Scenario:
    return Scenario(name, persona, expect,
                    lambda t: ("post", reverse("planning:item-done", args=[t.the_item.pk]), {}),
                    lambda t: ("json", reverse("planning-api:item-done", args=[t.the_item.pk]), {}),
                    with_item)


def submit(name: str, persona: str, expect: str, setup: Callable[[Any], None]) -> Scenario:
    return Scenario(name, persona, expect,
                    lambda t: ("post", reverse("planning:plan-submit", args=[t.plan.pk]), {}),
                    lambda t: ("json", reverse("planning-api:plan-submit", args=[t.plan.pk]), {}), setup)


def add_task(name: str, persona: str, expect: str, owner: str = "counsellor_a", days: int = 5) -> Scenario:
    def data(t: Any) -> dict[str, Any]:
        return {"title": "培训", "owner": getattr(t, owner).pk, "due_on": (TODAY() + dt.timedelta(days=days)).isoformat()}
    return Scenario(name, persona, expect,
                    lambda t: ("post", reverse("planning:task-add", args=[t.plan.pk]), data(t)),
                    lambda t: ("json", reverse("planning-api:task-add", args=[t.plan.pk]), data(t)), drafted)


SCENARIOS = [
    decide("approve", "leader", "ok", "approve"),
    decide("approve_by_deputy", "deputy", "403", "approve"),
    decide("approve_by_director", "director", "403", "approve"),
    decide("approve_by_outsider", "outsider_b", "404", "approve"),
    decide("approve_twice", "leader", "409", "approve", setup=approved),
    decide("approve_a_draft", "leader", "409", "approve", setup=lambda t: drafted(t)),
    decide("return", "leader", "ok", "return", comment="请补充"),
    decide("return_without_comment", "leader", "400", "return"),
    task_done("task_done_by_owner", "counsellor_a", "ok"),
    task_done("task_done_by_director", "director", "ok"),
    task_done("task_done_by_leader", "leader", "403"),
    task_done("task_done_by_outsider", "outsider_b", "404"),
    task_done("task_done_before_approval", "counsellor_a", "409", setup=submitted),
    item_done("item_done_by_owner", "head_teacher_a1", "ok"),
    item_done("item_done_by_director", "director", "403"),
    item_done("item_done_by_outsider", "outsider_b", "404"),
    submit("submit", "director", "ok", lambda t: (drafted(t), t.task(t.plan))),
    submit("submit_twice", "director", "ok", submitted),
    submit("submit_without_tasks", "director", "400", drafted),
    add_task("task_owner_outside_the_school", "director", "400", owner="director_2"),
    add_task("task_due_outside_the_period", "director", "400", days=300),
    add_task("task_added", "director", "ok"),
]


class PlanningParityTests(PlanningTestCase):
    def outcome(self, response: Any) -> str:
        return "ok" if response.status_code < 300 or response.status_code == 302 else str(response.status_code)

    def state(self, mark: int) -> dict[str, Any]:
        return {
            "plans": sorted((p.pk, p.status, p.goals, p.decided_by_id, p.return_comment, p.submitted_at is not None)
                            for p in WorkPlan.objects.all()),
            "tasks": sorted((t.title, t.owner_id, t.due_on, t.status, t.done_by_id, t.note) for t in PlanTask.objects.all()),
            "items": sorted((i.pk, i.done) for i in ActionItem.objects.all()),
            "audit": [(e.actor_id, e.action, e.result, e.object_type, e.object_id if e.object_type != "planning.plantask"
                       else "task") for e in AuditEvent.objects.filter(pk__gt=mark).order_by("pk")
                      # A refused form re-renders its page beside the message: that page's own
                      # (audited) read is no part of the action.
                      if not e.action.endswith(".view")],
        }

    def send(self, request: Req) -> Any:
        method, path, data = request
        if method == "post":
            return self.client.post(path, data)
        return self.client.post(path, data, content_type="application/json")

    def run_scenario(self, scenario: Scenario) -> dict[str, Any]:
        scenario.setup(self)
        ends: dict[str, Any] = {}
        responses: dict[str, Any] = {}
        for front in ("page", "api"):
            sid = transaction.savepoint()
            mark = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            self.client.force_login(self.persona(scenario.persona))
            responses[front] = self.send((scenario.page if front == "page" else scenario.api)(self))
            ends[front] = (self.outcome(responses[front]), self.state(mark))
            transaction.savepoint_rollback(sid)
        self.assertEqual(ends["page"][0], scenario.expect, f"page: {responses['page'].status_code}")
        self.assertEqual(ends["api"][0], scenario.expect, f"api: {responses['api'].content[:300]!r}")
        for key in ends["page"][1]:
            self.assertEqual(ends["page"][1][key], ends["api"][1][key], f"{scenario.name}: {key} differ")
        return {"responses": responses, "state": ends["api"][1]}

    def test_approval_writes_the_decision_and_its_audit_row(self):
        ends = self.run_scenario(SCENARIOS[0])
        self.assertEqual([p[1] for p in ends["state"]["plans"]], ["approved"])
        self.assertEqual([a[1:3] for a in ends["state"]["audit"]], [("planning.plan.approve", "allowed")])

    def test_a_refused_approval_leaves_a_denied_row_and_the_same_message(self):
        ends = self.run_scenario(SCENARIOS[1])
        self.assertEqual([a[1:3] for a in ends["state"]["audit"]], [("planning.plan.approve", "denied")])
        self.assertEqual(ends["responses"]["api"].json()["detail"], "只有领导小组组长可以批准或退回工作计划。")

    def test_the_same_message_for_a_due_date_outside_the_period(self):
        ends = self.run_scenario(SCENARIOS[20])
        message = ends["responses"]["api"].json()["due_on"][0]
        self.assertTrue(message.startswith("截止日期须在计划期间内"), message)
        self.assertContains(ends["responses"]["page"], message, status_code=400)
        self.assertEqual(ends["state"]["tasks"], [])

    def test_a_second_submit_is_no_new_row(self):
        ends = self.run_scenario(SCENARIOS[17])
        self.assertEqual(ends["state"]["audit"], [])

    def test_task_done_by_its_owner(self):
        ends = self.run_scenario(SCENARIOS[8])
        self.assertEqual([t[3:] for t in ends["state"]["tasks"]], [("done", self.counsellor_a.pk, "已完成")])


def _make(scenario: Scenario) -> Callable[[PlanningParityTests], None]:
    def test(self: PlanningParityTests) -> None:
        self.run_scenario(scenario)
    test.__doc__ = f"{scenario.name}: {scenario.expect} through the page and the API alike"
    return test


for _scenario in SCENARIOS:
    setattr(PlanningParityTests, f"test_{_scenario.name}", _make(_scenario))
