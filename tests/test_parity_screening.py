"""Each screening action through both front-ends — the page and the REST API — from the same
fixture: the same outcome class (success / 400 / 403 / 404 / 409), the same stored rows
(assignment state and consent, answers, results, guardian consent, interview outcome, risk
register, chronology) and the same audit rows. Both run the one verb of
xinlian/screening/actions.py; a rule or an audit row added to one adapter only fails here.

One test per case (generated below): the case runs as the page in a transaction that is rolled
back, then as the API from the same state, and the two snapshots are compared."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone, translation

from xinlian.access.models import AuditEvent
from xinlian.care.models import RiskEntry, TimelineEntry
from xinlian.screening.models import (
    Assignment,
    Campaign,
    Interview,
    Response,
    Result,
    act_on_submissions,
    clear_local_cache,
)

from .screening_base import ScreeningTestCase, answers_for

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
PAGE, API = "page", "api"


def page(name: str, *args: Any) -> str:
    return reverse(f"screening:{name}", args=args)


def api(name: str, *args: Any) -> str:
    return reverse(f"screening-api:{name}", args=args)


def outcome_class(response: HttpResponse) -> str:
    """success, or the refusal's status: a page answers a success with a redirect (or the JSON
    of the answer endpoint), the API with 200."""
    if response.status_code in (200, 201, 302, 303):
        return "success"
    return str(response.status_code)


class Undo(Exception):  # noqa: N818 — not an error: carries the snapshot out of the rolled-back run
    pass


Step = Callable[["ParityTests", str], HttpResponse]


@dataclass(frozen=True)
class Case:
    name: str
    persona: str
    steps: tuple[Step, ...]
    expect: tuple[str, ...]  # outcome class of each step, the same on both front-ends
    setup: Callable[[ParityTests], None] = lambda t: None
    says: str = ""  # text the last response shows on both front-ends
    # Audit rows of a page re-displaying a record after a refusal (its reasons, the class list):
    # a read the API answer does not make. Only these are left out of the comparison.
    redisplay_reads: frozenset[str] = field(default_factory=frozenset)


# --- the steps: one action, as a page request or as an API request ------------------------------


def consent(agree: bool, version: int = 1, who: str = "a1") -> Step:
    def step(t: ParityTests, front: str) -> HttpResponse:
        pk = t.assignment(who).pk
        if front == PAGE:
            return t.client.post(page("consent", pk), {"agree": "1" if agree else "0", "version": str(version)})
        return t.client.post(api("consent", pk), {"agree": agree, "version": version},
                             content_type="application/json")
    return step


def save_answers(overrides: dict[int, Any] | None = None, who: str = "a1") -> Step:
    def step(t: ParityTests, front: str) -> HttpResponse:
        pk = t.assignment(who).pk
        answers = answers_for(t.ci.instrument, 1)
        answers.update(overrides or {})
        body = {"answers": [{"ci": t.ci.pk, "item": k, "value": v, "seconds": 2.5} for k, v in answers.items()]}
        return t.client.post(page("answer", pk) if front == PAGE else api("save-answer", pk),
                             json.dumps(body), content_type="application/json")
    return step


def submit(key: str = "k-parity", who: str = "a1") -> Step:
    def step(t: ParityTests, front: str) -> HttpResponse:
        pk = t.assignment(who).pk
        if front == PAGE:
            return t.client.post(page("submit", pk), {"key": key})
        return t.client.post(api("submit", pk), {"key": key}, content_type="application/json")
    return step


def read_mine(who: str = "a1") -> Step:
    def step(t: ParityTests, front: str) -> HttpResponse:
        pk = t.assignment(who).pk
        return t.client.get(page("take", pk) if front == PAGE else api("assignment-detail", pk))
    return step


def guardian_consent(note: str = "电话确认（母亲）") -> Step:
    def step(t: ParityTests, front: str) -> HttpResponse:
        pk = t.assignment("classmate").pk
        if front == PAGE:
            return t.client.post(page("guardian-consent", pk), {"note": note})
        return t.client.post(api("guardian-consent", pk), {"note": note}, content_type="application/json")
    return step


def read_results() -> Step:
    def step(t: ParityTests, front: str) -> HttpResponse:
        pk = t.assignment("roommate").pk
        return t.client.get(page("result-detail", pk) if front == PAGE else api("assignment-results", pk))
    return step


def record_interview(outcome: str = "orange", notes: str = "情绪低落两周", review_days: int | None = 14) -> Step:
    def step(t: ParityTests, front: str) -> HttpResponse:
        pk = Interview.objects.get(student=t.roommate_a1).pk
        review = "" if review_days is None else (timezone.localdate() + dt.timedelta(days=review_days)).isoformat()
        data = {"outcome": outcome, "notes": notes, "review_on": review}
        if front == PAGE:
            return t.client.post(page("interview-detail", pk), data)
        return t.client.post(api("interview-outcome", pk), data, content_type="application/json")
    return step


# --- fixtures each case starts from (inside the run, so that both runs start alike) -------------


def agreed(t: ParityTests) -> None:
    t.assignment("a1").consent(True, 1)


def answered(t: ParityTests) -> None:
    agreed(t)
    t.assignment("a1").save_answers([(t.ci.pk, k, v, 3.0) for k, v in answers_for(t.ci.instrument, 1).items()])


def half_answered(t: ParityTests) -> None:
    agreed(t)
    t.assignment("a1").save_answers([(t.ci.pk, 1, 1, 3.0), (t.ci.pk, 2, 0, 3.0)])


def closed(t: ParityTests) -> None:
    answered(t)
    Campaign.objects.filter(pk=t.campaign.pk).update(closes_at=timezone.now() - dt.timedelta(minutes=1))


def under_14(t: ParityTests) -> None:
    t.classmate_a1.birth_date = timezone.localdate() - dt.timedelta(days=365 * 13)
    t.classmate_a1.save(update_fields=["birth_date"])


def roommate_submitted(t: ParityTests) -> None:
    """The roommate screened positive with a critical item: an urgent interview, assigned to the
    school's psychology teacher."""
    a = t.assignment("roommate")
    a.consent(True, 1)
    answers = answers_for(t.ci.instrument, 2)
    answers[9] = 1
    a.save_answers([(t.ci.pk, k, v, 3.0) for k, v in answers.items()])
    a.submit("k-roommate")  # a fixed key: both runs store the same row
    act_on_submissions()


