"""Back-office admin for the network: units, people, posts and the duty catalogue.

Everything is scoped by the access policy (see ``xinlian.access.admin``): a centre director
manages the subtree of their school, superusers everything. Model ``clean()`` runs on every
form (ModelForm calls ``full_clean``); the unit form adds the tree rules that treebeard's
move form does not know."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from treebeard.admin import TreeAdmin
from treebeard.forms import MoveNodeForm, movenodeform_factory

from xinlian.access import twofactor
from xinlian.access.admin import (
    PolicyPermissions,
    ReadOnlyAdmin,
    ScopedAdmin,
    managed_posts,
    managed_units,
    people_in_scope,
)
from xinlian.access.policy import Cap, audit, scope_units, visible_students
from xinlian.lib.actions import ActionError

from .catalogue import seed_duties
from .models import (
    Duty,
    FirstLoginCode,
    Guardian,
    Post,
    SpecialGroup,
    Staff,
    Student,
    Unit,
    UnitKind,
    User,
    validate_phone,
)


def _is_superuser(request: HttpRequest) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


# --- units ------------------------------------------------------------------------------------


class UnitForm(MoveNodeForm):
    """Treebeard's move form plus the network's rules: a unit's kind must fit its parent
    (``Unit.check_parent``), a kind change must still fit its children and students, and a
    non-superuser may only place units inside the subtree they manage."""

    scope_user: User | None = None  # bound per request by UnitAdmin.get_form

    def _limited(self) -> bool:
        return self.scope_user is not None and not self.scope_user.is_superuser

    def _set_ref_model_queryset(self, opts: Any, instance: Unit | None) -> None:
        super()._set_ref_model_queryset(opts, instance)
        if not self._limited():
            return
        field = self.fields["treebeard_ref_node"]
        allowed = managed_units(self.scope_user).values("pk")  # type: ignore[arg-type]
        current = self.initial.get("treebeard_ref_node")
        # Keep the current reference selectable so that renaming a top unit of the scope (whose
        # parent lies outside it) still validates; moving it there is refused in clean().
        extra = [current.pk] if current is not None else []
        field.queryset = field.queryset.filter(pk__in=[*extra]) | field.queryset.filter(pk__in=allowed)

    def _new_parent(self, ref: Unit | None, position: str) -> Unit | None:
        if ref is None:
            return None
        if position in ("first-child", "last-child", "sorted-child"):
            return ref
        return Unit.objects.get_parent(ref)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        kind = cleaned.get("kind")
        if not kind or "treebeard_position" not in cleaned:
            return cleaned
        moving = self.instance._state.adding or bool(
            {"treebeard_ref_node", "treebeard_position"} & set(self.changed_data))
        probe = Unit(kind=kind)
        if moving:
            parent = self._new_parent(cleaned.get("treebeard_ref_node"), cleaned["treebeard_position"])
            if self._limited() and (parent is None or not managed_units(self.scope_user)  # type: ignore[arg-type]
                                    .filter(pk=parent.pk).exists()):
                raise ValidationError(_("You can only place a unit inside the units you manage."),
                                      code="out_of_scope")
            probe.check_parent(parent)
        elif not self.instance._state.adding and kind != self.instance.kind:
            probe.check_parent(Unit.objects.get_parent(self.instance))
        if not self.instance._state.adding and kind != self.instance.kind:
            for child in Unit.objects.get_children(self.instance):
                child.check_parent(probe)
            if self.instance.class_students.exists() or self.instance.dorm_students.exists():
                raise ValidationError(_("A unit with students in it cannot change its kind."),
                                      code="has_students")
        return cleaned


@admin.register(Unit)
class UnitAdmin(ScopedAdmin, TreeAdmin):
    form = movenodeform_factory(Unit, form=UnitForm)
    list_display = ["name", "code", "kind", "name_en"]
    search_fields = ["code", "name", "name_en"]
    list_filter = ["kind"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"scope_user": request.user})

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request)
        if _is_superuser(request):
            return qs
        at_top = (hasattr(request, "_treebeard_parent_id") and not request._treebeard_parent_id
                  and not getattr(request, "_ignore_treebeard_filters", False)
                  and not self.is_filtered(request))
        if at_top:
            # The tree's roots are the tops of the managed subtree, not the real roots.
            return Unit.objects.filter(pk__in=[u.pk for u in scope_units(request.user, Cap.MANAGE_NETWORK)])
        return qs

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        return qs.filter(pk__in=managed_units(request.user).values("pk"))

    def save_model(self, request: HttpRequest, obj: Unit, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if obj.kind == UnitKind.SCHOOL:  # a new school (or a unit made one) gets its duty catalogue
            seed_duties(obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        # A bulk queryset delete would bypass Unit.delete and its refusal.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def _refusal(self, unit: Unit) -> str | None:
        """Unit.delete's own refusal text when it would refuse because of students, found by
        trying it in a transaction that is always rolled back (so the wording stays the model's)."""
        if not unit.students_in_subtree().exists():
            return None
        try:
            with transaction.atomic():
                unit.delete()
                transaction.set_rollback(True)
        except ValidationError as exc:
            return " ".join(exc.messages)
        except ProtectedError:
            return str(self.PROTECTED)
        return None

    PROTECTED = _("This unit cannot be deleted: posts or staff still belong to it or to a unit below it.")

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        change_url = reverse("admin:network_unit_change", args=[object_id])
        unit = self.get_object(request, unquote(object_id))
        if unit is not None and self.has_delete_permission(request, unit):
            # Refuse up front (GET and POST alike) rather than show Django's “protected objects”
            # page, which lists only direct references and not the students further down.
            refusal = self._refusal(unit)
            if refusal:
                self.message_user(request, refusal, messages.ERROR)
                return redirect(change_url)
        try:
            return super().delete_view(request, object_id, extra_context)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        except ProtectedError:
            self.message_user(request, self.PROTECTED, messages.ERROR)
        return redirect(change_url)


# --- people -----------------------------------------------------------------------------------


@admin.register(User)
class PersonAdmin(ScopedAdmin, BaseUserAdmin):
    list_display = ["username", "full_name", "kind", "is_active", "last_login"]
    list_filter = ["kind", "is_active"]
    search_fields = ["username", "full_name"]
    ordering = ["username"]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Person"), {"fields": ("full_name", "kind", "phone", "email")}),
        (_("Access"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",),
                "fields": ("username", "full_name", "kind", "usable_password", "password1", "password2")}),
    )
    readonly_fields = ["last_login", "date_joined"]
    # Fields that would let a network manager hand out more than the policy grants.
    SUPERUSER_ONLY = {"is_staff", "is_superuser", "groups", "user_permissions"}

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if _is_superuser(request):
            return fieldsets
        return [(name, {**opts, "fields": tuple(f for f in opts["fields"] if f not in self.SUPERUSER_ONLY)})
                for name, opts in fieldsets]

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        return qs.filter(pk__in=people_in_scope(request.user).values("pk"))

    actions = ["reset_two_step"]

    @admin.action(description=_("Reset two-step verification (lost phone)"))
    def reset_two_step(self, request: HttpRequest, queryset: QuerySet) -> None:
        """The verb's own rule and audit row for each person (never oneself: that takes a code)."""
        done, refused = 0, []
        for person in queryset:
            try:
                twofactor.reset_for(request, person.pk)
            except ActionError as exc:
                refused.append(f"{person.username}: {exc.text}")
            else:
                done += 1
        if done:
            self.message_user(request, _("Two-step verification reset for %(n)d people: each sets it "
                                         "up again at their next login.") % {"n": done}, messages.SUCCESS)
        for text in refused:
            self.message_user(request, text, messages.ERROR)


