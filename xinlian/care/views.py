"""The linkage pages: report a concern, my reports, the alert inbox and an alert, the risk
register, crisis cases (with break-glass).

Every page is a thin adapter over the actions in :mod:`xinlian.care.actions`: it parses the
form, calls the action and maps its outcome — NotFound to 404 and NotAllowed to 403 (through
:func:`xinlian.access.adapters.page_errors`), a Conflict to the action's message shown on the
page it came from, an Invalid to the form again with its errors. No rule, scope check or audit
row lives here."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from xinlian.access.adapters import page_errors
from xinlian.access.policy import Cap, visible_students
from xinlian.lib.actions import ActionError, Conflict, Invalid
from xinlian.network.models import Student, Unit, UnitKind, User

from . import actions, records, rota
from .access import (
    NeedsBreakGlass,
    case_team_choices,
    is_centre_staff_for,
    my_concerns,
    reportable_students,
    visible_cases,
)
from .forms import (
    RECORD_FORMS,
    BreakGlassForm,
    ClosureRequestForm,
    ClosureReturnForm,
    ClosureReviewForm,
    ConcernForm,
    FollowUpForm,
    NoteForm,
    ReopenForm,
    RiskLevelForm,
    TeamForm,
    TriageForm,
)
from .models import (
    CLOSURE_NEEDS,
    GUIDANCE,
    Alert,
    AlertStatus,
    BreakGlass,
    Case,
    CaseStatus,
    Level,
    RecordKind,
    RiskLevel,
    TimelineEntry,
    Urgency,
)
from .templatetags.care import level_settings

PAGE_SIZE = 25
# A reporter with this many students or fewer picks from the whole list; above it, they search.
LIST_ALL_UP_TO = 60
SEARCH_LIMIT = 20
# The rungs of the ladder (xinlian.care.network.LADDER), as a reader sees them.
RUNGS = [
    gettext_noop("辅导员 and head teacher"),
    gettext_noop("College mental-health lead"),
    gettext_noop("Counselling-centre director"),
    gettext_noop("Leadership group"),
]


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _page(request: HttpRequest, qs: QuerySet[Any], size: int = PAGE_SIZE) -> Page:
    return Paginator(qs, size).get_page(request.GET.get("page"))


def _places(students: list[Student]) -> dict[int, str]:
    """Each class's place (“计算机学院 2023级1班”) for a page of students, in ONE query;
    also set as ``student.place`` for the templates."""
    step = Unit.steplen
    paths = {s.klass.path for s in students}
    wanted = {p[:i] for p in paths for i in range(step, len(p) + 1, step)}
    units = {u.path: u for u in Unit.objects.filter(path__in=wanted)}
    out: dict[int, str] = {}
    for s in students:
        chain = [units[s.klass.path[:i]] for i in range(step, len(s.klass.path) + 1, step)
                 if s.klass.path[:i] in units]
        out[s.klass_id] = " ".join(u.display_name for u in chain
                                   if u.kind not in (UnitKind.BUREAU, UnitKind.SCHOOL))
        s.place = out[s.klass_id]  # type: ignore[attr-defined]
    return out


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


def _form_errors(form: Any) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


def _refused(request: HttpRequest, error: ActionError) -> None:
    """A Conflict (or an Invalid with nowhere else to go): the action's words, as an error."""
    messages.error(request, error.text)


def _bind_errors(form: Any, error: Invalid) -> None:
    for name, errs in error.errors.items():
        for e in errs:
            form.add_error(name if name in form.fields else None, e)


# --- concerns -----------------------------------------------------------------------------------


def _listable(user: User, reportable: QuerySet[Student]) -> QuerySet[Student]:
    """Whom the form may *list*: the reportable students the user may also see on the roster.
    A student without a post names a classmate by number instead of browsing the class."""
    return reportable.filter(pk__in=visible_students(user, Cap.ROSTER).values("pk"))


