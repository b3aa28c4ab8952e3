"""Screening in the back office: the instrument library (read-only: files are uploaded on the
instrument page, where every error is listed), the centre's rule sets (validated against the
instrument's declared settings by ``RuleSet.clean``) and each school's screening settings.

Campaigns, answers and results are not an admin matter: they are read on the screening pages,
through the access helpers, with audit."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from xinlian.access.admin import ReadOnlyAdmin, ScopedAdmin, managed_units
from xinlian.network.models import UnitKind

from .models import CentreSettings, Instrument, RuleSet


@admin.register(Instrument)
class InstrumentAdmin(ReadOnlyAdmin):
    """Every version ever loaded stays: results point at the exact file they were scored with."""

    list_display = ["code", "version", "name", "licence", "builtin", "uploaded_by", "created_at"]
    list_filter = ["builtin", "code"]
    search_fields = ["code"]
    list_select_related = ["uploaded_by"]

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        return qs  # the library is shared by every school

    @admin.display(description=_("name"))
    def name(self, obj: Instrument) -> str:
        return obj.display_name

    @admin.display(description=_("licence"))
    def licence(self, obj: Instrument) -> str:
        return obj.licence_status


class RuleSetForm(forms.ModelForm):
    class Meta:
        model = RuleSet
        fields = ["instrument_code", "version", "overrides", "note", "active"]

    def clean_overrides(self) -> Any:
        value = self.cleaned_data.get("overrides")
        if not isinstance(value, dict):
            raise forms.ValidationError(_('Write the settings as an object, e.g. {"cutoff": 7}.'))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        code = data.get("instrument_code") or self.instance.instrument_code
        if data.get("active") and code:
            other = (RuleSet.objects.filter(instrument_code=code, active=True)
                     .exclude(pk=self.instance.pk).first())
            if other is not None:
                # Said here for the change form too, where the code is read-only and the database
                # constraint alone would fail on save.
                raise forms.ValidationError(
                    {"active": _("Rule set %(v)s is active for %(code)s; deactivate it first.")
                     % {"v": other.version, "code": code}})
        return data


@admin.register(RuleSet)
class RuleSetAdmin(ScopedAdmin):
    """A centre's choice on disputed thresholds. The form runs ``RuleSet.clean`` (unknown setting
    or wrong kind → an error on the settings field) and the one-active-per-instrument constraint;
    a rule set that scored results is never deleted, only deactivated."""

    form = RuleSetForm
    list_display = ["instrument_code", "version", "active", "created_by", "created_at"]
    list_filter = ["active", "instrument_code"]
    fields = ["instrument_code", "version", "overrides", "note", "active"]
    readonly_fields: list[str] = []

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        return qs

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A version that may have scored results keeps its content; only "active" changes.
        return ["instrument_code", "version", "overrides"] if obj is not None else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: RuleSet, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(CentreSettings)
class CentreSettingsAdmin(ScopedAdmin):
    list_display = ["school", "help_phone", "hotline", "interview_days", "urgent_interview_days"]
    list_select_related = ["school"]

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        return qs.filter(school__in=managed_units(request.user))

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "school":
            field.queryset = field.queryset.filter(kind=UnitKind.SCHOOL)
        return field
