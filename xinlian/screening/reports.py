"""Aggregates for the staff screening pages: progress by unit, the campaign summary, the export
rows and a student's screenings.

Nothing here decides who sees what: every function is handed querysets the access helpers built
(``xinlian.screening.access``). Counts read plain columns only — assignment status, a result's
classification, positive / critical flags and bands — never a decrypted result. Each table is ONE
grouped query keyed by the student's class *now* (``student__klass__path``), rolled up to the
requested units in Python by path prefix, so a page costs the same number of queries for 50
students as for 10,000."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from xinlian.network.models import Student, Unit, UnitKind, User

from . import access
from .models import (
    CRITICAL_NOT_POSITIVE,
    Assignment,
    AssignmentStatus,
    Instrument,
    Interview,
    InterviewStatus,
    Result,
    classification_label,
    flag_labels,
)

STEP = Unit.steplen
STATUS_FIELD = {
    AssignmentStatus.INVITED: "not_started",
    AssignmentStatus.IN_PROGRESS: "started",
    AssignmentStatus.SUBMITTED: "completed",
    AssignmentStatus.DECLINED: "declined",
}
# A sheet title may not hold these characters (Excel) and has at most 31 of the rest.
SHEET_FORBIDDEN = str.maketrans({c: "_" for c in "[]:*?/\\"})


@dataclass
class Tally:
    """Counts for one class, one unit or the whole table."""

    invited: int = 0
    started: int = 0
    completed: int = 0
    declined: int = 0
    not_started: int = 0
    positive: int = 0   # respondents with at least one positive result
    critical: int = 0   # respondents with at least one critical item
    pending: int = 0    # interviews
    done: int = 0
    overdue: int = 0

    def add(self, other: Tally) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def completion(self) -> int:
        """Completed, as a whole percentage of the invited."""
        return round(100 * self.completed / self.invited) if self.invited else 0

    @property
    def unfinished(self) -> int:
        return self.started + self.not_started

    @property
    def empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))


# Per class path (None: staff respondents, who have no class).
ByClass = dict[str | None, Tally]


def new_tallies() -> ByClass:
    return defaultdict(Tally)


def collect_progress(by: ByClass, assignments: QuerySet[Assignment]) -> None:
    """Invited / started / completed / declined per class: one grouped query."""
    rows = (assignments.order_by().values_list("student__klass__path", "status")
            .annotate(n=Count("pk")))
    for path, status, n in rows:
        tally = by[path]
        tally.invited += n
        name = STATUS_FIELD.get(status)
        if name:
            setattr(tally, name, getattr(tally, name) + n)


def collect_results(by: ByClass, results: QuerySet[Result]) -> None:
    """Respondents with a positive result / a critical item per class: one grouped query on
    the plain columns (a respondent with two positive questionnaires counts once). Only the
    positive and critical results are joined, grouped and sorted for the distinct counts: the
    others count for neither (at 50,000 students on PostgreSQL, sorting every result by class
    for them was most of the report's database time)."""
    rows = (results.filter(Q(positive=True) | Q(critical=True)).order_by()
            .values_list("student__klass__path")
            .annotate(pos=Count("assignment_id", distinct=True, filter=Q(positive=True)),
                      crit=Count("assignment_id", distinct=True, filter=Q(critical=True))))
    for path, pos, crit in rows:
        by[path].positive += pos
        by[path].critical += crit


def collect_interviews(by: ByClass, interviews: QuerySet[Interview]) -> None:
    """Interviews pending / done / overdue per class: one grouped query."""
    today = timezone.localdate()
    pending = Q(status=InterviewStatus.PENDING)
    rows = (interviews.order_by().values_list("student__klass__path")
            .annotate(p=Count("pk", filter=pending),
                      d=Count("pk", filter=Q(status=InterviewStatus.DONE)),
                      o=Count("pk", filter=pending & Q(due_on__lt=today))))
    for path, p, d, o in rows:
        by[path].pending += p
        by[path].done += d
        by[path].overdue += o


@dataclass
class UnitRow:
    unit: Unit | None  # None: staff respondents
    tally: Tally = field(default_factory=Tally)
    url: str = ""

    @property
    def label(self) -> str:
        return self.unit.display_name if self.unit is not None else _("Staff")


def roll_up(by: ByClass, units: Sequence[Unit], *,
            staff: bool = False) -> tuple[list[UnitRow], Tally]:
    """The class tallies summed into ``units`` (siblings, or any units none of which lies inside
    another) by path prefix; the staff respondents as a last row when asked. Units with nothing
    to count are left out: an empty row says nothing and names a unit for no reason. The total
    counts only what the rows show."""
    rows = {u.path: UnitRow(u) for u in units}
    staff_row = UnitRow(None)
    for path, tally in by.items():
        if path is None:
            if staff:
                staff_row.tally.add(tally)
            continue
        owner = next((rows[path[:i]] for i in range(STEP, len(path) + 1, STEP) if path[:i] in rows),
                     None)
        if owner is not None:
            owner.tally.add(tally)
    out = [r for r in rows.values() if not r.tally.empty]
    if staff and not staff_row.tally.empty:
        out.append(staff_row)
    total = Tally()
    for r in out:
        total.add(r.tally)
    return out, total


def child_units(unit: Unit) -> list[Unit]:
    """The units one level below ``unit`` that hold students (dormitories are not a level of
    the drill-down: a class's students are listed instead)."""
    return list(Unit.objects.get_children(unit).exclude(kind=UnitKind.DORMITORY))


def under(qs: QuerySet[Any], unit: Unit) -> QuerySet[Any]:
    """Narrow assignments / results / interviews to the students of ``unit``'s subtree."""
    return qs.filter(student__klass__path__startswith=unit.path)


# --- band distribution --------------------------------------------------------------------------


@dataclass
class BandCount:
    label: str
    n: int
    share: int  # percent of the instrument's results


@dataclass
class InstrumentSummary:
    instrument: Instrument
    results: int = 0
    positive: int = 0
    critical: int = 0
    classes: list[tuple[str, bool, int, int]] = field(default_factory=list)  # label, positive, n, %
    bands: list[tuple[str, list[BandCount]]] = field(default_factory=list)   # score label, bands


def _share(n: int, total: int) -> int:
    return round(100 * n / total) if total else 0


def instrument_summaries(results: QuerySet[Result],
                         instruments: Iterable[Instrument]) -> list[InstrumentSummary]:
    """Per instrument: classification counts and the band distribution of every banded score —
    one grouped query on the plain columns (classification, critical, bands)."""
    counted: dict[int, dict[tuple[str, bool], int]] = defaultdict(lambda: defaultdict(int))
    banded: dict[int, dict[str, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int)))
    rows = (results.order_by().values_list("instrument_id", "classification", "critical", "bands")
            .annotate(n=Count("pk")))
    for instrument_id, classification, critical, bands, n in rows:
        counted[instrument_id][(classification, critical)] += n
        for score, key in (bands or {}).items():
            banded[instrument_id][score][key] += n
    out = []
    for inst in instruments:
        spec = inst.spec
        summary = InstrumentSummary(inst)
        by_class: dict[str, int] = defaultdict(int)
        positive_keys = {cl["key"] for cl in spec.classes if cl.get("positive")}
        critical_only = 0  # a critical item in a non-positive class is never counted as negative
        for (classification, critical), n in counted.get(inst.pk, {}).items():
            summary.results += n
            summary.critical += n if critical else 0
            if critical and classification not in positive_keys:
                critical_only += n
            else:
                by_class[classification] += n
        for cl in spec.classes:
            n = by_class.get(cl["key"], 0)
            summary.positive += n if cl.get("positive") else 0
            summary.classes.append((spec.label(cl["label"]), bool(cl.get("positive")), n,
                                    _share(n, summary.results)))
        if critical_only:
            summary.classes.append((str(CRITICAL_NOT_POSITIVE), True, critical_only,
                                    _share(critical_only, summary.results)))
        labels = {s["id"]: spec.label(s["label"]) for s in spec.scores}
        for b in spec.bands:
            got = banded.get(inst.pk, {}).get(b["score"], {})
            counts = [(spec.label(r["label"]), got.get(r["key"], 0)) for r in b["ranges"]]
            summary.bands.append((labels.get(b["score"], b["score"]),
                                  [BandCount(label, n, _share(n, summary.results))
                                   for label, n in counts]))
        out.append(summary)
    return out


