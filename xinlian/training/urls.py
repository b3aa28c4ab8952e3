from django.urls import path

import xinlian.lib.converters  # noqa: F401 — registers <id:…>: ids beyond 18 digits are a 404

from . import views

app_name = "training"

urlpatterns = [
    path("", views.home, name="home"),
    path("sessions/new/", views.session_new, name="session-new"),
    path("sessions/<id:pk>/", views.session, name="session"),
    path("sessions/<id:pk>/invite/", views.session_invite, name="session-invite"),
    path("sessions/<id:pk>/attendance/", views.attendance, name="attendance"),
    path("sessions/<id:pk>/parents/", views.parents, name="parents"),
    path("untrained/", views.untrained, name="untrained"),
    path("requirements/", views.requirement_set, name="requirement-set"),
    path("hours/", views.hours, name="hours"),
]
