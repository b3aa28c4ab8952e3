"""Forms of the care pages. Each form is given the reader's scope and offers nothing outside it;
a case record form turns its fields into the record's JSON and back into labelled rows."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, ClassVar

from django import forms
from django.db.models import QuerySet
from django.utils import formats, timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from xinlian.network.models import Guardian, Student, User

from .models import Category, HeardFrom, RecordKind, RiskLevel, Triage, Urgency

LOCAL_INPUT = "%Y-%m-%dT%H:%M"
# A phone's clock may run a little fast; a report "from the future" beyond this is a typo.
FUTURE_SLACK = dt.timedelta(minutes=10)


def local_now_input() -> str:
    return timezone.localtime().strftime(LOCAL_INPUT)


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"class": "form-control form-control-lg", **(attrs or {})},
                         format=LOCAL_INPUT)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs={"class": "form-control", **(attrs or {})}, format="%Y-%m-%d")


def textarea(rows: int = 3, **attrs: Any) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "class": "form-control", **attrs})


def text_input(**attrs: Any) -> forms.TextInput:
    return forms.TextInput(attrs={"class": "form-control", **attrs})


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.full_name or obj.username


class StaffMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.full_name or obj.username


def not_in_future(value: dt.datetime | None) -> dt.datetime | None:
    if value and value > timezone.now() + FUTURE_SLACK:
        raise forms.ValidationError(_("This time is in the future."), code="future")
    return value


# --- concerns -----------------------------------------------------------------------------------


class ConcernForm(forms.Form):
    """A concern in under a minute: who, what kind, how urgent, what was seen, when.

    ``student`` is checked against the reporter's scope by the view before the form sees it
    (out of scope is a 404); ``student_number`` lets a student name a classmate by number
    without the class list being shown to them."""

    key = forms.UUIDField(widget=forms.HiddenInput)
    student = forms.ModelChoiceField(queryset=Student.objects.none(), required=False,
                                     label=_("Student"))
    student_number = forms.CharField(
        label=_("Or type the student number"), required=False, max_length=32,
        widget=text_input(autocomplete="off", inputmode="numeric", autocapitalize="none"))
    category = forms.ChoiceField(label=_("What is it about?"), choices=Category.choices,
                                 widget=forms.RadioSelect)
    urgency = forms.ChoiceField(label=_("How urgent?"), choices=Urgency.choices,
                                widget=forms.RadioSelect)
    seen = forms.CharField(label=_("What did you see or hear?"), max_length=4000,
                           widget=textarea(4, placeholder=_("Facts: what happened, what was said, "
                                                            "since when.")))
    heard_from = forms.ChoiceField(label=_("How do you know?"), choices=HeardFrom.choices,
                                   initial=HeardFrom.SELF, required=False)
    seen_at = forms.DateTimeField(label=_("When"), input_formats=[LOCAL_INPUT, "%Y-%m-%d %H:%M"],
                                  widget=DateTimeLocalInput(), validators=[not_in_future])

    def __init__(self, *args: Any, students: QuerySet[Student], **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("key", uuid.uuid4())
        kwargs["initial"].setdefault("seen_at", local_now_input())
        super().__init__(*args, **kwargs)
        self.students = students
        self.fields["student"].queryset = students

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["heard_from"] = data.get("heard_from") or HeardFrom.SELF
        number = (data.get("student_number") or "").strip()
        if number:  # a typed number wins over a ticked choice: it was the later, deliberate act
            found = self.students.filter(user__username=number).first()
            if found is None:
                # The same words whether the number exists elsewhere or not: nothing is revealed.
                raise forms.ValidationError(
                    _("No student you can report about has this number."), code="student")
            data["student"] = found
        elif data.get("student") is None and "student" not in self.errors:
            raise forms.ValidationError(_("Choose the student."), code="student")
        return data


# --- alerts -------------------------------------------------------------------------------------


class NoteForm(forms.Form):
    note = forms.CharField(label=_("Note"), required=False, max_length=2000,
                           widget=textarea(2, placeholder=_("Optional")))


class TriageForm(NoteForm):
    decision = forms.ChoiceField(label=_("Decision"), choices=Triage.choices,
                                 widget=forms.RadioSelect)
    field_order = ["decision", "note"]

    def __init__(self, *args: Any, may_open_case: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not may_open_case:
            # Only centre staff open crisis cases; others refer the student to the centre.
            self.fields["decision"].choices = [c for c in Triage.choices if c[0] != Triage.CASE]


# --- register -----------------------------------------------------------------------------------


class RiskLevelForm(forms.Form):
    level = forms.ChoiceField(label=_("Level"), choices=RiskLevel.choices, widget=forms.RadioSelect)
    reason = forms.CharField(label=_("Reason (clinical, seen by centre staff and the 辅导员 only)"),
                             max_length=2000, widget=textarea(2))
    review_on = forms.DateField(label=_("Next review"), required=False, widget=DateInput())

    def clean_review_on(self) -> dt.date | None:
        value = self.cleaned_data.get("review_on")
        if value and value < timezone.localdate():
            raise forms.ValidationError(_("The review date is in the past."), code="past")
        return value


class FollowUpForm(forms.Form):
    note = forms.CharField(label=_("What was done"), required=False, max_length=2000,
                           widget=textarea(2, placeholder=_("e.g. talked in person, the student is calmer")))


# --- cases --------------------------------------------------------------------------------------

YES_NO = [("yes", _("Yes")), ("no", _("No"))]


def yes_no(label: Any) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(label=label, choices=YES_NO, coerce=lambda v: v == "yes",
                                  widget=forms.RadioSelect(attrs={"class": "btn-check"}))


class RecordForm(forms.Form):
    """One kind of case record. ``record_data()`` is what gets encrypted; ``rows()`` reads it back."""

    kind: ClassVar[str]
    title: ClassVar[Any]

    def __init__(self, *args: Any, student: Student | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.student = student

    def record_data(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in self.cleaned_data.items():
            if isinstance(value, dt.datetime):
                value = value.isoformat()
            elif isinstance(value, dt.date):
                value = value.isoformat()
            out[name] = value
        return out

    @classmethod
    def rows(cls, content: dict[str, Any]) -> list[tuple[str, str]]:
        """(label, value) for every field that was filled, in the form's order."""
        out = []
        for name, field in cls.base_fields.items():
            value = content.get(name)
            if value in (None, "", []):
                continue
            out.append((str(field.label), show_value(field, value)))
        return out