def interview_done(t: ParityTests) -> None:
    roommate_submitted(t)
    Interview.objects.get(student=t.roommate_a1).record(t.director, "yellow", "")


REDISPLAY_INTERVIEW = frozenset({"screening.interview.view", "screening.result.view"})
REDISPLAY_CLASS = frozenset({"screening.progress.view"})

CASES = (
    # the respondent
    Case("read_my_assignment", "student_a1_user", (read_mine(),), ("success",)),
    Case("read_someone_elses_assignment", "roommate", (read_mine(),), ("404",)),
    Case("consent_agree", "student_a1_user", (consent(True),), ("success",)),
    Case("consent_stale_version", "student_a1_user", (consent(True, version=2),), ("409",),
         says="The consent text has changed"),
    Case("consent_someone_elses", "roommate", (consent(True),), ("404",)),
    Case("consent_declined_then_answers_refused", "student_a1_user", (consent(False), save_answers()),
         ("success", "409"), says="This screening cannot be answered now."),
    Case("consent_closed_window", "student_a1_user", (consent(True),), ("409",), setup=closed,
         says="This screening has closed."),
    Case("save_answers", "student_a1_user", (save_answers(),), ("success",), setup=agreed),
    Case("save_answers_bad_value", "student_a1_user", (save_answers({4: 9}),), ("400",), setup=agreed,
         says="9 is not one of the options of question 4"),
    Case("save_answers_someone_elses", "roommate", (save_answers(),), ("404",), setup=agreed),
    Case("submit", "student_a1_user", (submit(),), ("success",), setup=answered),
    Case("submit_twice_is_one_submission", "student_a1_user", (submit("k-1"), submit("k-2")),
         ("success", "success"), setup=answered),
    Case("submit_missing_answers", "student_a1_user", (submit(),), ("400",), setup=half_answered,
         says="Some questions are not answered yet"),
    Case("submit_someone_elses", "roommate", (submit(),), ("404",), setup=answered),
    Case("submit_closed_window", "student_a1_user", (submit(),), ("409",), setup=closed,
         says="This screening has closed."),
    Case("submit_without_consent", "student_a1_user", (submit(),), ("409",),
         says="This screening cannot be answered now."),
    # staff: guardian consent (risk tier over the student)
    Case("guardian_consent", "head_teacher_a1", (guardian_consent(),), ("success",), setup=under_14),
    Case("guardian_consent_twice", "head_teacher_a1", (guardian_consent(), guardian_consent("again")),
         ("success", "409"), setup=under_14, says="No guardian consent is needed",
         redisplay_reads=REDISPLAY_CLASS),
    Case("guardian_consent_without_note", "counsellor_a", (guardian_consent(""),), ("400",), setup=under_14,
         says="This field is required.", redisplay_reads=REDISPLAY_CLASS),
    Case("guardian_consent_out_of_scope", "outsider_b", (guardian_consent(),), ("404",), setup=under_14),
    Case("guardian_consent_by_a_peer", "committee_a1", (guardian_consent(),), ("404",), setup=under_14),
    # staff: results (tier 3, audited)
    Case("read_results", "counsellor_a", (read_results(),), ("success",), setup=roommate_submitted),
    Case("read_results_out_of_scope", "outsider_b", (read_results(),), ("404",), setup=roommate_submitted),
    Case("read_results_head_teacher", "head_teacher_a1", (read_results(),), ("404",), setup=roommate_submitted),
    # staff: the interview outcome sets the risk level through care
    Case("record_interview", "psych_teacher", (record_interview(),), ("success",), setup=roommate_submitted),
    Case("record_interview_none_clears", "director", (record_interview("none", "", None),), ("success",),
         setup=roommate_submitted),
    Case("record_interview_past_review", "psych_teacher", (record_interview(review_days=-1),), ("400",),
         setup=roommate_submitted, says="The review date is in the past.",
         redisplay_reads=REDISPLAY_INTERVIEW),
    Case("record_interview_bad_outcome", "psych_teacher", (record_interview("purple"),), ("400",),
         setup=roommate_submitted, redisplay_reads=REDISPLAY_INTERVIEW),
    Case("record_interview_not_allowed", "counsellor_a", (record_interview(),), ("403",),
         setup=roommate_submitted),
    Case("record_interview_out_of_scope", "outsider_b", (record_interview(),), ("404",),
         setup=roommate_submitted),
    Case("record_interview_already_done", "psych_teacher", (record_interview(),), ("409",),
         setup=interview_done, says="This interview is already recorded.",
         redisplay_reads=REDISPLAY_INTERVIEW),
)


