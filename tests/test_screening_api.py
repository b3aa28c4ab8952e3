"""The screening REST API at /api/v1/screening/: campaigns, a respondent's own assignments
(consent, answers all or none, submit once), and results scoped by the access rules."""

from __future__ import annotations

import datetime as dt
import tempfile
import uuid
from pathlib import Path

from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from xinlian.access.models import AuditEvent
from xinlian.screening.models import (
    Assignment,
    AssignmentStatus,
    Campaign,
    CentreSettings,
    Interview,
    Response,
    Result,
    Visibility,
    act_on_submissions,
)

from .screening_base import ScreeningTestCase, answers_for

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def url(name: str, *args: object) -> str:
    return reverse(f"screening-api:{name}", args=args)


class ScreeningApiTestCase(ScreeningTestCase):
    def setUp(self) -> None:
        self.a1 = Assignment.objects.get(pk=self.assignment_a1.pk)
        self.ci = self.cis()[0]

    def post(self, path: str, data: dict | None = None, **extra):
        return self.client.post(path, data or {}, content_type="application/json", **extra)

    def answers_body(self, value: int = 0, overrides: dict[int, int] | None = None) -> dict:
        answers = answers_for(self.ci.instrument, value)
        answers.update(overrides or {})
        return {"answers": [{"ci": self.ci.pk, "item": k, "value": v, "seconds": 3.0}
                            for k, v in answers.items()]}

    def consent_and_answer(self, persona: str, assignment: Assignment, value: int = 0,
                           overrides: dict[int, int] | None = None) -> None:
        self.login(persona)
        self.assertEqual(self.post(url("consent", assignment.pk), {"agree": True, "version": 1}).status_code, 200)
        response = self.post(url("save-answer", assignment.pk), self.answers_body(value, overrides))
        self.assertEqual(response.status_code, 200, response.content)


class CampaignListTests(ScreeningApiTestCase):
    def test_staff_who_follow_students_up_see_the_campaign(self):
        for persona in ("director", "counsellor_a", "head_teacher_a1"):
            with self.subTest(persona=persona):
                self.login(persona)
                body = self.client.get(url("campaign-list")).json()
                self.assertEqual(body["count"], 1)
                row = body["results"][0]
                self.assertEqual((row["id"], row["name"], row["status"]), (self.campaign.pk, "2026秋季心理普查", "open"))
                self.assertEqual(row["instruments"], ["PHQ9"])
                self.assertFalse(row["restricted_licence"])
                self.assertEqual(row["school"]["code"], "SCH")

    def test_students_and_peers_get_an_empty_list_not_a_403(self):
        for persona in ("student_a1_user", "committee_a1", "bureau_viewer"):
            with self.subTest(persona=persona):
                self.login(persona)
                response = self.client.get(url("campaign-list"))
                self.assertEqual(response.status_code, 200)
                self.assertEqual(response.json()["count"], 0)

    def test_anonymous_is_refused_everywhere(self):
        for name in ("campaign-list", "my-assignments", "result-list"):
            self.assertEqual(self.client.get(url(name)).status_code, 403)
        self.assertEqual(self.client.get(url("assignment-detail", self.a1.pk)).status_code, 403)
        self.assertEqual(self.post(url("submit", self.a1.pk), {"key": "k"}).status_code, 403)


