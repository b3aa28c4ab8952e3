"""What every single sign-on way in shares on the page: its button on the login page, and the
page that says why an identity system's answer let nobody in (``xinlian.network.sso.Refused``).

Each way in (CAS, OpenID Connect, ...) lives in its own module and adds its button to
:func:`external_buttons` when it is configured; LDAP needs none (it answers the password form)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from xinlian.network import cas, dingtalk_login, oidc, wecom_login
from xinlian.network.sso import METHODS, Refused

from .views import LoginForm

# Which way in opened this session: the logout (views_cas.LogoutView) ends the provider's
# session too after a CAS or OpenID Connect login.
SSO_METHOD_KEY = "xinlian_sso_method"


@dataclass(frozen=True, slots=True)
class Button:
    label: Any  # a lazy translation
    url: str


def external_buttons(request: HttpRequest) -> list[Button]:
    """The configured ways in, each as a button above the password form."""
    buttons: list[Button] = []
    nxt = request.GET.get("next")  # each way in keeps where the person was going
    query = "?" + urlencode({"next": nxt}) if nxt else ""
    if cas.enabled():  # campus CAS (views_cas.py): the campus's own way in comes first
        buttons.append(Button(cas.button_label(), reverse("cas-login") + query))
    if oidc.enabled():  # OpenID Connect (views_oidc.py)
        buttons.append(Button(oidc.button_label(), reverse("oidc-login") + query))
    if wecom_login.enabled():  # 企业微信 (views_wecom.py): inside the WeCom app, the way in
        wecom = Button(wecom_login.button_label(), reverse("wecom-login") + query)
        buttons.insert(0 if wecom_login.in_wecom(request) else len(buttons), wecom)
    if dingtalk_login.enabled():  # 钉钉 (views_dingtalk.py): inside the DingTalk app, the way in
        ding = Button(dingtalk_login.button_label(), reverse("dingtalk-login") + query)
        buttons.insert(0 if dingtalk_login.in_dingtalk(request) else len(buttons), ding)
    return buttons


class LoginView(auth_views.LoginView):
    """Django's login, with the configured single sign-on buttons above the password form."""

    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        ctx = super().get_context_data(**kwargs)
        ctx["sso_buttons"] = external_buttons(self.request)
        # With LDAP on, the password form takes the school directory's password too.
        ctx["password_hint"] = (_("Or with your school account's password:") if settings.LDAP_URL
                                else _("Or with your Xinlian password:"))
        return ctx


def refused(request: HttpRequest, exc: Refused) -> HttpResponse:
    """A clear page (403; 503 when the identity system is down) with the local login beside it."""
    status = 503 if exc.reason == "unavailable" else 403
    return render(request, "registration/sso_refused.html",
                  {"message": exc.message, "method": METHODS.get(exc.method, exc.method)},
                  status=status)
