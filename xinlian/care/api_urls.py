"""``/api/v1/care/`` — namespaced ``care-api:`` so that router names (``alert-detail``) never
collide with the care web pages' names."""

from django.urls import path

from xinlian.lib.converters import IdRouter

from . import api, api_rota

app_name = "care-api"

router = IdRouter()  # detail routes take a bounded id, whatever the viewset says
router.register("concerns", api.ConcernViewSet, basename="concern")
router.register("alerts", api.AlertViewSet, basename="alert")
router.register("register", api.RegisterViewSet, basename="register")
router.register("follow-ups", api.FollowUpViewSet, basename="follow-up")
router.register("cases", api.CaseViewSet, basename="case")

urlpatterns = [
    path("students/<id:pk>/timeline/", api.student_timeline, name="student-timeline"),
    path("students/<id:pk>/guardians/", api.student_guardians, name="student-guardians"),
    path("rota/", api_rota.rota_units, name="rota-list"),
    path("rota/<id:pk>/shifts/", api_rota.rota_shifts, name="rota-shifts"),
    path("rota/<id:pk>/shifts/<id:shift>/", api_rota.rota_shift, name="rota-shift"),
    path("rota/<id:pk>/line/", api_rota.rota_line, name="rota-line"),
    path("rota/<id:pk>/import/", api_rota.rota_import, name="rota-import"),
    *router.urls,
]
