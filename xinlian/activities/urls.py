from django.urls import path, re_path

import xinlian.lib.converters  # noqa: F401 — registers <id:…>: ids beyond 18 digits are a 404

from . import views

app_name = "activities"

urlpatterns = [
    path("", views.home, name="home"),
    path("plan/", views.plan, name="plan"),
    path("<id:pk>/", views.activity, name="activity"),
    path("assignments/<id:pk>/", views.assignment, name="assignment"),
    path("assignments/<id:pk>/sign-in/", views.sign_in_screen, name="sign-in-screen"),
    path("assignments/<id:pk>/sign-in/qr/", views.sign_in_qr, name="sign-in-qr"),
    # A signed code (django.core.signing: base64url and ':'), at most 200 characters.
    re_path(r"^sign-in/(?P<code>[A-Za-z0-9_:\-]{1,200})/$", views.sign_in, name="sign-in"),
    path("photos/<id:pk>/", views.photo, name="photo"),
    path("photos/<id:pk>/thumb/", views.photo_thumb, name="photo-thumb"),
    path("photos/<id:pk>/remove/", views.photo_remove, name="photo-remove"),
    path("campaigns/new/", views.campaign_create, name="campaign-create"),
    path("campaigns/<id:pk>/", views.campaign, name="campaign"),
    path("courses/", views.courses, name="courses"),
    path("courses/<id:pk>/hours/", views.course_hours, name="course-hours"),
]