class GuardianForm(forms.ModelForm):
    phone = forms.CharField(label=_("phone"), max_length=32, validators=[validate_phone])

    class Meta:
        model = Guardian
        fields = ["name", "relation", "phone", "is_primary"]


class GuardianInline(PolicyPermissions, admin.TabularInline):
    model = Guardian
    form = GuardianForm
    extra = 0


@admin.register(Student)
class StudentAdmin(ScopedAdmin):
    list_display = ["number", "name", "klass", "dorm", "enrolment_year", "status"]
    list_select_related = ["user", "klass", "dorm"]
    list_filter = ["status", "enrolment_year", "gender"]
    search_fields = ["user__username", "user__full_name"]
    autocomplete_fields = ["user", "klass", "dorm"]
    filter_horizontal = ["special_groups"]

    @admin.display(description=_("number"), ordering="user__username")
    def number(self, obj: Student) -> str:
        return obj.number

    @admin.display(description=_("name"), ordering="user__full_name")
    def name(self, obj: Student) -> str:
        return obj.name

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        return qs.filter(pk__in=visible_students(request.user, Cap.MANAGE_NETWORK).values("pk"))

    def _holds_case(self, request: HttpRequest, obj: Student | None) -> bool:
        if _is_superuser(request):
            return True
        cases = visible_students(request.user, Cap.CASE)
        return cases.filter(pk=obj.pk).exists() if obj is not None else cases.exists()

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[type]:
        # Guardian phones are tier 4: shown (and audited) only with the case tier.
        if not self._holds_case(request, obj):
            return []
        if obj is not None:
            request._xinlian_guardians_of = obj  # type: ignore[attr-defined]
        return [GuardianInline]

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: Any = None) -> HttpResponse:
        response = super().change_view(request, object_id, form_url, extra_context)
        student = getattr(request, "_xinlian_guardians_of", None)
        if student is not None:
            audit(request, "student.admin_view", student, detail=Cap.CASE.value)
        return response