def _student_choices(user: User, listable: QuerySet[Student], q: str,
                     chosen: Student | None) -> tuple[list[Student], bool]:
    """The students shown as choices, and whether the list is a search (a large scope)."""
    qs = listable.select_related("user", "klass", "dorm").order_by("user__username")
    searchable = qs.count() > LIST_ALL_UP_TO
    if searchable:
        match = Q(user__username__startswith=q) | Q(user__full_name__contains=q)
        rows = list(qs.filter(match)[:SEARCH_LIMIT]) if q else []
    else:
        rows = list(qs)
    if chosen is not None and all(s.pk != chosen.pk for s in rows):
        rows.insert(0, chosen)
    own = [s for s in rows if s.user_id == user.pk]
    return own + [s for s in rows if s.user_id != user.pk], searchable


@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def concern_new(request: HttpRequest) -> HttpResponse:
    """Report a concern: under a minute on a phone. Replays of one form are one report."""
    user = _user(request)
    reportable = reportable_students(user)
    if request.method == "GET" and not reportable.exists():
        raise PermissionDenied  # nobody to report about: no form to show
    listable = _listable(user, reportable)
    chosen: Student | None = None
    status = 200
    if request.method == "POST":
        raw = request.POST.get("student", "").strip()
        if raw:
            # Outside the reporter's scope is missing, before any form message could say more.
            chosen = actions.concern_subject(request, raw)
        form = ConcernForm(request.POST, students=reportable)
        if form.is_valid():
            data = form.cleaned_data
            try:
                concern, _created = actions.report_concern(
                    request, data["student"].pk, key=data["key"], category=data["category"],
                    urgency=data["urgency"], seen=data["seen"], seen_at=data["seen_at"],
                    heard_from=data["heard_from"])
            except Invalid as error:
                _bind_errors(form, error)
            except Conflict as error:
                form.add_error(None, error.text)
            else:
                return redirect(f"{reverse('concern-mine')}?sent={concern.pk}")
        status = 400
        if chosen is not None and not listable.filter(pk=chosen.pk).exists():
            chosen = None  # typed by number: keep it typed, never list it
    else:
        raw = request.GET.get("student", "")
        if raw:
            number = actions.parse_id(raw)
            chosen = listable.filter(pk=number).select_related("user", "klass").first() \
                if number is not None else None
            if chosen is None:
                raise Http404
        form = ConcernForm(students=reportable, initial={"student": chosen.pk if chosen else None})
    q = request.GET.get("q", "").strip()[:32]
    rows, searchable = _student_choices(user, listable, q, chosen)
    ctx = {
        "form": form, "rows": rows, "q": q, "searchable": searchable, "chosen": chosen,
        "by_number": reportable.count() > listable.count(),
        "places": _places(rows),
        "own_pk": user.pk,
        "selected": str(form["student"].value() or ""),
    }
    if request.headers.get("HX-Request") == "true" and request.method == "GET":
        return render(request, "care/_student_choices.html", ctx)
    return render(request, "care/concern_new.html", ctx, status=status)


@require_GET
@login_required
def concern_mine(request: HttpRequest) -> HttpResponse:
    """The reporter's own reports and where they are — never levels or what others did."""
    user = _user(request)
    page = _page(request, my_concerns(user).select_related("student__user"))
    sent = None
    number = actions.parse_id(request.GET.get("sent", ""))
    if number is not None:
        sent = my_concerns(user).filter(pk=number).first()
    return render(request, "care/concern_mine.html", {
        "page": page, "rows": [(c, c.status_for_reporter()) for c in page],
        "sent": sent,
        "sent_red": bool(sent and sent.level == Level.RED),
        "sent_now": bool(sent and sent.urgency == Urgency.NOW),
        # The urgent path's numbers to call: the 辅导员 (or 班主任), the duty line at night or
        # the centre in office hours. Only the reporter's own report names a student here.
        "numbers": (rota.urgent_numbers(sent.student)
                    if sent and (sent.level == Level.RED or sent.urgency == Urgency.NOW) else []),
    })


# --- alerts -------------------------------------------------------------------------------------


