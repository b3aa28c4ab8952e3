"""The outbox in the back office: read-only, scoped to recipients the manager administers."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from xinlian.access.admin import ReadOnlyAdmin, people_in_scope

from .models import Delivery


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "channel", "recipient", "robot", "status", "attempts", "last_error", "sent_at"]
    list_filter = ["status", "channel"]
    search_fields = ["recipient__username", "recipient__full_name"]
    list_select_related = ["recipient", "robot"]

    def scope(self, request: HttpRequest, qs: QuerySet) -> QuerySet:
        return qs.filter(recipient__in=people_in_scope(request.user))
