"""DRF glue for the access policy.

Every queryset, permission and filter here is a thin wrapper over
:mod:`xinlian.access.policy`: the API must never scope data differently from the web
pages, so nothing in this module decides on its own who sees what."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from xinlian.lib.converters import parse_id
from xinlian.network.models import Staff, Student, Unit, User

from .policy import Cap, has_cap, visible_posts, visible_students, visible_units


def _user(request: Request) -> User:
    return request.user  # type: ignore[return-value]


# --- scoped querysets -------------------------------------------------------------------------

def units_in_scope(user: User) -> QuerySet[Unit]:
    """Units in the user's roster *or* statistics scope (a bureau viewer sees the tree, not names)."""
    return (visible_units(user, Cap.ROSTER) | visible_units(user, Cap.STATS)).order_by("path")


def staff_in_scope(user: User) -> QuerySet[Staff]:
    """Staff who hold a post that is in force and visible to the user (see ``visible_posts``)."""
    people = visible_posts(user).active().values("person_id")
    return Staff.objects.filter(user_id__in=people)


def students_in_scope(user: User, cap: Cap = Cap.ROSTER) -> QuerySet[Student]:
    return visible_students(user, cap)


# --- permissions ------------------------------------------------------------------------------

class HasCap(BasePermission):
    """Allow only users who hold ``cap`` somewhere; build one with ``HasCap.of(Cap.X)``.

    Use it on *action* endpoints (export, import): holding the capability nowhere is a 403,
    while an object outside the capability's scope is still a 404 from the scoped queryset."""

    cap: Cap = Cap.ROSTER

    @classmethod
    def of(cls, cap: Cap) -> type[HasCap]:
        return type(f"Has{cap.name.title().replace('_', '')}Cap", (cls,), {"cap": cap})

    def has_permission(self, request: Request, view: Any) -> bool:
        user = _user(request)
        return bool(user and user.is_authenticated and has_cap(user, self.cap))


# --- filters ----------------------------------------------------------------------------------

def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    pk = parse_id(raw)  # not str.isdigit(): "²" passes it and int() refuses it (a 500)
    if pk is None:
        raise ValidationError({name: [_("Enter a whole number.")]})
    return pk


class StudentUnitFilter(BaseFilterBackend):
    """``?unit=<id>``: only students in that unit's subtree. A unit outside the user's roster
    scope gives an empty list, exactly like a unit that does not exist (no existence leak)."""

    param = "unit"

    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        pk = _int_param(request, self.param)
        if pk is None:
            return queryset
        unit = visible_units(_user(request), Cap.ROSTER).filter(pk=pk).first()
        if unit is None:
            return queryset.none()
        return queryset.filter(pk__in=Student.objects.in_units([unit]).values("pk"))

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [{
            "name": self.param, "required": False, "in": "query",
            "description": str(_("Only students in this unit or below it.")),
            "schema": {"type": "integer"},
        }]


class StudentSearchFilter(BaseFilterBackend):
    """``?q=``: student number prefix or part of the name."""

    param = "q"

    def filter_queryset(self, request: Request, queryset: QuerySet, view: Any) -> QuerySet:
        q = request.query_params.get(self.param, "").strip()
        if not q:
            return queryset
        return queryset.filter(Q(user__username__istartswith=q) | Q(user__full_name__icontains=q))

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [{
            "name": self.param, "required": False, "in": "query",
            "description": str(_("Student number (prefix) or part of the name.")),
            "schema": {"type": "string"},
        }]
