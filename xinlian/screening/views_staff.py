"""Staff screening pages: campaigns (create, edit, launch, live progress by unit with
drill-down), results (tier 3, every read audited), the campaign report and export, the interview
list (复核访谈) and the instrument library.

Every object comes through ``xinlian.screening.access`` (404 outside the reader's scope); a write
by someone who may see but not manage is 403; the verbs live on the models. Progress tables are
one grouped query each (``reports``), whatever the number of students."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Count, Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from xinlian.access.models import AuditResult
from xinlian.access.policy import Cap, audit, has_cap, scope_units
from xinlian.care.templatetags.care import level_settings
from xinlian.lib.spreadsheet import write_xlsx
from xinlian.network.models import Unit, UnitKind, User

from . import access, reports
from .engine import OP_SYMBOLS, DefinitionError
from .forms import CampaignForm, GuardianConsentForm, InstrumentUploadForm, InterviewForm
from .models import (
    Assignment,
    AssignmentStatus,
    Campaign,
    CampaignInstrument,
    CampaignStatus,
    Instrument,
    Interview,
    InterviewStatus,
    Result,
    RuleSet,
    ScreeningError,
)

PAGE_SIZE = 25
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
INTERVIEW_FILTERS = ("pending", "overdue", "mine", "done", "all")


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _page(request: HttpRequest, qs: QuerySet[Any], param: str = "page") -> Page:
    return Paginator(qs, PAGE_SIZE).get_page(request.GET.get(param))


def _errors(error: ScreeningError) -> str:
    return " ".join(error.messages)


def _is_centre_staff(user: User) -> bool:
    return bool(access.centre_units(user) or access.managed_schools(user))


# --- where the progress tables start ------------------------------------------------------------


def _roots(user: User, campaign: Campaign, manages: bool) -> list[Unit]:
    """The units of the campaign's school where the user follows students up: the whole school
    for the centre, else their risk-tier units there (a college, a class)."""
    school = campaign.school
    if manages:
        return [school]
    out = []
    for unit in scope_units(user, Cap.RISK):
        if school.path.startswith(unit.path):
            return [school]
        if unit.path.startswith(school.path):
            out.append(unit)
    return out


def _in_reach(unit: Unit, roots: list[Unit]) -> bool:
    """A unit inside the user's units, or above one of them (a head teacher may open their
    college's page: it counts their class only)."""
    return any(unit.path.startswith(r.path) or r.path.startswith(unit.path) for r in roots)


def _start(roots: list[Unit]) -> tuple[Unit | None, list[Unit]]:
    """(the unit the first table is about, its rows): one unit's children, or the user's units
    themselves when there are several or the one is a class."""
    if len(roots) == 1 and roots[0].kind != UnitKind.CLASS:
        return roots[0], reports.child_units(roots[0])
    return None, roots


