"""Pages of two-step verification (adapters over :mod:`xinlian.access.twofactor`): the code after
login, setting up an authenticator (QR code and the key as text, confirmed by a code, then ten
recovery codes shown once), and ``/me/two-step/`` to see it, renew the recovery codes or turn it
off. Codes travel only in POST bodies; the pages that show a secret or recovery codes are
``no-store``."""

from __future__ import annotations

from base64 import b32encode
from typing import Any

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from xinlian.access import twofactor
from xinlian.access.adapters import page_errors
from xinlian.lib.actions import Conflict, Invalid, NotAllowed


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Verification code"), max_length=40, strip=True,
        help_text=gettext_lazy("The 6 digits your authenticator app shows now, or one of your recovery codes."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True,
                                      "autocapitalize": "none", "spellcheck": "false",
                                      "class": "form-control form-control-lg xl-num"}))


class SetupCodeForm(CodeForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].help_text = _("The 6 digits the app shows for Xinlian after you added it.")
        self.fields["code"].widget.attrs["inputmode"] = "numeric"


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
        return target
    return "/"


def _private(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    patch_cache_control(response, no_store=True, private=True)
    return response


def _form_error(form: forms.Form, refused: Invalid | Conflict | NotAllowed) -> None:
    errors = getattr(refused, "errors", None) or {}
    texts = [str(e) for es in errors.values() for e in es] or [refused.text]
    for text in texts:
        form.add_error("code", text)


def _codes_page(request: HttpRequest, codes: list[str], next_url: str, *, first: bool) -> HttpResponse:
    return _private(render(request, "twofactor/recovery_codes.html",
                           {"codes": codes, "next": next_url, "first": first, "pending_second_step": True}))


@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """After login: the code (or a recovery code). Reached through the middleware's redirect."""
    next_url = _next(request)
    needs = twofactor.session_needs(request)
    if needs is None:
        return redirect(next_url)
    if needs == twofactor.ENROL:
        return redirect(f"{reverse('two-step-enrol')}?{urlencode({'next': next_url})}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            twofactor.verify_session(request, form.cleaned_data["code"])
        except Invalid as refused:
            _form_error(form, refused)
        else:
            return redirect(next_url)
    status = 400 if form.errors else 200
    return _private(render(request, "twofactor/verify.html",
                           {"form": form, "next": next_url, "pending_second_step": True}, status=status))


@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def enrol(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator: scan (or type) the key, confirm with a code, get recovery codes."""
    next_url = _next(request)
    device = twofactor.pending_device(request)  # NotAllowed (403) from a session not verified
    form = SetupCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = twofactor.confirm_enrolment(request, form.cleaned_data["code"])
        except (Invalid, Conflict) as refused:
            _form_error(form, refused)
            device = twofactor.pending_device(request)
        else:
            return _codes_page(request, codes, next_url, first=True)
    secret = b32encode(device.bin_key).decode()
    qr = segno.make(device.config_url, error="m")
    verified = twofactor.session_verified(request)
    return _private(render(request, "twofactor/enrol.html", {
        "form": form, "next": next_url, "qr": qr.svg_data_uri(scale=5, border=2),
        "secret": secret, "secret_groups": " ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
        "issuer": twofactor.issuer(), "account": request.user.get_username(),
        "required": twofactor.requires_second_factor(request.user),
        "pending_second_step": not verified,
    }, status=400 if form.errors else 200))


@require_http_methods(["GET"])
@login_required
def mine(request: HttpRequest) -> HttpResponse:
    """``/me/two-step/``: on or off, recovery codes left, and what one may do about it."""
    return render(request, "twofactor/mine.html", {
        "status": twofactor.status_of(request.user),  # type: ignore[arg-type]
        "form": CodeForm(), "off_form": CodeForm(prefix="off"),
    })


@sensitive_post_parameters("code")
@require_POST
@login_required
def renew_codes(request: HttpRequest) -> HttpResponse:
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            codes = twofactor.renew_recovery_codes(request, form.cleaned_data["code"])
        except (Invalid, Conflict) as refused:
            _form_error(form, refused)
        else:
            return _codes_page(request, codes, reverse("my-two-step"), first=False)
    return render(request, "twofactor/mine.html", {
        "status": twofactor.status_of(request.user), "form": form,  # type: ignore[arg-type]
        "off_form": CodeForm(prefix="off"),
    }, status=400)


@sensitive_post_parameters("off-code")
@require_POST
@login_required
def turn_off(request: HttpRequest) -> HttpResponse:
    form = CodeForm(request.POST, prefix="off")
    if form.is_valid():
        try:
            twofactor.remove_own(request, form.cleaned_data["code"])
        except (Invalid, Conflict, NotAllowed) as refused:
            _form_error(form, refused)
        else:
            messages.success(request, _("Two-step verification is off."))
            return redirect("my-two-step")
    return render(request, "twofactor/mine.html", {
        "status": twofactor.status_of(request.user), "form": CodeForm(),  # type: ignore[arg-type]
        "off_form": form,
    }, status=400)
