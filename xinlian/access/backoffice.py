"""The back-office admin site, behind the same access policy as everything else.

Django's stock admin lets in anyone with ``is_staff``; here the flag means nothing. Only an
active superuser or the holder of ``Cap.MANAGE_NETWORK`` (the counselling-centre director)
may enter. ``admin_site.BackOfficeAdminConfig`` makes this the default ``admin.site``."""

from __future__ import annotations

from typing import Any

from django.contrib.admin import AdminSite
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from xinlian.access.policy import Cap, has_cap


def may_use_back_office(user: Any) -> bool:
    """Active superusers, and active holders of ``Cap.MANAGE_NETWORK``; ``is_staff`` is ignored."""
    if not (getattr(user, "is_authenticated", False) and user.is_active):
        return False
    return bool(user.is_superuser or has_cap(user, Cap.MANAGE_NETWORK))


class BackOfficeAuthenticationForm(AdminAuthenticationForm):
    def confirm_login_allowed(self, user: Any) -> None:
        # Skip AdminAuthenticationForm's is_staff test: the policy decides, not the flag.
        super(AdminAuthenticationForm, self).confirm_login_allowed(user)
        if not may_use_back_office(user):
            raise ValidationError(self.error_messages["invalid_login"], code="invalid_login",
                                  params={"username": self.username_field.verbose_name})


class BackOfficeSite(AdminSite):
    site_header = _("Xinlian back office")
    site_title = _("Xinlian back office")
    index_title = _("Network administration")
    login_form = BackOfficeAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        return may_use_back_office(request.user)
