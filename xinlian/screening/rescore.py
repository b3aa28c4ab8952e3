"""Re-score a campaign's submitted responses under a rule version (``xinlian rescore``).

A centre that changes a disputed threshold (a rule set) wants to know what that does to the
results it already has before it changes anything. ``rescore(campaign, rules)`` scores every
submitted response of the campaign again and compares with the stored results; with
``apply=True`` it writes the new results, puts newly positive students on the interview list and
writes one audit row — all in one transaction.

It is vectorised: per instrument, every response is read in one query, decrypted (the only
per-row work besides JSON), put in one answer matrix and scored with one ``score_matrix`` call;
the comparison with the stored rows is done on arrays. 100,000 SCL-90 responses take a few
seconds (see the report of the helper that wrote this module, and ``bench/``).

What a rescore never does: remove an interview, change a risk level (only an interview outcome
sets one), or raise an alert for an old response — a response that now hits a critical item gets
an urgent interview instead, because the student answered weeks ago and an alert's escalation
ladder is measured in hours.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np
from django.db import connection, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.translation import gettext as _

from xinlian.access.policy import audit
from xinlian.network.models import User

from .engine import Batch, Definition
from .models import Assignment, Campaign, Instrument, Interview, Result, RuleSet, ScreeningError

WRITE_BATCH = 2000
FIELDS = ["rule_version", "classification", "positive", "critical", "bands", "flags", "data",
          "scored_at"]


@dataclass
class InstrumentRescore:
    """What re-scoring one instrument of the campaign changes (or changed)."""

    code: str
    version: str
    rule_version: str
    responses: int = 0
    old_rule_versions: Counter[str] = field(default_factory=Counter)
    to_update: int = 0
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    newly_positive: int = 0
    no_longer_positive: int = 0
    newly_critical: int = 0
    no_longer_critical: int = 0
    bands_changed: dict[str, int] = field(default_factory=dict)
    class_labels: dict[str, str] = field(default_factory=dict)
    # For apply: the rows to write and the assignments that now need an interview.
    _updates: list[list[Any]] = field(default_factory=list, repr=False)
    _interviews: dict[int, bool] = field(default_factory=dict, repr=False)  # assignment → urgent


@dataclass
class RescoreReport:
    campaign: Campaign
    applied: bool
    instruments: list[InstrumentRescore]
    interviews_opened: int = 0
    seconds: float = 0.0

    @property
    def responses(self) -> int:
        return sum(i.responses for i in self.instruments)

    @property
    def to_update(self) -> int:
        return sum(i.to_update for i in self.instruments)

    @property
    def newly_positive(self) -> int:
        return sum(i.newly_positive for i in self.instruments)

    def lines(self) -> list[str]:
        """The report as text for a terminal (in the active language)."""
        out = [_("Campaign %(id)s “%(name)s”: %(n)d submitted responses.")
               % {"id": self.campaign.pk, "name": self.campaign.name, "n": self.responses}]
        for ins in self.instruments:
            old = ", ".join(f"{v} ({n})" for v, n in sorted(ins.old_rule_versions.items())) or "—"
            out.append(_("%(code)s v%(version)s: %(n)d responses, scored with rules %(old)s → rules "
                         "%(new)s; %(changed)d results change.")
                       % {"code": ins.code, "version": ins.version, "n": ins.responses, "old": old,
                          "new": ins.rule_version, "changed": ins.to_update})
            if ins.transitions:
                out.append("  " + _("Classification changes:"))
                for (a, b), n in sorted(ins.transitions.items(), key=lambda kv: (-kv[1], kv[0])):
                    out.append(f"    {ins.class_labels.get(a, a or '—')} → "
                               f"{ins.class_labels.get(b, b or '—')}: {n}")
            else:
                out.append("  " + _("No classification changes."))
            out.append("  " + _("Newly positive: %(a)d; no longer positive: %(b)d.")
                       % {"a": ins.newly_positive, "b": ins.no_longer_positive})
            out.append("  " + _("Critical items: %(a)d newly hit, %(b)d no longer hit.")
                       % {"a": ins.newly_critical, "b": ins.no_longer_critical})
            if any(ins.bands_changed.values()):
                bands = ", ".join(f"{k}: {n}" for k, n in ins.bands_changed.items() if n)
                out.append("  " + _("Bands change: %(bands)s.") % {"bands": bands})
            else:
                out.append("  " + _("No band changes."))
        if self.applied:
            out.append(_("Applied: %(n)d results rewritten, %(i)d students put on the interview "
                         "list (%(s).1f s).") % {"n": self.to_update, "i": self.interviews_opened,
                                                  "s": self.seconds})
        else:
            out.append(_("Dry run: nothing was changed (%(s).1f s). Run again with --apply to write "
                         "these results.") % {"s": self.seconds})
        return out


def resolve_rules(instruments: Sequence[Instrument], rules: str | Mapping[str, str] | None
                  ) -> dict[int, tuple[dict[str, Any], str]]:
    """(settings, rule version) per instrument row: ``rules`` names a rule version (used for
    every instrument that has it; the others keep their active rule set), or maps codes to
    versions; ``None`` means each instrument's active rule set, else the file's defaults."""
    out: dict[int, tuple[dict[str, Any], str]] = {}
    matched = False
    for inst in instruments:
        if isinstance(rules, Mapping):
            wanted = rules.get(inst.code)
        elif rules:
            has = (RuleSet.objects.filter(instrument_code=inst.code, version=rules).exists()
                   or rules == inst.spec.rules_version)
            wanted = rules if has else None
        else:
            wanted = None
        matched |= wanted is not None
        out[inst.pk] = RuleSet.effective(inst, wanted)
    if isinstance(rules, Mapping):
        unknown = sorted(set(rules) - {i.code for i in instruments})
        if unknown:
            raise ScreeningError(_("This campaign has no instrument %(codes)s.")
                                 % {"codes": ", ".join(unknown)})
    if rules and not matched:
        codes = ", ".join(i.code for i in instruments)
        raise ScreeningError(_("No instrument of this campaign (%(codes)s) has rule version %(v)s.")
                             % {"codes": codes, "v": rules})
    return out


ANSWERS_PREFIX = '{"answers":{'
# An answers object {"12":3,...} read as a flat JSON list [12,3,...]: parsing numbers into one
# list is three times faster than building 100,000 dicts of 90 string keys.
_AS_LIST = str.maketrans({"{": "[", "}": "]", '"': None, ":": ","})


def _answers_text(payload: str) -> str:
    """The stored answers object of a response's payload, as text. ``Response.payload`` writes
    ``{"answers":{...},"seconds":{...}}`` compactly; the answers object holds only numbers, so
    it ends at the first closing brace. Anything else is parsed and written out again."""
    if payload.startswith(ANSWERS_PREFIX):
        end = payload.find("}", len(ANSWERS_PREFIX))
        if end > 0:
            return payload[len(ANSWERS_PREFIX) - 1:end + 1]
    answers = json.loads(payload or "{}").get("answers", {})
    return json.dumps({str(k): v for k, v in answers.items()}, separators=(",", ":"))


def answer_matrix(spec: Definition, payloads: Sequence[str]) -> np.ndarray:
    """``Definition.matrix`` (NaN where unanswered) of many stored payloads (JSON text), built
    without a Python loop over items: all answers are parsed in one ``json.loads`` call into
    flat [item, value, item, value, ...] lists and placed with NumPy."""
    numbers = np.array(spec.item_numbers, dtype=float)
    n, k = len(payloads), len(numbers)
    out = np.full((n, k), np.nan)
    if not n:
        return out
    lists = json.loads("[" + ",".join(_answers_text(p) for p in payloads).translate(_AS_LIST) + "]")
    if all(len(row) == 2 * k for row in lists):
        flat = np.array(lists, dtype=float)
        if np.array_equal(flat[:, 0::2], np.broadcast_to(numbers, (n, k))):
            # Every response answered every item, saved in item order: the common case.
            return flat[:, 1::2].copy()
    lengths = np.fromiter((len(row) // 2 for row in lists), dtype=np.int64, count=n)
    flat = np.fromiter(chain.from_iterable(lists), dtype=float, count=int(lengths.sum()) * 2)
    rows = np.repeat(np.arange(n), lengths)
    items, values = flat[0::2], flat[1::2]
    order = np.argsort(numbers)
    pos = np.searchsorted(numbers[order], items)
    pos = np.minimum(pos, k - 1)
    known = numbers[order][pos] == items  # unknown item numbers are ignored, as in matrix()
    out[rows[known], order[pos[known]]] = values[known]
    return out


def _mask(hits: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """Per row, a bit mask of which of ``hits`` are true (bit j: the j-th id)."""
    mask = np.zeros(n, dtype=np.int64)
    for j, hit in enumerate(hits.values()):
        mask |= hit.astype(np.int64) << j
    return mask


def _per_row(codes: np.ndarray, decode: Any) -> list[Any]:
    """``decode(code)`` for every row's code, each distinct code decoded once (a campaign has
    few distinct combinations of clauses, critical items or flags). Rows share the values."""
    uniq, inverse = np.unique(codes, return_inverse=True)
    decoded = [decode(int(u)) for u in uniq.tolist()]
    return [decoded[i] for i in inverse.ravel().tolist()]


def _bits(ids: list[str]) -> Any:
    return lambda mask: [i for j, i in enumerate(ids) if mask >> j & 1]


def _rounded(values: np.ndarray, decimals: int) -> list[Any]:
    """``round(float(v), decimals)`` (an int for 0 decimals) of every value, as ``Batch.row``
    rounds — ``np.rint`` is the same half-even rounding for 0 decimals; with decimals each
    distinct value goes through Python's own ``round`` once."""
    if decimals == 0:
        return np.rint(values).astype(np.int64).tolist()
    uniq, inverse = np.unique(values, return_inverse=True)
    rounded = [round(u, decimals) for u in uniq.tolist()]
    return [rounded[i] for i in inverse.ravel().tolist()]