class AssignmentTests(ScreeningApiTestCase):
    def test_my_assignments_lists_only_mine(self):
        self.login("student_a1_user")
        body = self.client.get(url("my-assignments")).json()
        self.assertEqual([r["id"] for r in body["results"]], [self.a1.pk])
        self.assertEqual(body["results"][0]["campaign"]["name"], "2026秋季心理普查")
        self.assertEqual(body["results"][0]["status"], "invited")
        self.login("committee_a1")  # a student too, with an assignment of their own
        ids = [r["id"] for r in self.client.get(url("my-assignments")).json()["results"]]
        self.assertEqual(len(ids), 1)
        self.assertNotIn(self.a1.pk, ids)

    def test_own_assignment_has_items_options_and_consent(self):
        self.login("student_a1_user")
        response = self.client.get(url("assignment-detail", self.a1.pk), **EN)
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual(body["consent"]["version"], 1)
        self.assertIsNone(body["consent"]["agreed"])
        self.assertFalse(body["may_answer"])
        q = body["questionnaires"][0]
        self.assertEqual((q["ci"], q["code"]), (self.ci.pk, "PHQ9"))
        self.assertEqual([i["number"] for i in q["items"]], list(range(1, 11)))
        self.assertEqual(q["items"][0]["options"][3], {"value": 3, "label": "Nearly every day"})
        self.assertTrue(all(i["visible"] for i in q["items"]))
        self.assertEqual(q["answers"], {})
        self.assertEqual(body["help"]["hotline"], "12356")
        self.assertNotIn("scores", str(body))

    def test_another_persons_assignment_is_404(self):
        for persona in ("committee_a1", "director", "counsellor_a"):
            with self.subTest(persona=persona):
                self.login(persona)
                self.assertEqual(self.client.get(url("assignment-detail", self.a1.pk)).status_code, 404)
                self.assertEqual(self.post(url("consent", self.a1.pk), {"agree": True, "version": 1}).status_code,
                                 404)
                self.assertEqual(self.post(url("save-answer", self.a1.pk), self.answers_body()).status_code, 404)
                self.assertEqual(self.post(url("submit", self.a1.pk), {"key": "k"}).status_code, 404)
        self.a1.refresh_from_db()
        self.assertIsNone(self.a1.consent_agreed)
        self.login("student_a1_user")
        self.assertEqual(self.client.get(url("assignment-detail", 999999)).status_code, 404)

    def test_token_authentication(self):
        _row, token = AuthToken.objects.create(user=self.student_a1.user)
        response = self.client.get(url("my-assignments"), HTTP_AUTHORIZATION=f"Token {token}")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.json()["count"], 1)


class ConsentTests(ScreeningApiTestCase):
    def test_agree_then_the_detail_says_may_answer(self):
        self.login("student_a1_user")
        body = self.post(url("consent", self.a1.pk), {"agree": True, "version": 1}).json()
        self.assertTrue(body["consent"]["agreed"])
        self.assertTrue(body["may_answer"])

    def test_decline_is_recorded(self):
        self.login("student_a1_user")
        body = self.post(url("consent", self.a1.pk), {"agree": False, "version": 1}).json()
        self.assertEqual(body["status"], "declined")
        self.assertFalse(body["may_answer"])

    def test_stale_version_is_409_in_english_and_bad_body_400(self):
        self.login("student_a1_user")
        response = self.post(url("consent", self.a1.pk), {"agree": True, "version": 0}, **EN)
        self.assertEqual(response.status_code, 409)
        self.assertEqual(response.json()["code"], "version")
        self.assertIn("consent text has changed", response.json()["detail"])
        self.assertEqual(self.post(url("consent", self.a1.pk), {"version": 1}).status_code, 400)
        self.assertEqual(self.post(url("consent", self.a1.pk), {"agree": "maybe", "version": 1}).status_code, 400)
        self.a1.refresh_from_db()
        self.assertIsNone(self.a1.consent_agreed)


class AnswerTests(ScreeningApiTestCase):
    def test_a_batch_is_saved_and_reported_visible(self):
        self.consent_and_answer("student_a1_user", self.a1, 1)
        self.assertEqual(Response.objects.get(assignment=self.a1).answers, {n: 1 for n in range(1, 11)})
        body = self.client.get(url("assignment-detail", self.a1.pk)).json()
        self.assertEqual(body["questionnaires"][0]["answers"]["3"], 1)
        self.assertEqual(body["status"], "in_progress")

    def test_all_or_none(self):
        self.login("student_a1_user")
        self.post(url("consent", self.a1.pk), {"agree": True, "version": 1})
        body = {"answers": [{"ci": self.ci.pk, "item": 1, "value": 2},
                            {"ci": self.ci.pk, "item": 2, "value": 7}]}
        response = self.post(url("save-answer", self.a1.pk), body, **EN)
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["detail"], "7 is not one of the options of question 2.")
        self.assertFalse(Response.objects.filter(assignment=self.a1).exists())
        for bad in ({"answers": []}, {"answers": [{"ci": self.ci.pk, "item": 1}]},
                    {"answers": [{"ci": self.ci.pk, "item": 1, "value": "x"}]},
                    {"answers": [{"ci": 999999, "item": 1, "value": 0}]},
                    {"answers": [{"ci": self.ci.pk, "item": 99, "value": 0}]}):
            with self.subTest(body=bad):
                self.assertEqual(self.post(url("save-answer", self.a1.pk), bad).status_code, 400)
        self.assertFalse(Response.objects.filter(assignment=self.a1).exists())
        ok = self.post(url("save-answer", self.a1.pk), {"answers": [{"ci": self.ci.pk, "item": 1, "value": 2}]})
        self.assertEqual(ok.status_code, 200)
        self.assertEqual(ok.json(), {"saved": 1, "visible": {str(self.ci.pk): list(range(1, 11))}})

    def test_answers_before_consent_are_409(self):
        self.login("student_a1_user")
        response = self.post(url("save-answer", self.a1.pk), self.answers_body(), **EN)
        self.assertEqual(response.status_code, 409)
        self.assertEqual(response.json()["detail"], "This screening cannot be answered now.")


