from django.urls import path

from . import views

urlpatterns = [
    path("report/", views.concern_new, name="concern-new"),
    path("reports/", views.concern_mine, name="concern-mine"),
    path("alerts/", views.alert_inbox, name="alert-inbox"),
    path("alerts/<int:pk>/", views.alert_detail, name="alert-detail"),
    path("alerts/<int:pk>/acknowledge/", views.alert_acknowledge, name="alert-acknowledge"),
    path("alerts/<int:pk>/triage/", views.alert_triage, name="alert-triage"),
    path("alerts/<int:pk>/resolve/", views.alert_resolve, name="alert-resolve"),
    path("register/", views.risk_register, name="register"),
    path("register/<int:pk>/level/", views.register_set, name="register-set"),
    path("register/<int:pk>/follow-up/", views.follow_up_new, name="follow-up-new"),
    path("cases/", views.case_list, name="case-list"),
    path("cases/new/", views.case_new, name="case-new"),
    path("cases/<int:pk>/", views.case_detail, name="case-detail"),
    path("cases/<int:pk>/break-glass/", views.case_break_glass, name="case-break-glass"),
    path("cases/<int:pk>/records/<slug:kind>/", views.case_record, name="case-record"),
    path("cases/<int:pk>/team/", views.case_team, name="case-team"),
    path("cases/<int:pk>/request-closure/", views.case_request_closure, name="case-request-closure"),
    path("cases/<int:pk>/close/", views.case_close, name="case-close"),
    path("cases/<int:pk>/reopen/", views.case_reopen, name="case-reopen"),
]
