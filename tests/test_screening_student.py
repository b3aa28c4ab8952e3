"""The respondent's pages: my screenings, consent, saving answers one by one, submitting once,
the thank-you page — and everything they refuse."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any
from unittest import mock

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language

from xinlian.screening.models import (
    Assignment,
    AssignmentStatus,
    Campaign,
    CentreSettings,
    Response,
    Result,
    Visibility,
)

from .screening_base import ScreeningTestCase, answers_for

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


class StudentPageTestCase(ScreeningTestCase):
    CODES = ("PHQ9", "CSSRS")

    def setUp(self) -> None:
        self.client.defaults.update(EN)
        self.login("student_a1_user")
        self.a = Assignment.objects.get(pk=self.assignment_a1.pk)

    # --- helpers -----------------------------------------------------------------------------

    def url(self, name: str, a: Assignment | None = None) -> str:
        return reverse(f"screening:{name}", args=[(a or self.a).pk])

    def agree(self, a: Assignment | None = None) -> None:
        (a or self.a).consent(True, self.campaign.consent_version)

    def post_json(self, payload: Any, a: Assignment | None = None, client: Client | None = None, **extra: Any):
        body = payload if isinstance(payload, str | bytes) else json.dumps(payload)
        return (client or self.client).post(self.url("answer", a), data=body,
                                            content_type="application/json", **extra)

    def ci(self, code: str):  # noqa: ANN201
        return next(ci for ci in self.cis() if ci.instrument.code == code)

    def saved(self, a: Assignment | None = None) -> dict[int, dict[int, int]]:
        return (a or self.a).answers_by_instrument()

    def all_fields(self, value: int | None = None, overrides: dict[str, dict[int, int]] | None = None
                   ) -> dict[str, str]:
        """The no-JavaScript form: a-<ci>-<item>=<value> for every shown item."""
        fields = {}
        for ci in self.cis():
            answers = answers_for(ci.instrument, value)
            answers.update((overrides or {}).get(ci.instrument.code, {}))
            for item, v in answers.items():
                fields[f"a-{ci.pk}-{item}"] = str(v)
        return fields


# --- consent --------------------------------------------------------------------------------------


class ConsentTests(StudentPageTestCase):
    def test_consent_page_shows_purpose_and_who_sees_results(self) -> None:
        response = self.client.get(self.url("take"))
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, self.campaign.purpose)
        # Written from the policy and the routing (issue 10): the 班主任 receives the red alert.
        self.assertContains(response, "Your answers and results are read by the counselling-centre director, "
                                      "the centre&#x27;s psychology teachers and your 辅导员.")
        self.assertContains(response, "your 辅导员, your head teacher and the counselling-centre director "
                                      "are alerted at once")
        self.assertContains(response, 'name="agree" value="1"')
        self.assertContains(response, 'name="agree" value="0"')
        self.assertNotContains(response, 'id="scr-form"')  # no questions before consent

    def test_centre_only_visibility_is_said_in_words(self) -> None:
        Campaign.objects.filter(pk=self.campaign.pk).update(visibility=Visibility.CENTRE_ONLY)
        response = self.client.get(self.url("take"))
        self.assertContains(response, "Your answers and results are read by the counselling-centre director "
                                      "and the centre&#x27;s psychology teachers.")
        self.assertContains(response, "Otherwise your 辅导员 and your head teacher see only whether you have "
                                      "finished.")

    def test_agree_is_recorded_with_version_and_time(self) -> None:
        response = self.client.post(self.url("consent"), {"agree": "1", "version": "1"})
        self.assertEqual(response.status_code, 303)
        self.assertEqual(response["Location"], self.url("take"))
        self.a.refresh_from_db()
        self.assertTrue(self.a.consent_agreed)
        self.assertEqual(self.a.consent_version, 1)
        self.assertIsNotNone(self.a.consent_at)
        page = self.client.get(self.url("take"))
        self.assertContains(page, 'id="scr-form"')
        self.assertContains(page, f'name="a-{self.ci("PHQ9").pk}-1"')

    def test_decline_is_recorded_and_can_be_changed_while_open(self) -> None:
        response = self.client.post(self.url("consent"), {"agree": "0", "version": "1"})
        self.assertEqual(response.status_code, 303)
        self.a.refresh_from_db()
        self.assertEqual((self.a.status, self.a.consent_agreed), (AssignmentStatus.DECLINED, False))
        page = self.client.get(self.url("take"))
        self.assertContains(page, "You chose not to take part")
        self.assertNotContains(page, 'id="scr-form"')
        self.assertEqual(self.post_json({"answers": [{"ci": self.ci("PHQ9").pk, "item": 1, "value": 0,
                                                      "seconds": 2}]}).status_code, 409)
        self.client.post(self.url("consent"), {"agree": "1", "version": "1"})
        self.a.refresh_from_db()
        self.assertTrue(self.a.may_answer)
        self.assertContains(self.client.get(self.url("take")), 'id="scr-form"')

    def test_unreadable_consent_is_400_and_stale_version_409(self) -> None:
        self.assertEqual(self.client.post(self.url("consent"), {"agree": "yes", "version": "1"}).status_code, 400)
        self.assertEqual(self.client.post(self.url("consent"), {"agree": "1"}).status_code, 400)
        response = self.client.post(self.url("consent"), {"agree": "1", "version": "7"})
        self.assertEqual(response.status_code, 409)
        self.assertContains(response, "The consent text has changed", status_code=409)
        self.a.refresh_from_db()
        self.assertIsNone(self.a.consent_agreed)

    def test_under_14_sees_the_guardian_message_and_cannot_answer(self) -> None:
        self.student_a1.birth_date = timezone.localdate() - dt.timedelta(days=365 * 13)
        self.student_a1.save()
        page = self.client.get(self.url("take"))
        self.assertContains(page, "Your guardian's consent comes first")
        self.assertContains(page, "head teacher")
        self.assertNotContains(page, 'name="agree"')
        self.assertNotContains(page, 'id="scr-form"')
        response = self.client.post(self.url("consent"), {"agree": "1", "version": "1"})
        self.assertEqual(response.status_code, 409)
        self.a.refresh_from_db()
        self.assertIsNone(self.a.consent_agreed)
        self.a.record_guardian_consent(self.head_teacher_a1, "电话确认（母亲）")
        self.assertContains(self.client.get(self.url("take")), 'name="agree" value="1"')

    def test_closed_and_not_yet_open_campaigns_say_so_and_accept_nothing(self) -> None:
        now = timezone.now()
        Campaign.objects.filter(pk=self.campaign.pk).update(opens_at=now + dt.timedelta(days=1),
                                                            closes_at=now + dt.timedelta(days=5))
        page = self.client.get(self.url("take"))
        self.assertContains(page, "This screening opens on")
        self.assertEqual(self.client.post(self.url("consent"), {"agree": "1", "version": "1"}).status_code, 409)
        Campaign.objects.filter(pk=self.campaign.pk).update(opens_at=now - dt.timedelta(days=5),
                                                            closes_at=now - dt.timedelta(days=1))
        page = self.client.get(self.url("take"))
        self.assertContains(page, "This screening closed on")
        self.assertNotContains(page, 'name="agree"')
        response = self.client.post(self.url("consent"), {"agree": "1", "version": "1"})
        self.assertEqual(response.status_code, 409)
        self.assertContains(response, "This screening has closed.", status_code=409)
        self.a.refresh_from_db()
        self.assertIsNone(self.a.consent_agreed)


# --- who reaches what -----------------------------------------------------------------------------


class OwnershipTests(StudentPageTestCase):
    def test_someone_elses_assignment_is_missing(self) -> None:
        other = Assignment.objects.get(campaign=self.campaign, user=self.roommate_a1.user)
        self.agree(other)
        for name in ("take", "thanks"):
            self.assertEqual(self.client.get(self.url(name, other)).status_code, 404, name)
        self.assertEqual(self.client.post(self.url("consent", other), {"agree": "1", "version": "1"}).status_code, 404)
        self.assertEqual(self.post_json({"answers": [{"ci": self.ci("PHQ9").pk, "item": 1, "value": 0}]},
                                        other).status_code, 404)
        self.assertEqual(self.client.post(self.url("submit", other), {"key": "k"}).status_code, 404)
        self.assertEqual(Response.objects.filter(assignment=other).count(), 0)
        # The director runs the campaign, and still cannot open a student's questionnaire.
        self.login("director")
        self.assertEqual(self.client.get(self.url("take")).status_code, 404)

    def test_anonymous_goes_to_login_and_wrong_methods_are_405(self) -> None:
        self.client.logout()
        response = self.client.get(self.url("take"))
        self.assertEqual(response.status_code, 302)
        self.assertTrue(response["Location"].startswith(reverse("login")))
        # A session that ran out while answering comes back to the questionnaire after logging in.
        for name in ("consent", "answer", "submit"):
            response = self.client.post(self.url(name), {"key": "k"})
            self.assertEqual(response.status_code, 302)
            self.assertEqual(response["Location"], f"{reverse('login')}?next={self.url('take')}")
        self.login("student_a1_user")
        self.assertEqual(self.client.get(self.url("answer")).status_code, 405)
        self.assertEqual(self.client.get(self.url("submit")).status_code, 405)
        self.assertEqual(self.client.post(self.url("thanks")).status_code, 405)

    def test_my_screenings_lists_own_assignments_only(self) -> None:
        response = self.client.get(reverse("screening:mine"))
        self.assertContains(response, self.campaign.name)
        self.assertContains(response, self.url("take"))
        other = Assignment.objects.get(campaign=self.campaign, user=self.roommate_a1.user)
        self.assertNotContains(response, self.url("take", other))
        self.assertContains(response, "Start")
        self.login("bureau_viewer")  # staff, invited to nothing: an empty list, not an error
        response = self.client.get(reverse("screening:mine"))
        self.assertContains(response, "You have no screenings")

    def test_staff_respondents_use_the_same_pages(self) -> None:
        Campaign.objects.filter(pk=self.campaign.pk).update(include_staff=True)
        self.campaign.refresh_from_db()
        self.campaign.launch(self.director)
        mine = Assignment.objects.get(campaign=self.campaign, user=self.head_teacher_a1)
        self.login("head_teacher_a1")
        self.assertContains(self.client.get(reverse("screening:mine")), self.url("take", mine))
        page = self.client.get(self.url("take", mine))
        self.assertContains(page, "Your answers and results are read by the counselling-centre director and "
                                      "the centre&#x27;s psychology teachers.")


# --- saving answers as they are given -------------------------------------------------------------


class AnswerEndpointTests(StudentPageTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.agree()
        self.phq = self.ci("PHQ9")
        self.cssrs = self.ci("CSSRS")

    def test_answers_are_saved_with_seconds_and_visible_items_returned(self) -> None:
        response = self.post_json({"answers": [
            {"ci": self.phq.pk, "item": 1, "value": 2, "seconds": 3.25},
            {"ci": self.phq.pk, "item": 2, "value": 0, "seconds": None},
        ]})
        self.assertEqual(response.status_code, 200)
        data = response.json()
        self.assertEqual(data["saved"], 2)
        self.assertEqual(data["visible"], {str(self.phq.pk): list(range(1, 11))})
        resp = Response.objects.get(assignment=self.a, campaign_instrument=self.phq)
        self.assertEqual(resp.answers, {1: 2, 2: 0})
        self.assertEqual(resp.payload["seconds"], {"1": 3.25})
        self.a.refresh_from_db()
        self.assertEqual(self.a.status, AssignmentStatus.IN_PROGRESS)
        # Re-sending (a retry after a lost response) changes nothing.
        self.assertEqual(self.post_json({"answers": [{"ci": self.phq.pk, "item": 1, "value": 2,
                                                      "seconds": 3.25}]}).status_code, 200)
        self.assertEqual(Response.objects.get(pk=resp.pk).answers, {1: 2, 2: 0})

    def test_skip_logic_hides_and_shows_cssrs_questions_3_to_5(self) -> None:
        data = self.post_json({"answers": [{"ci": self.cssrs.pk, "item": 1, "value": 0, "seconds": 2},
                                           {"ci": self.cssrs.pk, "item": 2, "value": 0, "seconds": 2}]}).json()
        self.assertEqual(data["visible"][str(self.cssrs.pk)], [1, 2, 6])
        data = self.post_json({"answers": [{"ci": self.cssrs.pk, "item": 2, "value": 1, "seconds": 2}]}).json()
        self.assertEqual(data["visible"][str(self.cssrs.pk)], [1, 2, 3, 4, 5, 6])
        # The page renders the same visibility from the saved answers.
        page = self.client.get(self.url("take")).content.decode()
        self.assertRegex(page, rf'id="q-{self.cssrs.pk}-3" data-item="3" data-shown="1">')
        self.assertRegex(page, rf'id="q-{self.cssrs.pk}-7" data-item="7" data-shown="0" hidden>')
        rules = json.loads(re.search(r'<script id="scr-rules" type="application/json">(.*?)</script>',
                                     page).group(1))
        self.assertEqual(rules[str(self.cssrs.pk)]["3"], {"item": 2, "op": "eq", "value": 1})

    def assertRefused(self, payload: Any, status: int = 400, text: str | None = None) -> None:
        before = {r.pk: r.data for r in Response.objects.filter(assignment=self.a)}
        response = self.post_json(payload)
        self.assertEqual(response.status_code, status, payload if not isinstance(payload, bytes) else "")
        self.assertEqual(response["Content-Type"], "application/json")
        error = response.json()["error"]
        self.assertTrue(error)
        if text:
            self.assertIn(text, error)
        after = {r.pk: r.data for r in Response.objects.filter(assignment=self.a)}
        self.assertEqual(before, after, "a refused batch saved something")

    def test_bad_batches_are_refused_whole_with_a_message(self) -> None:
        good = {"ci": self.phq.pk, "item": 1, "value": 1, "seconds": 2}
        self.assertRefused({"answers": [good, {"ci": self.phq.pk, "item": 2, "value": 7}]},
                           text="7 is not one of the options of question 2")
        self.assertRefused({"answers": [good, {"ci": self.phq.pk, "item": 99, "value": 0}]},
                           text="There is no question 99")
        self.assertRefused({"answers": [good, {"ci": 999999, "item": 1, "value": 0}]},
                           text="Unknown questionnaire")
        self.assertRefused(b"{not json", text="could not be read")
        self.assertRefused(b"\xff\xfe", text="could not be read")
        self.assertRefused(b"[" * 200_000, text="could not be read")
        self.assertRefused({"answers": []}, text="No answers")
        self.assertRefused({"answer": [good]})
        self.assertRefused([good])
        self.assertRefused({"answers": [good, "x"]})
        for bad in ({"value": "1"}, {"value": 1.0}, {"value": True}, {"value": None}, {"item": "1"},
                    {"ci": None}, {"seconds": "3"}, {"seconds": True}):
            self.assertRefused({"answers": [good, {**good, "item": 2, **bad}]}, text="Answer 2")
        self.assertRefused({"answers": [good] * 301}, text="at most 300")
        self.assertEqual(Response.objects.filter(assignment=self.a).count(), 0)
        # 300 is allowed.
        self.assertEqual(self.post_json({"answers": [good] * 300}).status_code, 200)

    def test_errors_come_in_the_users_language(self) -> None:
        with mock.patch("xinlian.screening.views_student._", side_effect=lambda s: f"[{get_language()}] {s}"):
            for lang in ("zh-hans", "en"):
                response = self.post_json({"answers": []}, HTTP_ACCEPT_LANGUAGE=lang)
                self.assertEqual(response.status_code, 400)
                self.assertTrue(response.json()["error"].startswith(f"[{lang}] "))

    def test_a_10_mb_body_is_a_clear_400(self) -> None:
        body = b'{"answers": [' + b" " * (10 * 1024 * 1024) + b"]}"
        response = self.post_json(body)
        self.assertEqual(response.status_code, 400)
        self.assertIn("Too much data", response.json()["error"])
        self.assertEqual(Response.objects.filter(assignment=self.a).count(), 0)

    def test_state_problems_are_409(self) -> None:
        entry = {"answers": [{"ci": self.phq.pk, "item": 1, "value": 0, "seconds": 1}]}
        Campaign.objects.filter(pk=self.campaign.pk).update(closes_at=timezone.now() - dt.timedelta(minutes=1))
        self.assertRefused(entry, 409, "This screening has closed.")
        Campaign.objects.filter(pk=self.campaign.pk).update(
            opens_at=timezone.now() + dt.timedelta(days=1), closes_at=timezone.now() + dt.timedelta(days=3))
        self.assertRefused(entry, 409, "not open yet")
        Campaign.objects.filter(pk=self.campaign.pk).update(
            opens_at=timezone.now() - dt.timedelta(days=1), closes_at=timezone.now() + dt.timedelta(days=3))
        other = Assignment.objects.get(campaign=self.campaign, user=self.roommate_a1.user)
        self.client.force_login(self.roommate_a1.user)
        self.assertEqual(self.post_json(entry, other).status_code, 409)  # never consented
        self.login("student_a1_user")
        self.take(self.a, 0)
        self.assertRefused(entry, 409)  # submitted

    def test_csrf_token_in_the_header_is_accepted(self) -> None:
        client = Client(enforce_csrf_checks=True, **EN)
        client.force_login(self.student_a1.user)
        page = client.get(self.url("take"))
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode()).group(1)
        entry = {"answers": [{"ci": self.phq.pk, "item": 1, "value": 0, "seconds": 1}]}
        self.assertEqual(self.post_json(entry, client=client).status_code, 403)
        self.assertEqual(self.post_json(entry, client=client, HTTP_X_CSRFTOKEN=token).status_code, 200)
        # The CSRF check does not read a JSON body: a 10 MB one still gets the view's own answer.
        big = b'{"answers": [' + b" " * (10 * 1024 * 1024 + 1) + b"]}"
        response = self.post_json(big, client=client, HTTP_X_CSRFTOKEN=token)
        self.assertEqual(response.status_code, 400)
        self.assertIn("Too much data", response.json()["error"])


# --- submitting -----------------------------------------------------------------------------------


class SubmitTests(StudentPageTestCase):
    def setUp(self) -> None:
        super().setUp()
        self.agree()

    def test_submit_once_whatever_the_key(self) -> None:
        self.answer_all(self.a, 0)
        first = self.client.post(self.url("submit"), {"key": "k-1"})
        self.assertEqual(first.status_code, 303)
        self.assertEqual(first["Location"], self.url("thanks"))
        again = self.client.post(self.url("submit"), {"key": "k-1"})  # a double tap / a retry
        other = self.client.post(self.url("submit"), {"key": "k-2"})  # a replay with a new key
        self.assertEqual((again.status_code, other.status_code), (303, 303))
        self.assertEqual(again["Location"], self.url("thanks"))
        self.assertEqual(Result.objects.filter(assignment=self.a).count(), 2)  # PHQ-9 and C-SSRS
        self.a.refresh_from_db()
        self.assertEqual((self.a.status, self.a.submit_key), (AssignmentStatus.SUBMITTED, "k-1"))
        self.assertRedirects(self.client.get(self.url("take")), self.url("thanks"))

    def test_incomplete_submit_names_the_missing_questions_and_keeps_answers(self) -> None:
        phq, cssrs = self.ci("PHQ9"), self.ci("CSSRS")
        for item in range(1, 10):
            self.a.save_answer(phq.pk, item, 1, 2.0)
        self.a.save_answer(cssrs.pk, 1, 0, 2.0)
        response = self.client.post(self.url("submit"), {"key": "k-1"})
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "PHQ-9 question 10; C-SSRS question 2, 6", status_code=400)
        page = response.content.decode()
        self.assertIn(f'id="q-{phq.pk}-10"', page)
        self.assertRegex(page, rf'class="xl-q xl-missing" id="q-{phq.pk}-10"')
        self.assertRegex(page, rf'name="a-{phq.pk}-3" id="a-{phq.pk}-3-1" value="1" checked')
        self.assertEqual(Result.objects.count(), 0)
        self.assertEqual(self.saved()[phq.pk], dict.fromkeys(range(1, 10), 1))
        self.a.refresh_from_db()
        self.assertEqual(self.a.status, AssignmentStatus.IN_PROGRESS)

    def test_form_without_javascript_submits_every_answer(self) -> None:
        fields = self.all_fields(1, {"PHQ9": {9: 0}})
        response = self.client.post(self.url("submit"), {"key": "nojs-1", **fields})
        self.assertEqual(response.status_code, 303)
        phq = self.ci("PHQ9")
        self.assertEqual(self.saved()[phq.pk][1], 1)
        self.assertEqual(Result.objects.get(instrument__code="PHQ9").detail["scores"]["total"], 8)
        self.assertEqual(Result.objects.filter(assignment=self.a).count(), 2)

    def test_form_without_javascript_follows_skip_logic(self) -> None:
        cssrs = self.ci("CSSRS")
        fields = self.all_fields(0)
        fields[f"a-{cssrs.pk}-2"] = "1"  # yes to question 2: questions 3-5 are asked now
        response = self.client.post(self.url("submit"), {"key": "nojs-2", **fields})
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "C-SSRS question 3, 4, 5", status_code=400)
        page = response.content.decode()
        self.assertRegex(page, rf'id="q-{cssrs.pk}-3" data-item="3" data-shown="1">')
        for item in (3, 4, 5):
            fields[f"a-{cssrs.pk}-{item}"] = "0"
        response = self.client.post(self.url("submit"), {"key": "nojs-2", **fields})
        self.assertEqual(response.status_code, 303)

    def test_a_bad_posted_value_saves_nothing_of_the_form(self) -> None:
        phq = self.ci("PHQ9")
        fields = self.all_fields(0)
        fields[f"a-{phq.pk}-4"] = "9"
        response = self.client.post(self.url("submit"), {"key": "k", **fields})
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "9 is not one of the options of question 4", status_code=400)
        self.assertEqual(self.saved(), {})
        # What was sent is still ticked, so nothing has to be answered again.
        self.assertRegex(response.content.decode(), rf'name="a-{phq.pk}-1" id="a-{phq.pk}-1-0" value="0" checked')
        fields[f"a-{phq.pk}-4"] = "abc"
        self.assertEqual(self.client.post(self.url("submit"), {"key": "k", **fields}).status_code, 400)
        self.assertEqual(self.saved(), {})

    def test_missing_key_is_400_and_answers_are_kept(self) -> None:
        response = self.client.post(self.url("submit"), self.all_fields(0))
        self.assertEqual(response.status_code, 400)
        self.assertContains(response, "Missing submission key", status_code=400)
        self.assertEqual(Result.objects.count(), 0)
        self.assertEqual(len(self.saved()), 2)

    def test_closed_campaign_refuses_submit_with_409(self) -> None:
        self.answer_all(self.a, 0)
        Campaign.objects.filter(pk=self.campaign.pk).update(closes_at=timezone.now() - dt.timedelta(minutes=1))
        response = self.client.post(self.url("submit"), {"key": "k-late", **self.all_fields(0)})
        self.assertEqual(response.status_code, 409)
        self.assertContains(response, "This screening has closed.", status_code=409)
        self.assertEqual(Result.objects.count(), 0)

    def test_the_scripts_submit_claims_without_reading_the_assignment_first(self) -> None:
        self.answer_all(self.a, 0)
        with CaptureQueriesContext(connection) as ctx:
            response = self.client.post(self.url("submit"), {"key": "k-fast"})
        self.assertEqual((response.status_code, response["Location"]), (303, self.url("thanks")))
        sql = [q["sql"] for q in ctx.captured_queries]
        reads = [q for q in sql if q.startswith("SELECT") and "FROM \"screening_assignment\"" in q]
        # Only the per-person rate limit's count of recent submissions (screening/actions.py
        # _check_submit_rate): one indexed COUNT, never the assignment row itself.
        self.assertEqual([q for q in reads if not q.startswith("SELECT COUNT(*)")], [])
        self.assertLessEqual(len(reads), 1)
        # The saved answers with the assignment's ids (the row is read, not locked) come in the
        # statement that loads the session and the user, no read of their own
        # (screening.actions.with_submit_columns; tests/test_request_floor.py).
        self.assertIn("a.campaign_id, a.student_id, a.answers_rev", sql[0])
        self.assertIn('FROM "web_session" s', sql[0])
        self.assertEqual([q for q in sql if q.startswith("SELECT a.campaign_id")], [])
        if connection.vendor == "postgresql":  # then the claim and the results in one statement
            self.assertEqual(len([q for q in sql if q.startswith("WITH _claim AS (UPDATE screening_assignment")]), 1)
        else:
            self.assertEqual(len([q for q in sql if q.startswith("UPDATE screening_assignment")]), 1)
        self.a.refresh_from_db()
        self.assertEqual((self.a.status, self.a.submit_key), (AssignmentStatus.SUBMITTED, "k-fast"))
        self.assertEqual(Result.objects.filter(assignment=self.a).count(), 2)

    def test_the_scripts_submit_of_someone_elses_assignment_is_404(self) -> None:
        self.answer_all(self.a, 0)
        self.client.force_login(self.roommate_a1.user)
        self.assertEqual(self.client.post(self.url("submit"), {"key": "k-theirs"}).status_code, 404)
        self.a.refresh_from_db()
        self.assertEqual((self.a.status, Result.objects.count()), (AssignmentStatus.IN_PROGRESS, 0))

    def test_the_scripts_submit_outside_the_window_or_consent_is_409(self) -> None:
        self.answer_all(self.a, 0)
        now = timezone.now()
        for change, text in (({"closes_at": now - dt.timedelta(minutes=1)}, "This screening has closed."),
                             ({"opens_at": now + dt.timedelta(hours=1)}, "This screening is not open yet."),
                             ({"consent_version": 2}, "This screening cannot be answered now.")):
            with self.subTest(change=change):
                Campaign.objects.filter(pk=self.campaign.pk).update(**change)
                response = self.client.post(self.url("submit"), {"key": "k-now"})
                self.assertContains(response, text, status_code=409)
                self.assertEqual(Result.objects.count(), 0)
                Campaign.objects.filter(pk=self.campaign.pk).update(
                    opens_at=self.campaign.opens_at, closes_at=self.campaign.closes_at, consent_version=1)
        self.assertEqual(self.client.post(self.url("submit"), {"key": "k-now"}).status_code, 303)

    def test_submit_without_consent_is_409(self) -> None:
        other = Assignment.objects.get(campaign=self.campaign, user=self.roommate_a1.user)
        self.client.force_login(self.roommate_a1.user)
        response = self.client.post(self.url("submit", other), {"key": "k", **self.all_fields(0)})
        self.assertEqual(response.status_code, 409)
        self.assertEqual(self.saved(other), {})


# --- resume and thank-you -------------------------------------------------------------------------


class ResumeAndThanksTests(StudentPageTestCase):
    def test_answers_saved_elsewhere_render_checked(self) -> None:
        self.agree()
        phq = self.ci("PHQ9")
        self.a.save_answer(phq.pk, 1, 2, 5.0)  # on another device
        self.a.save_answer(phq.pk, 2, 3, 5.0)
        page = self.client.get(self.url("take")).content.decode()
        self.assertRegex(page, rf'name="a-{phq.pk}-1" id="a-{phq.pk}-1-2" value="2" checked')
        self.assertRegex(page, rf'name="a-{phq.pk}-2" id="a-{phq.pk}-2-3" value="3" checked')
        self.assertNotRegex(page, rf'name="a-{phq.pk}-3" [^>]*checked')
        self.assertEqual(len(re.findall(r" checked", page)), 2)
        self.assertIn("2 of 13 answered", page)  # PHQ-9's 10 and C-SSRS's 3 shown at first
        self.assertIn("questionnaire.js", page)

    def test_instrument_name_recall_and_instructions_are_shown(self) -> None:
        self.agree()
        page = self.client.get(self.url("take")).content.decode()
        self.assertIn("Patient Health Questionnaire (PHQ-9)", page)
        self.assertIn("Over the last two weeks, how often have you been bothered", page)
        self.assertNotIn('<p class="xl-recall">Over the last two weeks</p>', page)  # said already
        self.assertIn('<p class="xl-recall">In the past month (question 6 over your lifetime', page)
        self.assertIn("Answer yes or no.", page)

    def test_thanks_before_submit_goes_back_to_the_questionnaire(self) -> None:
        self.assertRedirects(self.client.get(self.url("thanks")), self.url("take"))

    def test_thanks_shows_help_and_never_a_score(self) -> None:
        CentreSettings.objects.update_or_create(school=self.school, defaults={
            "help_phone": "010-6275 8888", "help_hours": "周一至周五 8:30–17:00",
            "help_place": "学生活动中心 3 楼", "help_text": "也可以在线预约咨询。"})
        # Total 23: "moderately severe", screen positive.
        self.agree()
        for ci in self.cis():
            answers = answers_for(ci.instrument, 3 if ci.instrument.code == "PHQ9" else 0)
            if ci.instrument.code == "PHQ9":
                answers.update({8: 2, 9: 0})
            for item, value in answers.items():
                self.a.save_answer(ci.pk, item, value, 4.0)
        self.a.submit("k-thanks")
        result = Result.objects.get(instrument__code="PHQ9")
        self.assertEqual(result.detail["scores"]["total"], 23)
        for lang in ("en", "zh-hans"):
            response = self.client.get(self.url("thanks"), HTTP_ACCEPT_LANGUAGE=lang)
            self.assertEqual(response.status_code, 200)
            main = re.search(r'<main id="main".*?</main>', response.content.decode(), re.S).group(0)
            main = re.sub(r"<(style|script)\b.*?</\1>", "", main, flags=re.S)
            for shown in ("12356", "010-6275 8888", "周一至周五 8:30–17:00", "学生活动中心 3 楼", "也可以在线预约咨询。"):
                self.assertIn(shown, main)
            labelled = result.labelled()
            self.assertNotRegex(main, r"(?<![\d.:-])23(?!\d)", f"the total on the thank-you page ({lang})")
            for hidden in ("Moderately severe", "中重度", "Screen positive", "筛查阳性",
                           labelled["classification"], "PHQ", "C-SSRS", "score", "分数"):
                self.assertNotIn(hidden, main, f"{hidden!r} on the thank-you page ({lang})")
        self.assertContains(self.client.get(self.url("thanks")), "Thank you for taking part")

    def test_thanks_without_centre_settings_shows_the_hotline(self) -> None:
        self.take(self.a, 0)
        response = self.client.get(self.url("thanks"))
        self.assertContains(response, 'href="tel:12356"')
        self.assertContains(response, "Ask your head teacher or 辅导员 how to reach the counselling centre")
