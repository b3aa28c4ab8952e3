"""The scoring engine itself: refusing malformed instrument files (every error at once, each
naming its field), checking answers, settings overrides, rule versions, and the matrix path
agreeing with one-by-one scoring."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import numpy as np
import pytest
import yaml
from django.utils import translation

from xinlian.screening.engine import (
    BUILTIN_DIR,
    AnswerError,
    AnswersInvalid,
    Definition,
    DefinitionError,
    SettingsError,
    builtin_definitions,
    load_file,
)

PHQ9_TEXT = (BUILTIN_DIR / "phq9.yaml").read_text(encoding="utf-8")
CODES = ["CSSRS", "DASS21", "GAD7", "K10", "K6", "MHT", "PHQ9", "PHQA", "PSS10", "SAS", "SCL90",
         "SDS", "UPI"]


def base() -> dict[str, Any]:
    return yaml.safe_load(PHQ9_TEXT)


def errors_of(data: Any) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        Definition.from_data(data, "test.yaml")
    assert info.value.source == "test.yaml"
    return info.value.errors


def errors_of_text(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        Definition.from_text(text, "test.yaml")
    return info.value.errors


# --- loading --------------------------------------------------------------------------------------


def test_builtin_definitions_load_all_thirteen():
    defs = builtin_definitions()
    assert sorted(defs) == CODES
    for code, d in defs.items():
        assert d.code == code
        assert d.rules_version and d.version


def test_each_builtin_file_loads_on_its_own():
    for path in sorted(BUILTIN_DIR.glob("*.yaml")):
        d = load_file(path)
        assert d.code in CODES
        assert repr(d) == f"<Definition {d.code} v{d.version}>"


def test_json_text_is_accepted():
    d = Definition.from_text(json.dumps(base()), "phq9.json")
    assert d.code == "PHQ9"
    assert d.score({k: 1 for k in range(1, 11)})["scores"]["total"] == 9


def test_several_schema_errors_at_once_each_name_its_field():
    data = base()
    del data["code"]
    data["version"] = 1
    data["licence"]["status"] = "free"
    data["items"][2]["number"] = 0
    data["option_sets"]["freq4"][1]["label"] = {"en": "Several days"}
    errors = errors_of(data)
    assert len(errors) == 5, errors
    joined = "\n".join(errors)
    assert any(e.startswith("(file):") and "'code'" in e for e in errors), joined
    assert any(e.startswith("version:") for e in errors), joined
    assert any(e.startswith("licence.status:") for e in errors), joined
    assert any(e.startswith("items[2].number:") for e in errors), joined
    assert any(e.startswith("option_sets.freq4[1].label:") and "zh-Hans" in e for e in errors), joined


def test_unknown_field_is_refused():
    data = base()
    data["scores"][0]["weight"] = 2
    assert errors_of(data) == [
        "scores[0]: Additional properties are not allowed ('weight' was unexpected)"]


def test_several_meaning_errors_at_once():
    data = base()
    data["items"][0]["options"] = "freq5"                               # unknown option set
    data["classes"][0]["clauses"][0]["when"]["value"] = "$threshold"     # unknown setting
    data["critical"][0]["when"] = {"score": "sum", "op": "ge", "value": 1}  # unknown score
    data["bands"][0]["ranges"][2]["from"] = 4                           # 0, 5, 4, 15, 20
    errors = errors_of(data)
    assert sorted(errors) == sorted([
        "items[0].options: unknown option set 'freq5'",
        "classes[0].clauses[0].when.value: unknown setting '$threshold'",
        "critical[0].when.score: unknown score 'sum'",
        "bands[0].ranges: 'from' values must strictly ascend",
    ])


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d["bands"][0]["ranges"][1].update({"from": 0}),
     "bands[0].ranges: 'from' values must strictly ascend"),
    (lambda d: d["bands"][0].update({"score": "sum"}), "bands[0].score: unknown score 'sum'"),
    (lambda d: d["critical"][0]["when"].update({"item": 11}),
     "critical[0].when.item: item 11 does not exist"),
    (lambda d: d["scores"][0].update({"items": ["1-10"]}),
     "scores[0].items: item 10 is not a scored item"),
    (lambda d: d["scores"][0].update({"items": ["1-9", 9]}),
     "scores[0].items: item 9 is listed more than once"),
    (lambda d: d["scores"][0].update({"items": ["9-1"]}), "scores[0].items: empty range '9-1'"),
    (lambda d: d["scores"].append({"id": "total", "op": "sum", "items": [1],
                                   "label": {"zh-Hans": "x", "en": "x"}}),
     "scores[1].id: 'total' repeats"),
    (lambda d: d["scores"].append({"id": "pct", "op": "scale", "of": "raw", "factor": 4,
                                   "label": {"zh-Hans": "x", "en": "x"}}),
     "scores[1].of: 'raw' is not an earlier score"),
    (lambda d: d["scores"].append({"id": "n", "op": "count", "items": "all",
                                   "label": {"zh-Hans": "x", "en": "x"}}),
     "scores[1].value: required for op 'count'"),
    (lambda d: d["classes"][0]["clauses"][0]["when"].update({"op": "$cutoff"}),
     "classes[0].clauses[0].when.op: setting '$cutoff' is a number, expected op"),
    (lambda d: d["settings"]["cutoff"].update({"default": "ten"}),
     "settings.cutoff.default: 'ten' is not a valid number"),
    (lambda d: d["critical"][0].update({"enabled": "$cutoff"}),
     "critical[0].enabled: setting '$cutoff' is a number, expected switch"),
    (lambda d: d["classes"].insert(0, {"key": "all", "label": {"zh-Hans": "x", "en": "x"}}),
     "classes[0].clauses: only the last class may have no clauses"),
    (lambda d: d["classes"][1].update({"key": "positive"}), "classes[1].key: 'positive' repeats"),
    (lambda d: d["items"][9].update({"number": 9}), "items: item numbers repeat"),
    (lambda d: d["option_sets"]["freq4"][1].update({"value": 0}),
     "option_sets.freq4: option values repeat"),
    (lambda d: d.update({"reverse": [12]}), "reverse: item 12 does not exist"),
    (lambda d: d["items"][1].update({"show_if": {"score": "total", "value": 1}}),
     "items[1].show_if.score: unknown score 'total'"),
    (lambda d: d.update({"quality": [{"id": "straight_line", "action": "review",
                                      "label": {"zh-Hans": "x", "en": "x"},
                                      "when": {"item": 1}}]}),
     "quality: ids 'too_fast' and 'straight_line' are reserved for the engine"),
])
def test_meaning_error(change, expected):
    data = base()
    change(data)
    assert errors_of(data) == [expected]


EXPR_CASES = [
    ("__import__('os')", "scores[1].expr: only + - * / numbers and names are allowed"),
    ("total ** 2", "scores[1].expr: only + - * / numbers and names are allowed"),
    ("total // 2", "scores[1].expr: only + - * / numbers and names are allowed"),
    ("total if total else 1", "scores[1].expr: only + - * / numbers and names are allowed"),
    ("'abc'", "scores[1].expr: only + - * / numbers and names are allowed"),
    ("True", "scores[1].expr: only + - * / numbers and names are allowed"),
    ("total.real", "scores[1].expr: only + - * / numbers and names are allowed"),
    ("total +", "scores[1].expr: not an arithmetic expression"),
    ("total / others", "scores[1].expr: unknown name 'others'"),
    ("total * mode", "scores[1].expr: setting 'mode' is not a number"),
]


@pytest.mark.parametrize(("expr", "expected"), EXPR_CASES)
def test_bad_expressions_are_refused_at_load(expr, expected):
    data = base()
    data["settings"]["mode"] = {"kind": "mode", "default": "any", "note": "x"}
    data["scores"].append({"id": "derived", "op": "expr", "expr": expr,
                           "label": {"zh-Hans": "x", "en": "x"}})
    assert errors_of(data) == [expected]


def test_good_expression_with_a_number_setting():
    data = base()
    data["scores"].append({"id": "scaled", "op": "expr", "expr": "-(total - cutoff) * 2 / 4 + 1.5",
                           "label": {"zh-Hans": "x", "en": "x"}})
    d = Definition.from_data(data)
    result = d.score({k: 2 for k in range(1, 11)})  # total 18, cutoff 10
    assert result["scores"]["scaled"] == -(18 - 10) * 2 / 4 + 1.5
    assert d.score({k: 2 for k in range(1, 11)}, overrides={"cutoff": 20})["scores"]["scaled"] == (
        -(18 - 20) * 2 / 4 + 1.5)


@pytest.mark.parametrize(("text", "expected"), [
    ("code: [PHQ9\nversion: 1\n",
     "(file): not valid YAML/JSON: line 2, column 8: expected ',' or ']', but got ':'"),
    ("code: PHQ9\n  version: '1'\n",
     "(file): not valid YAML/JSON: line 2, column 10: mapping values are not allowed here"),
    ("code: !!python/object/apply:os.system ['true']\n",
     "(file): not valid YAML/JSON: line 1, column 7: could not determine a constructor for the "
     "tag 'tag:yaml.org,2002:python/object/apply:os.system'"),
    ("- just\n- a list\n", "(file): must be a mapping of fields"),
    ("", "(file): must be a mapping of fields"),
])
def test_invalid_yaml_syntax_names_the_line(text, expected):
    assert errors_of_text(text) == [expected]


def test_repeated_yaml_key_is_refused():
    text = PHQ9_TEXT.replace("    default: 10\n", "    default: 10\n    default: 7\n")
    assert text != PHQ9_TEXT
    line = text.splitlines().index("    default: 7") + 1
    assert errors_of_text(text) == [
        f"(file): not valid YAML/JSON: line {line}, column 5: key 'default' repeats in one mapping"]


def test_repeated_key_in_a_flow_mapping_is_refused():
    text = PHQ9_TEXT.replace("{number: 9, construct:", "{number: 9, number: 8, construct:")
    assert text != PHQ9_TEXT
    assert "repeats" in errors_of_text(text)[0]


def test_anchors_are_refused_merge_keys_without_them_still_work():
    # An alias bomb (“billion laughs”) is built from anchors: they are refused outright
    # (tests/test_hostile_input.py has the bomb itself).
    text = PHQ9_TEXT.replace("label: {zh-Hans: 筛查阳性, en: Screen positive}",
                             "label: &pos {zh-Hans: 筛查阳性, en: Screen positive}")
    text = text.replace("label: {zh-Hans: 筛查阴性, en: Screen negative}",
                        "label: {<<: *pos, en: Screen negative}")
    assert text.count("*pos") == 1
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "&pos" in row)
    with translation.override("en"):
        assert errors_of_text(text) == [f"(file): line {line}: anchors and aliases (& and *) are not allowed "
                                        "in an instrument file; write each value out."]
    text = PHQ9_TEXT.replace("label: {zh-Hans: 筛查阴性, en: Screen negative}",
                             "label: {<<: {zh-Hans: 筛查阳性, en: x}, en: Screen negative}")
    d = Definition.from_text(text)
    assert d.classes[1]["label"] == {"zh-Hans": "筛查阳性", "en": "Screen negative"}


# --- answers --------------------------------------------------------------------------------------


@pytest.fixture
def phq9() -> Definition:
    return builtin_definitions()["PHQ9"]


def full(value: int = 1) -> dict[int, int]:
    return {k: value for k in range(1, 11)}


def test_complete_answers_pass(phq9):
    assert phq9.check_answers(full()) == []


def test_too_few_answers_name_the_missing_items(phq9):
    answers = {k: 1 for k in range(1, 9)}
    assert phq9.check_answers(answers) == [AnswerError("missing", 9), AnswerError("missing", 10)]
    assert phq9.check_answers(answers, complete=False) == []


def test_too_many_answers_unknown_item(phq9):
    assert phq9.check_answers({**full(), 11: 1}) == [AnswerError("unknown_item", 11, 1)]
    assert phq9.check_answers({0: 1}, complete=False) == [AnswerError("unknown_item", 0, 1)]
    assert phq9.check_answers({"1": 1}, complete=False) == [AnswerError("unknown_item", "1", 1)]


@pytest.mark.parametrize("value", [4, -1, True, False, "1", 1.0, None])
def test_value_outside_the_options(phq9, value):
    assert phq9.check_answers({**full(), 3: value}) == [AnswerError("bad_value", 3, value)]


def test_value_checked_against_the_items_own_options():
    cssrs = builtin_definitions()["CSSRS"]
    assert cssrs.check_answers({1: 2}, complete=False) == [AnswerError("bad_value", 1, 2)]


def test_score_refuses_invalid_answers(phq9):
    with pytest.raises(AnswersInvalid) as info:
        phq9.score({1: 5, 2: 1})
    codes = [(e.code, e.item) for e in info.value.errors]
    assert codes == [("bad_value", 1)]
    with pytest.raises(AnswersInvalid) as info:
        phq9.score({1: 1})
    assert [e.item for e in info.value.errors] == list(range(2, 11))
    assert all(e.code == "missing" for e in info.value.errors)


# --- settings and rule versions -------------------------------------------------------------------


def test_effective_settings_merges_overrides():
    scl = builtin_definitions()["SCL90"]
    out = scl.effective_settings({"factor_op": "gt", "total_cutoff": 150, "alert_item15": True})
    assert out["factor_op"] == "gt" and out["total_cutoff"] == 150 and out["alert_item15"] is True
    assert out["positive_items_cutoff"] == 43
    assert scl.defaults["factor_op"] == "ge"  # defaults untouched
    assert scl.effective_settings() == scl.defaults


@pytest.mark.parametrize(("overrides", "message"), [
    ({"threshold": 5}, "threshold: unknown setting of SCL90"),
    ({"total_cutoff": "160"}, "total_cutoff: '160' is not a valid number"),
    ({"total_cutoff": True}, "total_cutoff: True is not a valid number"),
    ({"total_cutoff": None}, "total_cutoff: None is not a valid number"),
    ({"factor_op": "gte"}, "factor_op: 'gte' is not a valid op"),
    ({"factor_op": ["ge"]}, "factor_op: ['ge'] is not a valid op"),
    ({"factor_op": {"ge": 1}}, "factor_op: {'ge': 1} is not a valid op"),
    ({"alert_item15": 1}, "alert_item15: 1 is not a valid switch"),
    ({"alert_item15": "true"}, "alert_item15: 'true' is not a valid switch"),
])
def test_effective_settings_rejects_bad_overrides(overrides, message):
    scl = builtin_definitions()["SCL90"]
    with pytest.raises(SettingsError) as info:
        scl.effective_settings(overrides)
    assert info.value.errors == [message]


def test_effective_settings_reports_every_bad_override():
    upi = builtin_definitions()["UPI"]
    with pytest.raises(SettingsError) as info:
        upi.effective_settings({"class2_mode": "or", "cutoff": 25})
    assert info.value.errors == ["class2_mode: 'or' is not a valid mode",
                                 "cutoff: unknown setting of UPI"]
    sds = builtin_definitions()["SDS"]
    with pytest.raises(SettingsError):
        sds.effective_settings({"rounding": "ceil"})


def test_rule_version_is_recorded(phq9):
    assert phq9.score(full())["rule_version"] == phq9.rules_version == "xl-2026.1"
    assert phq9.score(full(), overrides={"cutoff": 7})["rule_version"] == "custom"
    assert phq9.score(full(), overrides={"cutoff": 7},
                      rule_version="centre-2026.2")["rule_version"] == "centre-2026.2"
    batch = phq9.score_matrix(phq9.matrix([full()]))
    assert batch.row(0)["rule_version"] == phq9.rules_version
    assert batch.row(0)["instrument_version"] == phq9.version


def test_overrides_change_the_result_not_the_definition(phq9):
    seven = {**full(0), 1: 3, 2: 3, 3: 1}
    assert phq9.score(seven)["positive"] is False
    assert phq9.score(seven, overrides={"cutoff": 7})["positive"] is True
    assert phq9.score(seven)["positive"] is False


def test_too_fast_flag(phq9):
    fast = {k: 0.5 for k in range(1, 11)}
    slow = {k: 4.0 for k in range(1, 11)}
    assert "too_fast" in phq9.score(full(), item_seconds=fast, min_median_seconds=1.5)["flags"]
    assert "too_fast" not in phq9.score(full(), item_seconds=slow, min_median_seconds=1.5)["flags"]
    assert "too_fast" not in phq9.score(full(), item_seconds=fast)["flags"]


def test_optional_critical_switches(phq9):
    assert phq9.optional_critical() == []
    assert phq9.default_critical_ids() == ["item9"]
    sds = builtin_definitions()["SDS"]
    assert [c["id"] for c in sds.optional_critical()] == ["item19"]
    assert sds.default_critical_ids() == []


# --- the matrix path ------------------------------------------------------------------------------


def random_rows(d: Definition, n: int, rng: random.Random) -> list[dict[int, int]]:
    rows = []
    for r in range(n):
        answers = {it.number: rng.choice(it.values) for it in d.items}
        if r % 2:  # half the rows without the answers skip logic hides
            shown = set(d.visible_items(answers))
            answers = {k: v for k, v in answers.items() if k in shown}
        rows.append(answers)
    return rows


@pytest.mark.parametrize("code", CODES)
def test_score_matrix_equals_row_by_row(code):
    d = builtin_definitions()[code]
    rng = random.Random(code)
    rows = random_rows(d, 1000, rng)
    # Switch every optional alert on and round half up, so the settings path is exercised too.
    overrides: dict[str, Any] = {}
    for key, s in d.settings_spec.items():
        if s["kind"] == "switch":
            overrides[key] = True
        elif s["kind"] == "rounding":
            overrides[key] = "round_half_up"
    batch = d.score_matrix(d.matrix(rows), d.effective_settings(overrides))
    assert batch.positive.shape == (1000,)
    for r, answers in enumerate(rows):
        one = d.score(answers, overrides=overrides or None, rule_version=d.rules_version)
        assert batch.row(r) == one, (code, r)
        assert bool(batch.positive[r]) is one["positive"]
    for values in batch.scores.values():
        assert isinstance(values, np.ndarray) and values.shape == (1000,)


def test_definition_data_is_not_changed_by_scoring(phq9):
    before = copy.deepcopy(phq9.data)
    phq9.score(full(3), overrides={"cutoff": 3})
    assert phq9.data == before


@pytest.mark.parametrize("code", [c for c in CODES if not builtin_definitions()[c].skip_logic])
def test_without_skip_logic_the_shortcut_scores_as_the_general_path(code):
    # An instrument without show_if shows every item: no matrix is built for that. The general
    # path, forced on a copy, must see the same items and score the same, unanswered items too.
    d = builtin_definitions()[code]
    general = copy.copy(d)
    general.skip_logic = True
    rng = random.Random(f"shortcut-{code}")
    rows = random_rows(d, 200, rng)
    rows += [{k: v for k, v in r.items() if rng.random() < 0.7} for r in rows[:60]]
    for answers in rows[:60]:
        assert d.visible_items(answers) == general.visible_items(answers)
        assert d.check_answers(answers) == general.check_answers(answers)
    settings = d.effective_settings({})
    m = d.matrix(rows)
    assert np.isnan(m).any()
    fast, slow = d.score_matrix(m, settings), general.score_matrix(m, settings)
    for r in range(len(rows)):
        assert fast.row(r) == slow.row(r), (code, r)


def test_the_skip_logic_instrument_still_hides_items():
    cssrs = builtin_definitions()["CSSRS"]
    assert cssrs.skip_logic and not builtin_definitions()["PHQ9"].skip_logic
    assert len(cssrs.visible_items({})) < len(cssrs.items)
