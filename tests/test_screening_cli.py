"""The screening commands: ``xinlian score``, ``xinlian instruments ...``, ``xinlian rescore``; the
vectorised rescore itself; and the demo's screening seed."""

from __future__ import annotations

import io
import json
import random
import tempfile
import uuid
from contextlib import redirect_stdout
from pathlib import Path

import numpy as np
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import TestCase
from django.urls import reverse
from django.utils import translation

from xinlian.access.models import AuditEvent
from xinlian.care.models import Alert, RiskEntry
from xinlian.cli import main
from xinlian.network.demo import seed_demo
from xinlian.network.models import User
from xinlian.screening.demo import demo_answers, seed_demo_screening
from xinlian.screening.engine import builtin_definitions
from xinlian.screening.models import (
    Assignment,
    AssignmentStatus,
    Instrument,
    Interview,
    Result,
    RuleSet,
    act_on_submissions,
)
from xinlian.screening.rescore import answer_matrix, rescore, result_rows

from .screening_base import ScreeningTestCase, answers_for

PHQ9_9 = "1,1,1,1,1,1,1,2,0,0"   # total 9, item 9 = 0
PHQ9_10 = "1,1,1,1,1,1,2,2,0,0"  # total 10


def run(*args: str) -> str:
    out = io.StringIO()
    with translation.override("en"):
        call_command(*args, stdout=out)
    return out.getvalue()


def refused(*args: str) -> CommandError:
    with translation.override("en"), TestCase().assertRaises(CommandError) as ctx:
        call_command(*args, stdout=io.StringIO())
    return ctx.exception


class ScoreCommandTests(TestCase):
    def test_phq9_at_the_cut_off(self):
        below = json.loads(run("score", "PHQ9", "--answers", PHQ9_9))
        self.assertEqual(below["scores"], {"total": 9})
        self.assertEqual((below["classification"], below["positive"], below["clauses"]), ("negative", False, []))
        self.assertEqual(below["bands"], {"total": "mild"})
        at = json.loads(run("score", "PHQ9", "--answers", PHQ9_10))
        self.assertEqual((at["classification"], at["positive"], at["clauses"]), ("positive", True, ["total_cutoff"]))
        self.assertEqual(at["bands"], {"total": "moderate"})
        self.assertEqual((at["instrument_version"], at["rule_version"]), ("1.0", "xl-2026.1"))
        self.assertEqual((at["critical"], at["flags"], at["settings"]), ([], [], {"cutoff": 10}))

    def test_critical_item_and_json_answers(self):
        answers = {str(n): 0 for n in range(1, 11)} | {"9": 1}
        result = json.loads(run("score", "PHQ9", "--json-answers", json.dumps(answers)))
        self.assertEqual(result["critical"], ["item9"])
        self.assertFalse(result["positive"])

    def test_settings_and_rule_sets(self):
        custom = json.loads(run("score", "PHQ9", "--answers", PHQ9_9, "--set", "cutoff=9"))
        self.assertTrue(custom["positive"])
        self.assertEqual(custom["rule_version"], "xl-2026.1+custom")
        RuleSet.objects.create(instrument_code="PHQ9", version="centre-7", overrides={"cutoff": 7}, active=False)
        ruled = json.loads(run("score", "PHQ9", "--answers", "1,1,1,1,1,1,1,0,0,0", "--rules", "centre-7"))
        self.assertEqual((ruled["positive"], ruled["rule_version"], ruled["settings"]), (True, "centre-7", {"cutoff": 7}))
        default = json.loads(run("score", "PHQ9", "--answers", "1,1,1,1,1,1,1,0,0,0"))
        self.assertEqual((default["positive"], default["rule_version"]), (False, "xl-2026.1"))

    def test_skip_logic_items_may_be_left_empty(self):
        spec = builtin_definitions()["CSSRS"]
        answers = answers_for(Instrument.latest("CSSRS"), 0)
        hidden = [n for n in spec.item_numbers if n not in answers]
        self.assertTrue(hidden, "the C-SSRS asks some items only after certain answers")
        text = ",".join("" if n in hidden else str(answers[n]) for n in spec.item_numbers)
        self.assertFalse(json.loads(run("score", "CSSRS", "--answers", text))["positive"])
        # A value for an item that is not asked is a problem too.
        filled = ",".join(str(answers.get(n, 0)) for n in spec.item_numbers)
        error = refused("score", "CSSRS", "--answers", filled)
        self.assertIn(f"Question {hidden[0]} is not asked.", str(error))

    def test_bad_answers_exit_2_listing_every_problem(self):
        error = refused("score", "PHQ9", "--answers", "1,x,7,1,1,1,1,1,1")
        self.assertEqual(error.returncode, 2)
        message = str(error)
        for part in ("PHQ9 has 10 items (1–10); 9 values were given.", "Question 2: 'x' is not a whole number.",
                     "7 is not one of the options of question 3."):
            self.assertIn(part, message)
        missing = refused("score", "PHQ9", "--answers", "0,0,0,0,0,0,0,0,,")
        self.assertIn("Question 9 is not answered yet.", str(missing))
        self.assertIn("Question 10 is not answered yet.", str(missing))
        bad_set = refused("score", "PHQ9", "--answers", PHQ9_9, "--set", "cutoff=ten", "--set", "nope=1",
                          "--rules", "nosuch")
        self.assertEqual(bad_set.returncode, 2)
        for part in ("cutoff: 'ten' is not a valid number", "nope: unknown setting of PHQ9",
                     "No rule version nosuch for PHQ9."):
            self.assertIn(part, str(bad_set))

    def test_unknown_code_exit_2(self):
        error = refused("score", "NOPE", "--answers", "1")
        self.assertEqual(error.returncode, 2, str(error))
        self.assertIn("Unknown instrument NOPE", str(error))
        self.assertIn("PHQ9", str(error))

    def test_the_xinlian_entry_point_maps_the_names(self):
        # --help only: a command run from the command line closes the database connection after.
        for name in ("score", "instruments", "rescore"):
            with self.subTest(name=name), redirect_stdout(io.StringIO()) as help_out, \
                    self.assertRaises(SystemExit) as ctx:
                main(["xinlian", name, "--help"])
            self.assertEqual(ctx.exception.code, 0)
            self.assertIn("usage", help_out.getvalue())


