"""``/api/v1/`` — namespaced ``api:`` so that router names (``unit-detail``) never collide with
the web pages' URL names."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from . import api

app_name = "api"

router = SimpleRouter()
router.register("units", api.UnitViewSet, basename="unit")
router.register("students", api.StudentViewSet, basename="student")
router.register("staff", api.StaffViewSet, basename="staff")
router.register("posts", api.PostViewSet, basename="post")

urlpatterns = [
    path("me/", api.me, name="me"),
    path("auth/token/", api.obtain_token, name="auth-token"),
    *router.urls,
]
