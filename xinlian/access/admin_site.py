"""The admin app's config, listed in ``settings.INSTALLED_APPS`` in place of
``django.contrib.admin`` so that every ``admin.site.register`` — ours and third-party apps' —
lands on the policy-guarded :class:`xinlian.access.backoffice.BackOfficeSite`.

Imported while the app registry is still loading: nothing here may import models or forms."""

from django.contrib.admin.apps import AdminConfig


class BackOfficeAdminConfig(AdminConfig):
    default_site = "xinlian.access.backoffice.BackOfficeSite"
