"""Recording attendance and the session's summary through both front-ends (as
tests/test_counseling_parity.py): the page (a form POST) and the API (JSON), from the same
starting state, must end the same way — the same outcome, the same stored session, register
line and alert, and the same audit rows. (A refused page shows the session again beside its
message, which reads the record — one audited read the API does not make: those read rows are
left out of the comparison.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import reverse

from xinlian.care.models import Concern, RiskEntry
from xinlian.counseling.models import Booking, Episode, EpisodeStatus, Session

from .test_counseling_parity import CounselingParityCase, Scenario

READS = ("counseling.session.record.read", "counseling.session.view")


def opened(t: Any) -> None:
    booking = Booking.objects.create(slot=t.slots[0], client=t.student_a1.user, student=t.student_a1,
                                     starts_at=t.slots[0].starts_at, topic="x")
    episode = Episode.objects.create(school=t.school, client=t.student_a1.user, student=t.student_a1, counsellor=t.psy)
    t.session = Session.objects.create(school=t.school, counsellor=t.psy, episode=episode, booking=booking,
                                       starts_at=booking.starts_at, minutes=60)


def closed(t: Any) -> None:
    opened(t)
    Episode.objects.filter(pk=t.session.episode_id).update(status=EpisodeStatus.CLOSED)


def attendance(name: str, persona: str, expect: str, setup: Callable[[Any], None] = opened, **data: Any) -> Scenario:
    return Scenario(name, persona, expect,
                    page=lambda t: ("post", reverse("counseling:session-attendance", args=[t.session.pk]), data),
                    api=lambda t: ("post_json", reverse("counseling-api:session-attendance", args=[t.session.pk]),
                                   data), setup=setup)


RECORD = {"presenting": "失眠两周", "assessment": "轻度焦虑", "intervention": "放松训练", "plan": "一周后复谈",
          "notes": "MKR-T5-notes-parity", "risk": "none"}


def record(name: str, persona: str, expect: str, setup: Callable[[Any], None] = opened, **data: Any) -> Scenario:
    body = {**RECORD, **data}
    return Scenario(name, persona, expect,
                    page=lambda t: ("post", reverse("counseling:session", args=[t.session.pk]), body),
                    api=lambda t: ("post_json", reverse("counseling-api:session-record", args=[t.session.pk]), body),
                    setup=setup)


SCENARIOS = [
    attendance("attended", "psy", "ok", attendance="attended"),
    attendance("no_show", "psy", "ok", attendance="no_show"),
    attendance("by_the_director", "director", "ok", attendance="cancelled"),
    attendance("unknown_value", "psy", "400", attendance="maybe"),
    attendance("another_counsellor", "psy2", "403", attendance="attended"),
    attendance("fudaoyuan", "counsellor_a", "404", attendance="attended"),
    attendance("the_client", "student_a1_user", "404", attendance="attended"),
    attendance("closed_episode", "psy", "409", setup=closed, attendance="attended"),
    record("record", "psy", "ok"),
    record("record_orange", "psy", "ok", risk="orange"),
    record("record_life_unconfirmed", "psy", "400", risk="life"),
    record("record_life", "psy", "ok", risk="life", risk_confirmed="yes"),
    record("record_unknown_risk", "psy", "400", risk="purple"),
    record("record_too_long", "psy", "400", notes="长" * 8001),
    record("record_another_counsellor", "psy2", "403"),
    record("record_fudaoyuan", "counsellor_a", "404"),
    record("record_closed_episode", "psy", "409", setup=closed),
]


class SessionParityCase(CounselingParityCase):
    def state(self, marks: dict[str, int], audit_mark: int) -> dict[str, Any]:
        state = super().state(marks, audit_mark)
        # Rows the run creates in care (the concern and alert of "risk to life") are "new": ids
        # are not reused after a rollback on PostgreSQL.
        state["audit"] = [(*a[:4], "new" if a[3] in ("care.concern", "care.alert") else a[4], a[5])
                          for a in state["audit"] if a[1] not in READS]
        state["sessions"] = sorted((s.pk, s.attendance, s.risk, s.presenting, s.assessment, s.intervention, s.plan,
                                    s.notes, s.recorded_by_id) for s in Session.objects.all())
        state["register"] = sorted((r.student_id, r.level, r.reason) for r in RiskEntry.objects.all())
        state["concerns"] = sorted((c.student_id, c.reporter_id, c.urgency, c.seen) for c in Concern.objects.all())
        return state


class SessionParityTests(SessionParityCase):
    """One test per action and outcome (generated from SCENARIOS)."""


def _make(scenario: Scenario) -> Callable[[SessionParityTests], None]:
    def test(self: SessionParityTests) -> None:
        self.run_scenario(scenario)
    test.__doc__ = f"{scenario.name}: {scenario.expect} through the page and the API alike"
    return test


for _scenario in SCENARIOS:
    setattr(SessionParityTests, f"test_{_scenario.name}", _make(_scenario))


class SessionParityDetailTests(SessionParityCase):
    def test_a_record_writes_the_session_and_its_audit_rows(self):
        ends = self.run_scenario(record("r", "psy", "ok", risk="red"))
        (row,) = ends["state"]["sessions"]
        self.assertEqual(row[1:], ("planned", "red", "失眠两周", "轻度焦虑", "放松训练", "一周后复谈",
                                   "MKR-T5-notes-parity", self.psy.pk))
        self.assertEqual([a[1] for a in ends["state"]["audit"]], ["counseling.session.record", "risk.set"])
        self.assertEqual([r[1] for r in ends["state"]["register"]], ["red"])

    def test_the_same_message_for_an_unconfirmed_risk_to_life(self):
        ends = self.run_scenario(record("life", "psy", "400", risk="life"))
        body = ends["results"]["api"].json()
        self.assertIn("risk_confirmed", body)
        self.assertContains(ends["results"]["page"], body["risk_confirmed"][0], status_code=400)
