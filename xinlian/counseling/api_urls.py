"""``/api/v1/counseling/`` — namespaced ``counseling-api:``."""

from django.urls import path

import xinlian.lib.converters  # noqa: F401 — registers <id:…>

from . import api

app_name = "counseling-api"

urlpatterns = [
    path("slots/", api.slots, name="slots"),
    path("bookings/", api.bookings, name="bookings"),
    path("bookings/<id:pk>/", api.booking, name="booking"),
    path("bookings/<id:pk>/cancel/", api.cancel, name="booking-cancel"),
    path("waitlist/", api.waitlist, name="waitlist"),
    path("availability/", api.availability, name="availability"),
    path("availability/weekly/", api.availability_weekly, name="availability-weekly"),
    path("availability/weekly/<id:pk>/end/", api.availability_end, name="availability-end"),
    path("availability/changes/", api.availability_change, name="availability-change"),
]
