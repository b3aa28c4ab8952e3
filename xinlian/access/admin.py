"""Admin building blocks shared by every app's ``admin.py``, and the read-only audit trail.

A non-superuser in the back office is a ``Cap.MANAGE_NETWORK`` holder: Django's per-model
permission rows are not used for them (nobody would keep them in step with posts); instead
each admin's queryset is the policy's scope and the capability is the permission."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import HttpRequest
from knox.models import AuthToken

from xinlian.network.models import Post, Staff, Student, Unit, User

from .backoffice import may_use_back_office
from .models import ApiToken, AuditEvent
from .policy import Cap, visible_posts, visible_students, visible_units

MANAGE = Cap.MANAGE_NETWORK


def managed_units(user: User) -> QuerySet[Unit]:
    return visible_units(user, MANAGE)


def managed_posts(user: User) -> QuerySet[Post]:
    return visible_posts(user).filter(unit__in=managed_units(user))


def people_in_scope(user: User) -> QuerySet[User]:
    """Accounts a network manager may administer: students and post holders in the managed
    subtree, staff of departments in it, and accounts not yet attached to anything (just
    created, before their student/staff record). Never a superuser."""
    units = managed_units(user)
    unattached = (~Exists(Student.objects.filter(user_id=OuterRef("pk")))
                  & ~Exists(Staff.objects.filter(user_id=OuterRef("pk")))
                  & ~Exists(Post.objects.filter(person_id=OuterRef("pk"))))
    return User.objects.filter(
        Q(pk__in=visible_students(user, MANAGE).values("user_id"))
        | Q(pk__in=managed_posts(user).values("person_id"))
        | Q(pk__in=Staff.objects.filter(department__in=units).values("user_id"))
        | unattached
    ).exclude(is_superuser=True)


def _superuser(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_superuser)


class PolicyPermissions:
    """Permission hooks for ModelAdmin and InlineModelAdmin: superusers keep Django's rules,
    everyone else is allowed exactly when the site lets them in (MANAGE_NETWORK)."""

    read_only = False

    def _may(self, request: HttpRequest) -> bool:
        return may_use_back_office(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._may(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self._may(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return not self.read_only and self._may(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self.read_only and self._may(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self.read_only and self._may(request)


class ScopedAdmin(PolicyPermissions, admin.ModelAdmin):
    """Base of every Xinlian ModelAdmin. Subclasses say what their scope is in ``scope()``;
    change/delete views look objects up through ``get_queryset``, so anything outside the
    scope is “not found” there too."""

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        return qs.none()

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        qs = super().get_queryset(request)
        return qs if _superuser(request) else self.scope(request, qs)

    def scoped_choices(self, request: HttpRequest, model: type) -> QuerySet | None:
        """The queryset a foreign key to ``model`` may choose from, or None for no limit."""
        if _superuser(request):
            return None
        user = request.user
        if model is Unit:
            return managed_units(user)
        if model is User:
            return people_in_scope(user)
        if model is Student:
            return visible_students(user, MANAGE)
        return None

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        choices = self.scoped_choices(request, db_field.related_model)
        if choices is not None and "queryset" not in kwargs:
            kwargs["queryset"] = choices.filter(**(db_field.get_limit_choices_to() or {}))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyAdmin(ScopedAdmin):
    """For records nobody edits by hand (audit trail, outbox): no add, change or delete."""

    read_only = True
    actions = None

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "actor", "action", "object_type", "object_id", "result", "ip"]
    list_filter = ["result", "action", "object_type"]
    search_fields = ["actor__username", "actor__full_name", "object_id", "action"]
    list_select_related = ["actor"]
    date_hierarchy = "at"

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        return qs.filter(actor__in=people_in_scope(request.user))


# knox's own admin lets a superuser mint a token for anyone and shows it on screen: a way to act
# as another person past the audit trail. Here tokens are only listed and revoked (deleted);
# people make their own at /me/tokens/.
if admin.site.is_registered(AuthToken):
    admin.site.unregister(AuthToken)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["token_key", "user", "created", "expiry"]
    search_fields = ["token_key", "user__username", "user__full_name"]
    list_select_related = ["user"]
    fields = ["token_key", "user", "created", "expiry"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_active and request.user.is_superuser