@dataclass
class QualityRow:
    assignment_id: int
    name: str
    number: str
    place: str
    instrument: str
    flags: list[str]
    retest: bool


def quality_rows(results: QuerySet[Result], limit: int = 500) -> tuple[list[QualityRow], int]:
    """Results with a quality flag, retests first (e.g. MHT validity scale ≥ 7): who to see
    again, or whose answers to read with care. Plain columns only; at most ``limit`` rows, every
    retest among them before any other row."""
    flagged = (results.exclude(flags=[])
               .order_by("student__klass__path", "assignment__user__username", "instrument__code"))
    # Which flags ask for a retest depends on the instrument file: sort on the plain columns of
    # every flagged result, then load only the rows shown.
    keys = list(flagged.values_list("pk", "instrument_id", "flags"))
    specs = {i.pk: i.spec for i in Instrument.objects.filter(pk__in={inst for _pk, inst, _f in keys})}
    retest_flags = {pk: {q["id"] for q in spec.quality if q["action"] == "retest"} for pk, spec in specs.items()}
    retest = {pk for pk, inst, flags in keys if retest_flags[inst] & set(flags)}
    shown = sorted((pk for pk, _inst, _flags in keys), key=lambda pk: pk not in retest)[:limit]
    loaded = (Result.objects.filter(pk__in=shown)
              .select_related("instrument", "assignment__user", "student__klass").in_bulk())
    rows = [loaded[pk] for pk in shown]
    places = class_labels(r.student.klass.path for r in rows if r.student_id)
    labels = {pk: flag_labels(spec) for pk, spec in specs.items()}
    return [QualityRow(
        assignment_id=r.assignment_id, name=r.assignment.user.full_name,
        number=r.assignment.user.username,
        place=places.get(r.student.klass.path, "") if r.student_id else "",
        instrument=r.instrument.short_name,
        flags=[labels[r.instrument_id].get(f, f) for f in r.flags],
        retest=r.pk in retest) for r in rows], len(keys)


