"""The inbox (mounted at /inbox/) and the centre's failed deliveries."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("badge/", views.inbox_badge, name="inbox-badge"),
    path("<int:pk>/read/", views.inbox_read, name="inbox-read"),
    path("read-all/", views.inbox_read_all, name="inbox-read-all"),
    path("failed/", views.deliveries_failed, name="deliveries-failed"),
    path("failed/<int:pk>/retry/", views.delivery_retry, name="delivery-retry"),
]