def show_value(field: forms.Field, value: Any) -> str:
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    if isinstance(field, forms.DateTimeField):
        try:
            moment = dt.datetime.fromisoformat(value)
        except (TypeError, ValueError):
            return str(value)
        if timezone.is_aware(moment):
            moment = timezone.localtime(moment)
        return formats.date_format(moment, "DATETIME_FORMAT")
    if isinstance(field, forms.DateField):
        try:
            return formats.date_format(dt.date.fromisoformat(value), "DATE_FORMAT")
        except (TypeError, ValueError):
            return str(value)
    choices = dict(getattr(field, "choices", []) or [])
    return str(choices.get(value, value))


class AssessmentForm(RecordForm):
    kind = RecordKind.ASSESSMENT
    title = _("Risk assessment")
    ideation = yes_no(_("Suicidal ideation"))
    plan = yes_no(_("A plan"))
    means = yes_no(_("Access to means"))
    past_attempts = yes_no(_("Past attempts"))
    protective = forms.CharField(label=_("Protective factors"), required=False, max_length=2000,
                                 widget=textarea(2))
    notes = forms.CharField(label=_("Notes"), required=False, max_length=4000, widget=textarea(3))


class SafetyPlanForm(RecordForm):
    kind = RecordKind.SAFETY_PLAN
    title = _("Safety plan")
    warning_signs = forms.CharField(label=_("Warning signs"), max_length=2000, widget=textarea(2))
    coping = forms.CharField(label=_("Coping steps"), required=False, max_length=2000,
                             widget=textarea(2))
    contacts = forms.CharField(label=_("People to contact"), max_length=2000, widget=textarea(2))
    means_restriction = forms.CharField(label=_("Restricting access to means"), required=False,
                                        max_length=2000, widget=textarea(2))
    notes = forms.CharField(label=_("Notes"), required=False, max_length=4000, widget=textarea(2))


HOW_CHOICES = [("phone", _("Phone")), ("in_person", _("In person")), ("message", _("Message"))]


