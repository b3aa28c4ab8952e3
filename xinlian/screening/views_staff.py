"""Staff screening pages: campaigns (create, edit, launch, live progress by unit with
drill-down), results (tier 3, every read audited), the campaign report and export, the interview
list (复核访谈) and the instrument library.

Every action and every audited read is a verb of ``actions`` (shared with the REST API where
both have it): it looks the object up through ``access`` (404 outside the reader's scope), checks
the capability (403), applies the rule and writes the audit row. These views parse the request
and render the outcome. Progress tables are one grouped query each (``reports``), whatever the
number of students."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from xinlian.access.adapters import page_errors
from xinlian.access.policy import Cap, has_cap
from xinlian.care.templatetags.care import level_settings
from xinlian.lib.actions import Invalid
from xinlian.network.models import Unit, UnitKind, User

from . import access, actions, reports
from .engine import OP_SYMBOLS
from .forms import CampaignForm, GuardianConsentForm, InstrumentUploadForm, InterviewForm
from .models import (
    Campaign,
    Instrument,
    InterviewStatus,
    Result,
    RuleSet,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _is_centre_staff(user: User) -> bool:
    return bool(access.centre_units(user) or access.managed_schools(user))


# --- links of the progress tables ---------------------------------------------------------------


def _unit_url(campaign: Campaign, unit: Unit) -> str:
    return reverse("screening:campaign-unit", args=[campaign.pk, unit.pk])


def _report_url(campaign: Campaign, unit: Unit) -> str:
    return f"{reverse('screening:campaign-report', args=[campaign.pk])}?unit={unit.pk}"


def _crumbs(campaign: Campaign, unit: Unit, roots: list[Unit],
            url: Callable[[Campaign, Unit], str] = _unit_url) -> list[tuple[str, str]]:
    """(label, url) from below the school down to the unit's parent; a link where the user may
    open that level."""
    out = []
    for a in Unit.objects.get_ancestors(unit):
        if len(a.path) <= len(campaign.school.path):
            continue
        out.append((a.display_name, url(campaign, a) if access.in_reach(a, roots) else ""))
    return out


def _link_rows(campaign: Campaign, rows: list[reports.UnitRow]) -> list[reports.UnitRow]:
    for row in rows:
        if row.unit is not None:
            row.url = _unit_url(campaign, row.unit)
    return rows


# --- campaigns ----------------------------------------------------------------------------------


def _extra_critical_labels(campaign: Campaign, instruments: list[Instrument]) -> list[str]:
    chosen = set(campaign.extra_critical or [])
    return [f"{inst.short_name}: {inst.spec.label(c['label'])}" for inst in instruments
            for c in inst.spec.optional_critical() if f"{inst.code}:{c['id']}" in chosen]


@require_GET
@login_required
@page_errors
def campaign_list(request: HttpRequest) -> HttpResponse:
    """The campaigns of the user's schools, each with the progress of the students they follow."""
    listed = actions.list_campaigns(request, request.GET.get("page"))
    rows = []
    for c in listed.page:
        instruments = [ci.instrument for ci in c.campaign_instruments.all()]
        rows.append({"campaign": c, "instruments": instruments,
                     "restricted": [i for i in instruments if i.is_restricted],
                     "tally": listed.totals.get(c.pk, reports.Tally())})
    user = _user(request)
    return render(request, "screening/staff/campaign_list.html", {
        "page": listed.page, "rows": rows, "may_create": listed.may_create,
        "may_interviews": has_cap(user, Cap.RISK), "centre": _is_centre_staff(user),
    })