class SubmitTests(ScreeningApiTestCase):
    def test_submit_once_with_a_key_then_replays(self):
        self.consent_and_answer("student_a1_user", self.a1, 2, {9: 0})  # total 16: positive
        key = str(uuid.uuid4())
        first = self.post(url("submit", self.a1.pk), {"key": key})
        self.assertEqual(first.status_code, 200)
        self.assertEqual({k: first.json()[k] for k in ("submitted", "replay")}, {"submitted": True, "replay": False})
        # Never a score, a class or a band back to the respondent.
        for word in ("scores", "total", "positive", "classification", "moderate"):
            self.assertNotIn(word, first.content.decode())
        again = self.post(url("submit", self.a1.pk), {"key": key})
        self.assertEqual(again.json()["replay"], True)
        header = self.post(url("submit", self.a1.pk), {}, HTTP_IDEMPOTENCY_KEY="another-tap")
        self.assertEqual((header.status_code, header.json()["replay"]), (200, True))
        act_on_submissions()  # the worker's pass
        self.assertEqual(Result.objects.count(), 1)
        self.assertEqual(Interview.objects.count(), 1)
        self.a1.refresh_from_db()
        self.assertEqual((self.a1.status, self.a1.submit_key), (AssignmentStatus.SUBMITTED, key))

    def test_the_hotline_is_never_empty(self):
        CentreSettings.objects.create(school=self.school, help_phone="010-1", hotline="")
        self.consent_and_answer("student_a1_user", self.a1, 0)
        response = self.post(url("submit", self.a1.pk), {"key": "k-hotline"})
        self.assertEqual(response.json()["help"]["hotline"], "12356")

    def test_the_idempotency_key_header_alone_submits(self):
        self.consent_and_answer("student_a1_user", self.a1, 0)
        response = self.post(url("submit", self.a1.pk), HTTP_IDEMPOTENCY_KEY="tap-1")
        self.assertEqual((response.status_code, response.json()["replay"]), (200, False))
        self.a1.refresh_from_db()
        self.assertEqual(self.a1.submit_key, "tap-1")

    def test_missing_key_and_unanswered_questions_are_400(self):
        self.login("student_a1_user")
        self.post(url("consent", self.a1.pk), {"agree": True, "version": 1})
        self.post(url("save-answer", self.a1.pk), {"answers": [{"ci": self.ci.pk, "item": 1, "value": 0}]})
        self.assertEqual(self.post(url("submit", self.a1.pk), {}).status_code, 400)
        response = self.post(url("submit", self.a1.pk), {"key": "k1"}, **EN)
        # As on the page: the input breaks a rule (400), not the state (409).
        self.assertEqual(response.status_code, 400)
        self.assertEqual(response.json()["code"], "incomplete")
        self.assertIn("PHQ-9", response.json()["detail"])
        self.assertFalse(Result.objects.exists())

    def test_a_closed_campaign_is_409(self):
        self.consent_and_answer("student_a1_user", self.a1, 0)
        Campaign.objects.filter(pk=self.campaign.pk).update(closes_at=timezone.now() - dt.timedelta(minutes=1))
        for name, body in (("submit", {"key": "k"}), ("save-answer", self.answers_body()),
                           ("consent", {"agree": True, "version": 1})):
            with self.subTest(name=name):
                response = self.post(url(name, self.a1.pk), body, **EN)
                self.assertEqual(response.status_code, 409)
                self.assertEqual(response.json(), {"detail": "This screening has closed.", "code": "closed"})
        self.assertFalse(Result.objects.exists())

    def test_errors_default_to_chinese(self):
        self.login("student_a1_user")
        response = self.client.get(url("assignment-detail", 999999))
        self.assertEqual(response.status_code, 404)
        self.assertNotEqual(response.json()["detail"], "Not found.")
        self.assertRegex(response.json()["detail"], r"[\u4e00-\u9fff]")