def result_rows(batch: Batch, rows: np.ndarray, rule_version: str) -> list[dict[str, Any]]:
    """``batch.row(r)`` for every ``r`` in ``rows`` — equal dicts, computed column by column
    (``row`` re-derives per row what is the same for all). Lists inside may be shared between
    rows: copy one before changing it."""
    d = batch.definition
    n = len(batch.klass)
    decimals = {s["id"]: s.get("decimals", 0 if s["op"] in ("sum", "count") else 2) for s in d.scores}
    score_keys = list(batch.scores)
    score_rows = list(zip(*[_rounded(batch.scores[k][rows], decimals[k]) for k in score_keys],
                          strict=True))
    band_keys, band_cols = [], []
    for b in d.bands:
        keys = [r["key"] for r in b["ranges"]]
        band_keys.append(b["score"])
        band_cols.append([keys[i] if i >= 0 else None for i in batch.bands[b["score"]][rows].tolist()])
    band_rows = list(zip(*band_cols, strict=True)) if band_cols else [()] * len(rows)
    klass = batch.klass[rows]
    class_keys = [c["key"] for c in d.classes]
    # Clauses: the hits of the row's own class, coded as (class, clause mask) in one integer.
    clause_code = np.zeros(len(rows), dtype=np.int64)
    decoders = {}
    for k, c in enumerate(d.classes):
        hits = batch.clause_hits[c["key"]]
        decoders[k] = _bits(list(hits))
        own = klass == k
        clause_code[own] = (k << 32) | _mask(hits, n)[rows][own]
    clause_code[klass < 0] = -1
    clauses = _per_row(clause_code, lambda code: decoders[code >> 32](code & 0xFFFFFFFF) if code >= 0 else [])
    critical = _per_row(_mask(batch.critical, n)[rows], _bits(list(batch.critical)))
    flags = _per_row(_mask(batch.quality, n)[rows], _bits(list(batch.quality)))
    out = []
    for j, k in enumerate(klass.tolist()):
        out.append({
            "instrument": d.code,
            "instrument_version": d.version,
            "rule_version": rule_version,
            "scores": dict(zip(score_keys, score_rows[j], strict=True)),
            "bands": {key: v for key, v in zip(band_keys, band_rows[j], strict=True) if v is not None},
            "classification": class_keys[k] if k >= 0 else "",
            "positive": bool(k >= 0 and d.classes[k].get("positive")),
            "clauses": clauses[j],
            "critical": critical[j],
            "flags": flags[j],
        })
    return out