def _campaign_form_page(request: HttpRequest, form: CampaignForm, campaign: Campaign | None,
                        status: int = 200) -> HttpResponse:
    restricted = [inst for inst, _box, _order, ticked in form.instrument_rows()
                  if ticked and inst.is_restricted]
    if campaign is not None and form.launched:
        restricted = campaign.restricted_instruments()
    return render(request, "screening/staff/campaign_form.html", {
        "form": form, "campaign": campaign, "restricted": restricted,
        "rows": form.instrument_rows(),
    }, status=status)


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def campaign_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            campaign = actions.create_campaign(request, request.POST)
        except Invalid as refused:
            return _campaign_form_page(request, refused.obj, None, status=400)
        messages.success(request, _("The campaign is saved as a draft. Launch it to invite the "
                                    "students."))
        return redirect(campaign)
    form = CampaignForm(schools=actions.schools_to_run(request), user=_user(request))
    return _campaign_form_page(request, form, None)


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method == "POST":
        try:
            edited = actions.edit_campaign(request, pk, request.POST)
        except Invalid as refused:
            form = refused.obj
            return _campaign_form_page(request, form, form.instance, status=400)
        if edited.consent_asked_again:
            messages.warning(request, _("The purpose changed: students are asked for their "
                                        "consent again (consent version %(v)d).")
                             % {"v": edited.campaign.consent_version})
        else:
            messages.success(request, _("The campaign is saved."))
        return redirect(edited.campaign)
    campaign = actions.campaign_to_manage(request, pk)
    form = CampaignForm(instance=campaign, schools=[campaign.school], user=_user(request))
    return _campaign_form_page(request, form, campaign)


@require_POST
@login_required
@page_errors
def campaign_launch(request: HttpRequest, pk: int) -> HttpResponse:
    """Invite the audience; again later, invite newcomers (nobody is invited twice)."""
    try:
        launched = actions.launch_campaign(request, pk)
    except actions.ScreeningConflict as refused:
        messages.error(request, refused.text)
        return redirect(refused.obj)
    n = launched.invited
    if launched.first:
        messages.success(request, ngettext("Launched: %(n)d person invited.",
                                           "Launched: %(n)d people invited.", n) % {"n": n})
    elif n:
        messages.success(request, ngettext("%(n)d newcomer invited.",
                                           "%(n)d newcomers invited.", n) % {"n": n})
    else:
        messages.info(request, _("Everyone in the audience is already invited."))
    return redirect(launched.campaign)