BAD_INSTRUMENT = """
code: MYQ
version: "1.0"
rules_version: r1
name: {zh-Hans: 我的问卷, en: Mine}
licence: {status: open, note: {zh-Hans: 开放, en: open}}
source: own
wording: description
option_sets:
  yn: [{value: 0, label: {zh-Hans: 否, en: "No"}}, {value: 0, label: {zh-Hans: 是, en: "Yes"}}]
items:
  - {number: 1, construct: a, options: yn, text: {zh-Hans: 一, en: one}}
  - {number: 1, construct: b, options: nope, text: {zh-Hans: 二, en: two}}
scores:
  - {id: total, op: sum, items: [1, 5], label: {zh-Hans: 总分, en: Total}}
"""


def own_instrument(code: str = "MYQ") -> str:
    return (BAD_INSTRUMENT.replace("{value: 0, label: {zh-Hans: 是", "{value: 1, label: {zh-Hans: 是")
            .replace("  - {number: 1, construct: b, options: nope", "  - {number: 2, construct: b, options: yn")
            .replace("items: [1, 5]", "items: [1, 2]").replace("code: MYQ", f"code: {code}"))


class InstrumentsCommandTests(TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def write(self, name: str, text: str) -> str:
        path = self.dir / name
        path.write_text(text, encoding="utf-8")
        return str(path)

    def test_list(self):
        out = run("instruments", "list")
        phq9 = next(line for line in out.splitlines() if line.startswith("PHQ9"))
        for part in ("1.0", "open", "10", "shipped"):
            self.assertIn(part, phq9)
        self.assertIn("restricted", next(line for line in out.splitlines() if line.startswith("CSSRS")))

    def test_show_as_text_and_json(self):
        with translation.override("en"):
            out = run("instruments", "show", "PHQ9")
        for part in ("PHQ9 v1.0", "Licence: open", "9. (description) Thoughts", "[not scored]",
                     "total — Total: sum(1-9)", "total: ≥0 None or minimal, ≥5 Mild",
                     "total_cutoff — Total at or above the cut-off: total ≥ cutoff (10)",
                     "item9 — Item 9 (thoughts of death or self-harm) ≥ 1: item 9 ≥ 1 [on]",
                     "cutoff = 10 (default 10; number)", "Wang 2014 recommends 7"):
            self.assertIn(part, out)
        raw = json.loads(run("instruments", "show", "phq9", "--json"))
        self.assertEqual((raw["code"], raw["version"], len(raw["items"])), ("PHQ9", "1.0", 10))
        self.assertEqual(refused("instruments", "show", "PHQ9", "--version", "9.9").returncode, 2)

    def test_validate_lists_every_error_and_loads_nothing(self):
        before = Instrument.objects.count()
        bad = self.write("bad.yaml", BAD_INSTRUMENT)
        good = self.write("good.yaml", own_instrument())
        out = io.StringIO()
        with translation.override("en"), self.assertRaises(CommandError) as ctx:
            call_command("instruments", "validate", good, bad, str(self.dir / "missing.yaml"), stdout=out)
        text = out.getvalue()
        self.assertIn("good.yaml: OK — MYQ v1.0, 2 items", text)
        self.assertIn("bad.yaml: 4 errors", text)
        for part in ("option_sets.yn: option values repeat", "items: item numbers repeat",
                     "items[1].options: unknown option set 'nope'", "scores[0].items: item 5 is not a scored item",
                     "missing.yaml: cannot read"):
            self.assertIn(part, text)
        self.assertIn("2 of 3 files have errors", str(ctx.exception))
        self.assertEqual(Instrument.objects.count(), before)
        self.assertIn("OK", run("instruments", "validate", good))

    def test_load_a_centres_own_instrument(self):
        director = User.objects.create_user(username="T9", password="x", full_name="主任", kind="staff")
        out = run("instruments", "load", self.write("mine.yaml", own_instrument()), "--as", "T9")
        self.assertIn("Loaded MYQ v1.0 (2 items)", out)
        inst = Instrument.objects.get(code="MYQ")
        self.assertEqual((inst.builtin, inst.uploaded_by), (False, director))
        self.assertIn("already loaded", str(refused("instruments", "load", self.write("m2.yaml", own_instrument()))))
        shipped = refused("instruments", "load", self.write("p.yaml", own_instrument("PHQ9")))
        self.assertIn("code of a shipped instrument", str(shipped))
        self.assertIn("4 errors", str(refused("instruments", "load", self.write("bad.yaml", BAD_INSTRUMENT))))

    def test_load_text_is_all_or_nothing_with_row_errors(self):
        phq9 = Instrument.latest("PHQ9")
        answers = {n: 1 for n in range(1, 10)} | {10: 0}
        before = phq9.spec.score(answers)
        bad = self.write("bad.csv", "code,number,lang,text\nPHQ9,1,zh-Hans,官方第一题\nPHQ9,99,en,x\n"
                                    "NOPE,1,en,y\nPHQ9,2,fr,z\nPHQ9,3,en,\nPHQ9,x,en,w\n")
        error = refused("instruments", "load-text", bad)
        message = str(error)
        self.assertIn("5 errors; no wording was loaded", message)
        for part in ("line 3: PHQ9 has no item 99.", "line 4: unknown instrument code 'NOPE'.",
                     "line 5: language 'fr' is not zh-Hans or en.", "line 6: the text is empty.",
                     "line 7: item number 'x' is not a number."):
            self.assertIn(part, message)
        phq9.refresh_from_db()
        self.assertEqual(phq9.wording, {})
        good = self.write("good.tsv", "code\tnumber\tlang\ttext\nPHQ9\t1\tzh-Hans\t官方第一题\n"
                                      "PHQ9\t1\ten\tOfficial item one\nphq9\t2\tzh-hans\t官方第二题\n"
                                      "GAD7\t1\ten\tOfficial GAD one\n")
        out = run("instruments", "load-text", good)
        self.assertIn("PHQ9 v1.0: official wording for 2 of 10 items (en 1, zh-Hans 2).", out)
        self.assertIn("GAD7 v1.0: official wording for 1 of 8 items (en 1).", out)
        phq9 = Instrument.objects.get(pk=phq9.pk)
        self.assertEqual(phq9.item_text(1, "zh-Hans"), "官方第一题")
        self.assertEqual(phq9.item_text(1, "en"), "Official item one")
        self.assertEqual(phq9.item_text(2, "en"), "(description) Feeling down or hopeless")
        self.assertEqual(phq9.spec.score(answers), before)
        # A second file adds to (and may correct) what is there.
        run("instruments", "load-text", self.write("more.csv", "code,number,lang,text\nPHQ9,2,en,Item two\n"))
        phq9 = Instrument.objects.get(pk=phq9.pk)
        self.assertEqual((phq9.item_text(1, "en"), phq9.item_text(2, "en")), ("Official item one", "Item two"))

    def test_load_text_refuses_a_file_without_the_columns(self):
        error = refused("instruments", "load-text", self.write("x.csv", "code,item,text\nPHQ9,1,x\n"))
        self.assertIn("missing: number, lang", str(error))


class RescoreTests(ScreeningTestCase):
    """student_a1 total 8, roommate total 12 (positive), student_b1 total 0; a rule set moves the
    cut-off."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.roommate = Assignment.objects.get(campaign=cls.campaign, user=cls.roommate_a1.user)
        cls.b1 = Assignment.objects.get(campaign=cls.campaign, user=cls.student_b1.user)
        for assignment, answers in ((cls.assignment_a1, {1: 2, 2: 2, 3: 2, 4: 2}),
                                    (cls.roommate, {1: 3, 2: 3, 3: 3, 4: 3}),
                                    (cls.b1, {})):
            cls.submit(assignment, answers)

    @classmethod
    def submit(cls, assignment: Assignment, overrides: dict[int, int]) -> None:
        ci = cls.campaign.campaign_instruments.get()
        answers = answers_for(ci.instrument, 0) | overrides
        assignment.consent(True, 1)
        assignment.save_answers([(ci.pk, k, v, 3.0) for k, v in answers.items()])
        assignment.submit(uuid.uuid4().hex)
        act_on_submissions()

    def result(self, assignment: Assignment) -> Result:
        return Result.objects.get(assignment=assignment)

    def test_dry_run_shows_the_changes_and_changes_nothing(self):
        self.assertEqual(Interview.objects.count(), 1)  # the roommate's
        RuleSet.objects.create(instrument_code="PHQ9", version="centre-7", overrides={"cutoff": 7})
        before = list(Result.objects.order_by("pk").values_list("classification", "rule_version", "data"))
        out = run("rescore", "--campaign", str(self.campaign.pk))
        for part in ("3 submitted responses", "PHQ9 v1.0: 3 responses, scored with rules xl-2026.1 (3) → rules "
                     "centre-7; 3 results change.", "negative (Screen negative) → positive (Screen positive): 1",
                     "Newly positive: 1; no longer positive: 0.", "Dry run: nothing was changed"):
            self.assertIn(part, out)
        self.assertEqual(list(Result.objects.order_by("pk").values_list("classification", "rule_version", "data")),
                         before)
        self.assertEqual(Interview.objects.count(), 1)
        self.assertFalse(AuditEvent.objects.filter(action="screening.rescore").exists())

    def test_apply_rewrites_results_and_puts_the_newly_positive_on_the_interview_list(self):
        RuleSet.objects.create(instrument_code="PHQ9", version="centre-7", overrides={"cutoff": 7})
        out = run("rescore", "--campaign", str(self.campaign.pk), "--apply")
        self.assertIn("Applied: 3 results rewritten, 1 students put on the interview list", out)
        a1 = self.result(self.assignment_a1)
        self.assertEqual((a1.classification, a1.positive, a1.rule_version), ("positive", True, "centre-7"))
        spec = a1.instrument.spec
        expected = spec.score({n: 0 for n in range(1, 11)} | {1: 2, 2: 2, 3: 2, 4: 2},
                              overrides={"cutoff": 7}, rule_version="centre-7")
        self.assertEqual(a1.detail, expected)
        self.assertEqual(self.result(self.b1).rule_version, "centre-7")
        interview = Interview.objects.get(assignment=self.assignment_a1)
        self.assertFalse(interview.urgent)
        self.assertEqual(Interview.objects.count(), 2)
        self.assertIsNone(RiskEntry.current_for(self.student_a1))  # never a level
        event = AuditEvent.objects.get(action="screening.rescore")
        self.assertEqual((event.actor_id, event.object_id), (self.director.pk, str(self.campaign.pk)))
        self.assertIn("newly_positive:1", event.detail)
        # Again: nothing left to change.
        self.assertIn("0 results change", run("rescore", "--campaign", str(self.campaign.pk)))

    def test_results_leave_room_in_each_page_for_a_rescore(self):
        """On PostgreSQL a rescore then updates rows in place (migration 0003); SQLite has no
        such setting."""
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'screening_result'")
                self.assertEqual(cursor.fetchone()[0], ["fillfactor=50"])

    def test_a_stricter_rule_keeps_existing_interviews(self):
        RuleSet.objects.create(instrument_code="PHQ9", version="strict-15", overrides={"cutoff": 15}, active=False)
        report = rescore(self.campaign, rules="strict-15", apply=True, actor=self.psych_teacher)
        self.assertEqual(report.instruments[0].no_longer_positive, 1)
        self.assertFalse(self.result(self.roommate).positive)
        self.assertTrue(Interview.objects.filter(assignment=self.roommate).exists())
        self.assertEqual(AuditEvent.objects.get(action="screening.rescore").actor, self.psych_teacher)

    def test_a_newly_hit_critical_item_gets_an_urgent_interview_not_an_alert(self):
        b1 = self.result(self.b1)
        resp = b1.response
        payload = resp.payload
        payload["answers"]["9"] = 1  # as if the item had been answered so (no alert was raised)
        resp.payload = payload
        resp.save()
        alerts = Alert.objects.count()
        report = rescore(self.campaign, apply=True)
        self.assertEqual(report.instruments[0].newly_critical, 1)
        self.assertTrue(Interview.objects.get(assignment=self.b1).urgent)
        self.assertEqual(Alert.objects.count(), alerts)

    def test_too_fast_flags_are_kept(self):
        Result.objects.filter(assignment=self.b1).update(flags=["too_fast"])
        RuleSet.objects.create(instrument_code="PHQ9", version="centre-7", overrides={"cutoff": 7})
        rescore(self.campaign, apply=True)
        b1 = self.result(self.b1)
        self.assertEqual((b1.flags, b1.detail["flags"]), (["too_fast"], ["too_fast"]))

    def test_unknown_campaign_or_rule_version_exit_2(self):
        self.assertEqual(refused("rescore", "--campaign", "999999").returncode, 2)
        error = refused("rescore", "--campaign", str(self.campaign.pk), "--rules", "nosuch")
        self.assertEqual(error.returncode, 2)
        self.assertIn("rule version nosuch", str(error))
        self.assertEqual(refused("rescore", "--campaign", str(self.campaign.pk), "--as", "nobody").returncode, 2)

    def test_rules_by_code(self):
        RuleSet.objects.create(instrument_code="PHQ9", version="c7", overrides={"cutoff": 7}, active=False)
        report = rescore(self.campaign, rules={"PHQ9": "c7"})
        self.assertEqual((report.instruments[0].rule_version, report.newly_positive), ("c7", 1))
        self.assertEqual(Result.objects.filter(rule_version="c7").count(), 0)
        self.assertIn("→ rules c7; 3 results change", run("rescore", "--campaign", str(self.campaign.pk),
                                                          "--rules", "phq9=c7"))
        error = refused("rescore", "--campaign", str(self.campaign.pk), "--rules", "GAD7=c7")
        self.assertEqual(error.returncode, 2)
        self.assertIn("This campaign has no instrument GAD7.", str(error))


class VectorisedPartsTests(TestCase):
    def test_answer_matrix_equals_definition_matrix(self):
        spec = builtin_definitions()["PHQ9"]
        answers = [{n: n % 4 for n in range(1, 11)},
                   {10: 1, 1: 3, 5: 2},                     # out of order, incomplete
                   {},
                   {n: 0 for n in range(1, 11)} | {42: 1}]  # an unknown item is ignored
        payloads = [json.dumps({"answers": {str(k): v for k, v in a.items()}, "seconds": {"1": 2.5}},
                               separators=(",", ":")) for a in answers]
        payloads[2] = json.dumps({"seconds": {}, "answers": {}})  # another key order, with spaces
        np.testing.assert_array_equal(answer_matrix(spec, payloads), spec.matrix(answers))
        full = [{n: (n + r) % 4 for n in range(1, 11)} for r in range(5)]
        text = [json.dumps({"answers": {str(k): v for k, v in a.items()}, "seconds": {}}, separators=(",", ":"))
                for a in full]
        np.testing.assert_array_equal(answer_matrix(spec, text), spec.matrix(full))
        self.assertEqual(answer_matrix(spec, []).shape, (0, 10))

    def test_result_rows_equal_batch_row_for_every_shipped_instrument(self):
        rng = np.random.default_rng(7)
        for code, spec in builtin_definitions().items():
            with self.subTest(code=code):
                m = np.column_stack([rng.choice(it.values, size=400) for it in spec.items]).astype(float)
                batch = spec.score_matrix(m, spec.defaults)
                rows = np.arange(0, 400, 3)
                fast = result_rows(batch, rows, "v-test")
                slow = [batch.row(int(r)) | {"rule_version": "v-test"} for r in rows]
                self.assertEqual([json.dumps(x) for x in fast], [json.dumps(x) for x in slow])


class DemoScreeningTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        seed_demo(400, 5, year=2025)
        cls.seeded = seed_demo_screening(5)

    def test_open_freshman_census_with_answers_alerts_and_interviews(self):
        freshman = self.seeded.campaigns[0]
        codes = [i.code for i in freshman.ordered_instruments()]
        expected = ["UPI", "SCL90"] if {"UPI", "SCL90"} <= set(builtin_definitions()) else ["PHQ9", "GAD7"]
        self.assertEqual(codes, expected)
        self.assertEqual((freshman.name, freshman.cohort, freshman.status()), ("2025级新生心理普查", 2025, "open"))
        progress = freshman.progress(freshman.assignments.all())
        self.assertEqual((progress["completed"], progress["started"], progress["declined"]), (9, 3, 1))
        self.assertGreater(progress["not_started"], 50)
        self.assertFalse(freshman.assignments.exclude(student__enrolment_year=2025).exists())
        results = Result.objects.filter(campaign=freshman)
        self.assertEqual(results.filter(critical=True).values("assignment").distinct().count(), 1)
        positive = set(results.filter(positive=True).values_list("assignment", flat=True))
        self.assertEqual(len(positive), 3)  # the critical one and two positive screens
        alert = Alert.objects.get()
        self.assertEqual((alert.level, alert.source), ("red", "screening"))
        interviews = Interview.objects.filter(campaign=freshman)
        self.assertEqual(set(interviews.values_list("assignment", flat=True)), positive)
        self.assertEqual(interviews.filter(urgent=True).get().student, alert.student)
        self.assertFalse(results.exclude(flags=[]).exists())

    def test_the_demo_student_can_take_a_screening_on_the_phone(self):
        student = User.objects.get(username="student")
        mine = Assignment.objects.get(user=student)
        self.assertEqual(mine.status, AssignmentStatus.INVITED)
        self.assertTrue(mine.campaign.is_open())
        self.client.force_login(student)
        response = self.client.post(reverse("screening-api:consent", args=[mine.pk]),
                                    {"agree": True, "version": mine.campaign.consent_version},
                                    content_type="application/json")
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.json()["may_answer"])
        self.assertEqual(self.seeded.campaigns[1].ordered_instruments()[0].code, "PHQ9")
        self.assertEqual(self.seeded.submitted, 12)

    def test_demo_answers_match_their_profile(self):
        rng = random.Random(1)
        for code, spec in builtin_definitions().items():
            with self.subTest(code=code):
                for profile in ("negative", "positive"):
                    result = spec.score(demo_answers(spec, profile, rng))
                    self.assertEqual(result["positive"], profile == "positive")
                    self.assertEqual(result["critical"], [])
                if spec.default_critical_ids():
                    self.assertTrue(spec.score(demo_answers(spec, "critical", rng))["critical"])
