from django.urls import path, re_path

import xinlian.lib.converters  # noqa: F401 — registers <id:…>: ids beyond 18 digits are a 404

from . import views, views_identity, views_roster, views_settings, views_sso, views_tokens
from .views_cas import LoginView as CASLoginView
from .views_cas import LogoutView as CASLogoutView
from .views_dingtalk import callback as dingtalk_callback
from .views_dingtalk import start as dingtalk_start
from .views_oidc import callback as oidc_callback
from .views_oidc import start as oidc_start
from .views_twofactor import enrol as two_step_enrol
from .views_twofactor import mine as my_two_step
from .views_twofactor import renew_codes as my_two_step_codes
from .views_twofactor import turn_off as my_two_step_off
from .views_twofactor import verify as two_step_verify
from .views_wecom import callback as wecom_callback
from .views_wecom import start as wecom_start

urlpatterns = [
    # The password form, with a button for each configured single sign-on (views_sso.py)
    path("login/", views_sso.LoginView.as_view(), name="login"),
    # Django's logout; after a CAS login it ends the CAS session too (views_cas.py)
    path("logout/", CASLogoutView.as_view(), name="logout"),
    # Campus CAS single sign-on: off to the CAS server and back with a ticket, which is also where
    # the CAS server's single-logout requests arrive (views_cas.py; 404 while CAS is off)
    path("login/cas/", CASLoginView.as_view(), name="cas-login"),
    # OpenID Connect single sign-on: off to the provider and back (views_oidc.py; 404 while off)
    path("login/oidc/", oidc_start, name="oidc-login"),
    path("login/oidc/callback/", oidc_callback, name="oidc-callback"),
    # 企业微信 login: off to WeCom and back (views_wecom.py; 404 while off)
    path("login/wecom/", wecom_start, name="wecom-login"),
    path("login/wecom/callback/", wecom_callback, name="wecom-callback"),
    # 钉钉 login: off to DingTalk and back (views_dingtalk.py; 404 while off)
    path("login/dingtalk/", dingtalk_start, name="dingtalk-login"),
    path("login/dingtalk/callback/", dingtalk_callback, name="dingtalk-callback"),
    # First login with a one-time code, and the slips and resets that print codes (views_identity.py)
    path("login/first/", views_identity.first_login, name="first-login"),
    path("login/first/password/", views_identity.first_login_password, name="first-login-password"),
    path("units/<id:pk>/first-login-slips/", views_identity.unit_slips, name="unit-first-login-slips"),
    path("students/<id:pk>/reset-password/", views_identity.student_reset, name="student-reset-password"),
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
    # Two-step verification (views_twofactor.py; enforced by web/twofactor_middleware.py)
    path("login/two-step/", two_step_verify, name="two-step-verify"),
    path("login/two-step/setup/", two_step_enrol, name="two-step-enrol"),
    path("me/two-step/", my_two_step, name="my-two-step"),
    path("me/two-step/recovery-codes/", my_two_step_codes, name="my-two-step-codes"),
    path("me/two-step/off/", my_two_step_off, name="my-two-step-off"),
    # A person's API tokens (views_tokens.py; the same verbs as /api/v1/me/tokens/)
    path("me/tokens/", views_tokens.my_tokens, name="my-tokens"),
    path("me/tokens/revoke-all/", views_tokens.revoke_all_tokens, name="my-tokens-revoke-all"),
    re_path(r"^me/tokens/(?P<token_id>[0-9a-f]{18})/revoke/$", views_tokens.revoke_token,
            name="my-token-revoke"),
]
