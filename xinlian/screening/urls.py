"""Screening pages (namespace ``screening``), mounted at /screening/.

Respondent pages live in views_student.py, staff pages in views_staff.py."""

from django.urls import path

from . import views_staff as staff
from . import views_student as student

app_name = "screening"

urlpatterns = [
    # respondents (students, and staff when a campaign includes them)
    path("", student.mine, name="mine"),
    path("a/<int:pk>/", student.take, name="take"),
    path("a/<int:pk>/consent/", student.consent, name="consent"),
    path("a/<int:pk>/answer/", student.answer, name="answer"),
    path("a/<int:pk>/submit/", student.submit, name="submit"),
    path("a/<int:pk>/thanks/", student.thanks, name="thanks"),
    # staff
    path("campaigns/", staff.campaign_list, name="campaign-list"),
    path("campaigns/new/", staff.campaign_new, name="campaign-new"),
    path("campaigns/<int:pk>/", staff.campaign_detail, name="campaign-detail"),
    path("campaigns/<int:pk>/edit/", staff.campaign_edit, name="campaign-edit"),
    path("campaigns/<int:pk>/launch/", staff.campaign_launch, name="campaign-launch"),
    path("campaigns/<int:pk>/unit/<int:unit>/", staff.campaign_unit, name="campaign-unit"),
    path("campaigns/<int:pk>/report/", staff.campaign_report, name="campaign-report"),
    path("campaigns/<int:pk>/export/", staff.campaign_export, name="campaign-export"),
    path("assignments/<int:pk>/guardian-consent/", staff.guardian_consent, name="guardian-consent"),
    path("results/<int:pk>/", staff.result_detail, name="result-detail"),
    path("interviews/", staff.interview_list, name="interview-list"),
    path("interviews/<int:pk>/", staff.interview_detail, name="interview-detail"),
    path("instruments/", staff.instrument_list, name="instrument-list"),
    path("instruments/upload/", staff.instrument_upload, name="instrument-upload"),
    path("instruments/<int:pk>/", staff.instrument_detail, name="instrument-detail"),
]
