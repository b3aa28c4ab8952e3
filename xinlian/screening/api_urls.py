"""Screening API (namespace ``screening-api``) at /api/v1/screening/."""

from django.urls import path

from . import api

app_name = "screening-api"

urlpatterns = [
    path("campaigns/", api.campaign_list, name="campaign-list"),
    path("assignments/", api.my_assignments, name="my-assignments"),
    path("assignments/<int:pk>/", api.assignment_detail, name="assignment-detail"),
    path("assignments/<int:pk>/consent/", api.consent, name="consent"),
    path("assignments/<int:pk>/answers/", api.save_answer, name="save-answer"),
    path("assignments/<int:pk>/submit/", api.submit, name="submit"),
    path("results/", api.result_list, name="result-list"),
]