def _parsed(texts: list[str]) -> list[Any]:
    memo: dict[str, Any] = {}
    out = []
    for t in texts:
        value = memo.get(t)
        if value is None:
            value = memo[t] = json.loads(t)
        out.append(value)
    return out


def _compare(campaign: Campaign, inst: Instrument, settings: dict[str, Any], rule_version: str,
             now: Any, apply: bool) -> InstrumentRescore:
    spec = inst.spec
    report = InstrumentRescore(code=inst.code, version=inst.version, rule_version=rule_version,
                               class_labels={c["key"]: f"{c['key']} ({spec.label(c['label'])})"
                                             for c in spec.classes})
    # bands and flags as text: a campaign has few distinct values, each parsed once.
    stored = list(Result.objects.filter(campaign=campaign, instrument=inst).order_by("pk").values_list(
        "pk", "assignment_id", "student_id", "response__data", "classification", "positive",
        "critical", Cast("bands", TextField()), Cast("flags", TextField()), "rule_version"))
    n = len(stored)
    report.responses = n
    if not n:
        return report
    pks, assignment_ids, student_ids, data, old_class, old_pos, old_crit, bands_text, flags_text, old_rv = (
        list(col) for col in zip(*stored, strict=True))
    old_bands, old_flags = _parsed(bands_text), _parsed(flags_text)
    report.old_rule_versions = Counter(old_rv)
    batch = spec.score_matrix(answer_matrix(spec, data), settings)

    # --- the comparison, on arrays
    class_index = {c["key"]: k for k, c in enumerate(spec.classes)} | {"": -1}
    old_k = np.fromiter((class_index.get(c, -2) for c in old_class), dtype=np.int64, count=n)
    class_changed = old_k != batch.klass
    new_pos = batch.positive
    old_pos_a = np.fromiter(old_pos, dtype=bool, count=n)
    new_crit = (np.logical_or.reduce(list(batch.critical.values())) if batch.critical
                else np.zeros(n, dtype=bool))
    old_crit_a = np.fromiter(old_crit, dtype=bool, count=n)
    bands_changed = np.zeros(n, dtype=bool)
    for b in spec.bands:
        key_index = {r["key"]: j for j, r in enumerate(b["ranges"])}
        old_b = np.fromiter((key_index.get(x.get(b["score"]), -1) for x in old_bands), dtype=np.int64,
                            count=n)
        diff = old_b != batch.bands[b["score"]]
        report.bands_changed[b["score"]] = int(diff.sum())
        bands_changed |= diff
    # Quality flags: the engine's are recomputed; "too_fast" came from the timings at submit and
    # is kept as it was.
    qual_bit = {q: 1 << j for j, q in enumerate(batch.quality)}
    old_q = np.fromiter((sum(qual_bit.get(f, 0) for f in fl) for fl in old_flags), dtype=np.int64,
                        count=n)
    flags_changed = old_q != _mask(batch.quality, n)
    rv_changed = np.array(old_rv, dtype=object) != rule_version

    new_keys = [c["key"] for c in spec.classes] + [""]  # klass −1 (no class) picks ""
    report.transitions = Counter((old_class[i], new_keys[batch.klass[i]])
                                 for i in np.flatnonzero(class_changed).tolist())
    report.newly_positive = int((new_pos & ~old_pos_a).sum())
    report.no_longer_positive = int((~new_pos & old_pos_a).sum())
    report.newly_critical = int((new_crit & ~old_crit_a).sum())
    report.no_longer_critical = int((~new_crit & old_crit_a).sum())
    changed = (rv_changed | class_changed | (new_pos != old_pos_a) | (new_crit != old_crit_a)
               | bands_changed | flags_changed)
    rows = np.flatnonzero(changed)
    report.to_update = len(rows)
    if not apply or not len(rows):
        return report

    # --- the new rows, only for what is written: UPDATE parameters in FIELDS order + pk
    prep = _Prep()
    scored_at = prep.field("scored_at").get_db_prep_save(now, connection)
    for r, row in zip(rows.tolist(), result_rows(batch, rows, rule_version), strict=True):
        if "too_fast" in old_flags[r]:
            row["flags"] = [*row["flags"], "too_fast"]
        report._updates.append([
            rule_version, row["classification"], row["positive"], bool(row["critical"]),
            prep.json("bands", row["bands"]), prep.json("flags", row["flags"]),
            prep.data.get_db_prep_save(json.dumps(row, ensure_ascii=False), connection),
            scored_at, pks[r]])
    # Students (not staff respondents) who become positive or newly hit a critical item.
    for r in np.flatnonzero((new_pos & ~old_pos_a) | (new_crit & ~old_crit_a)).tolist():
        if student_ids[r] is not None:
            urgent = bool(new_crit[r] and not old_crit_a[r])
            report._interviews[assignment_ids[r]] = report._interviews.get(assignment_ids[r], False) or urgent
    return report


