"""Screening API (namespace ``screening-api``) at /api/v1/screening/."""

from django.urls import path

import xinlian.lib.converters  # noqa: F401 — registers <id:…>: ids beyond 18 digits are a 404

from . import api

app_name = "screening-api"

urlpatterns = [
    path("campaigns/", api.campaign_list, name="campaign-list"),
    path("assignments/", api.my_assignments, name="my-assignments"),
    path("assignments/<id:pk>/", api.assignment_detail, name="assignment-detail"),
    path("assignments/<id:pk>/consent/", api.consent, name="consent"),
    path("assignments/<id:pk>/answers/", api.save_answer, name="save-answer"),
    path("assignments/<id:pk>/submit/", api.submit, name="submit"),
    path("results/", api.result_list, name="result-list"),
    # staff actions (the same verbs as the pages: xinlian/screening/actions.py)
    path("assignments/<id:pk>/results/", api.assignment_results, name="assignment-results"),
    path("assignments/<id:pk>/guardian-consent/", api.guardian_consent, name="guardian-consent"),
    path("interviews/<id:pk>/outcome/", api.interview_outcome, name="interview-outcome"),
]