def _unit_for(request: HttpRequest, campaign: Campaign, roots: list[Unit], pk: int) -> Unit:
    unit = Unit.objects.filter(pk=pk).first()
    if (unit is None or unit.kind == UnitKind.DORMITORY
            or not unit.path.startswith(campaign.school.path) or not _in_reach(unit, roots)):
        audit(request, "screening.progress.view", object_type="network.unit", object_id=str(pk),
              result=AuditResult.DENIED)
        raise Http404
    return unit


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
        out.append((a.display_name, url(campaign, a) if _in_reach(a, roots) else ""))
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
def campaign_list(request: HttpRequest) -> HttpResponse:
    """The campaigns of the user's schools, each with the progress of the students they follow."""
    user = _user(request)
    schools = access.managed_schools(user)
    if not (has_cap(user, Cap.RISK) or schools):
        raise PermissionDenied
    cis = CampaignInstrument.objects.select_related("instrument")
    page = _page(request, access.visible_campaigns(user).select_related("school")
                 .prefetch_related(Prefetch("campaign_instruments", queryset=cis)))
    campaigns = list(page)
    totals: dict[int, reports.Tally] = {}
    if campaigns:
        qs = access.progress_assignments(user, campaigns[0])
        for c in campaigns[1:]:
            qs = qs | access.progress_assignments(user, c)
        for campaign_id, status, n in (qs.order_by().values_list("campaign_id", "status")
                                       .annotate(n=Count("pk"))):
            tally = totals.setdefault(campaign_id, reports.Tally())
            tally.invited += n
            if status == AssignmentStatus.SUBMITTED:
                tally.completed += n
    rows = []
    for c in campaigns:
        instruments = [ci.instrument for ci in c.campaign_instruments.all()]
        rows.append({"campaign": c, "instruments": instruments,
                     "restricted": [i for i in instruments if i.is_restricted],
                     "tally": totals.get(c.pk, reports.Tally())})
    return render(request, "screening/staff/campaign_list.html", {
        "page": page, "rows": rows, "may_create": bool(schools),
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
def campaign_new(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    schools = access.managed_schools(user)
    if not schools:
        raise PermissionDenied
    if request.method == "POST":
        form = CampaignForm(request.POST, schools=schools, user=user)
        if form.is_valid():
            campaign = form.save()
            audit(request, "screening.campaign.create", campaign)
            messages.success(request, _("The campaign is saved as a draft. Launch it to invite the "
                                        "students."))
            return redirect(campaign)
        return _campaign_form_page(request, form, None, status=400)
    return _campaign_form_page(request, CampaignForm(schools=schools, user=user), None)


@require_http_methods(["GET", "POST"])
@login_required
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    campaign, manages = access.get_campaign_for_user(request, pk)
    if not manages:
        raise PermissionDenied
    schools = [campaign.school]
    if request.method == "POST":
        form = CampaignForm(request.POST, instance=campaign, schools=schools, user=user)
        if form.is_valid():
            bumped = form.launched and "purpose" in form.changed_data
            campaign = form.save()
            audit(request, "screening.campaign.edit", campaign,
                  detail=",".join(form.changed_data)[:200])
            if bumped:
                messages.warning(request, _("The purpose changed: students are asked for their "
                                            "consent again (consent version %(v)d).")
                                 % {"v": campaign.consent_version})
            else:
                messages.success(request, _("The campaign is saved."))
            return redirect(campaign)
        return _campaign_form_page(request, form, campaign, status=400)
    form = CampaignForm(instance=campaign, schools=schools, user=user)
    return _campaign_form_page(request, form, campaign)


@require_POST
@login_required
def campaign_launch(request: HttpRequest, pk: int) -> HttpResponse:
    """Invite the audience; again later, invite newcomers (nobody is invited twice)."""
    user = _user(request)
    campaign, manages = access.get_campaign_for_user(request, pk)
    if not manages:
        raise PermissionDenied
    if campaign.status() == CampaignStatus.CLOSED:
        messages.error(request, _("This campaign has closed; extend the closing time first."))
    elif not campaign.campaign_instruments.exists():
        messages.error(request, _("Choose at least one questionnaire before launching."))
    else:
        first = campaign.launched_at is None
        n = campaign.launch(user)
        audit(request, "screening.campaign.launch", campaign, detail=f"invited={n}")
        if first:
            messages.success(request, ngettext("Launched: %(n)d person invited.",
                                               "Launched: %(n)d people invited.", n) % {"n": n})
        elif n:
            messages.success(request, ngettext("%(n)d newcomer invited.",
                                               "%(n)d newcomers invited.", n) % {"n": n})
        else:
            messages.info(request, _("Everyone in the audience is already invited."))
    return redirect(campaign)


@require_GET
@login_required
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The campaign and live progress by unit, for everybody who follows its students up."""
    user = _user(request)
    campaign, manages = access.get_campaign_for_user(request, pk)
    instruments = campaign.ordered_instruments()
    roots = _roots(user, campaign, manages)
    level, units = _start(roots)
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
def campaign_unit(request: HttpRequest, pk: int, unit: int) -> HttpResponse:
    """Progress one level down (a college's classes), or at a class: who has not finished, so
    head teachers and 辅导员 can remind them, with the guardian-consent action for under-14s."""
    user = _user(request)
    campaign, manages = access.get_campaign_for_user(request, pk)
    roots = _roots(user, campaign, manages)
    place = _unit_for(request, campaign, roots, unit)
    assignments = reports.under(access.progress_assignments(user, campaign), place)
    by = reports.new_tallies()
    reports.collect_progress(by, assignments)
    ctx: dict[str, Any] = {"campaign": campaign, "unit": place,
                           "crumbs": _crumbs(campaign, place, roots),
                           "is_class": place.kind == UnitKind.CLASS}
    if place.kind == UnitKind.CLASS:
        _rows, total = reports.roll_up(by, [place])
        waiting = list(assignments.filter(student__klass=place)
                       .exclude(status=AssignmentStatus.SUBMITTED).select_related("student__user")
                       .order_by("status", "student__user__username"))
        for a in waiting:
            a.campaign = campaign  # needs_guardian_consent reads the window: no query per row
        if waiting:
            # Names with consent status: on the record, without the names.
            audit(request, "screening.progress.view", place,
                  detail=f"campaign={campaign.pk};rows={len(waiting)}")
        ctx.update({"total": total, "waiting": waiting,
                    "consent_form": GuardianConsentForm(auto_id=False)})
    else:
        rows, total = reports.roll_up(by, reports.child_units(place))
        ctx.update({"rows": _link_rows(campaign, rows), "total": total})
    return render(request, "screening/staff/campaign_unit.html", ctx)


@require_POST
@login_required
def guardian_consent(request: HttpRequest, pk: int) -> HttpResponse:
    """Record how a guardian consented for a student under 14 — by anyone holding the risk tier
    over the student (head teacher, 辅导员, the centre); 404 for everyone else."""
    user = _user(request)
    assignment = (Assignment.objects
                  .select_related("campaign__school", "student__user", "student__klass")
                  .filter(pk=pk, student__isnull=False).first())
    allowed = (assignment is not None
               and access.visible_campaigns(user).filter(pk=assignment.campaign_id).exists()
               and access.progress_assignments(user, assignment.campaign).filter(pk=pk).exists())
    if not allowed:
        audit(request, "screening.guardian_consent", object_type="screening.assignment",
              object_id=str(pk), result=AuditResult.DENIED)
        raise Http404
    assert assignment is not None and assignment.student is not None
    back = reverse("screening:campaign-unit",
                   args=[assignment.campaign_id, assignment.student.klass_id])
    form = GuardianConsentForm(request.POST)
    if not assignment.needs_guardian_consent:
        messages.info(request, _("No guardian consent is needed for %(name)s.")
                      % {"name": assignment.student.name})
    elif not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    else:
        assignment.record_guardian_consent(user, form.cleaned_data["note"])
        audit(request, "screening.guardian_consent", assignment)
        messages.success(request, _("Guardian consent recorded for %(name)s: they can start now.")
                         % {"name": assignment.student.name})
    return redirect(back)


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
def result_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One respondent's results (tier 3), print-friendly. The read is audited by the helper."""
    user = _user(request)
    assignment = access.get_assignment_results_for_user(request, pk)
    results = list(access.visible_results(user).filter(assignment=assignment)
                   .select_related("instrument", "response__campaign_instrument")
                   .order_by("response__campaign_instrument__order", "pk"))
    interview = Interview.objects.filter(assignment=assignment).first()
    interview_open = bool(interview
                          and access.visible_interviews(user).filter(pk=interview.pk).exists())
    student = assignment.student
    return render(request, "screening/staff/result_detail.html", {
        "assignment": assignment, "campaign": assignment.campaign, "student": student,
        "person": student.user if student else assignment.user,
        "place": student.klass.breadcrumb() if student else _("Staff"),
        "sections": [_result_section(r) for r in results],
        "interview": interview, "interview_open": interview_open, "levels": level_settings(),
    })


# --- report and export --------------------------------------------------------------------------


@require_GET
@login_required
def campaign_report(request: HttpRequest, pk: int) -> HttpResponse:
    """Summary by unit for tier-3 readers: completion, positives, critical items, interviews, and
    each instrument's band distribution — from plain columns only (nothing decrypted)."""
    user = _user(request)
    campaign, manages = access.get_campaign_for_user(request, pk)
    if not access.may_read_results(user, campaign):
        raise PermissionDenied
    roots = _roots(user, campaign, manages)
    raw = request.GET.get("unit", "")
    level: Unit | None
    if raw.isdigit():
        level = _unit_for(request, campaign, roots, int(raw))
        units = [level] if level.kind == UnitKind.CLASS else reports.child_units(level)
    else:
        level, units = _start(roots)
    at_school = level is not None and level.pk == campaign.school_id
    results = access.visible_results(user).filter(campaign=campaign)
    progress = access.progress_assignments(user, campaign)
    interviews = Interview.objects.filter(campaign=campaign,
                                          assignment_id__in=results.values("assignment_id"))
    if level is not None and not at_school:
        progress = reports.under(progress, level)
        results = reports.under(results, level)
        interviews = reports.under(interviews, level)
    by = reports.new_tallies()
    reports.collect_progress(by, progress)
    reports.collect_results(by, results)
    reports.collect_interviews(by, interviews)
    rows, total = reports.roll_up(by, units, staff=at_school)
    for row in rows:
        if row.unit is not None and row.unit.kind != UnitKind.CLASS:
            row.url = _report_url(campaign, row.unit)
    crumbs = (_crumbs(campaign, level, roots, _report_url)
              if level is not None and not at_school else [])
    quality = reports.quality_rows(results)
    # The answers-to-check list names students (tier 3): the audit row says how many were shown.
    audit(request, "screening.report.view", campaign,
          detail=f"unit={level.pk if level else 'scope'};quality_rows={len(quality[0])}")
    return render(request, "screening/staff/campaign_report.html", {
        "campaign": campaign, "rows": rows, "total": total, "level": level, "crumbs": crumbs,
        "summaries": reports.instrument_summaries(results, campaign.ordered_instruments()),
        "quality": quality,
    })


@require_GET
@login_required
def campaign_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The results in the user's scope as .xlsx, formula-safe, audited with the row count."""
    user = _user(request)
    campaign, _manages = access.get_campaign_for_user(request, pk)
    if not access.may_read_results(user, campaign):
        raise PermissionDenied
    sheets, n = reports.export_sheets(access.visible_results(user).filter(campaign=campaign))
    if not sheets:
        sheets = [(_("Results"), [_("Number"), _("Name"), _("Class"), _("Instrument")], [])]
    data = write_xlsx(sheets)
    audit(request, "screening.export", campaign, detail=f"{n} rows")
    response = HttpResponse(data, content_type=XLSX)
    filename = f"screening-{campaign.pk}-{timezone.localdate():%Y%m%d}.xlsx"
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "no-store"
    return response


# --- interviews ---------------------------------------------------------------------------------


@require_GET
@login_required
def interview_list(request: HttpRequest) -> HttpResponse:
    """复核访谈. Tier-3 readers and assigned counsellors: the interviews with their reasons,
    urgent (critical item) first, then by due date. Holders of the risk tier only (head teachers,
    college leads): their students' interview status, pending or done, and nothing more."""
    user = _user(request)
    full = access.visible_interviews(user)
    tier3 = has_cap(user, Cap.SCORES) or full.exists()
    risk = has_cap(user, Cap.RISK)
    if not (tier3 or risk):
        raise PermissionDenied
    show = request.GET.get("show", "pending")
    show = show if show in INTERVIEW_FILTERS else "pending"
    raw_campaign = request.GET.get("campaign", "")
    campaign = (access.visible_campaigns(user).filter(pk=int(raw_campaign)).first()
                if raw_campaign.isdigit() else None)
    today = timezone.localdate()
    ctx: dict[str, Any] = {"show": show, "tier3": tier3, "campaign": campaign, "today": today,
                           "centre": _is_centre_staff(user),
                           "filters": [("pending", pgettext("interviews", "Pending")),
                                       ("overdue", pgettext("interviews", "Overdue")),
                                       ("mine", pgettext("interviews", "Mine")),
                                       ("done", pgettext("interviews", "Done")),
                                       ("all", pgettext("interviews", "All"))]}
    if tier3:
        qs = full.select_related("student__user", "student__klass", "campaign", "assigned_to")
        if campaign is not None:
            qs = qs.filter(campaign=campaign)
        if show == "pending":
            qs = qs.filter(status=InterviewStatus.PENDING)
        elif show == "overdue":
            qs = qs.filter(status=InterviewStatus.PENDING, due_on__lt=today)
        elif show == "mine":
            qs = qs.filter(assigned_to=user, status=InterviewStatus.PENDING)
        elif show == "done":
            qs = qs.filter(status=InterviewStatus.DONE).order_by("-done_at", "-pk")
        page = _page(request, qs)
        interviews = list(page)
        places = reports.class_labels(i.student.klass.path for i in interviews)
        for i in interviews:
            i.place = places.get(i.student.klass.path, "")  # type: ignore[attr-defined]
        if interviews:
            audit(request, "screening.interview.list", object_type="screening.interview",
                  object_id="list",
                  detail=f"show={show};page={page.number};rows={len(interviews)}")
        ctx.update({"page": page, "interviews": interviews})
    if risk:
        # Status only, ordered by class and number: neither the order nor the due date may hint
        # at an urgent (critical-item) interview.
        status_qs = (Interview.objects.filter(student__in=access.interview_status_students(user))
                     .exclude(pk__in=full.values("pk"))
                     .select_related("student__user", "student__klass", "campaign")
                     .order_by("student__klass__path", "student__user__username", "campaign_id"))
        if campaign is not None:
            status_qs = status_qs.filter(campaign=campaign)
        spage = _page(request, status_qs, "spage")
        statuses = list(spage)
        places = reports.class_labels(i.student.klass.path for i in statuses)
        for i in statuses:
            i.place = places.get(i.student.klass.path, "")  # type: ignore[attr-defined]
        ctx.update({"spage": spage, "statuses": statuses})
    return render(request, "screening/staff/interview_list.html", ctx)


@require_http_methods(["GET", "POST"])
@login_required
def interview_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Why the student is on the list and, for the assigned counsellor or the centre, the form
    that records the outcome (which sets or clears the risk level)."""
    user = _user(request)
    interview, can_record = access.get_interview_for_user(request, pk)
    pending = interview.status == InterviewStatus.PENDING
    form = InterviewForm() if can_record and pending else None
    status = 200
    if request.method == "POST":
        if not can_record:
            raise PermissionDenied
        if not pending:
            messages.error(request, _("This interview is already recorded."))
            return redirect(interview)
        form = InterviewForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                interview.record(user, data["outcome"], data["notes"], review_on=data["review_on"])
            except ScreeningError as error:
                messages.error(request, _errors(error))
                return redirect(interview)
            audit(request, "screening.interview.record", interview,
                  detail=f"outcome={data['outcome']}")
            messages.success(request, _("The interview is recorded and the risk level is updated."))
            return redirect(interview)
        status = 400
    results = list(access.visible_results(user).filter(assignment_id=interview.assignment_id)
                   .select_related("instrument").order_by("pk"))
    if results:
        audit(request, "screening.result.view", interview.assignment, detail="interview reasons")
    student = interview.student
    return render(request, "screening/staff/interview_detail.html", {
        "interview": interview, "student": student, "place": student.klass.breadcrumb(),
        "reasons": [(r, r.labelled()) for r in results], "form": form, "can_record": can_record,
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


def _require_centre(user: User) -> None:
    if not _is_centre_staff(user):
        raise PermissionDenied


@require_GET
@login_required
def instrument_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    _require_centre(user)
    instruments = list(Instrument.objects.select_related("uploaded_by")
                       .order_by("code", "-created_at"))
    return render(request, "screening/staff/instrument_list.html", {
        "instruments": instruments, "may_upload": bool(access.managed_schools(user)),
    })


@require_GET
@login_required
def instrument_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An instrument as the file defines it, with the settings in force (the active rule set)."""
    _require_centre(_user(request))
    inst = Instrument.objects.select_related("uploaded_by").filter(pk=pk).first()
    if inst is None:
        raise Http404
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
    user = _user(request)
    if not access.managed_schools(user):
        raise PermissionDenied
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        form = InstrumentUploadForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                inst = Instrument.upload(upload.read(), by=user, filename=upload.name)
            except DefinitionError as error:
                errors = list(error.errors)
            except ScreeningError as error:
                errors = list(error.messages)
            else:
                audit(request, "screening.instrument.upload", inst)
                messages.success(request, _("%(name)s is loaded.") % {"name": str(inst)})
                return redirect("screening:instrument-detail", pk=inst.pk)
        status = 400
    else:
        form = InstrumentUploadForm()
    return render(request, "screening/staff/instrument_upload.html",
                  {"form": form, "errors": errors}, status=status)