def rescore(campaign: Campaign, rules: str | Mapping[str, str] | None = None, apply: bool = False,
            actor: User | None = None) -> RescoreReport:
    """Score every submitted response of ``campaign`` again under ``rules`` and report what
    changes; with ``apply``, write it (one transaction; ``actor`` — default the campaign's
    creator — is the audit row's actor)."""
    started = time.perf_counter()
    now = timezone.now()
    instruments = campaign.ordered_instruments()
    resolved = resolve_rules(instruments, rules)
    parts = []
    for inst in instruments:
        settings, rule_version = resolved[inst.pk]
        settings = dict(settings)
        settings.update(campaign.optional_critical_on(inst))  # as at submit
        parts.append(_compare(campaign, inst, settings, rule_version, now, apply))
    report = RescoreReport(campaign=campaign, applied=apply, instruments=parts)
    if apply:
        actor = actor or campaign.created_by
        with transaction.atomic():
            for part in parts:
                _write(part._updates)
            report.interviews_opened = _open_interviews(parts, now)
            audit(None, "screening.rescore", campaign, user=actor,
                  detail=";".join([f"rules:{_rules_text(rules)}", f"results:{report.to_update}",
                                   f"newly_positive:{report.newly_positive}",
                                   f"interviews:{report.interviews_opened}"]))
    report.seconds = time.perf_counter() - started
    return report


