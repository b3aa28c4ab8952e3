"""Respondent pages: my screenings, consent, the questionnaire, submit, thank-you.

The questionnaire is a real form with radio buttons that works without JavaScript (one page, one
submit button). With JavaScript (static/screening/questionnaire.js) it shows a few items per
screen, saves every answer as it is given through ``answer`` (kept in the phone's localStorage
while the network is down) and records the seconds spent per item. The server stays the truth:
answers already saved are rendered checked, so a student can resume on another device.

Every action is a verb of ``actions`` (only the respondent reaches their assignment: anybody
else's is a 404); these views parse the form and show the outcome.
A respondent never sees a score, band or classification — only a thank-you and where to find help.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from xinlian.access.adapters import page_errors
from xinlian.care import rota as care_rota
from xinlian.lib import hotsql
from xinlian.lib.actions import ActionError
from xinlian.lib.converters import reverse_id
from xinlian.notify.hours import is_out_of_hours

from . import actions
from .models import (
    Assignment,
    AssignmentStatus,
    CampaignInstrument,
    CampaignStatus,
    CentreSettings,
    Visibility,
)

# One questionnaire has at most a few hundred items (SCL-90 is the longest at 90).
MAX_ENTRIES = 300
# A batch of 300 answers is ~20 KB of JSON; anything far larger is not a questionnaire.
MAX_ANSWER_BYTES = 256 * 1024
FIELD = re.compile(r"^a-(\d{1,9})-(\d{1,6})$")


def login_then_take(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``login_required`` for the POST endpoints, with the questionnaire as the page to come back
    to: a session that ran out while answering must not end on a 405 (a GET of a POST-only URL)."""

    @wraps(view)
    def wrapper(request: HttpRequest, pk: int, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(reverse("screening:take", args=[pk]))
        return view(request, pk, *args, **kwargs)

    return wrapper


def _see_other(url: str) -> HttpResponseRedirect:
    """After a POST: 303, so a reload never re-sends the form."""
    response = HttpResponseRedirect(url)
    response.status_code = 303
    return response


# --- my screenings ------------------------------------------------------------------------------


@require_GET
@login_required
def mine(request: HttpRequest) -> HttpResponse:
    """Every screening the person is invited to (students, and staff when a campaign includes
    them), newest first, with what to do next."""
    rows = []
    for a in actions.my_assignments(request):
        state = a.campaign.status()
        if a.status == AssignmentStatus.SUBMITTED:
            action = _("See the thank-you page")
        elif state != CampaignStatus.OPEN:
            action = _("View")
        elif a.status == AssignmentStatus.IN_PROGRESS:
            action = _("Continue")
        elif a.status == AssignmentStatus.DECLINED:
            action = _("Change my mind")
        else:
            action = _("Start")
        rows.append({"a": a, "campaign": a.campaign, "state": state,
                     "state_label": CampaignStatus(state).label, "action": action,
                     "primary": state == CampaignStatus.OPEN
                     and a.status in (AssignmentStatus.INVITED, AssignmentStatus.IN_PROGRESS)})
    return render(request, "screening/student/mine.html", {"rows": rows})


# --- the questionnaire page ---------------------------------------------------------------------


@dataclass
class Option:
    value: int
    label: str
    checked: bool


@dataclass
class Item:
    number: int
    text: str
    options: list[Option]
    shown: bool
    answered: bool
    missing: bool
    name: str

    @property
    def options_html(self) -> str:
        """The radio buttons, built here rather than in a template loop: SCL-90 and UPI on one
        page are 750 of them, and this is several times faster."""
        return mark_safe("".join(  # every part went through format_html
            format_html('<input type="radio" class="btn-check" name="{0}" id="{0}-{1}" value="{2}"{3} '
                        'autocomplete="off"><label class="xl-opt" for="{0}-{1}">{4}</label>',
                        self.name, n, o.value, " checked" if o.checked else "", o.label)
            for n, o in enumerate(self.options)))


@dataclass
class Section:
    ci: CampaignInstrument
    name: str
    recall: str
    instructions: str
    per_page: int
    items: list[Item] = field(default_factory=list)
    rules: dict[str, Any] = field(default_factory=dict)


def _resolve(cond: Any, defaults: dict[str, Any]) -> Any:
    """A show_if condition with ``$setting`` references replaced by their defaults, for the
    browser's own skip-logic check while offline (the server's answer always wins)."""
    if isinstance(cond, dict):
        return {k: _resolve(v, defaults) for k, v in cond.items()}
    if isinstance(cond, list):
        return [_resolve(v, defaults) for v in cond]
    if isinstance(cond, str) and cond.startswith("$"):
        return defaults.get(cond[1:], cond)
    return cond


def _sections(a: Assignment, overrides: dict[int, dict[int, int]] | None = None,
              missing: dict[int, list[int]] | None = None) -> list[Section]:
    """Each questionnaire of the campaign, in order, with the saved answers checked (plus any
    just posted) and the items skip logic hides marked."""
    saved = a.answers_by_instrument()
    for ci_pk, answers in (overrides or {}).items():
        saved.setdefault(ci_pk, {}).update(answers)
    missing = missing or {}
    out = []
    for ci in a.campaign.campaign_instruments.select_related("instrument"):
        inst = ci.instrument
        spec = inst.spec
        answers = saved.get(ci.pk, {})
        shown = set(spec.visible_items(answers))
        recall = spec.label(spec.data["recall"]) if spec.data.get("recall") else ""
        instructions = spec.label(spec.data["instructions"]) if spec.data.get("instructions") else ""
        if recall and recall.rstrip("。.").casefold() in instructions.casefold():
            recall = ""  # "Over the last two weeks, how often…" says it already
        section = Section(ci=ci, name=inst.display_name, recall=recall, instructions=instructions,
                          per_page=spec.items_per_page)
        for it in spec.items:
            options = [Option(o["value"], spec.label(o["label"]), answers.get(it.number) == o["value"])
                       for o in spec.option_sets[it.option_set]]
            section.items.append(Item(
                number=it.number, text=inst.item_text(it.number), options=options,
                shown=it.number in shown, answered=it.number in answers,
                missing=it.number in missing.get(ci.pk, []), name=f"a-{ci.pk}-{it.number}"))
            if it.show_if is not None:
                section.rules[str(it.number)] = _resolve(it.show_if, spec.defaults)
        out.append(section)
    return out


def _state(a: Assignment) -> str:
    """What the page shows: closed / not_open / guardian / consent / questionnaire."""
    status = a.campaign.status()
    if status == CampaignStatus.CLOSED:
        return "closed"
    if status != CampaignStatus.OPEN:
        return "not_open"
    if a.needs_guardian_consent:
        return "guardian"
    if not a.may_answer:
        return "consent"
    return "questionnaire"


def _take_page(request: HttpRequest, a: Assignment, *, status: int = 200, error: str = "",
               state: str | None = None, overrides: dict[int, dict[int, int]] | None = None,
               missing: dict[int, list[int]] | None = None, key: str = "") -> HttpResponse:
    state = state or _state(a)
    campaign = a.campaign
    ctx: dict[str, Any] = {
        "a": a, "campaign": campaign, "state": state, "error": error,
        "declined": a.status == AssignmentStatus.DECLINED,
        "consent_changed": a.consent_agreed is True and a.consent_version != campaign.consent_version,
        "centre_only": campaign.visibility == Visibility.CENTRE_ONLY,
        "instruments": campaign.ordered_instruments(),
    }
    if state in ("consent", "guardian"):
        # Who learns what: written from the access policy and the alert routing themselves.
        ctx["who_learns"] = actions.who_learns_what(campaign.visibility, staff_respondent=not a.student_id)
        # What is asked with no answer yet (skip logic may add a few).
        ctx["n_items"] = sum(len(i.spec.visible_items({})) for i in ctx["instruments"])
        ctx["hotline"] = CentreSettings.for_school(campaign.school).hotline_number
    if state == "questionnaire":
        sections = _sections(a, overrides, missing)
        ctx.update({
            "sections": sections,
            "rules": {str(s.ci.pk): s.rules for s in sections if s.rules},
            "total": sum(1 for s in sections for i in s.items if i.shown),
            "answered": sum(1 for s in sections for i in s.items if i.shown and i.answered),
            # The browser keeps its own key in localStorage; this one serves a page without JS.
            "key": key or uuid.uuid4().hex,
        })
    return render(request, "screening/student/take.html", ctx, status=status)


@require_GET
@login_required
@page_errors
@hotsql.renews_session
def take(request: HttpRequest, pk: int) -> HttpResponse:
    a = actions.my_assignment(request, pk)
    if a.status == AssignmentStatus.SUBMITTED:
        return redirect("screening:thanks", pk=a.pk)
    return _take_page(request, a)


@require_POST
@login_then_take
@page_errors
def consent(request: HttpRequest, pk: int) -> HttpResponse:
    """Agree (agree=1) or decline (agree=0) the consent text of ``version``."""
    thanks = _see_other(reverse("screening:thanks", args=[pk]))
    agree, version = request.POST.get("agree", ""), request.POST.get("version", "")
    if agree not in ("0", "1") or not re.fullmatch(r"[0-9]{1,9}", version):  # not isdigit(): "²" passes it
        a = actions.my_assignment(request, pk)
        if a.status == AssignmentStatus.SUBMITTED:
            return thanks
        return _take_page(request, a, status=400, state=_consent_state(a),
                          error=_("Please choose whether you agree to take part."))
    try:
        actions.give_consent(request, pk, agree == "1", int(version))
    except (actions.ScreeningConflict, actions.ScreeningInvalid) as refused:
        if refused.code == "submitted":
            return thanks
        return _take_page(request, refused.obj, status=refused.status, state=_consent_state(refused.obj),
                          error=refused.text)
    return _see_other(reverse("screening:take", args=[pk]))


def _consent_state(a: Assignment) -> str:
    state = _state(a)
    return "consent" if state == "questionnaire" else state


# --- saving answers -----------------------------------------------------------------------------


class BadAnswers(ValueError):
    pass


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _parse_answers(request: HttpRequest) -> list[tuple[int, int, Any, float | None]]:
    """The JSON body → entries for ``Assignment.save_answers``; any malformed part refuses the
    whole batch (nothing is half-saved)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_ANSWER_BYTES:
        raise BadAnswers(_("Too much data was sent at once."))
    try:
        body = request.body
    except RequestDataTooBig as exc:
        raise BadAnswers(_("Too much data was sent at once.")) from exc
    if len(body) > MAX_ANSWER_BYTES:
        raise BadAnswers(_("Too much data was sent at once."))
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: [[[[…
        raise BadAnswers(_("The answers could not be read; please try again.")) from exc
    entries = data.get("answers") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise BadAnswers(_("No answers were sent."))
    if len(entries) > MAX_ENTRIES:
        raise BadAnswers(_("Too many answers at once (at most %(n)s).") % {"n": MAX_ENTRIES})
    out = []
    for n, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise BadAnswers(_("Answer %(n)s could not be read.") % {"n": n})
        ci, item, value, seconds = (entry.get("ci"), entry.get("item"), entry.get("value"),
                                    entry.get("seconds"))
        if not (_is_int(ci) and _is_int(item) and _is_int(value)):
            raise BadAnswers(_("Answer %(n)s could not be read.") % {"n": n})
        if seconds is not None and not (isinstance(seconds, int | float) and not isinstance(seconds, bool)):
            raise BadAnswers(_("Answer %(n)s could not be read.") % {"n": n})
        out.append((ci, item, value, seconds))
    return out


@require_POST
@login_then_take
@page_errors
@hotsql.renews_session
def answer(request: HttpRequest, pk: int) -> HttpResponse:
    """Save a batch of answers as they are given (JSON in, JSON out)."""
    try:
        entries = _parse_answers(request)
    except BadAnswers as error:
        actions.my_assignment(request, pk)  # somebody else's is a 404 whatever they sent
        return JsonResponse({"error": str(error)}, status=400)
    try:
        _a, visible = actions.save_answers(request, pk, entries)
    except (actions.ScreeningConflict, actions.ScreeningInvalid) as refused:
        return JsonResponse({"error": refused.text}, status=refused.status)
    return JsonResponse({"saved": len(entries), "visible": {str(k): v for k, v in visible.items()}})


# --- submit and thank-you -----------------------------------------------------------------------


def _posted_answers(request: HttpRequest) -> dict[int, dict[int, int]]:
    """``a-<ci>-<item>=<value>`` fields of the form (the page without JavaScript)."""
    out: dict[int, dict[int, int]] = {}
    for name, value in request.POST.items():
        m = FIELD.match(name)
        if m is None:
            continue
        value = value.strip()
        if not re.fullmatch(r"-?\d{1,6}", value):
            raise BadAnswers(_("An answer could not be read; please choose it again."))
        out.setdefault(int(m[1]), {})[int(m[2])] = int(value)
    return out


def _missing(a: Assignment) -> tuple[dict[int, list[int]], str]:
    """Questions still unanswered, per questionnaire, and a sentence naming them."""
    saved = a.answers_by_instrument()
    missing: dict[int, list[int]] = {}
    parts = []
    for ci in a.campaign.campaign_instruments.select_related("instrument"):
        errors = ci.instrument.spec.check_answers(saved.get(ci.pk, {}))
        numbers = [e.item for e in errors if e.code == "missing" and e.item is not None]
        if numbers:
            missing[ci.pk] = numbers
            parts.append(_("%(name)s question %(numbers)s") % {
                "name": ci.instrument.short_name, "numbers": ", ".join(str(n) for n in numbers)})
    text = _("Some questions are not answered yet: %(list)s. Your other answers are kept.") % {
        "list": "; ".join(parts)}
    return missing, text


@require_POST
@login_then_take
@page_errors
@hotsql.renews_session
@actions.with_submit_columns
def submit(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the answers the form carries, then submit once (the key makes a double tap, a retry
    or a replay the same submission). The questionnaire's script has saved every answer already
    and posts only the key: that submit is freshman week's busiest request (see
    ``actions.submit``)."""
    key = request.POST.get("key", "").strip()
    try:
        posted = _posted_answers(request)
    except BadAnswers as error:
        a = actions.my_assignment(request, pk)
        if a.status == AssignmentStatus.SUBMITTED:
            return _see_other(reverse("screening:thanks", args=[a.pk]))
        return _take_page(request, a, status=400, error=str(error), key=key[:64])
    entries = [(ci, item, value, None) for ci, answers in posted.items() for item, value in answers.items()]
    try:
        actions.submit(request, pk, key, entries)
    except (actions.ScreeningConflict, actions.ScreeningInvalid) as refused:
        return _refused(request, refused.obj, refused, posted, key)
    return _see_other(reverse_id("screening:thanks", pk))


def _refused(request: HttpRequest, a: Assignment, refused: ActionError,
             posted: dict[int, dict[int, int]], key: str) -> HttpResponse:
    code = getattr(refused, "code", "")
    if isinstance(refused, actions.ScreeningConflict):
        return _take_page(request, a, status=409, error=refused.text)
    if code == "incomplete":
        missing, text = _missing(a)
        return _take_page(request, a, status=400, error=text, missing=missing, key=key[:64])
    # A bad value or an unknown question: nothing of the batch was saved; show what was sent.
    return _take_page(request, a, status=400, error=refused.text, overrides=posted, key=key[:64])


@require_GET
@login_required
@page_errors
def thanks(request: HttpRequest, pk: int) -> HttpResponse:
    """A warm thank-you and where to find help — never a score, a band or a diagnosis."""
    a = actions.my_assignment(request, pk)
    if a.status != AssignmentStatus.SUBMITTED:
        return redirect("screening:take", pk=a.pk)
    help_settings = CentreSettings.for_school(a.campaign.school)
    return render(request, "screening/student/thanks.html", {
        "a": a, "campaign": a.campaign, "help": help_settings,
        "hotline": help_settings.hotline_number,
        # Out of office hours the school's duty line (the same on every thank-you page, so the
        # page never tells which answers were critical).
        "duty_line": care_rota.duty_line(a.campaign.school) if is_out_of_hours() else "",
    })
