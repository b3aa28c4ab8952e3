"""Forms of the care pages. Each form is given the reader's scope and offers nothing outside it;
a case record form turns its fields into the record's JSON and back into labelled rows."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, ClassVar

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from xinlian.network.models import Student, User

from . import records
from .models import BreakGlass, Category, HeardFrom, RecordKind, RiskLevel, Triage, Urgency

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

    def __init__(self, *args: Any, may_open_case: bool = False, may_dismiss: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only centre staff open crisis cases (others refer the student to the centre), and only
        # those who may judge the alert dismiss it (xinlian.care.access.may_dismiss_alert). The
        # choices are still accepted (the action refuses them with a 403, as the API does); they
        # are only not offered.
        hidden = ({Triage.CASE} if not may_open_case else set()) | \
            ({Triage.NO_ACTION} if not may_dismiss else set())
        self.fields["decision"].widget.choices = [c for c in Triage.choices if c[0] not in hidden]


# --- register -----------------------------------------------------------------------------------


class RiskLevelForm(forms.Form):
    level = forms.ChoiceField(label=_("Level"), choices=RiskLevel.choices, widget=forms.RadioSelect)
    # Required unless the level is none, and the review date not in the past: rules of the
    # action (xinlian.care.actions.set_risk_level), refused alike for the page and the API.
    reason = forms.CharField(label=_("Reason (clinical, seen by centre staff and the 辅导员 only)"),
                             required=False, max_length=2000, widget=textarea(2))
    review_on = forms.DateField(label=_("Next review"), required=False, widget=DateInput())


class FollowUpForm(forms.Form):
    note = forms.CharField(label=_("What was done"), required=False, max_length=2000,
                           widget=textarea(2, placeholder=_("e.g. talked in person, the student is calmer")))


# --- cases --------------------------------------------------------------------------------------
# The record forms are derived from the kinds defined once in xinlian/care/records.py.

YES_NO = [("yes", _("Yes")), ("no", _("No"))]


def yes_no(label: Any) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(label=label, choices=YES_NO, coerce=lambda v: v == "yes",
                                  widget=forms.RadioSelect(attrs={"class": "btn-check"}))


def form_field(f: records.Field) -> forms.Field:
    """The page's field for one field of a record kind."""
    common: dict[str, Any] = {"label": f.label, "required": f.required}
    if f.type == "yesno":
        return yes_no(f.label)
    if f.type == "flag":
        return forms.BooleanField(**common)
    if f.type == "date":
        return forms.DateField(widget=DateInput(), **common)
    if f.type == "datetime":
        return forms.DateTimeField(input_formats=[LOCAL_INPUT],
                                   widget=DateTimeLocalInput(attrs={"class": "form-control"}), **common)
    if f.type == "choice":
        if f.required:
            return forms.ChoiceField(choices=f.choices, widget=forms.RadioSelect(attrs={"class": "btn-check"}),
                                     **common)
        return forms.ChoiceField(choices=[("", "—"), *f.choices],
                                 widget=forms.Select(attrs={"class": "form-select"}), **common)
    if f.type == "guardian":  # choices: the student's guardians, set per form
        return GuardianChoiceField(widget=forms.Select(attrs={"class": "form-select"}), **common)
    if f.type == "line":
        return forms.CharField(max_length=f.max_length, widget=text_input(), **common)
    return forms.CharField(max_length=f.max_length, widget=textarea(f.rows), **common)


class GuardianChoiceField(forms.ChoiceField):
    """Offers the student's guardians; which values are theirs is checked by the action
    (xinlian.care.records.content), so a form parsed before the case is looked up accepts any."""

    def valid_value(self, value: str) -> bool:
        return bool(value)


class RecordForm(forms.Form):
    """One kind of case record, derived from its :class:`~xinlian.care.records.RecordSpec`.
    ``record_data()`` is the parsed input the action turns into the stored record."""

    spec: ClassVar[records.RecordSpec]
    kind: ClassVar[str]
    title: ClassVar[Any]

    def __init__(self, *args: Any, student: Student | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guardians: list[Any] | None = None
        for f in self.spec.fields:
            if f.type == "datetime" and f.past:
                self.fields[f.name].initial = local_now_input()
        self.set_student(student)

    def set_student(self, student: Student | None) -> None:
        """Offer the student's guardians (a form parsed before the case was looked up has none)."""
        self.student = student
        for f in self.spec.fields:
            if f.type == "guardian":
                self.guardians = records.guardians_of(student) if student is not None else None
                self.fields[f.name].choices = [(str(g.pk), records.guardian_label(g))
                                               for g in self.guardians or []] + [(records.OTHER, _("Someone else"))]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name, errors in records.field_errors(self.spec, data, self.guardians).items():
            for error in errors:
                self.add_error(None if name == "__all__" else name, error)
        return data

    def record_data(self) -> dict[str, Any]:
        return dict(self.cleaned_data)

    @classmethod
    def rows(cls, content: dict[str, Any]) -> list[tuple[str, str]]:
        return records.rows(cls.kind, content)


def record_form(spec: records.RecordSpec) -> type[RecordForm]:
    name = "".join(part.title() for part in spec.kind.split("_")) + "RecordForm"
    attrs: dict[str, Any] = {f.name: form_field(f) for f in spec.fields}
    attrs.update(spec=spec, kind=spec.kind, title=spec.title, __module__=__name__)
    return type(name, (RecordForm,), attrs)


# Every kind, for reading records back; the records a team member adds, in the page's order.
DISPLAY_FORMS: dict[str, type[RecordForm]] = {k: record_form(s) for k, s in records.SPECS.items()}
RECORD_FORMS: dict[str, type[RecordForm]] = {k: DISPLAY_FORMS[k] for k in records.ADDABLE}
AssessmentForm = DISPLAY_FORMS[RecordKind.ASSESSMENT]
SafetyPlanForm = DISPLAY_FORMS[RecordKind.SAFETY_PLAN]
GuardianForm = DISPLAY_FORMS[RecordKind.GUARDIAN]
ReferralForm = DISPLAY_FORMS[RecordKind.REFERRAL]
MeasureForm = DISPLAY_FORMS[RecordKind.MEASURE]
CaseFollowUpForm = DISPLAY_FORMS[RecordKind.FOLLOW_UP]
CaseNoteForm = DISPLAY_FORMS[RecordKind.NOTE]
ClosureRequestForm = DISPLAY_FORMS[RecordKind.CLOSURE_REQUEST]
ClosureReviewForm = DISPLAY_FORMS[RecordKind.CLOSURE_REVIEW]
ReopenForm = DISPLAY_FORMS[RecordKind.REOPEN]
ClosureReturnForm = DISPLAY_FORMS[RecordKind.CLOSURE_RETURNED]


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
    MIN_LENGTH = BreakGlass.MIN_REASON
    reason = forms.CharField(
        label=_("Why do you need this case now?"), min_length=MIN_LENGTH, max_length=1000,
        widget=textarea(3), help_text=_("Your reason, your name and the time are recorded, and "
                                        "the centre director is told at once."))