@require_GET
@login_required
@page_errors
def alert_inbox(request: HttpRequest) -> HttpResponse:
    """The alerts a person answers for or may read, overdue first, as cards for a phone."""
    user = _user(request)
    resolved = request.GET.get("show") == "resolved"
    page = actions.list_alerts(request, status=AlertStatus.RESOLVED if resolved else "",
                               hide_resolved=not resolved, page=request.GET.get("page"),
                               per_page=PAGE_SIZE)
    alerts = list(page)
    ids = [a.pk for a in alerts]
    mine = set(Alert.objects.for_responsible(user).filter(pk__in=ids).values_list("pk", flat=True))
    return render(request, "care/alert_inbox.html", {
        "page": page, "alerts": alerts, "mine": mine, "resolved": resolved,
        "levels": level_settings(), "places": _places([a.student for a in alerts]),
        "now": timezone.now(),
    })


@require_GET
@login_required
@page_errors
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _alert_page(request, actions.read_alert(request, pk))


def _alert_page(request: HttpRequest, view: actions.AlertView, *,
                bound: dict[str, Any] | None = None, status: int = 200) -> HttpResponse:
    user = _user(request)
    alert = view.alert
    student = alert.student
    may_case = is_centre_staff_for(user, student)
    bound = bound or {}
    history = list(TimelineEntry.objects.filter(student=student, kind__startswith="alert",
                                                link=alert.get_absolute_url())
                   .select_related("actor").order_by("at", "id"))
    levels = level_settings()
    return render(request, "care/alert_detail.html", {
        "alert": alert, "student": student, "can_act": view.can_act, "clinical": view.clinical,
        "concern": alert.concern if view.report else None,
        "reason": alert.reason_shown() if view.report else None,
        "reads_results": view.reads_results,
        "guidance": GUIDANCE.get(alert.level, ""),
        "history": history, "levels": levels,
        "notes": list(alert.notes.select_related("author")),
        "place": _places([student]).get(student.klass_id, ""),
        "rung": _(RUNGS[min(alert.step, len(RUNGS) - 1)]),
        "cases": list(visible_cases(user).filter(alert=alert)),
        "may_open_case": may_case,
        "ack_form": bound.get("ack") or NoteForm(prefix="ack"),
        "triage_form": bound.get("triage") or TriageForm(prefix="triage", may_open_case=may_case,
                                                         may_dismiss=view.may_dismiss),
        "resolve_form": bound.get("resolve") or NoteForm(prefix="resolve"),
        "is_open": alert.status == AlertStatus.OPEN,
        "may_triage": alert.status in (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED),
        "may_resolve": alert.status in (AlertStatus.ACKNOWLEDGED, AlertStatus.TRIAGED),
    }, status=status)


ALERT_ACTIONS = {"ack": "alert.acknowledge", "triage": "alert.triage", "resolve": "alert.resolve"}


def _alert_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    form: Any = TriageForm(request.POST, prefix="triage") if action == "triage" \
        else NoteForm(request.POST, prefix=action)
    case = None
    if form.is_valid():
        note = form.cleaned_data.get("note", "")
        try:
            if action == "ack":
                alert = actions.acknowledge_alert(request, pk, note)
                messages.success(request, _("Acknowledged. The escalation has stopped."))
            elif action == "triage":
                alert, case = actions.triage_alert(request, pk, form.cleaned_data["decision"], note)
                messages.success(request, _("Triage recorded."))
            else:
                alert = actions.resolve_alert(request, pk, note)
                messages.success(request, _("The alert is resolved."))
        except Invalid as error:
            _bind_errors(form, error)
        except Conflict as error:
            _refused(request, error)
            return redirect(reverse("alert-detail", args=[pk]))
        else:
            return redirect(case if case is not None else alert)
    actions.alert_for(request, pk, ALERT_ACTIONS[action])  # 404 / 403 before the form's 400
    view = actions.read_alert(request, pk)
    if action == "triage":
        form = TriageForm(request.POST, prefix="triage",
                          may_open_case=is_centre_staff_for(_user(request), view.alert.student),
                          may_dismiss=view.may_dismiss)
        form.is_valid()
    return _alert_page(request, view, bound={action: form}, status=400)


