"""The record kinds of a crisis case, defined once.

Each kind is a declarative list of fields (:class:`Field`) and, where it needs one, a rule over
several fields. The page's Django form (``xinlian.care.forms``) and the API's serializer
(``xinlian.care.api``) are both derived from these lists, so a field has one name everywhere;
:func:`content` turns parsed input into the stored JSON and is what the action
(``xinlian.care.actions.add_case_record``) calls, whichever front-end the input came from.

The field names are the ones the pages have always written (real records were stored with
them); :data:`LEGACY_NAMES` reads back the few records the API stored under other names before
the kinds were defined here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from xinlian.network.models import Guardian, Student

from .models import RecordKind

# A phone's clock may run a little fast; a time "from the future" beyond this is a typo.
FUTURE_SLACK = dt.timedelta(minutes=10)
OTHER = "other"


@dataclass(frozen=True)
class Field:
    """One field of a record. ``type`` is one of: ``text`` (several lines), ``line`` (one line),
    ``yesno`` (a required yes/no), ``flag`` (a tick box), ``date``, ``datetime``, ``choice``
    and ``guardian`` (one of the student's guardians by id, or ``"other"`` named in
    ``who_other``)."""

    name: str
    type: str
    label: Promise
    required: bool = True
    max_length: int = 4000
    choices: tuple[tuple[str, Promise], ...] = ()
    rows: int = 2
    past: bool = False  # a moment that has happened: not in the future


@dataclass(frozen=True)
class RecordSpec:
    kind: str
    title: Promise
    fields: tuple[Field, ...]
    # Added through "add a record" (the others are written by the closure and reopen actions).
    addable: bool = True
    rule: Any = field(default=None, compare=False)  # (data) -> {field: [messages]}

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


HOW_CHOICES = (("phone", _("Phone")), ("in_person", _("In person")), ("message", _("Message")))
ASSESSED_RISK = (("low", _("Low")), ("moderate", _("Moderate")), ("high", _("High")),
                 ("imminent", _("Imminent")))


def _one_measure(data: dict[str, Any]) -> dict[str, list[Any]]:
    if not any(data.get(f) for f in ("accompaniment", "leave", "room_change", "other")):
        return {"__all__": [_("Tick at least one measure or describe another.")]}
    return {}


def _guardian_named(data: dict[str, Any]) -> dict[str, list[Any]]:
    if data.get("who") == OTHER and not (data.get("who_other") or "").strip():
        return {"who_other": [_("Say who was told.")]}
    return {}


SPECS: dict[str, RecordSpec] = {s.kind: s for s in (
    RecordSpec(RecordKind.ASSESSMENT, _("Risk assessment"), (
        Field("ideation", "yesno", _("Suicidal ideation")),
        Field("plan", "yesno", _("A plan")),
        Field("means", "yesno", _("Access to means")),
        Field("past_attempts", "yesno", _("Past attempts")),
        Field("protective", "text", _("Protective factors"), required=False, max_length=2000),
        Field("risk", "choice", _("Assessed risk"), required=False, choices=ASSESSED_RISK),
        Field("notes", "text", _("Notes"), required=False, rows=3),
    )),
    RecordSpec(RecordKind.SAFETY_PLAN, _("Safety plan"), (
        Field("warning_signs", "text", _("Warning signs"), max_length=2000),
        Field("coping", "text", _("Coping steps"), required=False, max_length=2000),
        Field("contacts", "text", _("People to contact"), max_length=2000),
        Field("means_restriction", "text", _("Restricting access to means"), required=False,
              max_length=2000),
        Field("notes", "text", _("Notes"), required=False),
    )),
    RecordSpec(RecordKind.GUARDIAN, _("Guardian notification"), (
        Field("who", "guardian", _("Who was told")),
        Field("who_other", "line", _("Name and relation, if not listed"), required=False,
              max_length=64),
        Field("when", "datetime", _("When"), past=True),
        Field("how", "choice", _("How"), choices=HOW_CHOICES),
        Field("said", "text", _("What was said"), rows=3),
        Field("outcome", "text", _("Outcome"), required=False, max_length=2000),
    ), rule=_guardian_named),
    RecordSpec(RecordKind.REFERRAL, _("Referral"), (
        Field("where", "line", _("Referred to (hospital or service)"), max_length=200),
        Field("when", "date", _("When")),
        Field("outcome", "text", _("Outcome"), required=False, max_length=2000),
        Field("return_assessment", "text", _("Return-to-school assessment"), required=False,
              max_length=2000),
    )),
    RecordSpec(RecordKind.MEASURE, _("Measures"), (
        Field("accompaniment", "flag", _("Accompaniment around the clock"), required=False),
        Field("leave", "flag", _("Leave from school"), required=False),
        Field("room_change", "flag", _("Room change"), required=False),
        Field("other", "line", _("Other measure"), required=False, max_length=200),
        Field("notes", "text", _("Notes"), required=False),
    ), rule=_one_measure),
    RecordSpec(RecordKind.FOLLOW_UP, _("Follow-up"), (
        Field("note", "text", _("What was done"), rows=3),
    )),
    RecordSpec(RecordKind.NOTE, _("Note"), (
        Field("text", "text", _("Note"), rows=3),
    )),
    RecordSpec(RecordKind.CLOSURE_REQUEST, _("Request closure"), (
        Field("summary", "text", _("Summary: why the case can close"), rows=3),
    ), addable=False),
    RecordSpec(RecordKind.CLOSURE_REVIEW, _("Closure review"), (
        Field("review", "text", _("Director's review"), rows=3),
    ), addable=False),
    RecordSpec(RecordKind.CLOSURE_RETURNED, _("Closure sent back"), (
        Field("comment", "text", _("What the case team should do before closing"), rows=3),
    ), addable=False),
    RecordSpec(RecordKind.REOPEN, _("Reopen"), (
        Field("reason", "text", _("Why the case reopens"), max_length=2000),
    ), addable=False),
)}
ADDABLE: tuple[str, ...] = tuple(k for k, s in SPECS.items() if s.addable)

# Records the API stored before the kinds were defined once: their old names, read as the new.
LEGACY_NAMES: dict[str, dict[str, str]] = {
    RecordKind.ASSESSMENT: {"protective_factors": "protective"},
    RecordKind.SAFETY_PLAN: {"coping_strategies": "coping", "support_contacts": "contacts",
                             "means_safety": "means_restriction"},
    RecordKind.GUARDIAN: {"guardian": "who", "at": "when"},
    RecordKind.REFERRAL: {"on": "when"},
}


def guardians_of(student: Student | None) -> list[Guardian]:
    if student is None:
        return []
    return list(Guardian.objects.filter(student=student).order_by("-is_primary", "pk"))


def guardian_label(guardian: Guardian) -> str:
    return f"{guardian.name} · {guardian.get_relation_display()}"


def field_errors(spec: RecordSpec, data: dict[str, Any],
                 guardians: list[Guardian] | None = None) -> dict[str, list[Any]]:
    """The rules beyond each value's type: not in the future, a listed guardian, the kind's rule.
    Both the form's ``clean()`` and :func:`content` ask this, so the page and the API refuse alike."""
    errors: dict[str, list[Any]] = {}
    for f in spec.fields:
        value = data.get(f.name)
        if f.past and isinstance(value, dt.datetime) and value > timezone.now() + FUTURE_SLACK:
            errors.setdefault(f.name, []).append(_("This time is in the future."))
        if f.type == "guardian" and guardians is not None and value not in (None, "") \
                and value != OTHER and value not in {str(g.pk) for g in guardians}:
            errors.setdefault(f.name, []).append(_("Choose one of the student's guardians, or "
                                                   "someone else."))
    if spec.rule is not None:
        for name, msgs in spec.rule(data).items():
            errors.setdefault(name, []).extend(msgs)
    return errors


