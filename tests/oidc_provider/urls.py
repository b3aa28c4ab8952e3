from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpResponse, HttpResponseBadRequest
from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from .validator import MODE

MODES = {"normal", "forge", "expire", "nonce", "issuer", "audience", "bare", "othersub"}


@csrf_exempt
def set_mode(request):
    mode = request.POST.get("mode", "")
    if mode not in MODES:
        return HttpResponseBadRequest("unknown mode")
    MODE["value"] = mode
    return HttpResponse(mode)


urlpatterns = [
    path("o/", include("oauth2_provider.urls", namespace="oauth2_provider")),
    path("accounts/login/", auth_views.LoginView.as_view(template_name="provider_login.html")),
    path("test/mode/", set_mode),
]