@require_POST
@login_required
@page_errors
def alert_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    return _alert_action(request, pk, "ack")


@require_POST
@login_required
@page_errors
def alert_triage(request: HttpRequest, pk: int) -> HttpResponse:
    return _alert_action(request, pk, "triage")


@require_POST
@login_required
@page_errors
def alert_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    return _alert_action(request, pk, "resolve")


# --- the risk register --------------------------------------------------------------------------


@require_GET
@login_required
@page_errors
def risk_register(request: HttpRequest) -> HttpResponse:
    """Students on the watch list in the reader's scope: level, what to do, follow-up dates.
    The clinical reason only for centre staff and the student's 辅导员."""
    level = request.GET.get("level", "")
    if level not in actions.WATCHED:
        level = ""
    overdue = request.GET.get("due") == "overdue"
    result = actions.list_register(request, level=level, overdue=overdue,
                                   page=request.GET.get("page"), per_page=PAGE_SIZE)
    entries = list(result.page)
    return render(request, "care/register.html", {
        "page": result.page, "entries": entries, "clinical": result.clinical, "level": level,
        "overdue": overdue, "now": timezone.now(), "levels": level_settings(),
        "places": _places([e.student for e in entries]),
        "level_choices": [RiskLevel.RED, RiskLevel.ORANGE, RiskLevel.YELLOW],
        "follow_up_form": FollowUpForm(auto_id=False),
    })


def _student_page(pk: int) -> str:
    return reverse("student-detail", args=[pk])


@require_POST
@login_required
@page_errors
def register_set(request: HttpRequest, pk: int) -> HttpResponse:
    """Set a student's level (the action says who may: centre staff and the student's 辅导员)."""
    back = _next_url(request, _student_page(pk))
    form = RiskLevelForm(request.POST)
    if not form.is_valid():
        actions.student_for(request, pk, "risk.set")  # 404 / 403 before the form's message
        messages.error(request, _form_errors(form))
        return redirect(back)
    data = form.cleaned_data
    try:
        actions.set_risk_level(request, pk, level=data["level"], reason=data["reason"],
                               review_on=data["review_on"])
    except (Invalid, Conflict) as error:
        _refused(request, error)
        return redirect(back)
    messages.success(request, _("The risk level is recorded."))
    return redirect(back)