@require_GET
@login_required
@page_errors
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The campaign and live progress by unit, for everybody who follows its students up."""
    user = _user(request)
    view = actions.campaign_view(request, pk)
    campaign, manages = view.campaign, view.manages
    instruments = campaign.ordered_instruments()
    level, units = actions.first_table(view.roots)
    by = reports.new_tallies()
    reports.collect_progress(by, access.progress_assignments(user, campaign))
    at_school = level is not None and level.pk == campaign.school_id
    rows, total = reports.roll_up(by, units, staff=at_school)
    return render(request, "screening/staff/campaign_detail.html", {
        "campaign": campaign, "manages": manages, "instruments": instruments,
        "restricted": [i for i in instruments if i.is_restricted],
        "audience": list(campaign.units.all()),
        "extra_critical": _extra_critical_labels(campaign, instruments),
        "rows": _link_rows(campaign, rows), "total": total, "level": level,
        "reads_results": access.may_read_results(user, campaign),
        "may_interviews": has_cap(user, Cap.RISK),
        "status": campaign.status(),
        "late_actions": campaign.late_actions() if manages or has_cap(user, Cap.RISK) else None,
    })


@require_GET
@login_required
@page_errors
def campaign_unit(request: HttpRequest, pk: int, unit: int) -> HttpResponse:
    """Progress one level down (a college's classes), or at a class: who has not finished, so
    head teachers and 辅导员 can remind them, with the guardian-consent action for under-14s."""
    return _unit_page(request, pk, unit)


def _unit_page(request: HttpRequest, pk: int, unit: int, status: int = 200) -> HttpResponse:
    user = _user(request)
    view = actions.campaign_view(request, pk)
    campaign = view.campaign
    place = actions.unit_in_reach(request, view, unit)
    assignments = reports.under(access.progress_assignments(user, campaign), place)
    by = reports.new_tallies()
    reports.collect_progress(by, assignments)
    ctx: dict[str, Any] = {"campaign": campaign, "unit": place,
                           "crumbs": _crumbs(campaign, place, view.roots),
                           "is_class": place.kind == UnitKind.CLASS}
    if place.kind == UnitKind.CLASS:
        _rows, total = reports.roll_up(by, [place])
        ctx.update({"total": total, "waiting": actions.waiting_in_class(request, view, place),
                    "consent_form": GuardianConsentForm(auto_id=False)})
    else:
        rows, total = reports.roll_up(by, reports.child_units(place))
        ctx.update({"rows": _link_rows(campaign, rows), "total": total})
    return render(request, "screening/staff/campaign_unit.html", ctx, status=status)


@require_POST
@login_required
@page_errors
def guardian_consent(request: HttpRequest, pk: int) -> HttpResponse:
    """Record how a guardian consented for a student under 14 (``actions.record_guardian_consent``:
    anyone holding the risk tier over the student; 404 for everyone else)."""
    try:
        assignment = actions.record_guardian_consent(request, pk, request.POST)
    except (actions.ScreeningConflict, actions.ScreeningInvalid) as refused:
        # Not needed (409) or no note (400): the class list again, with the reason.
        messages.error(request, refused.text)
        a = refused.obj
        return _unit_page(request, a.campaign_id, a.student.klass_id, status=refused.status)
    assert assignment.student is not None
    messages.success(request, _("Guardian consent recorded for %(name)s: they can start now.")
                     % {"name": assignment.student.name})
    return redirect(reverse("screening:campaign-unit",
                            args=[assignment.campaign_id, assignment.student.klass_id]))


# --- results ------------------------------------------------------------------------------------


def _cond_items(cond: Any) -> set[int]:
    """Item numbers a condition reads (to mark the items behind a critical hit)."""
    if not isinstance(cond, dict):
        return set()
    out = {cond["item"]} if "item" in cond else set()
    for key in ("any", "all", "count"):
        for sub in cond.get(key, []):
            out |= _cond_items(sub)
    if "not" in cond:
        out |= _cond_items(cond["not"])
    return out


def _result_section(result: Result) -> dict[str, Any]:
    inst = result.instrument
    spec = inst.spec
    detail = result.detail
    answers = result.response.answers
    marked: set[int] = set()
    for c in spec.critical:
        if c["id"] in detail.get("critical", []):
            marked |= _cond_items(c["when"])
    items = []
    for it in spec.items:
        value = answers.get(it.number)
        options = {o["value"]: spec.label(o["label"]) for o in spec.option_sets[it.option_set]}
        items.append({"number": it.number, "text": inst.item_text(it.number), "value": value,
                      "label": options.get(value, "") if value is not None else "",
                      "scored": it.scored, "critical": it.number in marked})
    return {"result": result, "instrument": inst, "labelled": result.labelled(), "items": items}


@require_GET
@login_required
@page_errors
def result_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One respondent's results (tier 3), print-friendly (``actions.read_results``: audited)."""
    read = actions.read_results(request, pk)
    assignment = read.assignment
    student = assignment.student
    return render(request, "screening/staff/result_detail.html", {
        "assignment": assignment, "campaign": assignment.campaign, "student": student,
        "person": student.user if student else assignment.user,
        "place": student.klass.breadcrumb() if student else _("Staff"),
        "sections": [_result_section(r) for r in read.results],
        "interview": read.interview, "interview_open": read.interview_open, "levels": level_settings(),
    })


# --- report and export --------------------------------------------------------------------------


@require_GET
@login_required
@page_errors
def campaign_report(request: HttpRequest, pk: int) -> HttpResponse:
    """Summary by unit for tier-3 readers (``actions.read_report``, audited): completion,
    positives, critical items, interviews, each instrument's band distribution."""
    report = actions.read_report(request, pk, request.GET.get("unit", ""))
    campaign, level = report.view.campaign, report.level
    for row in report.rows:
        if row.unit is not None and row.unit.kind != UnitKind.CLASS:
            row.url = _report_url(campaign, row.unit)
    crumbs = (_crumbs(campaign, level, report.view.roots, _report_url)
              if level is not None and not report.at_school else [])
    return render(request, "screening/staff/campaign_report.html", {
        "campaign": campaign, "rows": report.rows, "total": report.total, "level": level,
        "crumbs": crumbs, "summaries": report.summaries, "quality": report.quality,
    })


@require_GET
@login_required
@page_errors
def campaign_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The results in the user's scope as .xlsx (``actions.export_results``: audited)."""
    campaign, data = actions.export_results(request, pk)
    response = HttpResponse(data, content_type=XLSX)
    filename = f"screening-{campaign.pk}-{timezone.localdate():%Y%m%d}.xlsx"
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "no-store"
    return response


# --- interviews ---------------------------------------------------------------------------------


@require_GET
@login_required
@page_errors
def interview_list(request: HttpRequest) -> HttpResponse:
    """复核访谈 (``actions.list_interviews``): the interviews with their reasons for tier-3
    readers and assigned counsellors; their students' status only for the risk tier."""
    user = _user(request)
    listed = actions.list_interviews(request, request.GET.get("show", "pending"),
                                     request.GET.get("campaign", ""), request.GET.get("page"),
                                     request.GET.get("spage"))
    ctx: dict[str, Any] = {"show": listed.show, "tier3": listed.tier3, "campaign": listed.campaign,
                           "today": timezone.localdate(), "centre": _is_centre_staff(user),
                           "filters": [("pending", pgettext("interviews", "Pending")),
                                       ("overdue", pgettext("interviews", "Overdue")),
                                       ("mine", pgettext("interviews", "Mine")),
                                       ("done", pgettext("interviews", "Done")),
                                       ("all", pgettext("interviews", "All"))]}
    for key, page in (("interviews", listed.page), ("statuses", listed.spage)):
        if page is None:
            continue
        shown = list(page)
        places = reports.class_labels(i.student.klass.path for i in shown)
        for i in shown:
            i.place = places.get(i.student.klass.path, "")  # type: ignore[attr-defined]
        ctx.update({"page" if key == "interviews" else "spage": page, key: shown})
    return render(request, "screening/staff/interview_list.html", ctx)


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def interview_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Why the student is on the list and, for the assigned counsellor or the centre, the form
    that records the outcome (``actions.record_interview``: sets or clears the risk level)."""
    form = None
    status = 200
    if request.method == "POST":
        try:
            actions.record_interview(request, pk, request.POST)
        except actions.ScreeningConflict as refused:
            messages.error(request, refused.text)  # already recorded: the record, with the reason
            status = refused.status
        except actions.ScreeningInvalid:
            form = InterviewForm(request.POST)  # bound again: the same definition shows its errors
            form.is_valid()
            status = 400
        else:
            messages.success(request, _("The interview is recorded and the risk level is updated."))
            return redirect(reverse("screening:interview-detail", args=[pk]))
    read = actions.read_interview(request, pk)
    interview = read.interview
    if form is None and read.can_record and interview.status == InterviewStatus.PENDING:
        form = InterviewForm()
    student = interview.student
    return render(request, "screening/staff/interview_detail.html", {
        "interview": interview, "student": student, "place": student.klass.breadcrumb(),
        "reasons": [(r, r.labelled()) for r in read.reasons], "form": form, "can_record": read.can_record,
        "levels": level_settings(), "overdue": interview.overdue,
    }, status=status)


# --- instruments --------------------------------------------------------------------------------


def _describe(cond: Any, spec: Any, settings: dict[str, Any], score_labels: dict[str, str]) -> str:
    """A condition of the file in a line a centre can check: “Total ≥ 10 (cutoff)”."""
    def value(v: Any) -> str:
        if isinstance(v, str) and v.startswith("$"):
            return f"{settings.get(v[1:], v)} ({v[1:]})"
        return f"{v:g}" if isinstance(v, float) else str(v)

    def op(v: Any) -> str:
        if isinstance(v, str) and v.startswith("$"):
            return OP_SYMBOLS.get(settings.get(v[1:], ""), v)
        return OP_SYMBOLS.get(v, str(v))

    if "any" in cond:
        return " | ".join(f"({_describe(c, spec, settings, score_labels)})" for c in cond["any"])
    if "all" in cond:
        return " & ".join(f"({_describe(c, spec, settings, score_labels)})" for c in cond["all"])
    if "not" in cond:
        return f"¬({_describe(cond['not'], spec, settings, score_labels)})"
    rhs = f"{op(cond.get('op', 'ge'))} {value(cond.get('value', 1))}"
    if "count" in cond:
        inner = "; ".join(_describe(c, spec, settings, score_labels) for c in cond["count"])
        return _("count of [%(inner)s] %(rhs)s") % {"inner": inner, "rhs": rhs}
    if "item" in cond:
        return _("item %(n)s %(rhs)s") % {"n": cond["item"], "rhs": rhs}
    return f"{score_labels.get(cond['score'], cond['score'])} {rhs}"


@require_GET
@login_required
@page_errors
def instrument_list(request: HttpRequest) -> HttpResponse:
    library = actions.instrument_library(request)
    return render(request, "screening/staff/instrument_list.html", {
        "instruments": library.instruments, "may_upload": library.may_upload,
    })


@require_GET
@login_required
@page_errors
def instrument_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An instrument as the file defines it, with the settings in force (the active rule set)."""
    inst = actions.read_instrument(request, pk)
    spec = inst.spec
    ruleset = RuleSet.objects.filter(instrument_code=inst.code, active=True).first()
    settings, rule_version = RuleSet.effective(inst)
    score_labels = {s["id"]: spec.label(s["label"]) for s in spec.scores}

    def rule(cond: Any) -> str:
        return _describe(cond, spec, settings, score_labels)

    def reads(score: dict[str, Any]) -> str:
        what = score.get("items", score.get("of", score.get("expr", "")))
        parts = what if isinstance(what, list) else [what]
        return ", ".join(score_labels.get(str(w), str(w)) for w in parts)

    option_sets = {name: [(o["value"], spec.label(o["label"])) for o in opts]
                   for name, opts in spec.option_sets.items()}
    items = [{"number": it.number, "text": inst.item_text(it.number), "construct": it.construct,
              "options": it.option_set, "scored": it.scored, "reverse": it.number in spec.reverse,
              "show_if": rule(it.show_if) if it.show_if else ""}
             for it in spec.items]
    scores = [{"id": sc["id"], "label": spec.label(sc["label"]), "op": sc["op"], "items": reads(sc),
               "report": sc.get("report", True)} for sc in spec.scores]
    bands = [(score_labels.get(b["score"], b["score"]),
              [(r["from"], spec.label(r["label"])) for r in b["ranges"]]) for b in spec.bands]
    classes = [{"label": spec.label(c["label"]), "positive": bool(c.get("positive")),
                "mode": c.get("mode", "any"),
                "clauses": [(spec.label(k["label"]), rule(k["when"]))
                            for k in c.get("clauses", [])]}
               for c in spec.classes]
    critical = [{"label": spec.label(c["label"]), "rule": rule(c["when"]),
                 "optional": isinstance(c.get("enabled", True), str)} for c in spec.critical]
    quality = [(spec.label(q["label"]), rule(q["when"])) for q in spec.quality]
    setting_rows = [{"key": k, "kind": v["kind"], "default": v["default"], "note": v["note"],
                     "value": settings.get(k), "changed": settings.get(k) != v["default"]}
                    for k, v in spec.settings_spec.items()]
    return render(request, "screening/staff/instrument_detail.html", {
        "inst": inst, "spec": spec, "items": items, "option_sets": option_sets, "scores": scores,
        "bands": bands, "classes": classes, "critical": critical, "quality": quality,
        "settings": setting_rows, "ruleset": ruleset, "rule_version": rule_version,
        "official_wording": bool(inst.wording),
    })


@require_http_methods(["GET", "POST"])
@login_required
def instrument_upload(request: HttpRequest) -> HttpResponse:
    """A centre's own instrument file; on a malformed file every error is listed, nothing saved."""
    if not access.managed_schools(_user(request)):
        raise PermissionDenied  # before reading an upload at all; the verb asks again
    errors: list[str] = []
    error_count = 0
    status = 200
    if request.method == "POST":
        form = InstrumentUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                inst = actions.upload_instrument(request, upload.read(), upload.name)
            except Invalid as refused:
                errors = [str(e) for e in refused.errors.get("file", [])] or [refused.text]
                error_count = refused.obj or len(errors)
            else:
                messages.success(request, _("%(name)s is loaded.") % {"name": str(inst)})
                return redirect("screening:instrument-detail", pk=inst.pk)
        status = 400
    else:
        form = InstrumentUploadForm()
    return render(request, "screening/staff/instrument_upload.html",
                  {"form": form, "errors": errors, "error_count": error_count}, status=status)
