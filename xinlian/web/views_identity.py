"""Pages of first login with a one-time code, and the slips a teacher prints (adapters over
:mod:`xinlian.network.identity`). A code appears only in the response that prints it: the
forms POST it (never in a URL), the printed page is ``no-store``, nothing here logs it."""

from __future__ import annotations

import time
from typing import Any

from django import forms
from django.contrib.auth import authenticate, login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from xinlian.access.adapters import page_errors
from xinlian.access.policy import get_student_for_user
from xinlian.lib.actions import Invalid, NotAllowed
from xinlian.network import identity, slipcodes
from xinlian.network.models import User

PENDING_KEY = "xinlian_first_login"
PENDING_SECONDS = 15 * 60
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class CodeLoginForm(forms.Form):
    username = forms.CharField(
        label=_("Student or staff number"), max_length=150,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username", "autocapitalize": "none",
                                      "spellcheck": "false", "class": "form-control form-control-lg"}))
    code = forms.CharField(
        # No max_length check: an over-long input gets the one message every wrong code gets.
        label=_("One-time code"), strip=True,
        help_text=_("The 10 letters and digits on your slip; capitals or not, with or without the dash."),
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autocapitalize": "characters",
                                      "maxlength": slipcodes.MAX_INPUT,
                                      "spellcheck": "false", "class": "form-control form-control-lg xl-num"}))


class NewPasswordForm(SetPasswordForm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for f in self.fields.values():
            f.widget.attrs["class"] = "form-control form-control-lg"


class SlipOptionsForm(forms.Form):
    days = forms.IntegerField(label=_("Valid for (days)"), min_value=1, max_value=identity.MAX_DAYS,
                              widget=forms.NumberInput(attrs={"class": "form-control", "inputmode": "numeric"}))
    everyone = forms.BooleanField(
        label=_("Everyone, also those who have logged in before (their new code works as a reset)"),
        required=False, widget=forms.CheckboxInput(attrs={"class": "form-check-input"}))
    staff = forms.BooleanField(label=_("Include the unit's staff"), required=False,
                               widget=forms.CheckboxInput(attrs={"class": "form-check-input"}))


BAD_CODE = _("This number and code do not match, or the code has expired or been used. "
             "Check both, or ask your 班主任 or 辅导员 for a new code.")


@never_cache
@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
def first_login(request: HttpRequest) -> HttpResponse:
    """Step 1: number and code. Each attempt goes through ``authenticate`` (django-axes counts
    a wrong code like a wrong password); the code is not consumed until the password is set."""
    form = CodeLoginForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        user = authenticate(request, username=form.cleaned_data["username"],
                            first_login_token=form.cleaned_data["code"])
        if user is not None:
            request.session.cycle_key()
            request.session[PENDING_KEY] = {"user": user.pk, "code": user.first_login_code_id,
                                            "at": int(time.time())}
            return redirect("first-login-password")
        error = BAD_CODE
        # What was typed is not shown back: a code appears only on the slip that printed it.
        form = CodeLoginForm(initial={"username": form.cleaned_data["username"]})
    return render(request, "web/identity/first_login.html", {"form": form, "error": error})


@never_cache
@sensitive_post_parameters("new_password1", "new_password2")
@require_http_methods(["GET", "POST"])
def first_login_password(request: HttpRequest) -> HttpResponse:
    """Step 2: the new password (Django's validators); the code is consumed atomically with it:
    of two submits (a double click, two tabs) exactly one sets the password."""
    pending = request.session.get(PENDING_KEY)
    if not pending or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        return redirect("first-login")
    user = User.objects.filter(pk=pending["user"], is_active=True).first()
    if user is None:
        request.session.pop(PENDING_KEY, None)
        return redirect("first-login")
    form = NewPasswordForm(user, request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        done = identity.complete_first_login(request, user, pending["code"], form.save)
        request.session.pop(PENDING_KEY, None)
        if done:
            login(request, user, backend=MODEL_BACKEND)
            return redirect("home")
        error = BAD_CODE
    return render(request, "web/identity/first_login_password.html",
                  {"form": form, "error": error, "person": user})


def _login_address(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("first-login"))


def _printed(request: HttpRequest, batch: identity.SlipBatch, fmt: str, title: str) -> HttpResponse:
    address = _login_address(request)
    if fmt == "xlsx":
        response = HttpResponse(identity.slips_xlsx(batch, address), content_type=XLSX)
        response["Content-Disposition"] = 'attachment; filename="first-login-slips.xlsx"'
    else:
        response = render(request, "web/identity/slips_print.html",
                          {"batch": batch, "address": address, "title": title})
    add_never_cache_headers(response)
    patch_cache_control(response, no_store=True, private=True)
    return response


@login_required
@page_errors
@sensitive_post_parameters()
@require_http_methods(["GET", "POST"])
def unit_slips(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the options; POST: the slips, as a printable page or .xlsx (new codes each time)."""
    user: User = request.user  # type: ignore[assignment]
    unit = identity.slip_unit_for(request, pk)  # the verb's own check: same refusal, same audit row
    centre = identity.is_centre_for(user, unit.path)
    form = SlipOptionsForm(request.POST or None, initial={"days": slipcodes.default_days()})
    if request.method == "POST" and form.is_valid():
        try:
            batch = identity.issue_slips(request, unit.pk, form.cleaned_data["days"],
                                         everyone=form.cleaned_data["everyone"],
                                         staff=form.cleaned_data["staff"])
        except Invalid as refused:
            for field, errors in refused.errors.items():
                for e in errors:
                    form.add_error(field if field in form.fields else None, str(e))
        else:
            return _printed(request, batch, request.POST.get("format", "html"), unit.display_name)
    return render(request, "web/identity/slips_form.html", {"unit": unit, "form": form, "centre": centre})


@login_required
@page_errors
@require_http_methods(["GET", "POST"])
def student_reset(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: confirm; POST: one new code for the student, printed once."""
    user: User = request.user  # type: ignore[assignment]
    student, _held = get_student_for_user(request, pk)
    if not identity.may_reset_student(user, student):
        raise NotAllowed(_("Only the person's 班主任 or 辅导员, or the counselling centre, may reset their password."))
    if request.method == "POST":
        batch = identity.reset_password(request, student.user_id)
        return _printed(request, batch, request.POST.get("format", "html"), student.user.full_name)
    return render(request, "web/identity/reset_confirm.html",
                  {"student": student, "days": slipcodes.default_days()})