@require_POST
@login_required
@page_errors
def follow_up_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Log a contact with a watched student; anyone holding the risk tier over them may."""
    back = _next_url(request, _student_page(pk))
    form = FollowUpForm(request.POST)
    if not form.is_valid():
        actions.student_for(request, pk, "followup.record")
        messages.error(request, _form_errors(form))
        return redirect(back)
    try:
        actions.record_follow_up(request, pk, form.cleaned_data["note"])
    except (Invalid, Conflict) as error:
        _refused(request, error)
        return redirect(back)
    messages.success(request, _("Follow-up recorded."))
    return redirect(back)


# --- cases --------------------------------------------------------------------------------------


@require_GET
@login_required
@page_errors
def case_list(request: HttpRequest) -> HttpResponse:
    closed = request.GET.get("status") == "closed"
    page = actions.list_cases(request, status=CaseStatus.CLOSED if closed else CaseStatus.OPEN,
                              page=request.GET.get("page"), per_page=PAGE_SIZE)
    cases = list(page)
    return render(request, "care/case_list.html", {
        "page": page, "cases": cases, "closed": closed,
        "places": _places([c.student for c in cases]),
    })


@require_POST
@login_required
@page_errors
def case_new(request: HttpRequest) -> HttpResponse:
    """Open a crisis case for a student (centre staff), optionally from one of their alerts."""
    try:
        case = actions.open_case(request, request.POST.get("student", ""), request.POST.get("alert"))
    except Conflict as error:
        _refused(request, error)
        if isinstance(error.obj, Case):  # one crisis case at a time: to it (or its glass)
            return redirect(error.obj)
        return redirect("case-list")
    messages.success(request, _("The crisis case is open. You lead it; add the team below."))
    return redirect(case)


def _break_glass_page(request: HttpRequest, case: Case, form: BreakGlassForm,
                      status: int) -> HttpResponse:
    return render(request, "care/break_glass.html", {
        "case": case, "student": case.student, "form": form,
        "window": int(BreakGlass.WINDOW.total_seconds() // 60),
    }, status=status)


@require_GET
@login_required
@page_errors
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        view = actions.read_case(request, pk)
    except NeedsBreakGlass as needs:
        return _break_glass_page(request, needs.case, BreakGlassForm(), 403)
    return _case_page(request, view)


def _case_page(request: HttpRequest, view: actions.CaseView, *,
               bound: dict[str, Any] | None = None, status: int = 200) -> HttpResponse:
    case = view.case
    student = case.student
    bound = bound or {}
    shown = [(r, records.rows(r.kind, r.content)) for r in case.records.select_related("author")]
    team_form = bound.get("team") or TeamForm(
        candidates=case_team_choices(case),
        initial={"lead": case.lead_id, "members": list(case.members.values_list("pk", flat=True))})
    # Break-glass: read, and add a note (xinlian.care.access.CaseAccess); the team adds anything.
    kinds = RECORD_FORMS if view.can_write else \
        {RecordKind.NOTE: RECORD_FORMS[RecordKind.NOTE]} if view.can_add_note else {}
    record_forms = [(kind, bound.get(kind) or cls(prefix=kind, student=student))
                    for kind, cls in kinds.items()]
    return render(request, "care/case_detail.html", {
        "case": case, "student": student, "records": shown,
        "record_forms": record_forms, "open_kind": next(iter(bound), ""),
        "members": list(case.members.all()),
        "guardians": list(student.guardians.order_by("-is_primary", "pk")),
        "place": _places([student]).get(student.klass_id, ""),
        "can_write": view.can_write,
        "team_form": team_form, "may_edit_team": view.can_edit_team,
        "may_close": view.can_close,
        "closure_form": bound.get("closure") or ClosureRequestForm(prefix="closure"),
        "review_form": bound.get("review") or ClosureReviewForm(prefix="review"),
        "reopen_form": bound.get("reopen") or ReopenForm(prefix="reopen"),
        "send_back_form": bound.get("sendback") or ClosureReturnForm(prefix="sendback"),
        "closure_missing": case.closure_missing() if case.status == CaseStatus.OPEN else [],
        "closure_needs": CLOSURE_NEEDS,
        "is_requester": case.status == CaseStatus.REVIEW and case.closure_requester_id() == request.user.pk,
        "is_closed": case.status == CaseStatus.CLOSED,
        "grant": view.grant,
    }, status=status)


def _case_form_refused(request: HttpRequest, pk: int, action: str, name: str, form: Any,
                       kind: str = "") -> HttpResponse:
    """The input did not parse (or the action named a field): the action's own checks first
    (404 / 403), then the case page again with the form and its errors (400)."""
    actions.case_for(request, pk, action, kind=kind)
    view = actions.read_case(request, pk)
    if hasattr(form, "set_student"):
        form.set_student(view.case.student)
    return _case_page(request, view, bound={name: form}, status=400)


@require_POST
@login_required
@page_errors
def case_record(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """Add one record to a case. A guardian notification is an explicit, audited disclosure."""
    if kind not in RECORD_FORMS:
        raise Http404
    form = RECORD_FORMS[kind](request.POST, prefix=kind)
    if form.is_valid():
        try:
            actions.add_case_record(request, pk, kind, form.record_data())
        except Conflict as error:
            _refused(request, error)
            return redirect(reverse("case-detail", args=[pk]))
        except Invalid as error:
            _bind_errors(form, error)
        else:
            messages.success(request, _("Record added."))
            return redirect(f"{reverse('case-detail', args=[pk])}#records-end")
    return _case_form_refused(request, pk, "case.record", kind, form, kind)


@require_POST
@login_required
@page_errors
def case_team(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        actions.set_case_team(request, pk, lead=request.POST.get("lead", ""),
                              members=request.POST.getlist("members"))
    except Conflict as error:
        _refused(request, error)
        return redirect(reverse("case-detail", args=[pk]))
    except Invalid as error:
        view = actions.read_case(request, pk)
        # The form again with what was chosen (only what parses as an id: the action said the rest).
        posted = {"lead": request.POST.get("lead", "") if actions.parse_id(request.POST.get("lead")) else "",
                  "members": [m for m in request.POST.getlist("members") if actions.parse_id(m)]}
        form = TeamForm(posted, candidates=case_team_choices(view.case))
        form.is_valid()
        _bind_errors(form, error)
        return _case_page(request, view, bound={"team": form}, status=400)
    messages.success(request, _("The case team is saved."))
    return redirect(reverse("case-detail", args=[pk]))


CASE_VERBS: dict[str, tuple[Any, str, str, Any]] = {
    # url name: (form, its prefix, action, the action's function)
    "request_closure": (ClosureRequestForm, "closure", "case.request_closure", actions.request_closure),
    "close": (ClosureReviewForm, "review", "case.close", actions.close_case),
    "reopen": (ReopenForm, "reopen", "case.reopen", actions.reopen_case),
    "send_back": (ClosureReturnForm, "sendback", "case.send_back", actions.send_back_closure),
}


def _case_verb(request: HttpRequest, pk: int, verb: str, done: str) -> HttpResponse:
    form_class, prefix, action, function = CASE_VERBS[verb]
    form = form_class(request.POST, prefix=prefix)
    if form.is_valid():
        try:
            function(request, pk, next(iter(form.cleaned_data.values())))
        except Conflict as error:
            _refused(request, error)
            return redirect(reverse("case-detail", args=[pk]))
        except Invalid as error:
            _bind_errors(form, error)
        else:
            messages.success(request, done)
            return redirect(reverse("case-detail", args=[pk]))
    return _case_form_refused(request, pk, action, prefix, form)


@require_POST
@login_required
@page_errors
def case_request_closure(request: HttpRequest, pk: int) -> HttpResponse:
    return _case_verb(request, pk, "request_closure",
                      _("Closure requested: the centre director reviews it."))


@require_POST
@login_required
@page_errors
def case_close(request: HttpRequest, pk: int) -> HttpResponse:
    """Closing needs the centre director's review; anyone else gets 403."""
    return _case_verb(request, pk, "close", _("The case is closed."))