class ParityTests(ScreeningTestCase):
    def setUp(self) -> None:
        self.client.defaults.update(EN)
        self.ci = self.cis()[0]

    @property
    def roommate(self):  # noqa: ANN201 — a persona: the roommate of student_a1
        return self.roommate_a1.user

    def assignment(self, who: str) -> Assignment:
        student = {"a1": self.student_a1, "roommate": self.roommate_a1, "classmate": self.classmate_a1}[who]
        return Assignment.objects.get(campaign=self.campaign, student=student)

    # --- what is compared ---------------------------------------------------------------------

    def snapshot(self, audit_after: int, leave_out: frozenset[str]) -> dict[str, Any]:
        assignments = sorted(
            (a.user.username, a.status, a.consent_agreed, a.consent_version, a.consent_at is not None,
             a.started_at is not None, a.submitted_at is not None, a.submit_key, a.action_due,
             a.guardian_consent_at is not None, a.guardian_consent_by_id, a.guardian_consent_note)
            for a in Assignment.objects.filter(campaign=self.campaign).select_related("user"))
        responses = sorted((r.assignment.user.username, r.campaign_instrument_id, json.dumps(r.payload, sort_keys=True))
                           for r in Response.objects.select_related("assignment__user"))
        results = sorted((r.assignment.user.username, r.instrument.code, r.classification, r.positive, r.critical,
                          json.dumps(r.bands, sort_keys=True), json.dumps(r.detail.get("scores"), sort_keys=True))
                         for r in Result.objects.select_related("assignment__user", "instrument"))
        interviews = sorted((i.student.number, i.status, i.outcome, i.notes, i.done_by_id, i.urgent)
                            for i in Interview.objects.select_related("student__user"))
        register = sorted((e.student_id, e.level, e.is_current, e.reason, e.set_by_id,
                           e.review_on.isoformat() if e.review_on else "")
                          for e in RiskEntry.objects.all())
        timeline = sorted((e.student_id, e.kind, e.tier, e.text, e.actor_id)
                          for e in TimelineEntry.objects.all())
        audit = [(e.actor_id, e.action, e.object_type, self.named(e.object_type, e.object_id), e.result, e.detail)
                 for e in AuditEvent.objects.filter(pk__gt=audit_after).order_by("pk")
                 if e.action not in leave_out]
        return {"assignments": assignments, "responses": responses, "results": results,
                "interviews": interviews, "register": register, "timeline": timeline, "audit": audit}

    @staticmethod
    def named(object_type: str, object_id: str) -> str:
        """An audited object by what it is, not its id: rows a fixture makes inside a run get
        new ids on PostgreSQL (its sequences do not roll back)."""
        if object_type == "screening.interview" and object_id.isdigit():
            interview = Interview.objects.filter(pk=int(object_id)).select_related("student__user").first()
            return f"interview of {interview.student.number}" if interview else "no interview"
        return object_id

    def run_case(self, case: Case, front: str) -> tuple[list[str], str, dict[str, Any]]:
        """The case on one front-end, rolled back afterwards: (outcome classes, the last body,
        the snapshot)."""
        clear_local_cache()  # a campaign changed by a fixture is read afresh
        try:
            with transaction.atomic():
                before = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
                with translation.override(settings.LANGUAGE_CODE):  # as the last request left it otherwise
                    case.setup(self)
                self.login(case.persona)
                responses = [step(self, front) for step in case.steps]
                leave_out = case.redisplay_reads if front == PAGE else frozenset()
                raise Undo([outcome_class(r) for r in responses], responses[-1].content.decode(),
                           self.snapshot(before, leave_out))
        except Undo as done:
            return done.args
        finally:
            clear_local_cache()

    def check(self, case: Case) -> None:
        runs = {front: self.run_case(case, front) for front in (PAGE, API)}
        for front, (classes, body, _snap) in runs.items():
            with self.subTest(front=front):
                self.assertEqual(tuple(classes), case.expect, body[:500])
                if case.says:
                    self.assertIn(case.says, body)
        self.assertEqual(runs[PAGE][2], runs[API][2])


