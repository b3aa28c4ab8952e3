"""``/api/v1/planning/`` — namespaced ``planning-api:``."""

from django.urls import path

import xinlian.lib.converters  # noqa: F401 — registers <id:…>

from . import api

app_name = "planning-api"

urlpatterns = [
    path("plans/", api.plans, name="plan-list"),
    path("plans/<id:pk>/", api.plan_detail, name="plan-detail"),
    path("plans/<id:pk>/tasks/", api.task_add, name="task-add"),
    path("plans/<id:pk>/submit/", api.plan_submit, name="plan-submit"),
    path("plans/<id:pk>/approve/", api.plan_approve, name="plan-approve"),
    path("plans/<id:pk>/return/", api.plan_return, name="plan-return"),
    path("tasks/", api.tasks, name="task-list"),
    path("tasks/<id:pk>/done/", api.task_done, name="task-done"),
    path("meetings/", api.meetings, name="meeting-list"),
    path("meetings/<id:pk>/", api.meeting_detail, name="meeting-detail"),
    path("meetings/<id:pk>/items/", api.item_add, name="item-add"),
    path("action-items/", api.items, name="item-list"),
    path("action-items/<id:pk>/done/", api.item_done, name="item-done"),
]