@require_POST
@login_required
@page_errors
def case_send_back(request: HttpRequest, pk: int) -> HttpResponse:
    """The reviewer sends the closure back to the case team with a comment."""
    return _case_verb(request, pk, "send_back", _("The closure is sent back to the case team."))


@require_POST
@login_required
@page_errors
def case_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    return _case_verb(request, pk, "reopen", _("The case is open again."))


@require_POST
@login_required
@page_errors
def case_break_glass(request: HttpRequest, pk: int) -> HttpResponse:
    """Open a case outside one's team: a typed reason, a short window, the director told."""
    try:
        grant = actions.break_glass(request, pk, request.POST.get("reason", ""))
    except Conflict as error:  # already allowed in: nothing to break
        _refused(request, error)
        return redirect(reverse("case-detail", args=[pk]))
    except Invalid as error:
        form = BreakGlassForm(request.POST)
        form.is_valid()
        if not form.errors:
            _bind_errors(form, error)
        return _break_glass_page(request, error.obj, form, 400)  # the case the action found
    messages.warning(request, _("Break-glass access until %(time)s. This is recorded and the "
                                "centre director has been told.")
                     % {"time": timezone.localtime(grant.expires_at).strftime("%H:%M")})
    return redirect(reverse("case-detail", args=[pk]))