# --- places -------------------------------------------------------------------------------------


def class_labels(paths: Iterable[str]) -> dict[str, str]:
    """Class path → “计算机学院 2023级1班” (the place below the school) for many classes, in ONE
    query."""
    paths = set(paths)
    wanted = {p[:i] for p in paths for i in range(STEP, len(p) + 1, STEP)}
    units = {u.path: u for u in
             Unit.objects.filter(path__in=wanted).only("path", "kind", "name", "name_en")}
    out = {}
    for p in paths:
        chain = [units[p[:i]] for i in range(STEP, len(p) + 1, STEP) if p[:i] in units]
        out[p] = " ".join(u.display_name for u in chain
                          if u.kind not in (UnitKind.BUREAU, UnitKind.SCHOOL))
    return out


# --- export -------------------------------------------------------------------------------------


def _sheet_title(inst: Instrument, taken: set[str]) -> str:
    base = (inst.short_name or inst.code).translate(SHEET_FORBIDDEN)[:24] or "sheet"
    title = base
    if title in taken:
        title = f"{base} v{inst.version}"[:31]
    n = 2
    while title in taken:
        title = f"{base} ({n})"[:31]
        n += 1
    taken.add(title)
    return title


Sheet = tuple[str, list[str], list[list[Any]]]


EXPORT_FIELDS = ("instrument_id", "instrument_version", "positive", "data", "student_id",
                 "student__user__username", "student__user__full_name", "student__klass__path",
                 "assignment__user__username", "assignment__user__full_name")


