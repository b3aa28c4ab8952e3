"""The scoring engine: instruments are declarative files, scoring is computed from the file only.

An instrument file (YAML or JSON) is checked twice at load: against ``schema.json`` (shape and
types, each error naming its field) and then for meaning (every item, option set, score id and
setting it refers to exists; bands ascend; ...). Every error is collected before anything is
refused, so an author fixes a file in one pass.

Scoring works on a matrix — one row per response, one column per item — with NumPy, so one
response and a hundred thousand (``xinlian rescore``) go through the same code. There is no
instrument-specific Python here: sums, means, counts, scalings, expressions, bands,
classifications, critical items and quality checks are all read from the file.

Thresholds that sources dispute are *settings* in the file (with a default and a note). A centre
may override them in a rule set; every result records the instrument version and the rule version
it was scored with.
"""

from __future__ import annotations

import ast
import itertools
import json
import operator
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
BUILTIN_DIR = HERE / "instruments"
EPS = 1e-9

OPS = {
    "ge": lambda a, b: a >= b - EPS,
    "gt": lambda a, b: a > b + EPS,
    "le": lambda a, b: a <= b + EPS,
    "lt": lambda a, b: a < b - EPS,
    "eq": lambda a, b: np.abs(a - b) <= EPS,
    "ne": lambda a, b: np.abs(a - b) > EPS,
}
OP_SYMBOLS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "eq": "=", "ne": "≠"}
SETTING_KINDS = {
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "op": lambda v: isinstance(v, str) and v in OPS,
    "mode": lambda v: v in ("any", "all"),
    "rounding": lambda v: v in ("none", "floor", "round_half_up"),
    "switch": lambda v: isinstance(v, bool),
}
# Engine-wide quality checks, on top of the instrument's own (ids are reserved).
STRAIGHT_LINE_MIN_ITEMS = 10


# Hostile files: an instrument is a few dozen KB (the largest shipped, MHT, is 32 KB) and a few
# levels deep. A 500-byte alias bomb expanded to gigabytes and an 82 MB error page; 100,000
# nested brackets overflowed the stack. Anchors and deep nesting are refused while composing,
# before any Python object is built; what is shown of the errors is capped.
MAX_DEFINITION_BYTES = 512 * 1024
MAX_DEPTH = 50
MAX_ERRORS = 50          # errors listed; the count is whole
MAX_ERROR_CHARS = 300    # each error's text
MAX_SCHEMA_ERRORS = 1000  # schema errors gathered before sorting: a huge file stops here


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 1] + "…"


class DefinitionError(ValueError):
    """A malformed instrument file: ``errors`` lists the problems (the first :data:`MAX_ERRORS`,
    each at most :data:`MAX_ERROR_CHARS` long), each naming its field; ``total`` counts them all."""

    def __init__(self, errors: list[str], source: str = "") -> None:
        self.total = len(errors)
        self.errors = [_clip(str(e)) for e in errors[:MAX_ERRORS]]
        self.source = source
        super().__init__(f"{source or 'instrument'}: " + "; ".join(self.errors))

    @property
    def hidden(self) -> int:
        """How many errors ``errors`` leaves out."""
        return self.total - len(self.errors)


class SettingsError(ValueError):
    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


@dataclass(frozen=True)
class AnswerError:
    """One problem with a set of answers; ``code`` is stable, the view translates it."""

    code: str  # unknown_item | bad_value | missing | not_asked
    item: int | None = None
    value: Any = None


@dataclass(frozen=True)
class Item:
    number: int
    construct: str
    option_set: str
    values: tuple[int, ...]
    text: Mapping[str, str]
    scored: bool
    show_if: Mapping[str, Any] | None


