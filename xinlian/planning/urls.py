from django.urls import path

import xinlian.lib.converters  # noqa: F401 — registers <id:…>: ids beyond 18 digits are a 404

from . import views

app_name = "planning"

urlpatterns = [
    path("", views.plans, name="plans"),
    path("plans/new/", views.plan_new, name="plan-new"),
    path("plans/<id:pk>/", views.plan, name="plan"),
    path("plans/<id:pk>/edit/", views.plan_edit, name="plan-edit"),
    path("plans/<id:pk>/tasks/", views.task_add, name="task-add"),
    path("plans/<id:pk>/submit/", views.plan_submit, name="plan-submit"),
    path("plans/<id:pk>/approve/", views.plan_approve, name="plan-approve"),
    path("plans/<id:pk>/return/", views.plan_return, name="plan-return"),
    path("tasks/<id:pk>/done/", views.task_done, name="task-done"),
    path("meetings/", views.meetings, name="meetings"),
    path("meetings/new/", views.meeting_new, name="meeting-new"),
    path("meetings/<id:pk>/", views.meeting, name="meeting"),
    path("meetings/<id:pk>/items/", views.item_add, name="item-add"),
    path("items/<id:pk>/done/", views.item_done, name="item-done"),
    path("mine/", views.mine, name="mine"),
]