def export_sheets(results: QuerySet[Result]) -> tuple[list[Sheet], int]:
    """One sheet per instrument, one row per result: number, name, class, instrument,
    classification, positive, critical items, quality flags, then each reported score (and its
    band where the instrument has one). Returns the sheets and the number of rows.

    Plain column tuples, not model instances (a 30,000-result campaign: a Result, its
    Instrument with the whole definition, the student, the class and two users per row cost
    seconds), the instruments loaded once, and every label looked up once per instrument."""
    rows = (results.order_by("instrument__code", "instrument__version", "student__klass__path",
                             "assignment__user__username")
            .values_list(*EXPORT_FIELDS))
    yes, no, staff = _("Yes"), _("No"), _("Staff")
    by_instrument: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows.iterator(chunk_size=2000):
        by_instrument[row[0]].append(row)
    instruments = Instrument.objects.in_bulk(list(by_instrument))
    places = class_labels({row[7] for group in by_instrument.values() for row in group if row[4]})
    sheets = []
    taken: set[str] = set()
    n = 0
    for inst_id, group in by_instrument.items():
        inst = instruments[inst_id]
        spec = inst.spec
        reported = [s for s in spec.scores if s.get("report", True)]
        band_of = {b["score"]: {r["key"]: spec.label(r["label"]) for r in b["ranges"]}
                   for b in spec.bands}
        classes_by_key = {c["key"]: c for c in spec.classes}
        critical_label = {c["id"]: spec.label(c["label"]) for c in spec.critical}
        flag_label = flag_labels(spec)
        header = [_("Number"), _("Name"), _("Class"), _("Instrument"), _("Classification"),
                  _("Positive"), _("Critical items"), _("Quality flags")]
        columns: list[tuple[str, dict[str, str] | None]] = []
        for s in reported:
            header.append(spec.label(s["label"]))
            columns.append((s["id"], None))
            if s["id"] in band_of:
                header.append(_("%(score)s band") % {"score": spec.label(s["label"])})
                columns.append((s["id"], band_of[s["id"]]))
        name = inst.short_name
        body = []
        for (_i, version, positive, data, student_id, username, full_name, path, staff_username,
             staff_name) in group:
            detail = json.loads(data)
            scores, bands = detail["scores"], detail["bands"]
            line: list[Any] = [
                username if student_id else staff_username, full_name if student_id else staff_name,
                places.get(path, "") if student_id else staff,
                f"{name} v{version}",
                classification_label(spec, classes_by_key.get(detail["classification"]), bool(detail["critical"])),
                # A critical item is never reported as a negative screen (issue 10).
                yes if positive else (str(_("critical item")) if detail["critical"] else no),
                "；".join(critical_label.get(c, c) for c in detail["critical"]),
                "；".join(flag_label.get(f, f) for f in detail["flags"]),
            ]
            for score_id, band_labels in columns:
                line.append(scores.get(score_id) if band_labels is None
                            else band_labels.get(bands.get(score_id, ""), ""))
            body.append(line)
        n += len(body)
        sheets.append((_sheet_title(inst, taken), header, body))
    return sheets, n


# --- a student's screenings (student page) ------------------------------------------------------


@dataclass
class StudentScreening:
    campaign: str
    result_url: str = ""
    interview_status: str = ""
    interview_label: str = ""
    interview_url: str = ""


def student_screenings(user: User, student: Student) -> list[StudentScreening]:
    """What the student page shows of screenings: for tier-3 readers a link to each readable
    result and interview; for the risk tier only whether an interview is pending or done."""
    rows: dict[int, StudentScreening] = {}
    order: dict[int, Any] = {}
    readable = (access.visible_results(user).filter(student=student).order_by()
                .values_list("assignment_id", "campaign_id", "campaign__name", "campaign__opens_at")
                .distinct())
    for assignment_id, campaign_id, name, opens_at in readable:
        rows[campaign_id] = StudentScreening(name, result_url=reverse("screening:result-detail",
                                                                      args=[assignment_id]))
        order[campaign_id] = opens_at
    if access.interview_status_students(user).filter(pk=student.pk).exists():
        open_to = set(access.visible_interviews(user).filter(student=student)
                      .values_list("pk", flat=True))
        labels = dict(InterviewStatus.choices)
        for pk, campaign_id, name, opens_at, status in (
                Interview.objects.filter(student=student)
                .values_list("pk", "campaign_id", "campaign__name", "campaign__opens_at",
                             "status")):
            row = rows.setdefault(campaign_id, StudentScreening(name))
            order[campaign_id] = opens_at
            row.interview_status = status
            row.interview_label = str(labels.get(status, status))
            if pk in open_to:
                row.interview_url = reverse("screening:interview-detail", args=[pk])
    return [rows[k] for k in sorted(rows, key=lambda k: order[k], reverse=True)]
