"""``/api/v1/care/`` — namespaced ``care-api:`` so that router names (``alert-detail``) never
collide with the care web pages' names."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

app_name = "care-api"

router = SimpleRouter()
router.register("concerns", api.ConcernViewSet, basename="concern")
router.register("alerts", api.AlertViewSet, basename="alert")
router.register("register", api.RegisterViewSet, basename="register")
router.register("follow-ups", api.FollowUpViewSet, basename="follow-up")
router.register("cases", api.CaseViewSet, basename="case")

urlpatterns = [
    path("students/<int:pk>/timeline/", api.student_timeline, name="student-timeline"),
    *router.urls,
]
