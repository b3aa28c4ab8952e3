from django.urls import path

import xinlian.lib.converters  # noqa: F401 — registers <id:…>: ids beyond 18 digits are a 404

from . import views, views_onetap, views_rota

urlpatterns = [
    path("t/<str:token>/", views_onetap.alert_onetap, name="alert-onetap"),
    path("report/", views.concern_new, name="concern-new"),
    path("reports/", views.concern_mine, name="concern-mine"),
    path("alerts/", views.alert_inbox, name="alert-inbox"),
    path("alerts/<id:pk>/", views.alert_detail, name="alert-detail"),
    path("alerts/<id:pk>/acknowledge/", views.alert_acknowledge, name="alert-acknowledge"),
    path("alerts/<id:pk>/triage/", views.alert_triage, name="alert-triage"),
    path("alerts/<id:pk>/resolve/", views.alert_resolve, name="alert-resolve"),
    path("register/", views.risk_register, name="register"),
    path("register/<id:pk>/level/", views.register_set, name="register-set"),
    path("register/<id:pk>/follow-up/", views.follow_up_new, name="follow-up-new"),
    path("cases/", views.case_list, name="case-list"),
    path("cases/new/", views.case_new, name="case-new"),
    path("cases/<id:pk>/", views.case_detail, name="case-detail"),
    path("cases/<id:pk>/break-glass/", views.case_break_glass, name="case-break-glass"),
    path("cases/<id:pk>/records/<slug:kind>/", views.case_record, name="case-record"),
    path("cases/<id:pk>/team/", views.case_team, name="case-team"),
    path("cases/<id:pk>/request-closure/", views.case_request_closure, name="case-request-closure"),
    path("cases/<id:pk>/close/", views.case_close, name="case-close"),
    path("cases/<id:pk>/send-back/", views.case_send_back, name="case-send-back"),
    path("cases/<id:pk>/reopen/", views.case_reopen, name="case-reopen"),
    path("rota/", views_rota.rota_page, name="rota"),
    path("rota/template.xlsx", views_rota.rota_template, name="rota-template"),
    path("rota/<id:pk>/", views_rota.rota_page, name="rota-unit"),
    path("rota/<id:pk>/add/", views_rota.rota_add, name="rota-add"),
    path("rota/<id:pk>/shifts/<id:shift>/remove/", views_rota.rota_remove, name="rota-remove"),
    path("rota/<id:pk>/import/", views_rota.rota_import, name="rota-import"),
    path("rota/<id:pk>/line/", views_rota.rota_line, name="rota-line"),
]
