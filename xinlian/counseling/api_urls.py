"""``/api/v1/counseling/`` — namespaced ``counseling-api:``."""

from django.urls import path

import xinlian.lib.converters  # noqa: F401 — registers <id:…>

from . import api, api_caseload, api_referrals, api_sessions

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
    # Sessions (Z1)
    path("sessions/", api_sessions.sessions, name="sessions"),
    path("sessions/<id:pk>/", api_sessions.session, name="session"),
    path("sessions/<id:pk>/attendance/", api_sessions.session_attendance, name="session-attendance"),
    path("sessions/<id:pk>/record/", api_sessions.session_record, name="session-record"),
    path("groups/", api_sessions.groups, name="groups"),
    path("groups/<id:pk>/", api_sessions.group, name="group"),
    path("groups/<id:pk>/members/", api_sessions.group_members, name="group-members"),
    path("groups/<id:pk>/members/<id:member>/remove/", api_sessions.group_member_remove, name="group-member-remove"),
    path("groups/<id:pk>/meetings/", api_sessions.group_meetings, name="group-meetings"),
    path("caseload/", api_caseload.caseload_view, name="caseload"),
    path("overview/", api_caseload.overview, name="overview"),
    # Referrals, hospitals, closing, satisfaction (Z3)
    path("referrals/", api_referrals.referrals, name="referrals"),
    path("referrals/<id:pk>/accept/", api_referrals.referral_accept, name="referral-accept"),
    path("referrals/<id:pk>/decline/", api_referrals.referral_decline, name="referral-decline"),
    path("hospitals/", api_referrals.hospitals, name="hospitals"),
    path("hospitals/<id:pk>/", api_referrals.hospital, name="hospital"),
    path("episodes/<id:pk>/close/", api_referrals.episode_close, name="episode-close"),
    path("episodes/<id:pk>/referrals-out/", api_referrals.referral_out_new, name="referral-out-new"),
    path("referrals-out/<id:pk>/", api_referrals.referral_out, name="referral-out"),
    path("feedback/", api_referrals.feedback, name="feedback"),
    path("feedback/summary/", api_referrals.feedback_summary, name="feedback-summary"),
]
