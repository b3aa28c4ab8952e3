"""``/api/v1/care/`` — namespaced ``care-api:`` so that router names (``alert-detail``) never
collide with the care web pages' names."""

from django.urls import path

from xinlian.lib.converters import IdRouter

from . import api

app_name = "care-api"

router = IdRouter()  # detail routes take a bounded id, whatever the viewset says
router.register("concerns", api.ConcernViewSet, basename="concern")
router.register("alerts", api.AlertViewSet, basename="alert")
router.register("register", api.RegisterViewSet, basename="register")
router.register("follow-ups", api.FollowUpViewSet, basename="follow-up")
router.register("cases", api.CaseViewSet, basename="case")

urlpatterns = [
    path("students/<id:pk>/timeline/", api.student_timeline, name="student-timeline"),
    *router.urls,
]