class _Prep:
    """Database values for the UPDATE, through each field's own ``get_db_prep_save`` (so the
    result data is encrypted exactly as ``save()`` would). Bands and flags repeat across rows:
    each distinct value is prepared once — on PostgreSQL as JSON text for the ``jsonb`` columns
    of the copy (psycopg would otherwise serialise the same value again for every row)."""

    def __init__(self) -> None:
        self.data = self.field("data")
        self.memo: dict[tuple[str, str], Any] = {}
        self.as_text = connection.vendor == "postgresql"

    @staticmethod
    def field(name: str) -> Any:
        return Result._meta.get_field(name)

    def json(self, name: str, value: Any) -> Any:
        key = (name, repr(value))
        found = self.memo.get(key)
        if found is None:
            found = self.memo[key] = (json.dumps(value, ensure_ascii=False) if self.as_text
                                      else self.field(name).get_db_prep_save(value, connection))
        return found


def _write(params: list[list[Any]]) -> None:
    """Write the rows (UPDATE parameters in ``FIELDS`` order, then the pk). Django's
    ``bulk_update`` builds a CASE WHEN per field and row: minutes for 100,000 rows. SQLite runs
    one parameterised UPDATE with ``executemany`` in batches; PostgreSQL copies the rows into a
    temporary table and updates from it in one statement (a statement per row spends most of
    its time quoting parameters and waiting for the server)."""
    if not params:
        return
    meta = Result._meta
    qn = connection.ops.quote_name
    table, pk = qn(meta.db_table), qn(meta.pk.column)
    columns = [qn(meta.get_field(name).column) for name in FIELDS]
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            sql = f"UPDATE {table} SET {', '.join(f'{c} = %s' for c in columns)} WHERE {pk} = %s"
            for start in range(0, len(params), WRITE_BATCH):
                cursor.executemany(sql, params[start:start + WRITE_BATCH])
            return
        types = {"positive": "boolean", "critical": "boolean", "bands": "jsonb", "flags": "jsonb",
                 "scored_at": "timestamptz"}
        names = [f"v{i}" for i in range(len(FIELDS))]
        cursor.execute("DROP TABLE IF EXISTS xl_rescore_rows")
        cursor.execute("CREATE TEMPORARY TABLE xl_rescore_rows ("
                       + ", ".join(f"{n} {types.get(f, 'text')}" for n, f in zip(names, FIELDS, strict=True))
                       + ", id bigint)")
        with cursor.cursor.copy(f"COPY xl_rescore_rows ({', '.join(names)}, id) FROM STDIN") as copy:
            for row in params:
                copy.write_row(row)
        cursor.execute(f"UPDATE {table} AS t SET "
                       + ", ".join(f"{c} = v.{n}" for c, n in zip(columns, names, strict=True))
                       + f" FROM xl_rescore_rows AS v WHERE t.{pk} = v.id")
        cursor.execute("DROP TABLE xl_rescore_rows")


def _rules_text(rules: str | Mapping[str, str] | None) -> str:
    if rules is None:
        return "active"
    if isinstance(rules, Mapping):
        return ",".join(f"{k}={v}" for k, v in rules.items())
    return rules


def _open_interviews(parts: list[InstrumentRescore], now: Any) -> int:
    wanted: dict[int, bool] = {}
    for part in parts:
        for pk, urgent in part._interviews.items():
            wanted[pk] = wanted.get(pk, False) or urgent
    if not wanted:
        return 0
    had = set(Interview.objects.filter(assignment_id__in=list(wanted)).values_list("assignment_id", flat=True))
    assignments = Assignment.objects.select_related("campaign__school", "student__klass").in_bulk(list(wanted))
    for pk, urgent in sorted(wanted.items()):
        Interview.open_for(assignments[pk], urgent=urgent, now=now)
    return len(set(wanted) - had)