def _json(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _empty(f: Field) -> Any:
    if f.type in ("flag",):
        return False
    if f.type in ("date", "datetime", "yesno"):
        return None
    return ""


def content(kind: str, data: dict[str, Any], student: Student) -> dict[str, Any]:
    """The stored JSON of a record from parsed input (python values). Raises
    :class:`xinlian.lib.actions.Invalid` naming the fields when a rule is broken."""
    from xinlian.lib.actions import Invalid

    spec = SPECS[kind]
    guardians = guardians_of(student) if any(f.type == "guardian" for f in spec.fields) else None
    values = {f.name: data.get(f.name, _empty(f)) for f in spec.fields}
    missing = {f.name: [_("This field is required.")] for f in spec.fields
               if f.required and values[f.name] in (None, "")}
    errors = missing or field_errors(spec, values, guardians)
    if errors:
        raise Invalid(errors=errors)
    out = {name: _json(value) for name, value in values.items()}
    if guardians is not None:
        chosen = next((g for g in guardians if str(g.pk) == out["who"]), None)
        out["guardian_id"] = chosen.pk if chosen else None
        out["who"] = guardian_label(chosen) if chosen else out["who_other"].strip()
        out.pop("who_other", None)
    return out


def read_back(kind: str, stored: dict[str, Any]) -> dict[str, Any]:
    """A stored record's content under this module's names (older API records renamed)."""
    renames = LEGACY_NAMES.get(kind, {})
    out = dict(stored)
    for old, new in renames.items():
        if old in out and new not in out:
            out[new] = out.pop(old)
    return out


def show(f: Field, value: Any) -> str:
    """One stored value as a reader sees it: yes/no, a local date or time, a choice's label."""
    from django.utils import formats
    from django.utils.translation import gettext

    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if f.type == "datetime":
        try:
            moment = dt.datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return str(value)
        if timezone.is_aware(moment):
            moment = timezone.localtime(moment)
        return formats.date_format(moment, "DATETIME_FORMAT")
    if f.type == "date":
        try:
            return formats.date_format(dt.date.fromisoformat(value), "DATE_FORMAT")
        except (TypeError, ValueError):
            return str(value)
    return str(dict(f.choices).get(value, value))


def rows(kind: str, stored: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) for every filled field of a record, in the kind's order."""
    spec = SPECS.get(kind)
    if spec is None:
        return []
    data = read_back(kind, stored)
    return [(str(f.label), show(f, data[f.name])) for f in spec.fields
            if data.get(f.name) not in (None, "", [])]
