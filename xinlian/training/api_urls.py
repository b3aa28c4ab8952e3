"""``/api/v1/training/`` — namespaced ``training-api:``."""

from django.urls import path

import xinlian.lib.converters  # noqa: F401 — registers <id:…>

from . import api

app_name = "training-api"

urlpatterns = [
    path("sessions/", api.sessions, name="session-list"),
    path("sessions/<id:pk>/", api.session_detail, name="session-detail"),
    path("sessions/<id:pk>/invite/", api.session_invite, name="session-invite"),
    path("sessions/<id:pk>/attendance/", api.attendance, name="attendance"),
    path("untrained/", api.untrained, name="untrained"),
    path("hours/", api.hours, name="hours"),
]
