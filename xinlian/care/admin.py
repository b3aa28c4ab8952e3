"""The linkage in the back office.

The centre edits its level settings here. Everything else is read-only and scoped twice:
to the students the manager administers and to the tier the record belongs to. Clinical
content is not an admin matter: what a reporter saw and case record content never appear
here (they are read on the case pages, with audit), and no encrypted field is ever shown in a
list. The few encrypted fields a detail page does show (a register reason, a break-glass
reason) are audited when the page is opened."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from xinlian.access.admin import ReadOnlyAdmin, ScopedAdmin
from xinlian.access.policy import Cap, audit, caps_of, visible_students

from .access import highest_tier
from .models import (
    Alert,
    BreakGlass,
    Case,
    CaseRecord,
    Concern,
    LevelSetting,
    RiskEntry,
    TimelineEntry,
)

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


# --- level settings -----------------------------------------------------------------------------


class LevelSettingForm(forms.ModelForm):
    class Meta:
        model = LevelSetting
        fields = ["name", "name_en", "colour", "ack_minutes", "follow_up_days"]
        widgets = {"colour": forms.TextInput(attrs={"type": "color"})}

    def clean_colour(self) -> str:
        colour = self.cleaned_data["colour"].strip()
        if not HEX_COLOUR.match(colour):
            raise forms.ValidationError(_("Enter a colour as #rrggbb."), code="colour")
        return colour.lower()

    def clean_ack_minutes(self) -> int:
        value = self.cleaned_data["ack_minutes"]
        if value < 1:
            raise forms.ValidationError(_("An alert needs at least one minute to be acknowledged."))
        return value

    def clean_follow_up_days(self) -> int:
        value = self.cleaned_data["follow_up_days"]
        if value < 1:
            raise forms.ValidationError(_("Follow-ups must be at least one day apart."))
        return value


@admin.register(LevelSetting)
class LevelSettingAdmin(ScopedAdmin):
    """The three levels exist from the first migration on: the centre edits them, nobody adds
    or deletes one (an alert of a level without a setting would fall back to the defaults)."""

    form = LevelSettingForm
    list_display = ["level", "name", "name_en", "swatch", "ack_minutes", "follow_up_days"]
    readonly_fields = ["level"]
    fields = ["level", "name", "name_en", "colour", "ack_minutes", "follow_up_days"]
    ordering = ["pk"]

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        return qs  # one setting per level for the whole installation

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("colour"))
    def swatch(self, obj: LevelSetting) -> str:
        return format_html('<span style="display:inline-block;width:1.2em;height:1.2em;'
                           'background:{};vertical-align:middle"></span> {}', obj.colour, obj.colour)


# --- read-only records --------------------------------------------------------------------------


class CareRecordAdmin(ReadOnlyAdmin):
    """Read-only, scoped to students the manager administers *and* holds ``cap`` over."""

    cap: Cap = Cap.RISK
    student_path = "student"
    hidden: tuple[str, ...] = ()         # never shown anywhere in the admin
    audited: tuple[str, ...] = ()        # encrypted, shown on the detail page only: audited

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        user = request.user
        managed = visible_students(user, Cap.MANAGE_NETWORK).values("pk")
        tiered = visible_students(user, self.cap).values("pk")
        return qs.filter(**{f"{self.student_path}__in": managed}).filter(
            **{f"{self.student_path}__in": tiered})

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*(super().get_exclude(request, obj) or []), *self.hidden]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f for f in super().get_readonly_fields(request, obj) if f not in self.hidden]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f for f in super().get_fields(request, obj) if f not in self.hidden]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        if self.audited and response.status_code == 200:
            obj = self.get_object(request, object_id)
            if obj is not None:
                audit(request, "admin.view", obj, detail=",".join(self.audited))
        return response


STUDENT_SEARCH = ["student__user__username", "student__user__full_name"]


@admin.register(Alert)
class AlertAdmin(CareRecordAdmin):
    hidden = ("reason",)  # why a screening raised it: screening detail, read on the alert's page
    list_display = ["created_at", "student", "level", "source", "status", "step", "escalations", "due_at"]
    list_filter = ["level", "status", "source"]
    search_fields = STUDENT_SEARCH
    list_select_related = ["student__user"]
    date_hierarchy = "created_at"


@admin.register(Concern)
class ConcernAdmin(CareRecordAdmin):
    cap = Cap.SCORES  # a concern's category is more than a level
    hidden = ("seen",)
    list_display = ["created_at", "student", "reporter", "category", "urgency"]
    list_filter = ["category", "urgency"]
    search_fields = STUDENT_SEARCH
    list_select_related = ["student__user", "reporter"]


@admin.register(RiskEntry)
class RiskEntryAdmin(CareRecordAdmin):
    audited = ("reason",)
    list_display = ["set_at", "student", "level", "is_current", "set_by", "review_on", "follow_up_due_at"]
    list_filter = ["level", "is_current"]
    search_fields = STUDENT_SEARCH
    list_select_related = ["student__user", "set_by"]


@admin.register(Case)
class CaseAdmin(CareRecordAdmin):
    cap = Cap.CASE
    list_display = ["pk", "student", "status", "lead", "opened_at", "closed_at"]
    list_filter = ["status"]
    search_fields = STUDENT_SEARCH
    list_select_related = ["student__user", "lead"]


@admin.register(CaseRecord)
class CaseRecordAdminPage(CareRecordAdmin):
    cap = Cap.CASE
    student_path = "case__student"
    hidden = ("data",)
    list_display = ["at", "case", "student", "kind", "author"]
    list_filter = ["kind"]
    search_fields = ["case__student__user__username", "case__student__user__full_name"]
    list_select_related = ["case__student__user", "author"]

    @admin.display(description=_("student"))
    def student(self, obj: CaseRecord) -> str:
        return str(obj.case.student)


@admin.register(TimelineEntry)
class TimelineEntryAdmin(CareRecordAdmin):
    list_display = ["at", "student", "kind", "tier", "actor"]
    list_filter = ["tier", "kind"]
    search_fields = STUDENT_SEARCH
    list_select_related = ["student__user", "actor"]

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        # Each entry only at a tier the manager holds somewhere (the chronology's own rule).
        return super().scope(request, qs).filter(tier__lte=highest_tier(caps_of(request.user)))


@admin.register(BreakGlass)
class BreakGlassAdmin(CareRecordAdmin):
    cap = Cap.CASE
    student_path = "case__student"
    audited = ("reason",)
    list_display = ["at", "case", "student", "user", "expires_at"]
    search_fields = ["user__username", "user__full_name"]
    list_select_related = ["case__student__user", "user"]

    @admin.display(description=_("student"))
    def student(self, obj: BreakGlass) -> str:
        return str(obj.case.student)