class GuardianForm(RecordForm):
    """An explicit disclosure to a guardian: the view writes an audit row for it."""

    kind = RecordKind.GUARDIAN
    title = _("Guardian notification")
    who = forms.ChoiceField(label=_("Who was told"),
                            widget=forms.Select(attrs={"class": "form-select"}))
    who_other = forms.CharField(label=_("Name and relation, if not listed"), required=False,
                                max_length=64, widget=text_input())
    when = forms.DateTimeField(label=_("When"), input_formats=[LOCAL_INPUT],
                               widget=DateTimeLocalInput(attrs={"class": "form-control"}),
                               validators=[not_in_future])
    how = forms.ChoiceField(label=_("How"), choices=HOW_CHOICES,
                            widget=forms.RadioSelect(attrs={"class": "btn-check"}))
    said = forms.CharField(label=_("What was said"), max_length=4000, widget=textarea(3))
    outcome = forms.CharField(label=_("Outcome"), required=False, max_length=2000,
                              widget=textarea(2))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        guardians = list(Guardian.objects.filter(student=self.student).order_by("-is_primary", "pk")) \
            if self.student else []
        self.guardians = {str(g.pk): g for g in guardians}
        self.fields["who"].choices = [(str(g.pk), f"{g.name} · {g.get_relation_display()}")
                                      for g in guardians] + [("other", _("Someone else"))]
        self.fields["when"].initial = local_now_input()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("who") == "other" and not data.get("who_other"):
            self.add_error("who_other", _("Say who was told."))
        return data

    def record_data(self) -> dict[str, Any]:
        out = super().record_data()
        guardian = self.guardians.get(out["who"])
        out["guardian_id"] = guardian.pk if guardian else None
        out["who"] = (f"{guardian.name} · {guardian.get_relation_display()}" if guardian
                      else out.pop("who_other"))
        out.pop("who_other", None)
        return out

    @property
    def guardian_id(self) -> int | None:
        g = self.guardians.get(self.cleaned_data.get("who", ""))
        return g.pk if g else None


class ReferralForm(RecordForm):
    kind = RecordKind.REFERRAL
    title = _("Referral")
    where = forms.CharField(label=_("Referred to (hospital or service)"), max_length=200,
                            widget=text_input())
    when = forms.DateField(label=_("When"), widget=DateInput())
    outcome = forms.CharField(label=_("Outcome"), required=False, max_length=2000,
                              widget=textarea(2))
    return_assessment = forms.CharField(label=_("Return-to-school assessment"), required=False,
                                        max_length=2000, widget=textarea(2))


class MeasureForm(RecordForm):
    kind = RecordKind.MEASURE
    title = _("Measures")
    accompaniment = forms.BooleanField(label=_("Accompaniment around the clock"), required=False)
    leave = forms.BooleanField(label=_("Leave from school"), required=False)
    room_change = forms.BooleanField(label=_("Room change"), required=False)
    other = forms.CharField(label=_("Other measure"), required=False, max_length=200,
                            widget=text_input())
    notes = forms.CharField(label=_("Notes"), required=False, max_length=4000, widget=textarea(2))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not any(data.get(f) for f in ("accompaniment", "leave", "room_change", "other")):
            raise forms.ValidationError(_("Tick at least one measure or describe another."))
        return data


class CaseFollowUpForm(RecordForm):
    kind = RecordKind.FOLLOW_UP
    title = _("Follow-up")
    note = forms.CharField(label=_("What was done"), max_length=4000, widget=textarea(3))


class CaseNoteForm(RecordForm):
    kind = RecordKind.NOTE
    title = _("Note")
    text = forms.CharField(label=_("Note"), max_length=4000, widget=textarea(3))


class ClosureRequestForm(RecordForm):
    kind = RecordKind.CLOSURE_REQUEST
    title = _("Request closure")
    summary = forms.CharField(label=_("Summary: why the case can close"), max_length=4000,
                              widget=textarea(3))


class ClosureReviewForm(RecordForm):
    kind = RecordKind.CLOSURE_REVIEW
    title = _("Closure review")
    review = forms.CharField(label=_("Director's review"), max_length=4000, widget=textarea(3))


class ReopenForm(RecordForm):
    kind = RecordKind.REOPEN
    title = _("Reopen")
    reason = forms.CharField(label=_("Why the case reopens"), max_length=2000, widget=textarea(2))


# The records a team member adds, in the order the page offers them.
RECORD_FORMS: dict[str, type[RecordForm]] = {f.kind: f for f in (
    AssessmentForm, SafetyPlanForm, GuardianForm, ReferralForm, MeasureForm, CaseFollowUpForm,
    CaseNoteForm)}
# Every kind, for reading records back.
DISPLAY_FORMS: dict[str, type[RecordForm]] = {
    **RECORD_FORMS, **{f.kind: f for f in (ClosureRequestForm, ClosureReviewForm, ReopenForm)}}


class TeamForm(forms.Form):
    lead = StaffChoiceField(label=_("Case lead"), queryset=User.objects.none(),
                            widget=forms.Select(attrs={"class": "form-select"}))
    members = StaffMultipleChoiceField(label=_("Members"), queryset=User.objects.none(),
                                       required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args: Any, candidates: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["lead"].queryset = candidates
        self.fields["members"].queryset = candidates


class BreakGlassForm(forms.Form):
    MIN_LENGTH = 15
    reason = forms.CharField(
        label=_("Why do you need this case now?"), min_length=MIN_LENGTH, max_length=1000,
        widget=textarea(3), help_text=_("Your reason, your name and the time are recorded, and "
                                        "the centre director is told at once."))
