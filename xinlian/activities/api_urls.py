"""``/api/v1/activities/`` — namespaced ``activities-api:``."""

from django.urls import path

import xinlian.lib.converters  # noqa: F401 — registers <id:…>

from . import api

app_name = "activities-api"

urlpatterns = [
    path("activities/", api.activities, name="activity-list"),
    path("activities/<id:pk>/", api.activity_detail, name="activity-detail"),
    path("activities/<id:pk>/assign/", api.activity_assign, name="activity-assign"),
    path("assignments/", api.assignments, name="assignment-list"),
    path("assignments/<id:pk>/", api.assignment_detail, name="assignment-detail"),
    path("assignments/<id:pk>/record/", api.assignment_record, name="assignment-record"),
    path("assignments/<id:pk>/photos/", api.assignment_photos, name="assignment-photos"),
    path("assignments/<id:pk>/sign-in-code/", api.assignment_sign_in_code, name="assignment-sign-in-code"),
    path("photos/<id:pk>/", api.photo_detail, name="photo-detail"),
    path("sign-in/", api.sign_in, name="sign-in"),
    path("campaigns/", api.campaigns, name="campaign-list"),
    path("campaigns/<id:pk>/progress/", api.campaign_progress, name="campaign-progress"),
    path("courses/", api.courses, name="course-list"),
    path("courses/<id:pk>/hours/", api.course_hours, name="course-hours"),
]
