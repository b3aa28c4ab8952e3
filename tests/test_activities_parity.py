"""Recording an activity through both front-ends (modelled on tests/test_duties_parity.py): the
page (a form POST) and the API (JSON), from the same starting state, must end the same way — the
same outcome class, the same stored rows and the same audit rows. Each run is rolled back to a
savepoint, so both start from exactly the same state."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from xinlian.access.models import AuditEvent
from xinlian.activities import actions
from xinlian.activities.models import Assignment, Record

from .test_activities_core import ActivitiesTestCase

KEY = str(uuid.UUID("6b7e0d8e-5a57-4c9e-9d3b-0c1f00000001"))


@dataclass
class Scenario:
    name: str
    persona: str
    expect: str
    unit: str = "class_a1"
    data: dict[str, Any] | None = None
    setup: Callable[[Any], None] = lambda t: None


def _data(**kw: Any) -> dict[str, Any]:
    base = {"held_on": timezone.localdate().isoformat(), "place": "报告厅", "audience": "全班同学",
            "attendance": "41", "summary": "同学们分享了压力管理的办法。", "key": KEY}
    base.update(kw)
    return base


def recorded(t: Any) -> None:
    actions.record(t.request("committee_a1"), t.a1(t.activity).pk,
                   t.record_data(key=str(uuid.uuid4()), attendance="20"))


SCENARIOS = [
    Scenario("record", "committee_a1", "ok"),
    Scenario("record_by_head_teacher", "head_teacher_a1", "ok"),
    Scenario("second_record_edits", "counsellor_a", "ok", setup=recorded),
    Scenario("another_class", "committee_a1", "404", unit="class_a2"),
    Scenario("centre_is_not_the_unit", "director", "403"),
    Scenario("outsider", "outsider_b", "404"),
    Scenario("missing_fields", "committee_a1", "400", data=_data(place="", summary="")),
    Scenario("future_date", "committee_a1", "400",
             data=_data(held_on=(timezone.localdate() + dt.timedelta(days=3)).isoformat())),
    Scenario("bad_attendance", "committee_a1", "400", data=_data(attendance="-3")),
    Scenario("bad_key", "committee_a1", "400", data=_data(key="not-a-key")),
]


class ActivityParityTests(ActivitiesTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.activity = self.plan()

    def outcome(self, response: Any) -> str:
        return "ok" if response.status_code < 300 or response.status_code == 302 else str(response.status_code)

    def state(self, mark: int) -> dict[str, Any]:
        return {
            "records": sorted((r.assignment_id, r.held_on, r.place, r.audience, r.attendance, r.summary,
                               r.recorded_by_id) for r in Record.objects.all()),
            "assignments": sorted(Assignment.objects.values_list("pk", "status")),
            "audit": [(e.actor_id, e.action, e.result, e.object_type, e.object_id)
                      for e in AuditEvent.objects.filter(pk__gt=mark).order_by("pk")
                      # A refused record re-renders the page: its own (audited) read of the
                      # sign-ins is no part of the action.
                      if e.action != "activities.sign_ins.view"],
        }

    def run_scenario(self, scenario: Scenario) -> dict[str, Any]:
        scenario.setup(self)
        assignment = Assignment.objects.get(activity=self.activity, unit=getattr(self, scenario.unit))
        data = scenario.data or _data()
        ends: dict[str, Any] = {}
        responses: dict[str, Any] = {}
        for front in ("page", "api"):
            sid = transaction.savepoint()
            mark = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            self.login(scenario.persona)
            if front == "page":
                responses[front] = self.client.post(reverse("activities:assignment", args=[assignment.pk]), data)
            else:
                responses[front] = self.client.post(reverse("activities-api:assignment-record", args=[assignment.pk]),
                                                    data, content_type="application/json")
            ends[front] = (self.outcome(responses[front]), self.state(mark))
            transaction.savepoint_rollback(sid)
        self.assertEqual(ends["page"][0], scenario.expect, f"page: {responses['page'].status_code}")
        self.assertEqual(ends["api"][0], scenario.expect, f"api: {responses['api'].content[:300]!r}")
        for key in ends["page"][1]:
            self.assertEqual(ends["page"][1][key], ends["api"][1][key], f"{scenario.name}: {key} differ")
        return {"responses": responses, "state": ends["api"][1]}

    def test_a_record_writes_the_row_marks_it_done_and_audits(self) -> None:
        ends = self.run_scenario(SCENARIOS[0])
        self.assertEqual([r[4] for r in ends["state"]["records"]], [41])
        self.assertIn("done", [s for _pk, s in ends["state"]["assignments"]])
        self.assertEqual([a[1:3] for a in ends["state"]["audit"]], [("activities.record", "allowed")])

    def test_the_same_message_for_a_missing_field(self) -> None:
        ends = self.run_scenario(SCENARIOS[6])
        self.assertEqual(ends["responses"]["api"].json()["place"], ["此项为必填项。"])
        self.assertContains(ends["responses"]["page"], "此项为必填项。", status_code=400)


def _make(scenario: Scenario) -> Callable[[ActivityParityTests], None]:
    def test(self: ActivityParityTests) -> None:
        self.run_scenario(scenario)
    test.__doc__ = f"{scenario.name}: {scenario.expect} through the page and the API alike"
    return test


for _scenario in SCENARIOS:
    setattr(ActivityParityTests, f"test_{_scenario.name}", _make(_scenario))
