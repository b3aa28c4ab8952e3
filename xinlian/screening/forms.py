"""Forms of the staff screening pages. Each form is handed the reader's scope and offers nothing
outside it: a campaign's units come from the managed school's subtree only."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.validators import FileExtensionValidator
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from xinlian.care.forms import DateInput, DateTimeLocalInput, text_input, textarea
from xinlian.care.models import RiskLevel
from xinlian.network.models import Unit, UnitKind, User

from .models import Campaign, CampaignInstrument, Instrument, Visibility

# What may still change once students have been invited: the name, the closing time, and the
# purpose (a changed purpose is a new consent text: everyone is asked again).
LAUNCHED_FIELDS = ("name", "closes_at", "purpose")
MAX_UPLOAD_BYTES = 512 * 1024
NO_ORDER = 1000


def _version_key(version: str) -> list[Any]:
    return [(0, int(p)) if p.isdigit() else (1, p) for p in version.split(".")]


def offered_instruments(current: list[Instrument] | None = None) -> list[Instrument]:
    """The newest version of every instrument, and whatever version a campaign already uses."""
    newest: dict[str, Instrument] = {}
    for inst in Instrument.objects.all():
        have = newest.get(inst.code)
        if have is None or _version_key(inst.version) > _version_key(have.version):
            newest[inst.code] = inst
    for inst in current or []:
        newest[inst.code] = inst
    return sorted(newest.values(), key=lambda i: i.code)


class UnitChoiceField(forms.ModelMultipleChoiceField):
    """Units indented by depth under the school, so the tree reads in a plain <select>."""

    def __init__(self, *args: Any, top_depth: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.top_depth = top_depth

    def label_from_instance(self, obj: Unit) -> str:
        return "\u3000" * max(obj.depth - self.top_depth, 0) + obj.display_name


class CampaignForm(forms.ModelForm):
    """Create or edit a campaign. Before launch everything may change; after it, only the name,
    the closing time and the purpose (``LAUNCHED_FIELDS``)."""

    school = forms.ModelChoiceField(queryset=Unit.objects.none(), label=_("School"))
    instruments = forms.ModelMultipleChoiceField(
        queryset=Instrument.objects.none(), label=_("Questionnaires"),
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Tick the questionnaires; the numbers set the order students answer them in."))
    extra_critical = forms.MultipleChoiceField(
        label=_("Extra critical items (alert policy)"), required=False, choices=[],
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Optional items that raise a red alert as well, when the centre switches them "
                    "on."))

    class Meta:
        model = Campaign
        fields = ["name", "units", "cohort", "include_staff", "opens_at", "closes_at", "purpose",
                  "visibility"]
        field_classes = {"units": UnitChoiceField}
        widgets = {
            "name": text_input(maxlength=128),
            "cohort": forms.NumberInput(attrs={"class": "form-control", "inputmode": "numeric",
                                               "placeholder": "2026"}),
            "opens_at": DateTimeLocalInput(),
            "closes_at": DateTimeLocalInput(),
            "purpose": textarea(5),
            "visibility": forms.RadioSelect,
        }

    def __init__(self, *args: Any, schools: list[Unit], user: User, **kwargs: Any) -> None:
        instance: Campaign | None = kwargs.get("instance")
        self.user = user
        self.launched = bool(instance and instance.pk and instance.launched_at)
        current = instance.ordered_instruments() if instance and instance.pk else []
        self.offered = offered_instruments(current)
        if instance is None or instance.pk is None:
            now = timezone.localtime().replace(second=0, microsecond=0)
            kwargs.setdefault("initial", {}).update({
                "opens_at": now, "closes_at": now + dt.timedelta(days=14),
                "visibility": Visibility.CENTRE_AND_FUDAOYUAN,
                "school": schools[0].pk if schools else None})
        else:
            initial = kwargs.setdefault("initial", {})
            initial["instruments"] = [i.pk for i in current]
            initial["extra_critical"] = list(instance.extra_critical or [])
            for n, inst in enumerate(current, start=1):
                initial[f"order_{inst.pk}"] = n
        super().__init__(*args, **kwargs)
        school_units = [instance.school] if instance and instance.pk else list(schools)
        # The campaign's school: its own, the one school the director runs, or (for a director
        # of several) the one chosen in the form.
        self.campaign_school: Unit | None = school_units[0] if len(school_units) == 1 else None
        self.fields["school"].queryset = Unit.objects.filter(pk__in=[s.pk for s in school_units])
        units = self.fields["units"]
        units.queryset = (Unit.objects.subtree_of(school_units)
                          .exclude(kind__in=[UnitKind.DORMITORY, UnitKind.SCHOOL]))
        units.top_depth = min((s.depth for s in school_units), default=0) + 1
        units.required = False
        units.widget.attrs.update({"class": "form-select", "size": "8"})
        units.help_text = _("Leave empty to invite the whole school. Hold Ctrl (or ⌘) to choose "
                            "several.")
        self.fields["instruments"].queryset = Instrument.objects.filter(
            pk__in=[i.pk for i in self.offered])
        self.fields["extra_critical"].choices = [
            (f"{inst.code}:{c['id']}", f"{inst.short_name}: {inst.spec.label(c['label'])}")
            for inst in self.offered for c in inst.spec.optional_critical()]
        for inst in self.offered:
            self.fields[f"order_{inst.pk}"] = forms.IntegerField(
                label=_("Order of %(name)s") % {"name": inst.short_name}, required=False,
                min_value=1, max_value=99,
                widget=forms.NumberInput(attrs={"class": "form-control form-control-sm xl-order",
                                                "inputmode": "numeric"}))
        self.fields["purpose"].widget.attrs["placeholder"] = _(
            "Why the school runs this screening, who sees the results, and that taking part is "
            "voluntary. Students read this before they agree.")
        self.fields["visibility"].widget.attrs["class"] = "btn-check"
        if self.campaign_school is not None:
            del self.fields["school"]  # one school: nothing to choose
        if self.launched:
            for name in list(self.fields):
                if name not in LAUNCHED_FIELDS:
                    del self.fields[name]

    # --- rendering helpers ------------------------------------------------------------------------

    def instrument_rows(self) -> list[tuple[Instrument, Any, forms.BoundField, bool]]:
        """(instrument, its checkbox, its order field, ticked) in the offered order."""
        if "instruments" not in self.fields:
            return []
        boxes = {str(w.data["value"]): w for w in self["instruments"]}
        ticked = {str(v) for v in (self["instruments"].value() or [])}
        return [(inst, boxes[str(inst.pk)], self[f"order_{inst.pk}"], str(inst.pk) in ticked)
                for inst in self.offered]

    # --- validation -------------------------------------------------------------------------------

    def clean_cohort(self) -> int | None:
        value = self.cleaned_data.get("cohort")
        if value is not None and not 1990 <= value <= 2100:
            raise forms.ValidationError(_("Enter an enrolment year such as 2026."), code="cohort")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.launched:
            return data
        chosen = list(data.get("instruments") or [])
        position = {inst.pk: n for n, inst in enumerate(self.offered)}
        chosen.sort(key=lambda i: (data.get(f"order_{i.pk}") or NO_ORDER, position.get(i.pk, 0)))
        codes = [i.code for i in chosen]
        if "instruments" in self.fields and not chosen and "instruments" not in self.errors:
            self.add_error("instruments", _("Choose at least one questionnaire."))
        if len(set(codes)) != len(codes):
            self.add_error("instruments", _("Choose one version of each questionnaire."))
        self.ordered = chosen
        extra = data.get("extra_critical") or []
        stray = [v for v in extra if v.split(":", 1)[0] not in codes]
        if stray:
            self.add_error("extra_critical", _("An extra critical item belongs to a questionnaire "
                                               "that is not chosen."))
        if "school" in self.fields:
            self.campaign_school = data.get("school")
        school = self.campaign_school
        for unit in data.get("units") or []:
            if school is not None and not unit.path.startswith(school.path):
                self.add_error("units", _("Choose units of the campaign's school."))
                break
        return data

    # --- saving -----------------------------------------------------------------------------------

    def save(self, commit: bool = True) -> Campaign:
        campaign: Campaign = super().save(commit=False)
        new = campaign.pk is None
        if new:
            campaign.school = self.campaign_school
            campaign.created_by = self.user
        if self.launched and "purpose" in self.changed_data:
            # Students agreed to the old text: the new one must be read and agreed again.
            campaign.consent_version += 1
        if not self.launched:
            campaign.extra_critical = sorted(self.cleaned_data.get("extra_critical") or [])
        with transaction.atomic():
            campaign.save()
            if not self.launched:
                self.save_m2m()
                CampaignInstrument.objects.filter(campaign=campaign).delete()
                CampaignInstrument.objects.bulk_create(
                    [CampaignInstrument(campaign=campaign, instrument=inst, order=n)
                     for n, inst in enumerate(self.ordered)])
        return campaign


class GuardianConsentForm(forms.Form):
    note = forms.CharField(
        label=_("How the guardian consented"), max_length=200,
        widget=text_input(placeholder=_("e.g. phone call with the mother, 3 September")))


class InterviewForm(forms.Form):
    outcome = forms.ChoiceField(
        label=_("Outcome (risk level)"), choices=RiskLevel.choices, widget=forms.RadioSelect,
        help_text=_("“None” clears the student's risk level; any other level puts them on the "
                    "risk register."))
    notes = forms.CharField(label=_("Interview notes (confidential)"), required=False,
                            max_length=4000, widget=textarea(4))
    review_on = forms.DateField(label=_("Next review"), required=False, widget=DateInput())

    def clean_review_on(self) -> dt.date | None:
        value = self.cleaned_data.get("review_on")
        if value and value < timezone.localdate():
            raise forms.ValidationError(_("The review date is in the past."), code="past")
        return value


class InstrumentUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Instrument file (YAML or JSON)"),
        validators=[FileExtensionValidator(["yaml", "yml", "json"])],
        widget=forms.ClearableFileInput(attrs={"class": "form-control",
                                               "accept": ".yaml,.yml,.json"}),
        help_text=_("The same format as the shipped instruments. Every problem in the file is "
                    "listed; nothing is saved until the file is valid."))

    def clean_file(self) -> Any:
        f = self.cleaned_data["file"]
        if f.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 512 KB."), code="size")
        return f
