"""The outbox and the group robots in the back office, scoped to the units the manager runs.

The outbox is read-only. A robot's webhook address embeds its key and the signing secret is a
secret: both are write-only here — typed in, stored encrypted, never displayed back (not in the
list, not in the form, not after a failed save)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.validators import URLValidator
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from xinlian.access.admin import ReadOnlyAdmin, ScopedAdmin, managed_units, people_in_scope

from .models import ChannelPolicy, Delivery, OfficeHours, Robot
from .services import LEVEL_LABELS


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "channel", "recipient", "robot", "status", "attempts", "last_error", "sent_at"]
    list_filter = ["status", "channel"]
    search_fields = ["recipient__username", "recipient__full_name"]
    list_select_related = ["recipient", "robot"]

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        # Robot deliveries have no recipient: they belong to the robot's unit, so that a failed
        # webhook is shown to the centre that runs it.
        return qs.filter(Q(recipient__in=people_in_scope(request.user))
                         | Q(robot__unit__in=managed_units(request.user)))


# --- robots -------------------------------------------------------------------------------------

LEVEL_CHOICES = [(level, _(label)) for level, label in LEVEL_LABELS.items()]


class RobotForm(forms.ModelForm):
    """``url`` and ``secret`` are not model fields of this form: the stored values never reach
    the page. An empty box keeps what is stored."""

    new_url = forms.CharField(
        label=_("webhook address"), required=False, max_length=1000,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        validators=[URLValidator(schemes=["https", "http"])],
        help_text=_("Copied from the group robot's settings. It is never shown again; leave the "
                    "box empty to keep the stored address."))
    new_secret = forms.CharField(
        label=_("signing secret"), required=False, max_length=200,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("Only for robots with signing turned on (DingTalk, Feishu). Never shown "
                    "again; leave empty to keep it."))
    clear_secret = forms.BooleanField(label=_("Remove the signing secret"), required=False)
    level_choices = forms.MultipleChoiceField(label=_("alert levels"), choices=LEVEL_CHOICES,
                                              widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = Robot
        fields = ["unit", "name", "kind", "is_active"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["level_choices"].initial = [
                lv for lv in (x.strip() for x in self.instance.levels.split(",")) if lv in LEVEL_LABELS]
        else:
            self.fields["level_choices"].initial = list(LEVEL_LABELS)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not self.instance.pk and not cleaned.get("new_url"):
            self.add_error("new_url", _("A new robot needs its webhook address."))
        if cleaned.get("new_secret") and cleaned.get("clear_secret"):
            self.add_error("clear_secret", _("Either type a new secret or remove it, not both."))
        return cleaned

    def save(self, commit: bool = True) -> Robot:
        robot: Robot = super().save(commit=False)
        if self.cleaned_data.get("new_url"):
            robot.url = self.cleaned_data["new_url"].strip()
        if self.cleaned_data.get("clear_secret"):
            robot.secret = ""
        elif self.cleaned_data.get("new_secret"):
            robot.secret = self.cleaned_data["new_secret"].strip()
        chosen = set(self.cleaned_data.get("level_choices") or [])
        robot.levels = ",".join(lv for lv in LEVEL_LABELS if lv in chosen)
        if commit:
            robot.save()
        return robot


@admin.register(Robot)
class RobotAdmin(ScopedAdmin):
    form = RobotForm
    fields = ["unit", "name", "kind", "new_url", "new_secret", "clear_secret", "level_choices",
              "is_active"]
    list_display = ["name", "kind", "unit", "levels", "is_active", "has_secret"]
    list_filter = ["kind", "is_active"]
    search_fields = ["name", "unit__name"]
    list_select_related = ["unit"]

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        return qs.filter(unit__in=managed_units(request.user))

    @admin.display(boolean=True, description=_("signing secret set"))
    def has_secret(self, obj: Robot) -> bool:
        return bool(obj.secret)


# --- the channel policy and office hours ---------------------------------------------------------


@admin.register(ChannelPolicy)
class ChannelPolicyAdmin(ScopedAdmin):
    """One policy per level for the whole installation (shipped by the migration): the centre
    edits them, nobody adds or deletes one (a missing level falls back to the defaults)."""

    list_display = ["level", "email", "push", "sms", "sms_after_minutes", "hold_in_quiet_hours"]
    readonly_fields = ["level"]
    fields = ["level", "email", "push", "sms", "sms_after_minutes", "hold_in_quiet_hours"]
    ordering = ["pk"]

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        return qs

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(OfficeHours)
class OfficeHoursAdmin(ScopedAdmin):
    """The centre's office hours (Asia/Shanghai): out of them is "night" for the channel policy
    and the duty rota. One row, shipped by the migration."""

    list_display = ["start", "end", "weekdays"]
    fields = ["start", "end", "weekdays"]

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        return qs

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return not OfficeHours.objects.exists() and super().has_add_permission(request, *args)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
