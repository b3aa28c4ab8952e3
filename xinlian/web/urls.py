from django.contrib.auth import views as auth_views
from django.urls import path

import xinlian.lib.converters  # noqa: F401 — registers <id:…>: ids beyond 18 digits are a 404

from . import views, views_roster, views_settings

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True,
                                                authentication_form=views.LoginForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.home, name="home"),
    path("network/", views.network_tree, name="network-tree"),
    path("network/children/<id:pk>/", views.network_children, name="network-children"),
    path("units/<id:pk>/", views.unit_detail, name="unit-detail"),
    path("students/<id:pk>/", views.student_detail, name="student-detail"),
    path("me/posts/", views.my_posts, name="my-posts"),
    # Roster import/export (owned by views_roster.py)
    path("roster/import/", views_roster.roster_import, name="roster-import"),
    path("roster/template.xlsx", views_roster.roster_template, name="roster-template"),
    path("roster/export.xlsx", views_roster.roster_export, name="roster-export"),
    # The centre's settings and each person's own notification settings (views_settings.py)
    path("settings/", views_settings.levels, name="settings-levels"),
    path("settings/channels/", views_settings.channels, name="settings-channels"),
    path("settings/hours/", views_settings.hours, name="settings-hours"),
    path("settings/help/", views_settings.help_settings, name="settings-help"),
    path("me/notifications/", views_settings.my_notifications, name="my-notifications"),
    path("me/notifications/test/", views_settings.my_notifications_test, name="my-notifications-test"),
]
