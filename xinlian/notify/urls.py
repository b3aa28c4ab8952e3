"""The inbox (mounted at /inbox/) and the centre's failed deliveries."""

from django.urls import path

import xinlian.lib.converters  # noqa: F401 — registers <id:…>: ids beyond 18 digits are a 404

from . import views

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("badge/", views.inbox_badge, name="inbox-badge"),
    path("<id:pk>/read/", views.inbox_read, name="inbox-read"),
    path("read-all/", views.inbox_read_all, name="inbox-read-all"),
    path("failed/", views.deliveries_failed, name="deliveries-failed"),
    path("failed/<id:pk>/retry/", views.delivery_retry, name="delivery-retry"),
]