def _test(case: Case) -> Callable[[ParityTests], None]:
    def test(self: ParityTests) -> None:
        self.check(case)
    test.__doc__ = f"{case.name}: page and API agree"
    return test


for _case in CASES:
    setattr(ParityTests, f"test_{_case.name}", _test(_case))


class ParityCoverageTests(ScreeningTestCase):
    def test_every_outcome_class_is_exercised(self) -> None:
        """A guard on the table itself: each outcome class appears on both front-ends."""
        seen = {c for case in CASES for c in case.expect}
        self.assertEqual(seen, {"success", "400", "403", "404", "409"})


class ParityNotVacuousTests(ParityTests):
    def test_a_run_stores_and_is_rolled_back(self) -> None:
        """The snapshots compared are not empty: the submit run left results and a chronology
        mark behind inside its transaction, and nothing after it."""
        case = next(c for c in CASES if c.name == "submit")
        classes, _body, snap = self.run_case(case, API)
        self.assertEqual(classes, ["success"])
        self.assertEqual(len(snap["results"]), 1)
        self.assertTrue(any(row[6] for row in snap["assignments"]))  # submitted
        self.assertFalse(Result.objects.exists())
        classes, _body, snap = self.run_case(next(c for c in CASES if c.name == "record_interview"), PAGE)
        self.assertEqual(classes, ["success"])
        self.assertIn("orange", {row[1] for row in snap["register"]})
        self.assertTrue([row for row in snap["audit"] if row[1] == "screening.interview.record"])
