"""``/api/v1/`` — namespaced ``api:`` so that router names (``unit-detail``) never collide with
the web pages' URL names."""

from django.urls import path, re_path

from xinlian.lib.converters import IdRouter

from . import api, api_identity

app_name = "api"

router = IdRouter()  # detail routes take a bounded id, whatever the viewset says
router.register("units", api.UnitViewSet, basename="unit")
router.register("students", api.StudentViewSet, basename="student")
router.register("staff", api.StaffViewSet, basename="staff")
router.register("posts", api.PostViewSet, basename="post")

urlpatterns = [
    path("me/", api.me, name="me"),
    path("auth/token/", api.obtain_token, name="auth-token"),
    path("auth/logout/", api.token_logout, name="auth-logout"),
    path("me/tokens/", api.my_tokens, name="my-tokens"),
    # A token's public id: 18 hex characters of its digest (xinlian/access/tokens.py).
    re_path(r"^me/tokens/(?P<token_id>[0-9a-f]{18})/$", api.my_token, name="my-token"),
    path("network/roster/import/", api.roster_import, name="roster-import"),
    path("network/units/<id:pk>/first-login-slips/", api_identity.unit_slips, name="unit-first-login-slips"),
    path("network/users/<id:pk>/reset/", api_identity.user_reset, name="user-reset"),
    *router.urls,
]
