"""Each report action through both front-ends (modelled on tests/test_parity_rota.py): the page
(a form POST) and the API (JSON), from the same starting state, must end the same way — the same
outcome class, the same stored rows and the same audit rows. Each run is rolled back to a
savepoint, so both start from exactly the same state."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.urls import reverse

from xinlian.access.models import AuditEvent
from xinlian.care.models import Concern
from xinlian.duties.models import Flag, Report
from xinlian.network.models import Post, Role

from .test_duties_reports import TODAY, DutiesTestCase

Req = tuple[str, str, dict[str, Any]]


def _post(t: Any, who: str = "committee_a1") -> Post:
    return Post.objects.get(person=getattr(t, who), role=Role.COMMITTEE_MEMBER)


def _period(t: Any, closed: bool = False) -> Any:
    return t.weekly(TODAY() - dt.timedelta(days=30)) if closed else t.weekly()


def _flags_form(flags: list[dict[str, Any]]) -> dict[str, Any]:
    return {f"flag-{i}-{k}": v for i, f in enumerate(flags) for k, v in f.items()}


@dataclass
class Scenario:
    name: str
    persona: str
    expect: str
    page: Callable[[Any], Req]
    api: Callable[[Any], Req]
    setup: Callable[[Any], None] = lambda t: None


def submit(name: str, persona: str, expect: str, *, zero: bool = False, flags: Callable[[Any], list] | None = None,
           owner: str = "committee_a1", closed: bool = False, setup: Callable[[Any], None] = lambda t: None) -> Scenario:
    def page(t: Any) -> Req:
        data: dict[str, Any] = {"zero": "1"} if zero else _flags_form(flags(t) if flags else [])
        return ("post", reverse("duties:report-form", args=[_post(t, owner).pk, _period(t, closed).pk]), data)

    def api(t: Any) -> Req:
        body: dict[str, Any] = {"post": _post(t, owner).pk, "period": _period(t, closed).pk, "zero": zero}
        if flags:
            body["flags"] = flags(t)
        return ("json", reverse("duties-api:report-list"), body)
    return Scenario(name, persona, expect, page, api, setup)


def review(name: str, persona: str, expect: str, action: str, comment: str = "",
           setup: Callable[[Any], None] | None = None) -> Scenario:
    def page(t: Any) -> Req:
        return ("post", reverse(f"duties:report-{action}", args=[t.report.pk]), {"comment": comment})

    def api(t: Any) -> Req:
        return ("json", reverse(f"duties-api:report-{action}", args=[t.report.pk]), {"comment": comment})
    return Scenario(name, persona, expect, page, api, setup or filed)


def filed(t: Any) -> None:
    t.report = t.submit(flags=[t.flag(t.student_a1)])


def signed(t: Any) -> None:
    filed(t)
    t.report.status = "signed_off"
    t.report.save()


def flag(student: str, **kw: Any) -> Callable[[Any], list[dict[str, Any]]]:
    return lambda t: [{"student": str(getattr(t, student).pk), "seen": "上课走神", "category": "emotional",
                       "urgency": "soon", **kw}]


SCENARIOS = [
    submit("zero", "committee_a1", "ok", zero=True),
    submit("flagged", "committee_a1", "ok", flags=flag("student_a1")),
    submit("urgent", "committee_a1", "ok", flags=flag("student_a1", urgency="now")),
    submit("edit_after_zero", "committee_a1", "ok", flags=flag("roommate_a1"),
           setup=lambda t: t.submit(zero=True)),
    submit("another_class", "committee_a1", "400", flags=flag("student_a2")),
    submit("no_text", "committee_a1", "400", flags=flag("student_a1", seen="")),
    submit("bad_urgency", "committee_a1", "400", flags=flag("student_a1", urgency="later")),
    submit("someone_elses_post", "committee_a2", "404", zero=True),
    submit("closed_period", "committee_a1", "409", zero=True, closed=True),
    submit("signed_off_already", "committee_a1", "409", zero=True, setup=signed),
    review("sign_off", "counsellor_a", "ok", "sign-off"),
    review("sign_off_outsider", "outsider_b", "404", "sign-off"),
    review("sign_off_peer", "liaison_a1", "404", "sign-off"),
    review("sign_off_director", "director", "403", "sign-off"),
    review("sign_off_twice", "counsellor_a", "409", "sign-off", setup=signed),
    review("send_back", "counsellor_a", "ok", "send-back", comment="请补充"),
    review("send_back_no_comment", "counsellor_a", "400", "send-back"),
]


class DutiesParityTests(DutiesTestCase):
    def outcome(self, response: Any) -> str:
        return "ok" if response.status_code < 300 or response.status_code == 302 else str(response.status_code)

    def state(self, before: int, mark: int) -> dict[str, Any]:
        def ref(pk: int) -> Any:
            return "new" if pk > before else pk

        return {
            "reports": sorted((ref(r.pk), r.post_id, r.period_id, r.status, r.is_zero, r.state, r.note,
                               r.reviewed_by_id, r.review_comment) for r in Report.objects.all()),
            "flags": sorted((f.student_id, f.seen, f.category, f.urgency, f.concern_id is not None)
                            for f in Flag.objects.all()),
            "concerns": Concern.objects.count(),
            "audit": [(e.actor_id, e.action, e.result, e.object_type,
                       ref(int(e.object_id)) if e.object_type == "duties.report" and e.object_id.isdigit()
                       else "concern" if e.object_type == "care.concern" else e.object_id) for e in AuditEvent.objects.filter(pk__gt=mark).order_by("pk")
                      # A refused review re-renders the report beside its message: that page's
                      # own (audited) read is no part of the action.
                      if e.action != "duties.report.view"],
        }

    def send(self, request: Req) -> Any:
        method, path, data = request
        if method == "post":
            return self.client.post(path, data)
        return self.client.post(path, data, content_type="application/json")

    def run_scenario(self, scenario: Scenario) -> dict[str, Any]:
        _period(self), _period(self, closed=True)  # made before the runs: ids stay the same
        scenario.setup(self)
        ends: dict[str, Any] = {}
        responses: dict[str, Any] = {}
        for front in ("page", "api"):
            sid = transaction.savepoint()
            before = Report.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            mark = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            self.client.force_login(self.persona(scenario.persona))
            responses[front] = self.send((scenario.page if front == "page" else scenario.api)(self))
            ends[front] = (self.outcome(responses[front]), self.state(before, mark))
            transaction.savepoint_rollback(sid)
        self.assertEqual(ends["page"][0], scenario.expect, f"page: {responses['page'].status_code}")
        self.assertEqual(ends["api"][0], scenario.expect, f"api: {responses['api'].content[:300]!r}")
        for key in ends["page"][1]:
            self.assertEqual(ends["page"][1][key], ends["api"][1][key], f"{scenario.name}: {key} differ")
        return {"responses": responses, "state": ends["api"][1]}

    def test_a_zero_report_writes_the_row_and_its_audit_row(self):
        ends = self.run_scenario(SCENARIOS[0])
        self.assertEqual([r[3:5] for r in ends["state"]["reports"]], [("submitted", True)])
        self.assertEqual([a[1:3] for a in ends["state"]["audit"]], [("duties.report.submit", "allowed")])

    def test_an_urgent_flag_is_one_concern_through_either_front_end(self):
        ends = self.run_scenario(SCENARIOS[2])
        self.assertEqual(ends["state"]["concerns"], 1)
        self.assertEqual([a[1] for a in ends["state"]["audit"]], ["concern.new", "duties.report.submit"])

    def test_the_same_message_for_a_student_of_another_class(self):
        ends = self.run_scenario(SCENARIOS[4])
        message = "所标学生不在你班级或宿舍的名单中。"  # Chinese first
        self.assertEqual(ends["responses"]["api"].json()["flags"], [message])
        self.assertContains(ends["responses"]["page"], message, status_code=400)


def _make(scenario: Scenario) -> Callable[[DutiesParityTests], None]:
    def test(self: DutiesParityTests) -> None:
        self.run_scenario(scenario)
    test.__doc__ = f"{scenario.name}: {scenario.expect} through the page and the API alike"
    return test


for _scenario in SCENARIOS:
    setattr(DutiesParityTests, f"test_{_scenario.name}", _make(_scenario))
