"""``/api/v1/`` — namespaced ``api:`` so that router names (``unit-detail``) never collide with
the web pages' URL names."""

from django.urls import path

from xinlian.lib.converters import IdRouter

from . import api

app_name = "api"

router = IdRouter()  # detail routes take a bounded id, whatever the viewset says
router.register("units", api.UnitViewSet, basename="unit")
router.register("students", api.StudentViewSet, basename="student")
router.register("staff", api.StaffViewSet, basename="staff")
router.register("posts", api.PostViewSet, basename="post")

urlpatterns = [
    path("me/", api.me, name="me"),
    path("auth/token/", api.obtain_token, name="auth-token"),
    path("network/roster/import/", api.roster_import, name="roster-import"),
    *router.urls,
]
