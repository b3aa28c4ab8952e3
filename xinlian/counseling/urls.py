from django.urls import path

import xinlian.lib.converters  # noqa: F401 — registers <id:…>: ids beyond 18 digits are a 404

from . import views, views_caseload, views_referrals, views_sessions

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
    # Sessions (Z1)
    path("day/", views_sessions.day, name="day"),
    path("day/bookings/<id:pk>/attendance/", views_sessions.booking_attendance, name="day-booking-attendance"),
    path("day/bookings/<id:pk>/open/", views_sessions.booking_open, name="day-booking-open"),
    path("sessions/", views_sessions.session_list, name="sessions"),
    path("sessions/new/", views_sessions.session_new, name="session-new"),
    path("sessions/<id:pk>/", views_sessions.session, name="session"),
    path("sessions/<id:pk>/attendance/", views_sessions.session_attendance, name="session-attendance"),
    path("groups/", views_sessions.groups, name="groups"),
    path("groups/<id:pk>/", views_sessions.group, name="group"),
    path("groups/<id:pk>/members/", views_sessions.group_members, name="group-members"),
    path("groups/<id:pk>/members/<id:member>/remove/", views_sessions.group_member_remove,
         name="group-member-remove"),
    path("groups/<id:pk>/meetings/", views_sessions.group_meetings, name="group-meetings"),
    path("caseload/", views_caseload.caseload_page, name="caseload"),
    path("overview/", views_caseload.overview_page, name="overview"),
    path("week/", views_caseload.week_page, name="week"),
    # Referral in and out, leave and return, closing, satisfaction (Z3)
    path("referrals/", views_referrals.referrals, name="referrals"),
    path("referrals/new/", views_referrals.referral_new, name="referral-new"),
    path("referrals/<id:pk>/accept/", views_referrals.referral_accept, name="referral-accept"),
    path("referrals/<id:pk>/decline/", views_referrals.referral_decline, name="referral-decline"),
    path("hospitals/", views_referrals.hospitals, name="hospitals"),
    path("episodes/<id:pk>/close/", views_referrals.episode_close, name="episode-close"),
    path("episodes/<id:pk>/feedback-link/", views_referrals.feedback_link, name="feedback-link"),
    path("episodes/<id:pk>/refer-out/", views_referrals.referral_out_new, name="referral-out-new"),
    path("referrals-out/<id:pk>/", views_referrals.referral_out, name="referral-out"),
    path("referrals-out/<id:pk>/letter/", views_referrals.referral_letter, name="referral-letter"),
    path("students/<id:pk>/return/", views_referrals.return_assessment, name="return"),
    path("feedback/summary/", views_referrals.feedback_summary, name="feedback-summary"),
    path("feedback/<str:token>/", views_referrals.feedback, name="feedback"),
]
