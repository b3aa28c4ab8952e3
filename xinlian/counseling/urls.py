from django.urls import path

import xinlian.lib.converters  # noqa: F401 — registers <id:…>: ids beyond 18 digits are a 404

from . import views

app_name = "counseling"

urlpatterns = [
    path("", views.slots, name="slots"),
    path("book/", views.book, name="book"),
    path("mine/", views.mine, name="appointments"),
    path("bookings/<id:pk>/", views.booking, name="booking"),
    path("bookings/<id:pk>/cancel/", views.cancel, name="cancel"),
    path("bookings/<id:pk>/booking.ics", views.ics, name="ics"),
    path("waitlist/", views.waitlist, name="waitlist"),
    path("waitlist/<id:pk>/leave/", views.waitlist_leave, name="waitlist-leave"),
    path("staff/", views.staff, name="staff"),
    path("rota/", views.rota, name="rota"),
    path("rota/<id:pk>/", views.rota, name="rota-counsellor"),
    path("rota/<id:pk>/weekly/", views.rota_weekly, name="rota-weekly"),
    path("rota/weekly/<id:pk>/end/", views.rota_end, name="rota-end"),
    path("rota/<id:pk>/change/", views.rota_change, name="rota-change"),
]