class ResultListTests(ScreeningApiTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.take_classmethod(cls.assignment_a1, 2, {9: 0})  # college A, total 16
        cls.assignment_b1 = Assignment.objects.get(campaign=cls.campaign, user=cls.student_b1.user)
        cls.take_classmethod(cls.assignment_b1, 0)  # college B, total 0

    @classmethod
    def take_classmethod(cls, assignment: Assignment, value: int, overrides: dict[int, int] | None = None) -> None:
        assignment.consent(True, cls.campaign.consent_version)
        ci = cls.campaign.campaign_instruments.get()
        answers = answers_for(ci.instrument, value)
        answers.update(overrides or {})
        assignment.save_answers([(ci.pk, k, v, 3.0) for k, v in answers.items()])
        assignment.submit(uuid.uuid4().hex)

    def numbers(self, persona: str, query: str = "") -> list[str]:
        self.login(persona)
        response = self.client.get(url("result-list") + query)
        self.assertEqual(response.status_code, 200)
        return sorted(r["number"] for r in response.json()["results"])

    def test_scoping(self):
        self.assertEqual(self.numbers("director"), ["S0001", "S0005"])
        self.assertEqual(self.numbers("counsellor_a"), ["S0001"])
        self.assertEqual(self.numbers("outsider_b"), ["S0005"])
        for persona in ("head_teacher_a1", "committee_a1", "student_a1_user", "bureau_viewer"):
            with self.subTest(persona=persona):
                self.assertEqual(self.numbers(persona), [])

    def test_fields_and_decrypted_scores(self):
        self.login("counsellor_a")
        row = self.client.get(url("result-list")).json()["results"][0]
        self.assertEqual((row["name"], row["klass"]["code"], row["instrument"]), ("张小明", "CA-1", "PHQ9"))
        self.assertEqual((row["instrument_version"], row["rule_version"]), ("1.0", "xl-2026.1"))
        self.assertEqual((row["classification"], row["positive"], row["critical"]), ("positive", True, False))
        self.assertEqual(row["clauses"], ["total_cutoff"])
        self.assertEqual(row["scores"], {"total": 16})
        self.assertEqual(row["bands"], {"total": "moderately_severe"})
        self.assertEqual(row["assignment"], self.assignment_a1.pk)

    def test_each_page_read_is_one_audit_row_with_the_count(self):
        before = AuditEvent.objects.count()
        self.numbers("director")
        event = AuditEvent.objects.get(action="screening.result.list")
        self.assertEqual((event.actor_id, event.detail), (self.director.pk, "results:2"))
        self.assertEqual(AuditEvent.objects.count(), before + 1)
        self.numbers("head_teacher_a1")  # nothing shown: nothing to audit
        self.assertEqual(AuditEvent.objects.filter(action="screening.result.list").count(), 1)
        self.numbers("director", f"?campaign={self.campaign.pk}")
        event = AuditEvent.objects.filter(action="screening.result.list").order_by("-pk").first()
        self.assertEqual((event.object_type, event.object_id), ("screening.campaign", str(self.campaign.pk)))

    def test_campaign_filter(self):
        self.assertEqual(self.numbers("director", f"?campaign={self.campaign.pk}"), ["S0001", "S0005"])
        self.assertEqual(self.numbers("director", "?campaign=999999"), [])
        self.login("director")
        response = self.client.get(url("result-list") + "?campaign=abc", **EN)
        self.assertEqual(response.status_code, 400)
        self.assertIn("campaign", response.json())

    def test_centre_only_campaign_hides_results_from_the_fudaoyuan(self):
        Campaign.objects.filter(pk=self.campaign.pk).update(visibility=Visibility.CENTRE_ONLY)
        self.assertEqual(self.numbers("counsellor_a"), [])
        self.assertEqual(self.numbers("director"), ["S0001", "S0005"])


class ScreeningSchemaTests(ScreeningApiTestCase):
    def test_schema_validates_and_lists_screening_paths(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "schema.yml"
            call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
            text = out.read_text()
        for path in ("/api/v1/screening/campaigns/", "/api/v1/screening/assignments/{id}/answers/",
                     "/api/v1/screening/assignments/{id}/submit/", "/api/v1/screening/results/",
                     "/api/v1/screening/assignments/{id}/results/",
                     "/api/v1/screening/assignments/{id}/guardian-consent/",
                     "/api/v1/screening/interviews/{id}/outcome/", "Idempotency-Key"):
            self.assertIn(path, text)