@admin.register(Staff)
class StaffAdmin(ScopedAdmin):
    list_display = ["__str__", "department", "title"]
    list_select_related = ["user", "department"]
    search_fields = ["user__username", "user__full_name", "title"]
    autocomplete_fields = ["user", "department"]

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        people = people_in_scope(request.user).values("pk")
        return qs.filter(user_id__in=people)


class PostForm(forms.ModelForm):
    class Meta:
        model = Post
        fields = ["person", "unit", "role", "starts_on", "ends_on"]

    def _post_clean(self) -> None:
        # Post.clean() looks the role up in ROLE_UNIT_KINDS; without a valid role the form is
        # already invalid, and running it would only raise a KeyError.
        if "role" in self.errors:
            return
        super()._post_clean()


@admin.register(Post)
class PostAdmin(ScopedAdmin):
    form = PostForm
    list_display = ["person", "role", "unit", "starts_on", "ends_on"]
    list_select_related = ["person", "unit"]
    list_filter = ["role"]
    search_fields = ["person__username", "person__full_name", "unit__name", "unit__code"]
    autocomplete_fields = ["person", "unit"]
    date_hierarchy = "starts_on"

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        return qs.filter(pk__in=managed_posts(request.user).values("pk"))


# --- catalogues -------------------------------------------------------------------------------


@admin.register(Duty)
class DutyAdmin(ScopedAdmin):
    """The duty catalogue is seeded from the policies; each school edits its own."""

    list_display = ["title", "role", "frequency", "fulfilled_by", "order", "school"]
    list_editable = ["order"]
    list_filter = ["role", "frequency", "fulfilled_by", "school"]
    search_fields = ["title", "title_en"]
    list_select_related = ["school"]

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        return qs.filter(school__in=managed_units(request.user))


@admin.register(SpecialGroup)
class SpecialGroupAdmin(ScopedAdmin):
    """One catalogue for the whole installation: no scope to apply."""

    list_display = ["code", "name", "name_en"]
    search_fields = ["code", "name", "name_en"]

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        return qs


# --- first-login codes ------------------------------------------------------------------------


@admin.register(FirstLoginCode)
class FirstLoginCodeAdmin(ReadOnlyAdmin):
    """Who holds a code, until when, used or not: a list to answer "did my slip work?". Never the
    code's hash (nothing to copy out), no adding or editing: codes come from the slips and resets."""

    list_display = ["user", "created_at", "expires_at", "used_at", "issued_by"]
    list_filter = ["used_at", "expires_at"]
    search_fields = ["user__username", "user__full_name"]
    list_select_related = ["user", "issued_by"]
    fields = ["user", "created_at", "expires_at", "used_at", "issued_by"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return list(self.fields)

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        return qs.filter(user__in=people_in_scope(request.user))


# django-otp's own admins show an authenticator's secret key and let a superuser add a device
# with a key of their choosing for anyone: a second factor someone else holds. Devices are set
# up by their owner (/me/two-step/) and reset with the action on a person above.
for _model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
