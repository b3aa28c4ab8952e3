"""Screening pages (namespace ``screening``), mounted at /screening/.

Respondent pages live in views_student.py, staff pages in views_staff.py."""

from django.urls import path

import xinlian.lib.converters  # noqa: F401 — registers <id:…>: ids beyond 18 digits are a 404

from . import views_staff as staff
from . import views_student as student

app_name = "screening"

urlpatterns = [
    # respondents (students, and staff when a campaign includes them)
    path("", student.mine, name="mine"),
    path("a/<id:pk>/", student.take, name="take"),
    path("a/<id:pk>/consent/", student.consent, name="consent"),
    path("a/<id:pk>/answer/", student.answer, name="answer"),
    path("a/<id:pk>/submit/", student.submit, name="submit"),
    path("a/<id:pk>/thanks/", student.thanks, name="thanks"),
    # staff
    path("campaigns/", staff.campaign_list, name="campaign-list"),
    path("campaigns/new/", staff.campaign_new, name="campaign-new"),
    path("campaigns/<id:pk>/", staff.campaign_detail, name="campaign-detail"),
    path("campaigns/<id:pk>/edit/", staff.campaign_edit, name="campaign-edit"),
    path("campaigns/<id:pk>/launch/", staff.campaign_launch, name="campaign-launch"),
    path("campaigns/<id:pk>/unit/<id:unit>/", staff.campaign_unit, name="campaign-unit"),
    path("campaigns/<id:pk>/report/", staff.campaign_report, name="campaign-report"),
    path("campaigns/<id:pk>/export/", staff.campaign_export, name="campaign-export"),
    path("assignments/<id:pk>/guardian-consent/", staff.guardian_consent, name="guardian-consent"),
    path("results/<id:pk>/", staff.result_detail, name="result-detail"),
    path("interviews/", staff.interview_list, name="interview-list"),
    path("interviews/<id:pk>/", staff.interview_detail, name="interview-detail"),
    path("instruments/", staff.instrument_list, name="instrument-list"),
    path("instruments/upload/", staff.instrument_upload, name="instrument-upload"),
    path("instruments/<id:pk>/", staff.instrument_detail, name="instrument-detail"),
]
