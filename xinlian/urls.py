from django.conf.urls.i18n import i18n_patterns  # noqa: F401 — language is chosen by cookie, not URL
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("xinlian.network.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/care/", include("xinlian.care.api_urls")),
    path("care/", include("xinlian.care.urls")),
    path("api/v1/screening/", include("xinlian.screening.api_urls")),
    path("screening/", include("xinlian.screening.urls")),
    path("api/v1/counseling/", include("xinlian.counseling.api_urls")),
    path("counseling/", include("xinlian.counseling.urls")),
    path("inbox/", include("xinlian.notify.urls")),
    path("api/v1/duties/", include("xinlian.duties.api_urls")),
    path("duties/", include("xinlian.duties.urls")),
    path("api/v1/activities/", include("xinlian.activities.api_urls")),
    path("activities/", include("xinlian.activities.urls")),
    path("api/v1/training/", include("xinlian.training.api_urls")),
    path("training/", include("xinlian.training.urls")),
    path("api/v1/planning/", include("xinlian.planning.api_urls")),
    path("planning/", include("xinlian.planning.urls")),
    path("", include("xinlian.web.urls")),
]
