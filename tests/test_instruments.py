"""Scoring of every shipped instrument, pinned at and around every boundary.

Expected values are computed here from /work/shared/instruments.md — band tables, item lists,
reverse lists and cut-offs are written out again in this file — never read back from the YAML.
Answer sets are built by helpers that produce a wanted total, so a test names the total it means.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Mapping

import pytest

from xinlian.screening.engine import Definition, builtin_definitions

DEFS = builtin_definitions()


def spec(code: str) -> Definition:
    return DEFS[code]


# --- helpers -----------------------------------------------------------------------------------


def spread(items: Iterable[int], extra: int, lo: int, hi: int) -> dict[int, int]:
    """Values for ``items`` (each lo..hi) that sum to len(items) * lo + extra, filling in order."""
    out = {}
    for number in items:
        add = min(hi - lo, extra)
        out[number] = lo + add
        extra -= add
    assert extra == 0, "target beyond the items' range"
    return out


def keyed(values: Mapping[int, int], reverse: Iterable[int], lo: int, hi: int) -> dict[int, int]:
    """Answers whose *scored* values are ``values``: reverse-keyed items are answered lo + hi − v."""
    rev = set(reverse)
    return {k: (lo + hi - v if k in rev else v) for k, v in values.items()}


def complete(d: Definition, given: Mapping[int, int]) -> dict[int, int]:
    """``given`` plus the lowest option on every other item, hidden items left out."""
    out = {it.number: given.get(it.number, min(it.values)) for it in d.items}
    return {k: v for k, v in out.items() if k in d.visible_items(out)}


def band(value: float, table: list[tuple[float, str]]) -> str:
    key = ""
    for start, name in table:
        if value >= start:
            key = name
    return key


def score(code: str, answers: Mapping[int, int], **overrides) -> dict:
    return spec(code).score(answers, overrides=overrides or None)


# --- facts from instruments.md ------------------------------------------------------------------

PHQ_BANDS = [(0, "minimal"), (5, "mild"), (10, "moderate"), (15, "moderately_severe"), (20, "severe")]
GAD7_BANDS = [(0, "minimal"), (5, "mild"), (10, "moderate"), (15, "severe")]
K10_BANDS = [(10, "low"), (16, "moderate"), (22, "high"), (30, "very_high")]
K6_BANDS = [(0, "low"), (8, "moderate"), (13, "serious")]
PSS_BANDS = [(0, "low"), (14, "moderate"), (27, "high")]
SDS_BANDS = [(0, "normal"), (53, "mild"), (63, "moderate"), (73, "severe")]
SAS_BANDS = [(0, "normal"), (50, "mild"), (60, "moderate"), (70, "severe")]
SDS_REVERSE = [2, 5, 6, 11, 12, 14, 16, 17, 18, 20]
SAS_REVERSE = [5, 9, 13, 17, 19]
PSS_REVERSE = [4, 5, 7, 8]

# code: (scored items, lowest, highest option, reverse items, bands, default cut-off)
SIMPLE = {
    "PHQ9": (range(1, 10), 0, 3, [], PHQ_BANDS, 10),
    "PHQA": (range(1, 10), 0, 3, [], PHQ_BANDS, 10),
    "GAD7": (range(1, 8), 0, 3, [], GAD7_BANDS, 10),
    "K10": (range(1, 11), 1, 5, [], K10_BANDS, 22),
    "K6": (range(1, 7), 0, 4, [], K6_BANDS, 13),
    "PSS10": (range(1, 11), 0, 4, PSS_REVERSE, PSS_BANDS, 27),
}
SIMPLE_CASES = [(code, total) for code, (items, lo, hi, *_rest) in SIMPLE.items()
                for total in range(len(items) * lo, len(items) * hi + 1)]

DASS = {  # subscale: (items, band table after x 2, moderate start)
    "depression": ([3, 5, 10, 13, 16, 17, 21],
                   [(0, "normal"), (10, "mild"), (14, "moderate"), (21, "severe"),
                    (28, "extremely_severe")], 14),
    "anxiety": ([2, 4, 7, 9, 15, 19, 20],
                [(0, "normal"), (8, "mild"), (10, "moderate"), (15, "severe"),
                 (20, "extremely_severe")], 10),
    "stress": ([1, 6, 8, 11, 12, 14, 18],
               [(0, "normal"), (15, "mild"), (19, "moderate"), (26, "severe"),
                (34, "extremely_severe")], 19),
}

SCL_FACTORS = {
    "somatization": [1, 4, 12, 27, 40, 42, 48, 49, 52, 53, 56, 58],
    "obsessive_compulsive": [3, 9, 10, 28, 38, 45, 46, 51, 55, 65],
    "interpersonal_sensitivity": [6, 21, 34, 36, 37, 41, 61, 69, 73],
    "depression": [5, 14, 15, 20, 22, 26, 29, 30, 31, 32, 54, 71, 79],
    "anxiety": [2, 17, 23, 33, 39, 57, 72, 78, 80, 86],
    "hostility": [11, 24, 63, 67, 74, 81],
    "phobic_anxiety": [13, 25, 47, 50, 70, 75, 82],
    "paranoid_ideation": [8, 18, 43, 68, 76, 83],
    "psychoticism": [7, 16, 35, 62, 77, 84, 85, 87, 88, 90],
    "additional": [19, 44, 59, 60, 64, 66, 89],
}
SCL_MAIN = [f for f in SCL_FACTORS if f != "additional"]
GSI_BANDS = [(1, "none"), (1.5, "mild"), (2.5, "mild_moderate"), (3.5, "moderate_severe"),
             (4.5, "severe")]

UPI_LIE = [5, 20, 35, 50]
UPI_SCORED = [n for n in range(1, 61) if n not in UPI_LIE]
UPI_KEY = [8, 16, 25, 26]

MHT_SCALES = {
    "learning_anxiety": list(range(1, 16)),
    "social_anxiety": list(range(16, 26)),
    "loneliness": list(range(26, 36)),
    "self_blame": list(range(36, 46)),
    "sensitivity": list(range(46, 56)),
    "somatic": list(range(56, 71)),
    "phobic": list(range(71, 81)),
    "impulsivity": list(range(81, 100, 2)),
}
MHT_LIE = list(range(82, 101, 2))
MHT_CONTENT = [n for items in MHT_SCALES.values() for n in items]
MHT_BANDS = [(0, "general"), (56, "attention"), (65, "high")]
MHT_SCALE_BANDS = [(0, "low"), (4, "middle"), (8, "high")]

LICENCES = {
    "PHQ9": "open", "GAD7": "open", "K10": "open", "K6": "open",
    "DASS21": "conditions", "PSS10": "conditions",
    "PHQA": "unclear", "UPI": "unclear", "SCL90": "unclear", "SDS": "unclear", "SAS": "unclear",
    "CSSRS": "restricted", "MHT": "restricted",
}


# --- every file ----------------------------------------------------------------------------------


def test_the_thirteen_instruments_ship():
    assert sorted(DEFS) == sorted(LICENCES)


@pytest.mark.parametrize("code", sorted(LICENCES))
def test_licence_status_and_descriptions(code):
    d = spec(code)
    assert d.licence["status"] == LICENCES[code]
    assert d.licence["note"]["zh-Hans"] and d.licence["note"]["en"]
    assert d.data["wording"] == "description"
    for it in d.items:
        assert it.text["zh-Hans"].startswith("（描述）"), it.number
        assert it.text["en"].startswith("(description) "), it.number
    assert d.needs_verification is (code == "MHT")


@pytest.mark.parametrize("code", sorted(LICENCES))
def test_item_numbers_run_without_gaps(code):
    d = spec(code)
    assert d.item_numbers == list(range(1, len(d.items) + 1))


# --- sum instruments: every total, so every band boundary and cut-off on both sides ---------------


@pytest.mark.parametrize(("code", "total"), SIMPLE_CASES)
def test_total_band_and_cutoff(code, total):
    items, lo, hi, reverse, bands, cutoff = SIMPLE[code]
    values = spread(items, total - len(items) * lo, lo, hi)
    answers = keyed(values, reverse, lo, hi)
    result = score(code, complete(spec(code), answers))
    assert result["scores"]["total"] == total
    assert result["bands"]["total"] == band(total, bands)
    assert result["positive"] is (total >= cutoff)
    assert result["classification"] == ("positive" if total >= cutoff else "negative")
    assert result["clauses"] == (["total_cutoff"] if total >= cutoff else [])
    if code in ("PHQ9", "PHQA"):
        assert result["critical"] == (["item9"] if answers[9] >= 1 else [])
    else:
        assert result["critical"] == []


@pytest.mark.parametrize("code", ["PHQ9", "PHQA", "GAD7", "K10", "K6", "PSS10"])
def test_cutoff_is_a_setting(code):
    items, lo, hi, reverse, _bands, cutoff = SIMPLE[code]
    below = cutoff - 2
    answers = complete(spec(code), keyed(spread(items, below - len(items) * lo, lo, hi),
                                         reverse, lo, hi))
    assert score(code, answers)["positive"] is False
    lowered = score(code, answers, cutoff=below)
    assert lowered["positive"] is True
    assert lowered["rule_version"] == "custom"


def test_phq9_item9_is_critical_at_any_total():
    d = spec("PHQ9")
    assert score("PHQ9", complete(d, {9: 1}))["critical"] == ["item9"]
    assert score("PHQ9", complete(d, {9: 1}))["positive"] is False
    assert score("PHQ9", complete(d, {1: 3, 2: 3}))["critical"] == []


def test_gad7_difficulty_item_does_not_count():
    d = spec("GAD7")
    assert d.scored_numbers == list(range(1, 8))
    assert score("GAD7", complete(d, {8: 3}))["scores"]["total"] == 0
    assert d.critical == []


# --- PHQ-A ---------------------------------------------------------------------------------------


def test_phqa_item_order_is_the_reverse_of_phq9():
    phqa, phq9 = spec("PHQA"), spec("PHQ9")
    assert "mood" in phqa.items[0].construct and phqa.items[1].construct == "anhedonia"
    assert phq9.items[0].construct == "anhedonia" and phq9.items[1].construct == "low_mood"


def test_phqa_supplementary_items_are_not_in_the_total():
    d = spec("PHQA")
    assert d.scored_numbers == list(range(1, 10))
    result = score("PHQA", complete(d, {10: 1, 11: 3, 12: 0, 13: 0, 1: 2}))
    assert result["scores"]["total"] == 2
    assert result["critical"] == []


@pytest.mark.parametrize(("given", "expected"), [
    ({9: 1}, ["item9"]),
    ({9: 3}, ["item9"]),
    ({12: 1}, ["item12"]),
    ({13: 1}, ["item13"]),
    ({9: 2, 12: 1, 13: 1}, ["item9", "item12", "item13"]),
    ({1: 3, 2: 3, 10: 1, 11: 3}, []),
])
def test_phqa_critical_items(given, expected):
    assert score("PHQA", complete(spec("PHQA"), given))["critical"] == expected


def test_phqa_cutoff_operator_setting():
    d = spec("PHQA")
    ten = complete(d, spread(range(1, 9), 10, 0, 3))
    eleven = complete(d, spread(range(1, 9), 11, 0, 3))
    assert score("PHQA", ten)["positive"] is True  # default: total >= 10
    assert score("PHQA", ten, cutoff_op="gt")["positive"] is False  # GLAD-PC "> 10"
    assert score("PHQA", eleven, cutoff_op="gt")["positive"] is True


# --- reverse keying ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("code", "reverse", "lo", "hi", "score_id"), [
    ("SDS", SDS_REVERSE, 1, 4, "raw"),
    ("SAS", SAS_REVERSE, 1, 4, "raw"),
    ("PSS10", PSS_REVERSE, 0, 4, "total"),
])
def test_reverse_keying(code, reverse, lo, hi, score_id):
    d = spec(code)
    n = len(d.items)
    # Every item answered with the lowest option: the reverse items score the highest.
    lowest = {k: lo for k in range(1, n + 1)}
    assert score(code, lowest)["scores"][score_id] == (n - len(reverse)) * lo + len(reverse) * hi
    highest = {k: hi for k in range(1, n + 1)}
    assert score(code, highest)["scores"][score_id] == (n - len(reverse)) * hi + len(reverse) * lo
    rng = random.Random(f"reverse-{code}")
    for _ in range(50):
        answers = {k: rng.randint(lo, hi) for k in range(1, n + 1)}
        expected = sum(lo + hi - v if k in reverse else v for k, v in answers.items())
        assert score(code, answers)["scores"][score_id] == expected


def test_sds_item19_is_forward_keyed():
    base = keyed({k: 1 for k in range(1, 21)}, SDS_REVERSE, 1, 4)
    raised = {**base, 19: 4}
    assert score("SDS", raised)["scores"]["raw"] - score("SDS", base)["scores"]["raw"] == 3


# --- SDS / SAS: every raw score, both rounding rules --------------------------------------------


def zung_answers(reverse: list[int], raw: int) -> dict[int, int]:
    return keyed(spread(range(1, 21), raw - 20, 1, 4), reverse, 1, 4)


@pytest.mark.parametrize("rounding", ["floor", "round_half_up"])
@pytest.mark.parametrize(("code", "reverse", "bands", "cutoff"), [
    ("SDS", SDS_REVERSE, SDS_BANDS, 53),
    ("SAS", SAS_REVERSE, SAS_BANDS, 50),
])
def test_zung_standard_score_bands(code, reverse, bands, cutoff, rounding):
    for raw in range(20, 81):
        answers = zung_answers(reverse, raw)
        result = score(code, answers, rounding=rounding)
        # raw x 1.25 = 5 raw / 4: integer part, or + 0.5 then integer part.
        standard = (5 * raw) // 4 if rounding == "floor" else (5 * raw + 2) // 4
        assert result["scores"]["raw"] == raw
        assert result["scores"]["standard"] == standard, raw
        assert result["bands"]["standard"] == band(standard, bands), raw
        assert result["positive"] is (standard >= cutoff), raw


@pytest.mark.parametrize(("raw", "floor_value", "floor_band", "round_value", "round_band"), [
    (41, 51, "normal", 51, "normal"),
    (42, 52, "normal", 53, "mild"),
    (43, 53, "mild", 54, "mild"),
    (50, 62, "mild", 63, "moderate"),
    (58, 72, "moderate", 73, "severe"),
])
def test_sds_floor_and_rounding_disagree_at_42_50_58(raw, floor_value, floor_band, round_value,
                                                     round_band):
    answers = zung_answers(SDS_REVERSE, raw)
    floor = score("SDS", answers)  # default rounding: floor
    assert (floor["scores"]["standard"], floor["bands"]["standard"]) == (floor_value, floor_band)
    rounded = score("SDS", answers, rounding="round_half_up")
    assert (rounded["scores"]["standard"], rounded["bands"]["standard"]) == (round_value,
                                                                             round_band)
    assert score("SDS", answers, rounding="none")["scores"]["standard"] == raw * 1.25


def test_sas_floor_and_rounding_never_disagree_on_a_band():
    for raw in range(20, 81):
        answers = zung_answers(SAS_REVERSE, raw)
        assert (score("SAS", answers)["bands"]
                == score("SAS", answers, rounding="round_half_up")["bands"]), raw


@pytest.mark.parametrize(("answer", "alert"), [(1, False), (2, False), (3, True), (4, True)])
def test_sds_item19_alert_is_optional(answer, alert):
    answers = {**zung_answers(SDS_REVERSE, 30), 19: answer}
    assert score("SDS", answers)["critical"] == []
    on = score("SDS", answers, alert_item19=True)
    assert on["critical"] == (["item19"] if alert else [])


# --- K10 / K6 ---------------------------------------------------------------------------------------


def test_k10_range_and_k6_range():
    assert score("K10", {k: 1 for k in range(1, 11)})["scores"]["total"] == 10
    assert score("K10", {k: 5 for k in range(1, 11)})["scores"]["total"] == 50
    assert score("K6", {k: 0 for k in range(1, 7)})["scores"]["total"] == 0
    assert score("K6", {k: 4 for k in range(1, 7)})["scores"]["total"] == 24


# --- DASS-21 --------------------------------------------------------------------------------------


DASS_CASES = [(sub, raw) for sub in DASS for raw in range(0, 22)]


@pytest.mark.parametrize(("subscale", "raw"), DASS_CASES)
def test_dass_subscale_doubled_band_and_positive(subscale, raw):
    items, bands, moderate = DASS[subscale]
    result = score("DASS21", complete(spec("DASS21"), spread(items, raw, 0, 3)))
    doubled = 2 * raw
    for other in DASS:
        assert result["scores"][other] == (doubled if other == subscale else 0)
        assert result["bands"][other] == (band(doubled, bands) if other == subscale else "normal")
    assert result["scores"][f"{subscale}_sum"] == raw
    assert result["positive"] is (doubled >= moderate)
    assert result["clauses"] == ([subscale] if doubled >= moderate else [])


@pytest.mark.parametrize("item", range(1, 22))
def test_dass_each_item_belongs_to_one_subscale(item):
    result = score("DASS21", complete(spec("DASS21"), {item: 3}))
    owner = next(sub for sub, (items, _b, _m) in DASS.items() if item in items)
    assert {sub: result["scores"][sub] for sub in DASS} == {
        sub: (6 if sub == owner else 0) for sub in DASS}


def test_dass_positive_thresholds_are_settings_and_item21_alert_optional():
    d = spec("DASS21")
    depression_ten = complete(d, spread(DASS["depression"][0], 5, 0, 3))
    assert score("DASS21", depression_ten)["positive"] is False
    assert score("DASS21", depression_ten, depression_cutoff=10)["positive"] is True
    item21 = complete(d, {21: 2})
    assert score("DASS21", item21)["critical"] == []
    assert score("DASS21", item21, alert_item21=True)["critical"] == ["item21"]
    assert score("DASS21", complete(d, {21: 1}), alert_item21=True)["critical"] == []


# --- UPI ------------------------------------------------------------------------------------------


def upi(yes: Iterable[int]) -> dict[int, int]:
    chosen = set(yes)
    return {k: int(k in chosen) for k in range(1, 65)}


UPI_PLAIN = [n for n in UPI_SCORED if n not in UPI_KEY]  # items that trigger no class clause


@pytest.mark.parametrize("total", range(0, len(UPI_PLAIN) + 1))
def test_upi_total_classes(total):
    result = score("UPI", upi(UPI_PLAIN[:total]))
    assert result["scores"]["total"] == total
    if total >= 25:
        assert (result["classification"], result["clauses"]) == ("class1", ["total_25"])
    elif total >= 20:
        assert (result["classification"], result["clauses"]) == ("class2", ["total_20_24"])
    else:
        assert (result["classification"], result["clauses"]) == ("class3", [])
    assert result["positive"] is (total >= 25)


def test_upi_total_excludes_lie_and_auxiliary_items():
    d = spec("UPI")
    assert d.scored_numbers == UPI_SCORED and len(UPI_SCORED) == 56
    assert score("UPI", upi(UPI_LIE + [61, 62, 63, 64]))["scores"]["total"] == 0
    assert score("UPI", upi(range(1, 61)))["scores"]["total"] == 56
    assert score("UPI", upi(range(1, 65)))["scores"]["total"] == 56


@pytest.mark.parametrize(("yes", "klass", "clauses"), [
    ([25], "class1", ["item25"]),
    ([64], "class1", ["wants_counselling"]),
    ([61, 62], "class1", ["aux_two"]),
    ([61, 63], "class1", ["aux_two"]),
    ([62, 63], "class1", ["aux_two"]),
    ([61, 62, 63], "class1", ["aux_two"]),
    ([61], "class2", ["aux_one"]),
    ([62], "class2", ["aux_one"]),
    ([63], "class2", ["aux_one"]),
    ([8], "class2", ["key_items"]),
    ([16], "class2", ["key_items"]),
    ([26], "class2", ["key_items"]),
    ([8, 61], "class2", ["key_items", "aux_one"]),
    ([], "class3", []),
    ([1, 2, 3], "class3", []),
])
def test_upi_class_clauses(yes, klass, clauses):
    result = score("UPI", upi(yes))
    assert (result["classification"], result["clauses"]) == (klass, clauses)
    assert result["positive"] is (klass == "class1")


def test_upi_class2_mode_all():
    only_item8 = upi([8])
    assert score("UPI", only_item8, class2_mode="all")["classification"] == "class3"
    # Total 20 (item 8 among them), one key item, exactly one auxiliary item: every clause.
    twenty = upi([8] + UPI_PLAIN[:19] + [61])
    assert score("UPI", twenty)["scores"]["total"] == 20
    result = score("UPI", twenty, class2_mode="all")
    assert (result["classification"], result["clauses"]) == (
        "class2", ["total_20_24", "key_items", "aux_one"])
    missing_aux = upi([8] + UPI_PLAIN[:19])
    assert score("UPI", missing_aux, class2_mode="all")["classification"] == "class3"
    assert score("UPI", missing_aux)["classification"] == "class2"


def test_upi_item25_is_critical():
    assert score("UPI", upi([25]))["critical"] == ["item25"]
    assert score("UPI", upi(UPI_PLAIN[:30]))["critical"] == []


@pytest.mark.parametrize("lie_yes", [tuple(c) for n in range(0, 5)
                                     for c in itertools.combinations(UPI_LIE, n)])
def test_upi_lie_flag_only_when_all_four_are_yes(lie_yes):
    flags = score("UPI", upi(lie_yes))["flags"]
    assert ("lie_all" in flags) is (len(lie_yes) == 4)


def test_upi_straight_line():
    assert "straight_line" in score("UPI", upi(range(1, 65)))["flags"]
    assert "straight_line" not in score("UPI", upi([]))["flags"]


# --- SCL-90 ---------------------------------------------------------------------------------------


def test_scl90_factor_table_is_a_partition():
    numbers = sorted(n for items in SCL_FACTORS.values() for n in items)
    assert numbers == list(range(1, 91))


def scl(values: Mapping[int, int]) -> dict[int, int]:
    return {k: values.get(k, 1) for k in range(1, 91)}


def scl_expected(answers: Mapping[int, int]) -> dict[str, float]:
    means = {f: sum(answers[k] for k in items) / len(items) for f, items in SCL_FACTORS.items()}
    total = sum(answers.values())
    positive = sum(v >= 2 for v in answers.values())
    negative = 90 - positive
    return {**means, "total": total, "gsi": total / 90, "positive_items": positive,
            "negative_items": negative,
            "psdi": (total - negative) / positive if positive else 0.0,
            "max_factor": max(means[f] for f in SCL_MAIN)}


def scl_below_factor(extra: int) -> dict[int, int]:
    """Answers with total 90 + extra, every factor mean below 2 and few positive items."""
    values: dict[int, int] = {}
    for items in SCL_FACTORS.values():
        room = min(extra, len(items) - 1)  # factor sum < 2n keeps the mean below 2
        values.update(spread(items, room, 1, 5))
        extra -= room
    assert extra == 0
    return scl(values)


def scl_positive_items(count: int) -> dict[int, int]:
    """``count`` items answered 2, spread so every factor mean stays below 2."""
    chosen: list[int] = []
    for items in SCL_FACTORS.values():
        chosen += items[: len(items) - 1]
    return scl({k: 2 for k in chosen[:count]})


def test_scl90_scores_match_the_factor_table():
    rng = random.Random("scl90")
    for _ in range(40):
        answers = {k: rng.randint(1, 5) for k in range(1, 91)}
        result = score("SCL90", answers)
        for key, value in scl_expected(answers).items():
            assert result["scores"][key] == pytest.approx(value, abs=0.005), key


def test_scl90_psdi_without_positive_items_is_zero():
    result = score("SCL90", scl({}))
    assert result["scores"]["psdi"] == 0
    assert result["scores"]["total"] == 90 and result["scores"]["negative_items"] == 90


@pytest.mark.parametrize(("total", "positive"), [(159, False), (160, False), (161, True),
                                                 (162, True)])
def test_scl90_total_cutoff(total, positive):
    answers = scl_below_factor(total - 90)
    expected = scl_expected(answers)
    assert expected["max_factor"] < 2 and expected["positive_items"] <= 43  # only the total decides
    result = score("SCL90", answers)
    assert result["scores"]["total"] == total
    assert result["positive"] is positive
    assert result["clauses"] == (["total"] if positive else [])
    assert score("SCL90", answers, total_cutoff=total - 1)["clauses"] == ["total"]


@pytest.mark.parametrize(("count", "positive"), [(42, False), (43, False), (44, True)])
def test_scl90_positive_items_cutoff(count, positive):
    answers = scl_positive_items(count)
    expected = scl_expected(answers)
    assert expected["max_factor"] < 2 and expected["total"] <= 160
    result = score("SCL90", answers)
    assert result["scores"]["positive_items"] == count
    assert result["scores"]["negative_items"] == 90 - count
    assert result["clauses"] == (["positive_items"] if positive else [])


@pytest.mark.parametrize("factor", SCL_MAIN)
def test_scl90_factor_mean_exactly_two_ge_vs_gt(factor):
    items = SCL_FACTORS[factor]
    # Mean exactly 2 from unequal answers: 3 and 1 in pairs, a 2 when the count is odd.
    values = {k: (2 if n == len(items) - 1 and len(items) % 2 else 3 - 2 * (n % 2))
              for n, k in enumerate(items)}
    answers = scl(values)
    assert scl_expected(answers)[factor] == 2
    result = score("SCL90", answers)
    assert result["scores"][factor] == 2 and result["scores"]["max_factor"] == 2
    assert (result["positive"], result["clauses"]) == (True, ["factor"])  # default ge
    strict = score("SCL90", answers, factor_op="gt")
    assert (strict["positive"], strict["clauses"]) == (False, [])


def test_scl90_factor_mean_just_below_and_above_two():
    items = SCL_FACTORS["hostility"]  # 6 items: sums 11, 12, 13
    below = scl(spread(items, 5, 1, 5))
    above = scl(spread(items, 7, 1, 5))
    assert score("SCL90", below)["positive"] is False
    assert score("SCL90", above, factor_op="gt")["clauses"] == ["factor"]
    assert score("SCL90", below, factor_cutoff=1.8)["clauses"] == ["factor"]


def test_scl90_additional_items_are_not_a_screening_factor():
    answers = scl({k: 2 for k in SCL_FACTORS["additional"]})
    result = score("SCL90", answers)
    assert result["scores"]["additional"] == 2
    assert result["scores"]["max_factor"] == 1
    assert result["positive"] is False


GSI_TOTALS = sorted({t for start, _ in GSI_BANDS for t in (round(start * 90) - 1,
                                                           round(start * 90),
                                                           round(start * 90) + 1)
                     if 90 <= t <= 450})


@pytest.mark.parametrize("total", GSI_TOTALS)
def test_scl90_gsi_bands(total):
    answers = scl(spread(range(1, 91), total - 90, 1, 5))
    result = score("SCL90", answers)
    assert result["scores"]["gsi"] == pytest.approx(total / 90, abs=0.005)
    assert result["bands"]["gsi"] == band(total / 90, GSI_BANDS)


@pytest.mark.parametrize(("item", "setting"), [(15, "alert_item15"), (59, "alert_item59")])
def test_scl90_optional_critical_items(item, setting):
    d = spec("SCL90")
    assert {c["id"] for c in d.optional_critical()} == {"item15", "item59"}
    assert score("SCL90", scl({item: 5}))["critical"] == []
    assert score("SCL90", scl({item: 2}), **{setting: True})["critical"] == [f"item{item}"]
    assert score("SCL90", scl({item: 1}), **{setting: True})["critical"] == []


# --- C-SSRS ---------------------------------------------------------------------------------------


def cssrs_patterns() -> list[dict[int, int]]:
    """Every answer set the skip logic allows."""
    out = []
    for q1, q2, q6 in itertools.product((0, 1), repeat=3):
        middles = itertools.product((0, 1), repeat=3) if q2 else [None]
        for middle in middles:
            for q7 in ((0, 1) if q6 else (None,)):
                answers = {1: q1, 2: q2, 6: q6}
                if middle is not None:
                    answers.update(zip((3, 4, 5), middle, strict=True))
                if q7 is not None:
                    answers[7] = q7
                out.append(answers)
    return out


def cssrs_triage(a: Mapping[int, int]) -> str:
    if a.get(4) or a.get(5) or a.get(7):
        return "high"
    if a.get(3) or a.get(6):
        return "moderate"
    if a.get(1) or a.get(2):
        return "low"
    return "none"


@pytest.mark.parametrize("answers", cssrs_patterns(), ids=lambda a: "".join(
    f"{k}{v}" for k, v in sorted(a.items())))
def test_cssrs_triage(answers):
    d = spec("CSSRS")
    assert d.check_answers(answers) == []
    result = d.score(answers)
    expected = cssrs_triage(answers)
    assert result["classification"] == expected
    assert result["positive"] is (expected in ("high", "moderate"))
    assert result["critical"] == (["high_risk"] if expected == "high" else [])
    yes = [k for k in (1, 2, 3, 4, 5) if answers.get(k)]
    assert result["scores"]["ideation_severity"] == (max(yes) if yes else 0)


def test_cssrs_has_54_answer_paths():
    assert len(cssrs_patterns()) == 2 * (1 + 8) * (1 + 2)  # q1 x (q2 no or yes x 3-5) x (q6, q7)


def test_cssrs_skip_logic():
    d = spec("CSSRS")
    assert d.visible_items({1: 1, 2: 0, 6: 0}) == [1, 2, 6]
    assert d.visible_items({2: 1, 6: 1}) == [1, 2, 3, 4, 5, 6, 7]
    assert d.check_answers({1: 0, 2: 0, 6: 0}) == []
    missing = d.check_answers({1: 0, 2: 1, 6: 0})
    assert [(e.code, e.item) for e in missing] == [("missing", 3), ("missing", 4), ("missing", 5)]
    assert [(e.code, e.item) for e in d.check_answers({1: 0, 2: 0, 6: 1})] == [("missing", 7)]


def test_cssrs_answers_to_hidden_questions_count_as_no():
    """A student who said yes to 2–5 and then changed 2 to no keeps the stale answers; the skip
    logic hides 3–5, so they neither block the submission nor raise the triage."""
    d = spec("CSSRS")
    stale = {1: 0, 2: 0, 3: 1, 4: 1, 5: 1, 6: 0, 7: 1}
    assert d.check_answers(stale) == []
    result = d.score(stale)
    assert (result["classification"], result["critical"]) == ("none", [])
    assert result["scores"]["ideation_severity"] == 0


# --- MHT ------------------------------------------------------------------------------------------


def test_mht_scale_table_is_a_partition():
    assert sorted(MHT_CONTENT + MHT_LIE) == list(range(1, 101))
    assert len(MHT_CONTENT) == 90


def mht(yes: Iterable[int]) -> dict[int, int]:
    chosen = set(yes)
    return {k: int(k in chosen) for k in range(1, 101)}


@pytest.mark.parametrize("total", range(0, 91))
def test_mht_total_bands(total):
    result = score("MHT", mht(MHT_CONTENT[:total]))
    assert result["scores"]["total"] == total
    assert result["scores"]["lie"] == 0
    assert result["bands"]["total"] == band(total, MHT_BANDS)
    assert result["positive"] is (total >= 65)


def test_mht_scales_match_the_table():
    rng = random.Random("mht")
    for _ in range(40):
        answers = {k: rng.randint(0, 1) for k in range(1, 101)}
        result = score("MHT", answers)
        for name, items in MHT_SCALES.items():
            value = sum(answers[k] for k in items)
            assert result["scores"][name] == value, name
            assert result["bands"][name] == band(value, MHT_SCALE_BANDS), name
        assert result["scores"]["total"] == sum(answers[k] for k in MHT_CONTENT)
        assert result["scores"]["lie"] == sum(answers[k] for k in MHT_LIE)


@pytest.mark.parametrize("scale_total", [3, 4, 7, 8])
def test_mht_scale_band_boundaries(scale_total):
    result = score("MHT", mht(MHT_SCALES["impulsivity"][:scale_total]))
    assert result["scores"]["impulsivity"] == scale_total
    assert result["bands"]["impulsivity"] == band(scale_total, MHT_SCALE_BANDS)


@pytest.mark.parametrize("lie", range(0, 11))
def test_mht_validity_retest(lie):
    result = score("MHT", mht(MHT_LIE[:lie]))
    assert result["scores"]["lie"] == lie
    assert result["scores"]["total"] == 0
    assert ("validity" in result["flags"]) is (lie >= 7)
    assert ("validity" in score("MHT", mht(MHT_LIE[:lie]), validity_cutoff=8)["flags"]) is (lie >= 8)


def test_mht_validity_rule_asks_for_a_retest():
    assert [(q["id"], q["action"]) for q in spec("MHT").quality] == [("validity", "retest")]


def test_mht_straight_line():
    assert set(score("MHT", mht(range(1, 101)))["flags"]) == {"validity", "straight_line"}
    assert score("MHT", mht([]))["flags"] == []


@pytest.mark.parametrize("item", [85, 97])
def test_mht_key_items_are_optional_alerts(item):
    assert score("MHT", mht([item]))["critical"] == []
    assert score("MHT", mht([item]), **{f"alert_item{item}": True})["critical"] == [f"item{item}"]
    assert score("MHT", mht([]), **{f"alert_item{item}": True})["critical"] == []