@cache
def _schema_validator() -> jsonschema.protocols.Validator:
    schema = json.loads((HERE / "schema.json").read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _path(error: jsonschema.ValidationError) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


def _best(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """oneOf errors are unreadable at the top; descend to the most specific cause."""
    while error.context:
        error = jsonschema.exceptions.best_match(error.context)
    return error


class _Refused(yaml.YAMLError):
    """A construct this loader refuses; ``message`` is translated and names the line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses, while composing and so before any Python object exists:

    - a key repeated in one mapping (PyYAML keeps the last silently, so a repeated ``value:`` or
      ``items:`` would change the scoring without a word);
    - anchors and aliases (``&a`` / ``*a``): a few hundred bytes of aliases nested in aliases
      (“billion laughs”) expand to gigabytes once anything walks the data;
    - nesting deeper than :data:`MAX_DEPTH`: the composer recurses once per level."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        from django.utils.translation import gettext as _

        event = self.peek_event()
        line = event.start_mark.line + 1
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise _Refused(_("(file): line %(line)d: anchors and aliases (& and *) are not allowed in an "
                             "instrument file; write each value out.") % {"line": line})
        if not isinstance(event, yaml.CollectionStartEvent):
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(_("(file): line %(line)d: nested more than %(max)d levels deep.")
                           % {"line": line, "max": MAX_DEPTH})
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            # Merge keys (<<) may legitimately be overridden; only the mapping's own keys count.
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(key_node, yaml.ScalarNode):
                continue
            key = self.construct_object(key_node)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} repeats in one mapping", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_text(text: str | bytes, name: str = "") -> dict[str, Any]:
    """YAML or JSON text → dict (JSON is YAML); a syntax error becomes a DefinitionError."""
    from django.utils.translation import gettext as _

    if len(text) > MAX_DEFINITION_BYTES:
        raise DefinitionError([_("(file): the file is larger than %(max)d KB; an instrument file is far "
                                 "smaller.") % {"max": MAX_DEFINITION_BYTES // 1024}], name)
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader: plain data only
    except _Refused as exc:
        raise DefinitionError([exc.message], name) from exc
    except yaml.YAMLError as exc:
        # The first line of str(exc) is often just "while parsing a block mapping": name the
        # line and the problem instead, so the author can find it.
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None)
        if mark is not None and problem:
            where = f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
        else:
            where = str(exc).splitlines()[0]
        raise DefinitionError([f"(file): not valid YAML/JSON: {where}"], name) from exc
    if not isinstance(data, dict):
        raise DefinitionError(["(file): must be a mapping of fields"], name)
    return data


def _expand(spec: Any, numbers: list[int]) -> list[int]:
    if spec == "all":
        return list(numbers)
    out: list[int] = []
    for part in spec:
        if isinstance(part, str):
            lo, hi = (int(x) for x in part.split("-"))
            out.extend(range(lo, hi + 1))
        else:
            out.append(part)
    return out


class Definition:
    """A validated instrument. Build with ``Definition.from_data`` / ``load_file``."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.code: str = data["code"]
        self.version: str = data["version"]
        self.rules_version: str = data["rules_version"]
        self.name: dict[str, str] = data["name"]
        self.licence: dict[str, Any] = data["licence"]
        self.needs_verification: bool = bool(data.get("needs_verification", False))
        self.items_per_page: int = int(data.get("items_per_page", 5))
        sets = data["option_sets"]
        self.option_sets: dict[str, list[dict[str, Any]]] = sets
        self.items: list[Item] = [
            Item(number=i["number"], construct=i["construct"], option_set=i["options"],
                 values=tuple(o["value"] for o in sets[i["options"]]), text=i["text"],
                 scored=i.get("scored", True), show_if=i.get("show_if"))
            for i in data["items"]
        ]
        self.column = {it.number: n for n, it in enumerate(self.items)}
        # Without skip logic every item is always shown: no matrix to build for that (one
        # submit's scoring spent a fifth of its time on it).
        self.skip_logic = any(it.show_if is not None for it in self.items)
        self.scored_numbers = [it.number for it in self.items if it.scored]
        self.settings_spec: dict[str, dict[str, Any]] = data.get("settings", {})
        self.defaults = {k: v["default"] for k, v in self.settings_spec.items()}
        self.scores = data["scores"]
        self.bands = data.get("bands", [])
        self.classes = data.get("classes", [])
        self.critical = data.get("critical", [])
        self.quality = data.get("quality", [])
        # Reverse-keyed items: value → (min + max) − value within the item's own option set.
        self.reverse = set(data.get("reverse", []))
        self._exprs = {s["id"]: ast.parse(s["expr"], mode="eval") for s in self.scores
                       if s["op"] == "expr"}

    # --- loading -------------------------------------------------------------------------------

    @classmethod
    def from_data(cls, data: dict[str, Any], source: str = "") -> Definition:
        found = itertools.islice(_schema_validator().iter_errors(data), MAX_SCHEMA_ERRORS)
        errors = [f"{_path(e)}: {_best(e).message}"
                  for e in sorted(found, key=lambda e: list(map(str, e.absolute_path)))]
        if errors:
            raise DefinitionError(errors, source)
        errors = _semantic_errors(data)
        if errors:
            raise DefinitionError(errors, source)
        return cls(data)

    @classmethod
    def from_text(cls, text: str | bytes, source: str = "") -> Definition:
        return cls.from_data(parse_text(text, source), source)

    def __repr__(self) -> str:
        return f"<Definition {self.code} v{self.version}>"

    def label(self, text: Mapping[str, str], lang: str | None = None) -> str:
        from django.utils.translation import get_language

        lang = lang or get_language() or "zh-hans"
        return text["en"] if lang.lower().startswith("en") else text["zh-Hans"]

    @property
    def item_numbers(self) -> list[int]:
        return [it.number for it in self.items]

    def default_critical_ids(self) -> list[str]:
        return [c["id"] for c in self.critical if c.get("enabled", True) is True]

    def optional_critical(self) -> list[dict[str, Any]]:
        """Critical items a centre may switch on (their ``enabled`` is a setting)."""
        return [c for c in self.critical if isinstance(c.get("enabled", True), str)]

    # --- settings ------------------------------------------------------------------------------

    def effective_settings(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        out = dict(self.defaults)
        errors = []
        for key, value in (overrides or {}).items():
            spec = self.settings_spec.get(key)
            if spec is None:
                errors.append(f"{key}: unknown setting of {self.code}")
            elif not SETTING_KINDS[spec["kind"]](value):
                errors.append(f"{key}: {value!r} is not a valid {spec['kind']}")
            else:
                out[key] = value
        if errors:
            raise SettingsError(errors)
        return out

    # --- answers -------------------------------------------------------------------------------

    def visible_items(self, answers: Mapping[int, int]) -> list[int]:
        """Items the respondent is asked, given the answers so far (skip logic)."""
        if not self.skip_logic:
            return [it.number for it in self.items]
        row = self.matrix([answers])
        shown = self._visibility(row, self.defaults)
        return [it.number for n, it in enumerate(self.items) if shown[0, n]]

    def check_answers(self, answers: Mapping[int, Any], *, complete: bool = True) -> list[AnswerError]:
        """Values in the item's options, no unknown items; with ``complete``, every shown item
        answered (no prorating: a partial questionnaire is kept, never scored)."""
        errors: list[AnswerError] = []
        for number, value in answers.items():
            if number not in self.column:
                errors.append(AnswerError("unknown_item", number, value))
            elif (isinstance(value, bool) or not isinstance(value, int)
                  or value not in self.items[self.column[number]].values):
                errors.append(AnswerError("bad_value", number, value))
        if errors or not complete:
            return errors
        for number in self.visible_items(answers):
            if number not in answers:
                errors.append(AnswerError("missing", number))
        return errors

    def matrix(self, rows: Iterable[Mapping[int, Any]]) -> np.ndarray:
        """Answers → float matrix (NaN where unanswered)."""
        rows = list(rows)
        out = np.full((len(rows), len(self.items)), np.nan)
        col = self.column
        for r, answers in enumerate(rows):
            for number, value in answers.items():
                c = col.get(int(number))
                if c is not None:
                    out[r, c] = value
        return out

    # --- scoring -------------------------------------------------------------------------------

    def _visibility(self, m: np.ndarray, settings: Mapping[str, Any]) -> np.ndarray:
        shown = np.ones(m.shape, dtype=bool)
        if not self.skip_logic:
            return shown
        filled = np.nan_to_num(m)
        for n, it in enumerate(self.items):
            if it.show_if is not None:
                shown[:, n] = self._cond(it.show_if, filled, {}, settings)
        return shown

    def _value(self, v: Any, settings: Mapping[str, Any]) -> Any:
        return settings[v[1:]] if isinstance(v, str) and v.startswith("$") else v

    def _cols(self, spec: Any) -> list[int]:
        return [self.column[n] for n in _expand(spec, self.scored_numbers)]

    def _cond(self, c: Mapping[str, Any], m: np.ndarray, scores: Mapping[str, np.ndarray],
              settings: Mapping[str, Any]) -> np.ndarray:
        if "any" in c:
            return np.logical_or.reduce([self._cond(x, m, scores, settings) for x in c["any"]])
        if "all" in c:
            return np.logical_and.reduce([self._cond(x, m, scores, settings) for x in c["all"]])
        if "not" in c:
            return ~self._cond(c["not"], m, scores, settings)
        op = OPS[self._value(c.get("op", "ge"), settings)]
        value = float(self._value(c.get("value", 1), settings))
        if "count" in c:
            n = np.sum([self._cond(x, m, scores, settings) for x in c["count"]], axis=0)
            return op(n, value)
        left = m[:, self.column[c["item"]]] if "item" in c else scores[c["score"]]
        return op(left, value)

    def _expr(self, node: ast.AST, scores: Mapping[str, np.ndarray], settings: Mapping[str, Any]) -> Any:
        if isinstance(node, ast.Expression):
            return self._expr(node.body, scores, settings)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return scores[node.id] if node.id in scores else float(settings[node.id])
        if isinstance(node, ast.UnaryOp):
            return -self._expr(node.operand, scores, settings)
        assert isinstance(node, ast.BinOp)
        a, b = self._expr(node.left, scores, settings), self._expr(node.right, scores, settings)
        if isinstance(node.op, ast.Div):
            # x / 0 is 0: PSDI of a respondent with no positive item is defined as 0.
            a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
            return np.divide(a, b, out=np.zeros_like(a), where=np.abs(b) > EPS)
        return {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul}[type(node.op)](a, b)

    def score_matrix(self, m: np.ndarray, settings: Mapping[str, Any] | None = None) -> Batch:
        """Score every row of ``m`` (complete answers; unasked items are treated as 0)."""
        settings = settings if settings is not None else self.defaults
        shown = self._visibility(m, settings)
        # Conditions on items read the answers as given; scores read them after reverse keying.
        # Unanswered (NaN) or not shown → 0; answers are option values, never infinite.
        raw = np.where(shown & ~np.isnan(m), m, 0.0)
        x = raw.copy()
        for number in self.reverse:
            it = self.items[self.column[number]]
            c = self.column[number]
            x[:, c] = np.where(shown[:, c], min(it.values) + max(it.values) - raw[:, c], 0.0)
        scores: dict[str, np.ndarray] = {}
        for s in self.scores:
            op = s["op"]
            if op in ("sum", "mean", "count"):
                block = x[:, self._cols(s.get("items", "all"))]
                if op == "sum":
                    v = block.sum(axis=1)
                elif op == "mean":
                    v = block.mean(axis=1)
                else:
                    cmp = OPS[self._value(s.get("cmp", "ge"), settings)]
                    v = cmp(block, float(self._value(s["value"], settings))).sum(axis=1).astype(float)
            elif op == "scale":
                v = scores[s["of"]] * float(s["factor"])
                rounding = self._value(s.get("rounding", "none"), settings)
                if rounding == "floor":
                    v = np.floor(v + EPS)
                elif rounding == "round_half_up":
                    v = np.floor(v + 0.5 + EPS)
            elif op in ("max", "min"):
                of = [s["of"]] if isinstance(s["of"], str) else s["of"]
                stack = np.vstack([scores[k] for k in of])
                v = stack.max(axis=0) if op == "max" else stack.min(axis=0)
            else:
                v = np.broadcast_to(self._expr(self._exprs[s["id"]], scores, settings), (m.shape[0],))
            scores[s["id"]] = np.asarray(v, dtype=float)

        bands = {}
        for b in self.bands:
            froms = np.array([r["from"] for r in b["ranges"]], dtype=float)
            bands[b["score"]] = np.searchsorted(froms, scores[b["score"]] + EPS, side="right") - 1

        n = m.shape[0]
        klass = np.full(n, -1)
        clause_hits: dict[str, dict[str, np.ndarray]] = {}
        for k, cl in enumerate(self.classes):
            hits = {c["id"]: self._cond(c["when"], raw, scores, settings) for c in cl.get("clauses", [])}
            clause_hits[cl["key"]] = hits
            if hits:
                mode = self._value(cl.get("mode", "any"), settings)
                match = (np.logical_or if mode == "any" else np.logical_and).reduce(list(hits.values()))
            else:
                match = np.ones(n, dtype=bool)
            klass = np.where((klass < 0) & match, k, klass)

        critical = {c["id"]: self._cond(c["when"], raw, scores, settings) for c in self.critical
                    if self._value(c.get("enabled", True), settings) is True}
        quality = {q["id"]: self._cond(q["when"], raw, scores, settings) for q in self.quality}
        scored_block = m[:, [self.column[k] for k in self.scored_numbers]]
        if len(self.scored_numbers) >= STRAIGHT_LINE_MIN_ITEMS:
            # All scored answers identical. Answering "none" throughout is plausible for a well
            # person, so the lowest option alone is not flagged unless reverse items make it
            # inconsistent.
            same = np.all(scored_block == scored_block[:, :1], axis=1)
            lowest = np.array([min(self.items[self.column[k]].values) for k in self.scored_numbers])
            at_floor = scored_block[:, 0] == lowest[0]
            quality["straight_line"] = same & (~at_floor | bool(self.reverse))
        return Batch(self, settings, scores, bands, klass, clause_hits, critical, quality)

    def score(self, answers: Mapping[int, int], *, overrides: Mapping[str, Any] | None = None,
              rule_version: str | None = None, item_seconds: Mapping[int, float] | None = None,
              min_median_seconds: float | None = None) -> dict[str, Any]:
        """Score one complete set of answers → a JSON-ready result. Raises ValueError listing the
        answer errors if the set is incomplete or has values outside the options."""
        errors = self.check_answers(answers)
        if errors:
            raise AnswersInvalid(errors)
        settings = self.effective_settings(overrides)
        result = self.score_matrix(self.matrix([answers]), settings).row(0)
        result["rule_version"] = rule_version or (self.rules_version if not overrides else "custom")
        if item_seconds and min_median_seconds is not None:
            times = [float(t) for t in item_seconds.values() if t is not None]
            if times and float(np.median(times)) < min_median_seconds:
                result["flags"].append("too_fast")
        return result


class AnswersInvalid(ValueError):
    def __init__(self, errors: list[AnswerError]) -> None:
        self.errors = errors
        super().__init__(", ".join(f"{e.code}:{e.item}" for e in errors))


@dataclass
class Batch:
    """Scores of many responses at once (arrays indexed by row)."""

    definition: Definition
    settings: Mapping[str, Any]
    scores: dict[str, np.ndarray]
    bands: dict[str, np.ndarray]
    klass: np.ndarray
    clause_hits: dict[str, dict[str, np.ndarray]]
    critical: dict[str, np.ndarray]
    quality: dict[str, np.ndarray]

    @property
    def positive(self) -> np.ndarray:
        flags = np.array([bool(c.get("positive")) for c in self.definition.classes] + [False])
        return flags[self.klass]  # klass −1 picks the trailing False

    def row(self, r: int) -> dict[str, Any]:
        d = self.definition
        decimals = {s["id"]: s.get("decimals", 0 if s["op"] in ("sum", "count") else 2) for s in d.scores}
        scores = {}
        for k, v in self.scores.items():
            value = round(float(v[r]), decimals[k])
            scores[k] = int(value) if decimals[k] == 0 else value
        bands = {b["score"]: b["ranges"][int(self.bands[b["score"]][r])]["key"]
                 for b in d.bands if self.bands[b["score"]][r] >= 0}
        k = int(self.klass[r])
        cls = d.classes[k] if k >= 0 else None
        clauses = ([cid for cid, hit in self.clause_hits[cls["key"]].items() if hit[r]] if cls else [])
        return {
            "instrument": d.code,
            "instrument_version": d.version,
            "rule_version": d.rules_version,
            "scores": scores,
            "bands": bands,
            "classification": cls["key"] if cls else "",
            "positive": bool(cls and cls.get("positive")),
            "clauses": clauses,
            "critical": [cid for cid, hit in self.critical.items() if hit[r]],
            "flags": [qid for qid, hit in self.quality.items() if hit[r]],
        }


def _semantic_errors(data: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    sets = data["option_sets"]
    for name, options in sets.items():
        values = [o["value"] for o in options]
        if len(set(values)) != len(values):
            errors.append(f"option_sets.{name}: option values repeat")
    numbers = [i["number"] for i in data["items"]]
    if len(set(numbers)) != len(numbers):
        errors.append("items: item numbers repeat")
    known = set(numbers)
    scored = [i["number"] for i in data["items"] if i.get("scored", True)]
    for n, item in enumerate(data["items"]):
        if item["options"] not in sets:
            errors.append(f"items[{n}].options: unknown option set {item['options']!r}")
    for r in data.get("reverse", []):
        if r not in known:
            errors.append(f"reverse: item {r} does not exist")
    settings = data.get("settings", {})
    for key, spec in settings.items():
        if not SETTING_KINDS[spec["kind"]](spec["default"]):
            errors.append(f"settings.{key}.default: {spec['default']!r} is not a valid {spec['kind']}")

    def check_value(v: Any, where: str, kind: str | None = None) -> None:
        if isinstance(v, str) and v.startswith("$"):
            spec = settings.get(v[1:])
            if spec is None:
                errors.append(f"{where}: unknown setting {v!r}")
            elif kind and spec["kind"] != kind:
                errors.append(f"{where}: setting {v!r} is a {spec['kind']}, expected {kind}")

    def check_items(spec: Any, where: str, pool: list[int]) -> None:
        if spec == "all":
            return
        listed = _expand(spec, pool)
        twice = sorted({k for k in listed if listed.count(k) > 1})
        if twice:
            errors.append(f"{where}: item {twice[0]} is listed more than once")
        for part in spec:
            if isinstance(part, str):
                lo, hi = (int(x) for x in part.split("-"))
                if lo > hi:
                    errors.append(f"{where}: empty range {part!r}")
                rng = range(lo, hi + 1)
            else:
                rng = range(part, part + 1)
            for k in rng:
                if k not in pool:
                    errors.append(f"{where}: item {k} is not a scored item")
                    break

    def check_cond(c: Any, where: str, ids: set[str]) -> None:
        for key in ("any", "all", "count"):
            if key in c:
                for n, sub in enumerate(c[key]):
                    check_cond(sub, f"{where}.{key}[{n}]", ids)
        if "not" in c:
            check_cond(c["not"], f"{where}.not", ids)
        if "item" in c and c["item"] not in known:
            errors.append(f"{where}.item: item {c['item']} does not exist")
        if "score" in c and c["score"] not in ids:
            errors.append(f"{where}.score: unknown score {c['score']!r}")
        check_value(c.get("op"), f"{where}.op", "op")
        check_value(c.get("value"), f"{where}.value", "number")

    ids: set[str] = set()
    for n, s in enumerate(data["scores"]):
        where = f"scores[{n}]"
        if s["id"] in ids:
            errors.append(f"{where}.id: {s['id']!r} repeats")
        op = s["op"]
        need = {"sum": ["items"], "mean": ["items"], "count": ["items", "value"],
                "scale": ["of", "factor"], "max": ["of"], "min": ["of"], "expr": ["expr"]}[op]
        for field in need:
            if field not in s:
                errors.append(f"{where}.{field}: required for op {op!r}")
        if "items" in s:
            check_items(s["items"], f"{where}.items", scored)
        if "of" in s:
            for ref in [s["of"]] if isinstance(s["of"], str) else s["of"]:
                if ref not in ids:
                    errors.append(f"{where}.of: {ref!r} is not an earlier score")
        if op == "scale" and isinstance(s.get("of"), list):
            errors.append(f"{where}.of: scale takes one score")
        check_value(s.get("cmp"), f"{where}.cmp", "op")
        check_value(s.get("value"), f"{where}.value", "number")
        check_value(s.get("rounding"), f"{where}.rounding", "rounding")
        if op == "expr" and "expr" in s:
            try:
                tree = ast.parse(s["expr"], mode="eval")
            except SyntaxError:
                errors.append(f"{where}.expr: not an arithmetic expression")
            else:
                for node in ast.walk(tree):
                    if isinstance(node, ast.Name):
                        if node.id in settings and node.id not in ids:
                            if settings[node.id]["kind"] != "number":
                                errors.append(f"{where}.expr: setting {node.id!r} is not a number")
                        elif node.id not in ids:
                            errors.append(f"{where}.expr: unknown name {node.id!r}")
                    elif isinstance(node, ast.Constant) and (
                            isinstance(node.value, bool) or not isinstance(node.value, int | float)):
                        errors.append(f"{where}.expr: only + - * / numbers and names are allowed")
                        break
                    elif not isinstance(node, ast.Expression | ast.BinOp | ast.UnaryOp | ast.Constant
                                        | ast.Load | ast.Add | ast.Sub | ast.Mult | ast.Div | ast.USub):
                        errors.append(f"{where}.expr: only + - * / numbers and names are allowed")
                        break
        ids.add(s["id"])
    for n, b in enumerate(data.get("bands", [])):
        if b["score"] not in ids:
            errors.append(f"bands[{n}].score: unknown score {b['score']!r}")
        froms = [r["from"] for r in b["ranges"]]
        if froms != sorted(froms) or len(set(froms)) != len(froms):
            errors.append(f"bands[{n}].ranges: 'from' values must strictly ascend")
    for n, item in enumerate(data["items"]):
        if "show_if" in item:
            check_cond(item["show_if"], f"items[{n}].show_if", set())
    class_keys: set[str] = set()
    for n, cl in enumerate(data.get("classes", [])):
        if cl["key"] in class_keys:
            errors.append(f"classes[{n}].key: {cl['key']!r} repeats")
        class_keys.add(cl["key"])
        check_value(cl.get("mode"), f"classes[{n}].mode", "mode")
        if "clauses" not in cl and n != len(data["classes"]) - 1:
            errors.append(f"classes[{n}].clauses: only the last class may have no clauses")
        for k, c in enumerate(cl.get("clauses", [])):
            check_cond(c["when"], f"classes[{n}].clauses[{k}].when", ids)
    for field in ("critical", "quality"):
        seen: set[str] = set()
        for n, c in enumerate(data.get(field, [])):
            if c["id"] in seen:
                errors.append(f"{field}[{n}].id: {c['id']!r} repeats")
            seen.add(c["id"])
            check_cond(c["when"], f"{field}[{n}].when", ids)
            if field == "critical":
                check_value(c.get("enabled"), f"{field}[{n}].enabled", "switch")
    if {"too_fast", "straight_line"} & {q["id"] for q in data.get("quality", [])}:
        errors.append("quality: ids 'too_fast' and 'straight_line' are reserved for the engine")
    return errors


def load_file(path: str | Path) -> Definition:
    """The definition in ``path``; a file over :data:`MAX_DEFINITION_BYTES` is refused unread."""
    path = Path(path)
    with path.open("rb") as fh:
        # One byte over the limit is enough for parse_text to refuse it.
        return Definition.from_text(fh.read(MAX_DEFINITION_BYTES + 1), path.name)


@cache
def builtin_definitions() -> dict[str, Definition]:
    """The instruments shipped in the package, by code."""
    out = {}
    for path in sorted(BUILTIN_DIR.glob("*.yaml")):
        d = load_file(path)
        if d.code in out:
            raise DefinitionError([f"code {d.code} shipped twice"], path.name)
        out[d.code] = d
    return out
