"""Pages for referral in and out, the hospital directory, leave and return to school, closing an
episode and the client's satisfaction answer. Thin adapters over :mod:`.actions_referrals`:
parse the form, call the verb, show its refusal next to the form (nothing half-written)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from xinlian.access.adapters import page_errors
from xinlian.lib.actions import Conflict, Invalid, NotFound
from xinlian.lib.converters import parse_id
from xinlian.network.models import Student, User

from . import access, rules
from . import actions_referrals as verbs
from .models import ReferralOutcome, ReferralStatus, ReturnRecommendation


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _nav(request: HttpRequest) -> dict[str, Any]:
    user = _user(request)
    return {"is_staff_counsellor": access.is_counselling_staff(user), "is_director": access.is_director(user)}


def _refused(exc: Conflict | Invalid) -> dict[str, Any]:
    return {"errors": exc.errors, "message": str(exc.message) if exc.message else ""}


# --- referral in ----------------------------------------------------------------------------------


@require_GET
@login_required
@page_errors
def referrals(request: HttpRequest) -> HttpResponse:
    """The referral queue: waiting referrals (accept / decline), then the last decided."""
    rows = verbs.referral_queue(request)
    user = _user(request)
    return render(request, "counseling/referrals.html", {
        **_nav(request), "rows": rows, "waiting": [r for r in rows if r.status == ReferralStatus.NEW],
        "decided": [r for r in rows if r.status != ReferralStatus.NEW],
        "may_decide": {r.pk for r in rows if verbs._may_decide(user, r)},
        "counsellors": {s.pk: rules.counsellors_of(s) for s in access.staff_schools(user)
                        if access.is_director(user, s.pk)},
    })


def _source(data: Any) -> dict[str, Any]:
    return {k: data.get(k, "") for k in ("alert", "case", "interview", "student")}


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def referral_new(request: HttpRequest) -> HttpResponse:
    """Refer a student in: from an alert (``?alert=``), a case (``?case=``), an interview
    (``?interview=``), or by hand (counselling staff: the student's number)."""
    data = request.POST if request.method == "POST" else request.GET
    source = _source(data)
    number = str(data.get("number", "")).strip()
    ctx: dict[str, Any] = {**_nav(request), "source": source, "number": number,
                           "reason": data.get("reason", ""), "to": data.get("to_counsellor", "queue"),
                           "errors": {}, "message": ""}
    by_hand = not any(source[k] for k in ("alert", "case", "interview"))
    if by_hand and not access.is_counselling_staff(_user(request)):
        raise NotFound
    schools = access.staff_schools(_user(request))
    ctx["counsellors"] = [u for s in schools for u in rules.counsellors_of(s)]
    ctx["by_hand"] = by_hand
    if request.method == "GET":
        return render(request, "counseling/referral_new.html", ctx)
    if by_hand:
        found = Student.objects.filter(user__username=number).values_list("pk", flat=True).first() if number else None
        if found is None:
            ctx["errors"] = {"number": [_("No student of your school has this number.")]}
            return render(request, "counseling/referral_new.html", ctx, status=400)
        source["student"] = str(found)
    try:
        verbs.refer_in(request, reason=data.get("reason", ""), alert=source["alert"] or None,
                       case=source["case"] or None, interview=source["interview"] or None,
                       student=source["student"] or None, to_counsellor=data.get("to_counsellor") or None)
    except NotFound:
        if by_hand:
            ctx["errors"] = {"number": [_("No student of your school has this number.")]}
            return render(request, "counseling/referral_new.html", ctx, status=400)
        raise
    except (Conflict, Invalid) as exc:
        ctx.update(_refused(exc))
        return render(request, "counseling/referral_new.html", ctx, status=exc.status)
    messages.success(request, _("The student has been referred to the counselling centre."))
    if source["alert"]:
        return redirect("alert-detail", parse_id(source["alert"]))
    if source["case"]:
        return redirect("case-detail", parse_id(source["case"]))
    if access.is_counselling_staff(_user(request)):
        return redirect("counseling:referrals")
    return redirect("home")


@require_POST
@login_required
@page_errors
def referral_accept(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        referral = verbs.accept_referral(request, pk, counsellor=request.POST.get("counsellor") or None)
    except (Conflict, Invalid) as exc:
        messages.error(request, exc.text)
        return redirect("counseling:referrals")
    messages.success(request, _("Referral accepted: the episode is open."))
    return redirect("counseling:episode-close", referral.episode_id)


@require_POST
@login_required
@page_errors
def referral_decline(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        verbs.decline_referral(request, pk, reason=request.POST.get("reason", ""))
    except (Conflict, Invalid) as exc:
        messages.error(request, exc.text)
        return redirect("counseling:referrals")
    messages.success(request, _("Referral declined."))
    return redirect("counseling:referrals")


# --- hospitals -------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def hospitals(request: HttpRequest) -> HttpResponse:
    """The hospital directory: counselling staff read it; the director adds and edits."""
    ctx: dict[str, Any] = {**_nav(request), "errors": {}, "data": {}, "editing": None}
    status = 200
    if request.method == "POST":
        pk = request.POST.get("pk") or None
        try:
            verbs.save_hospital(request, pk, data={k: request.POST.get(k, "") for k in
                                                   ("name", "department", "address", "phone")}
                                | {"is_active": request.POST.get("is_active") == "on"})
        except Invalid as exc:
            ctx.update({"errors": exc.errors, "data": request.POST, "editing": parse_id(pk or "")})
            status = 400
        else:
            messages.success(request, _("The hospital directory is saved."))
            return redirect("counseling:hospitals")
    ctx["rows"] = verbs.hospitals(request)
    return render(request, "counseling/hospitals.html", ctx, status=status)


# --- episodes: closing, referral out, return -------------------------------------------------------


def _episode_page(request: HttpRequest, pk: int, *, extra: dict[str, Any] | None = None,
                  status: int = 200) -> HttpResponse:
    view = verbs.read_episode(request, pk)
    summary = verbs.read_closing_summary(request, view.episode) if view.tier5 else None
    return render(request, "counseling/closing.html", {
        **_nav(request), "view": view, "e": view.episode, "summary": summary,
        "errors": {}, "message": "", "data": {}, **(extra or {})}, status=status)


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def episode_close(request: HttpRequest, pk: int) -> HttpResponse:
    """One episode: its referrals out, leave and return, and the close form."""
    if request.method == "GET":
        return _episode_page(request, pk)
    try:
        verbs.close_episode(request, pk, summary=request.POST.get("summary", ""),
                            send_feedback=request.POST.get("send_feedback") == "on")
    except (Conflict, Invalid) as exc:
        return _episode_page(request, pk, extra={**_refused(exc), "data": request.POST}, status=exc.status)
    messages.success(request, _("The episode is closed."))
    return redirect("counseling:episode-close", pk)


@require_POST
@login_required
@page_errors
def feedback_link(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        verbs.send_feedback_link(request, pk)
    except Conflict as exc:
        messages.error(request, exc.text)
    else:
        messages.success(request, _("The satisfaction link has been sent to the client's inbox."))
    return redirect("counseling:episode-close", pk)


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def referral_out_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Refer the episode's client out to a hospital of the directory, with the letter."""
    episode = verbs.get_episode(request, pk, "counseling.referral_out.new")
    verbs._writer(request, episode)
    ctx: dict[str, Any] = {**_nav(request), "e": episode, "errors": {}, "message": "", "data": request.POST,
                           "hospitals": [h for h in verbs.hospitals(request, active_only=True)
                                         if h.school_id == episode.school_id]}
    if request.method == "GET":
        return render(request, "counseling/referral_out_new.html", ctx)
    try:
        out = verbs.refer_out(request, pk, hospital=request.POST.get("hospital"), letter=request.POST.get("letter"),
                              sent_on=request.POST.get("sent_on") or None)
    except (Conflict, Invalid) as exc:
        ctx.update(_refused(exc))
        return render(request, "counseling/referral_out_new.html", ctx, status=exc.status)
    messages.success(request, _("The referral letter is saved; print it from here."))
    return redirect("counseling:referral-out", out.pk)


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def referral_out(request: HttpRequest, pk: int) -> HttpResponse:
    """A referral out (tier 5): the letter, and the outcome and diagnosis note form."""
    ctx: dict[str, Any] = {**_nav(request), "errors": {}, "message": "", "outcomes": ReferralOutcome.choices}
    status = 200
    if request.method == "POST":
        try:
            verbs.record_outcome(request, pk, outcome=request.POST.get("outcome"),
                                 diagnosis_note=request.POST.get("diagnosis_note", ""),
                                 sent_on=request.POST.get("sent_on") or None)
        except (Conflict, Invalid) as exc:
            ctx.update(_refused(exc))
            status = exc.status
        else:
            messages.success(request, _("The outcome is saved."))
            return redirect("counseling:referral-out", pk)
    ctx["out"] = verbs.get_referral_out(request, pk)
    return render(request, "counseling/referral_out.html", ctx, status=status)


@require_GET
@login_required
@page_errors
def referral_letter(request: HttpRequest, pk: int) -> HttpResponse:
    """The letter, laid out for printing (A4)."""
    out = verbs.get_referral_out(request, pk, "counseling.referral_out.letter")
    return render(request, "counseling/referral_letter.html", {"out": out, "school": out.episode.school})


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def return_assessment(request: HttpRequest, pk: int) -> HttpResponse:
    """A student's leave and return to school (``pk``: the student): record a leave, the day
    they came back, and the return-to-school assessment (``?episode=`` / ``?case=``)."""
    data = request.POST if request.method == "POST" else request.GET
    ctx: dict[str, Any] = {**_nav(request), "errors": {}, "message": "", "data": data,
                           "recommendations": ReturnRecommendation.choices,
                           "episode": data.get("episode", ""), "case": data.get("case", "")}
    status = 200
    if request.method == "POST":
        what = request.POST.get("what")
        try:
            if what == "leave":
                verbs.record_leave(request, pk, left_on=request.POST.get("left_on"),
                                   returned_on=request.POST.get("returned_on") or None,
                                   leave=request.POST.get("leave") or None)
            else:
                verbs.record_return_assessment(request, pk, text=request.POST.get("text"),
                                               recommendation=request.POST.get("recommendation"),
                                               assessed_on=request.POST.get("assessed_on") or None,
                                               episode=request.POST.get("episode") or None,
                                               case=request.POST.get("case") or None)
        except (Conflict, Invalid) as exc:
            ctx.update({**_refused(exc), "what": what})
            status = exc.status
        else:
            messages.success(request, _("Saved."))
            episode = parse_id(request.POST.get("episode") or "")
            if what != "leave" and episode:
                return redirect("counseling:episode-close", episode)
            url = reverse("counseling:return", args=[pk])
            return redirect(f"{url}?episode={episode}" if episode else url)
    student, leaves, rows = verbs.read_return_assessments(request, pk)
    ctx.update({"student": student, "leaves": leaves, "rows": rows})
    return render(request, "counseling/referral_return.html", ctx, status=status)


# --- satisfaction ------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def feedback(request: HttpRequest, token: str) -> HttpResponse:
    """The client's satisfaction page (a phone, from the inbox link): once."""
    invite = verbs.feedback_invite(request, token)
    ctx: dict[str, Any] = {"done": invite.used, "errors": {}, "message": "", "data": request.POST,
                           "scores": range(1, 6)}
    status = 200
    if request.method == "POST" and not invite.used:
        try:
            verbs.submit_feedback(request, token, score=request.POST.get("score"),
                                  comment=request.POST.get("comment", ""))
        except (Conflict, Invalid) as exc:
            ctx.update(_refused(exc))
            status = exc.status
        else:
            ctx["done"] = True
            ctx["thanks"] = True
    return render(request, "counseling/feedback.html", ctx, status=status)


@require_GET
@login_required
@page_errors
def feedback_summary(request: HttpRequest) -> HttpResponse:
    """The director: answers per counsellor; averages and comments from the third answer on."""
    return render(request, "counseling/feedback_summary.html", {
        **_nav(request), "lines": verbs.feedback_summary(request), "minimum": verbs.FEEDBACK_MIN})
