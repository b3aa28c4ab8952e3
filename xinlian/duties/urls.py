from django.urls import path

import xinlian.lib.converters  # noqa: F401 — registers <id:…>: ids beyond 18 digits are a 404

from . import views

app_name = "duties"

urlpatterns = [
    path("", views.home, name="home"),
    path("report/<id:post>/<id:period>/", views.report_form, name="report-form"),
    path("reports/<id:pk>/", views.report_detail, name="report-detail"),
    path("reports/<id:pk>/sign-off/", views.report_sign_off, name="report-sign-off"),
    path("reports/<id:pk>/send-back/", views.report_send_back, name="report-send-back"),
    path("review/", views.review, name="review"),
    path("completeness/", views.completeness, name="completeness"),
    path("cycles/<id:pk>/", views.cycle_set, name="cycle-set"),
]
