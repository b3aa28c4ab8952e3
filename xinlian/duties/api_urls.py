"""``/api/v1/duties/`` — namespaced ``duties-api:``."""

from django.urls import path

import xinlian.lib.converters  # noqa: F401 — registers <id:…>

from . import api

app_name = "duties-api"

urlpatterns = [
    path("reports/", api.reports, name="report-list"),
    path("reports/<id:pk>/", api.report_detail, name="report-detail"),
    path("reports/<id:pk>/sign-off/", api.report_sign_off, name="report-sign-off"),
    path("reports/<id:pk>/send-back/", api.report_send_back, name="report-send-back"),
    path("completeness/", api.completeness, name="completeness"),
]
