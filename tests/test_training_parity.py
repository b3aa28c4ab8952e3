"""Recording attendance through both front-ends (modelled on tests/test_duties_parity.py): the
page (a form POST) and the API (JSON), from the same starting state, must end the same way —
the same outcome class, the same stored rows and the same audit rows. Each run is rolled back
to a savepoint, so both start from exactly the same state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from xinlian.access.models import AuditEvent
from xinlian.network.models import Role
from xinlian.training import actions
from xinlian.training.models import Attendance

from .test_training_core import TrainingTestCase


@dataclass
class Scenario:
    name: str
    persona: str
    expect: str
    person: str = "committee_a1"
    status: str = "attended"
    hours: str = ""
    setup: Callable[[Any], None] = lambda t: None


def upcoming(t: Any) -> None:
    t.session.starts_at = timezone.now() + dt.timedelta(days=1)
    t.session.save()


def attended(t: Any) -> None:
    Attendance.objects.filter(person=t.committee_a1).update(status="attended", hours=2)


SCENARIOS = [
    Scenario("attended", "counsellor_a", "ok"),
    Scenario("absent", "counsellor_a", "ok", status="absent"),
    Scenario("fewer_hours", "counsellor_a", "ok", hours="1.5"),
    Scenario("the_centre", "director", "ok"),
    Scenario("again_changes_nothing", "counsellor_a", "ok", setup=attended),
    Scenario("not_invited", "counsellor_a", "400", person="committee_b1"),
    Scenario("negative_hours", "counsellor_a", "400", hours="-1"),
    Scenario("absurd_hours", "counsellor_a", "400", hours="30"),
    Scenario("bad_status", "counsellor_a", "400", status="late"),
    Scenario("not_started", "counsellor_a", "409", setup=upcoming),
    Scenario("another_college", "outsider_b", "404"),
    Scenario("head_teacher", "head_teacher_a1", "404"),
    Scenario("the_invitee", "committee_a1", "403"),
]


class TrainingParityTests(TrainingTestCase):
    def setUp(self) -> None:
        self.session = self.plan()
        actions.invite(self.request("counsellor_a"), self.session.pk, role=Role.COMMITTEE_MEMBER)
        self.held(self.session)

    def outcome(self, response: Any) -> str:
        return "ok" if response.status_code < 300 or response.status_code == 302 else str(response.status_code)

    def state(self, mark: int) -> dict[str, Any]:
        return {
            "attendance": sorted((a.person_id, a.status, str(a.hours), a.recorded_by_id)
                                 for a in Attendance.objects.all()),
            "audit": [(e.actor_id, e.action, e.result, e.object_type, e.object_id, e.detail)
                      for e in AuditEvent.objects.filter(pk__gt=mark).order_by("pk")
                      # A refused tap re-renders the session page: its own read is no part of the action.
                      if e.action != "training.session.view" or e.result == "denied"],
        }

    def send(self, front: str, scenario: Scenario) -> Any:
        url_name = "training:attendance" if front == "page" else "training-api:attendance"
        person = getattr(self, scenario.person).pk
        if front == "page":
            data = {"person": person, "status": scenario.status}
            if scenario.hours:
                data["hours"] = scenario.hours
            return self.client.post(reverse(url_name, args=[self.session.pk]), data)
        body: dict[str, Any] = {"person": person, "status": scenario.status}
        if scenario.hours:
            body["hours"] = scenario.hours
        return self.client.post(reverse(url_name, args=[self.session.pk]), body, content_type="application/json")

    def run_scenario(self, scenario: Scenario) -> dict[str, Any]:
        scenario.setup(self)
        ends: dict[str, Any] = {}
        responses: dict[str, Any] = {}
        for front in ("page", "api"):
            sid = transaction.savepoint()
            mark = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            self.client.force_login(self.persona(scenario.persona))
            responses[front] = self.send(front, scenario)
            ends[front] = (self.outcome(responses[front]), self.state(mark))
            transaction.savepoint_rollback(sid)
        self.assertEqual(ends["page"][0], scenario.expect, f"page: {responses['page'].status_code}")
        self.assertEqual(ends["api"][0], scenario.expect, f"api: {responses['api'].content[:300]!r}")
        for key in ends["page"][1]:
            self.assertEqual(ends["page"][1][key], ends["api"][1][key], f"{scenario.name}: {key} differ")
        return {"responses": responses, "state": ends["api"][1]}

    def test_attended_writes_the_row_and_one_audit_row(self):
        ends = self.run_scenario(SCENARIOS[0])
        self.assertIn((self.committee_a1.pk, "attended", "2.0", self.counsellor_a.pk), ends["state"]["attendance"])
        self.assertEqual([a[1:3] for a in ends["state"]["audit"]], [("training.attendance.record", "allowed")])

    def test_the_same_message_for_a_person_not_invited(self):
        ends = self.run_scenario(SCENARIOS[5])
        message = "此人未受邀参加该培训。"
        self.assertEqual(ends["responses"]["api"].json()["person"], [message])
        self.assertContains(ends["responses"]["page"], message, status_code=400)


def _make(scenario: Scenario) -> Callable[[TrainingParityTests], None]:
    def test(self: TrainingParityTests) -> None:
        self.run_scenario(scenario)
    test.__doc__ = f"{scenario.name}: {scenario.expect} through the page and the API alike"
    return test


for _scenario in SCENARIOS:
    setattr(TrainingParityTests, f"test_{_scenario.name}", _make(_scenario))
