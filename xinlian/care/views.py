"""The linkage pages: report a concern, my reports, the alert inbox and an alert, the risk
register, crisis cases (with break-glass).

Every read goes through ``xinlian.care.access`` / ``xinlian.access.policy``; a verb on a model
does every write. Out of scope is 404, in scope but not allowed is 403, a refused state change
(a second acknowledgement, an edit of a closed case) shows the model's reason."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db import transaction
from django.db.models import Case as DbCase
from django.db.models import IntegerField, Q, QuerySet, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from xinlian.access.models import AuditResult
from xinlian.access.policy import (
    Cap,
    audit,
    caps_over_student,
    get_student_for_user,
    has_cap,
    visible_students,
)
from xinlian.network.models import Student, Unit, UnitKind, User

from .access import (
    NeedsBreakGlass,
    break_glass,
    case_team_candidates,
    get_alert_for_user,
    get_case_for_user,
    is_centre_staff_for,
    may_edit_team,
    may_review_closure,
    my_concerns,
    reportable_students,
    sees_clinical,
    uses_alert_inbox,
    uses_case_list,
    visible_alerts,
    visible_cases,
)
from .forms import (
    DISPLAY_FORMS,
    RECORD_FORMS,
    BreakGlassForm,
    ClosureRequestForm,
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
    GUIDANCE,
    Alert,
    AlertStatus,
    BreakGlass,
    CareError,
    Case,
    CaseStatus,
    Concern,
    FollowUp,
    Level,
    RecordKind,
    RiskEntry,
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
# The model's own words for the refusal (CareError in Case.add_record), checked up front.
CLOSED_MESSAGE = gettext_noop("This case is closed; reopen it before changing it.")


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


def _error_text(error: CareError) -> str:
    return " ".join(error.messages)


def _form_errors(form: Any) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


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
def concern_new(request: HttpRequest) -> HttpResponse:
    """Report a concern: under a minute on a phone. Replays of one form are one report."""
    user = _user(request)
    reportable = reportable_students(user)
    if not reportable.exists():
        raise PermissionDenied
    listable = _listable(user, reportable)
    chosen: Student | None = None
    status = 200
    if request.method == "POST":
        raw = request.POST.get("student", "").strip()
        if raw:
            # Outside the reporter's scope is missing, before any form message could say more.
            chosen = reportable.filter(pk=int(raw)).select_related("user", "klass").first() \
                if raw.isdigit() else None
            if chosen is None:
                audit(request, "concern.new", object_type="network.student", object_id=raw[:64],
                      result=AuditResult.DENIED)
                raise Http404
        form = ConcernForm(request.POST, students=reportable)
        if form.is_valid():
            data = form.cleaned_data
            try:
                concern, _created = Concern.submit(
                    key=data["key"], reporter=user, student=data["student"],
                    category=data["category"], urgency=data["urgency"], seen=data["seen"],
                    seen_at=data["seen_at"], heard_from=data["heard_from"])
            except CareError as error:
                form.add_error(None, error)
            else:
                return redirect(f"{reverse('concern-mine')}?sent={concern.pk}")
        status = 400
        if chosen is not None and not listable.filter(pk=chosen.pk).exists():
            chosen = None  # typed by number: keep it typed, never list it
    else:
        raw = request.GET.get("student", "")
        if raw:
            chosen = listable.filter(pk=int(raw)).select_related("user", "klass").first() \
                if raw.isdigit() else None
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
    raw = request.GET.get("sent", "")
    if raw.isdigit():
        sent = my_concerns(user).filter(pk=int(raw)).first()
    return render(request, "care/concern_mine.html", {
        "page": page, "rows": [(c, c.status_for_reporter()) for c in page],
        "sent": sent,
        "sent_red": bool(sent and sent.level == Level.RED),
        "sent_now": bool(sent and sent.urgency == Urgency.NOW),
    })


# --- alerts -------------------------------------------------------------------------------------


@require_GET
@login_required
def alert_inbox(request: HttpRequest) -> HttpResponse:
    """The alerts a person answers for or may read, overdue first, as cards for a phone."""
    user = _user(request)
    if not uses_alert_inbox(user):
        raise PermissionDenied
    resolved = request.GET.get("show") == "resolved"
    qs = visible_alerts(user).select_related("student__user", "student__klass")
    if resolved:
        qs = qs.filter(status=AlertStatus.RESOLVED).order_by("-resolved_at", "-pk")
    else:
        qs = qs.exclude(status=AlertStatus.RESOLVED).inbox_order()
    page = _page(request, qs)
    alerts = list(page)
    ids = [a.pk for a in alerts]
    mine = set(Alert.objects.for_responsible(user).filter(pk__in=ids).values_list("pk", flat=True))
    if alerts:
        audit(request, "alert.inbox", object_type="care.alert", object_id="inbox",
              detail=f"page={page.number};rows={len(alerts)}{';resolved' if resolved else ''}")
    return render(request, "care/alert_inbox.html", {
        "page": page, "alerts": alerts, "mine": mine, "resolved": resolved,
        "levels": level_settings(), "places": _places([a.student for a in alerts]),
        "now": timezone.now(),
    })


@require_GET
@login_required
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    alert, can_act = get_alert_for_user(request, pk)
    return _alert_page(request, alert, can_act)


def _alert_page(request: HttpRequest, alert: Alert, can_act: bool, *,
                bound: dict[str, Any] | None = None, status: int = 200) -> HttpResponse:
    user = _user(request)
    student = alert.student
    held = caps_over_student(user, student)
    clinical = sees_clinical(held)
    may_case = is_centre_staff_for(user, student)
    bound = bound or {}
    history = list(TimelineEntry.objects.filter(student=student, kind__startswith="alert",
                                                link=alert.get_absolute_url())
                   .select_related("actor").order_by("at", "id"))
    levels = level_settings()
    return render(request, "care/alert_detail.html", {
        "alert": alert, "student": student, "can_act": can_act, "clinical": clinical,
        "concern": alert.concern if clinical else None,
        "guidance": GUIDANCE.get(alert.level, ""),
        "history": history, "levels": levels,
        "notes": list(alert.notes.select_related("author")),
        "place": _places([student]).get(student.klass_id, ""),
        "rung": _(RUNGS[min(alert.step, len(RUNGS) - 1)]),
        "cases": list(visible_cases(user).filter(alert=alert)),
        "may_open_case": may_case,
        "ack_form": bound.get("ack") or NoteForm(prefix="ack"),
        "triage_form": bound.get("triage") or TriageForm(prefix="triage", may_open_case=may_case),
        "resolve_form": bound.get("resolve") or NoteForm(prefix="resolve"),
        "is_open": alert.status == AlertStatus.OPEN,
        "may_triage": alert.status in (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED),
        "may_resolve": alert.status in (AlertStatus.ACKNOWLEDGED, AlertStatus.TRIAGED),
    }, status=status)


def _alert_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    user = _user(request)
    alert, can_act = get_alert_for_user(request, pk)
    if not can_act:
        raise PermissionDenied
    if action == "triage":
        form: Any = TriageForm(request.POST, prefix="triage",
                               may_open_case=is_centre_staff_for(user, alert.student))
    else:
        form = NoteForm(request.POST, prefix=action)
    if not form.is_valid():
        return _alert_page(request, alert, can_act, bound={action: form}, status=400)
    note = form.cleaned_data.get("note", "")
    case = None
    try:
        if action == "ack":
            alert.acknowledge(user, note)
            messages.success(request, _("Acknowledged. The escalation has stopped."))
        elif action == "triage":
            case = alert.triage_as(user, form.cleaned_data["decision"], note)
            messages.success(request, _("Triage recorded."))
        else:
            alert.resolve(user, note)
            messages.success(request, _("The alert is resolved."))
    except CareError as error:
        messages.error(request, _error_text(error))
    if case is not None:
        return redirect(case)
    return redirect(alert)


@require_POST
@login_required
def alert_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    return _alert_action(request, pk, "ack")


@require_POST
@login_required
def alert_triage(request: HttpRequest, pk: int) -> HttpResponse:
    return _alert_action(request, pk, "triage")


@require_POST
@login_required
def alert_resolve(request: HttpRequest, pk: int) -> HttpResponse:
    return _alert_action(request, pk, "resolve")


# --- the risk register --------------------------------------------------------------------------

SEVERITY = DbCase(When(level=RiskLevel.RED, then=Value(0)), When(level=RiskLevel.ORANGE, then=Value(1)),
                 default=Value(2), output_field=IntegerField())


@require_GET
@login_required
def risk_register(request: HttpRequest) -> HttpResponse:
    """Students on the watch list in the reader's scope: level, what to do, follow-up dates.
    The clinical reason only for centre staff and the student's 辅导员."""
    user = _user(request)
    if not has_cap(user, Cap.RISK):
        raise PermissionDenied
    level = request.GET.get("level", "")
    overdue = request.GET.get("due") == "overdue"
    qs = (RiskEntry.objects.watched().filter(student__in=visible_students(user, Cap.RISK))
          .select_related("student__user", "student__klass", "set_by"))
    if level in (RiskLevel.RED, RiskLevel.ORANGE, RiskLevel.YELLOW):
        qs = qs.filter(level=level)
    else:
        level = ""
    now = timezone.now()
    if overdue:
        qs = qs.filter(follow_up_due_at__lte=now)
    page = _page(request, qs.annotate(severity=SEVERITY).order_by("severity", "follow_up_due_at"))
    entries = list(page)
    ids = [e.student_id for e in entries]
    clinical = set(visible_students(user, Cap.SCORES).filter(pk__in=ids).values_list("pk", flat=True)) \
        | set(visible_students(user, Cap.CASE).filter(pk__in=ids).values_list("pk", flat=True))
    if entries:
        audit(request, "register.view", object_type="care.riskentry", object_id="register",
              detail=f"page={page.number};rows={len(entries)};level={level or 'all'}"
                     f"{';overdue' if overdue else ''}")
    return render(request, "care/register.html", {
        "page": page, "entries": entries, "clinical": clinical, "level": level,
        "overdue": overdue, "now": now, "levels": level_settings(),
        "places": _places([e.student for e in entries]),
        "level_choices": [RiskLevel.RED, RiskLevel.ORANGE, RiskLevel.YELLOW],
        "follow_up_form": FollowUpForm(auto_id=False),
    })


@require_POST
@login_required
def register_set(request: HttpRequest, pk: int) -> HttpResponse:
    """Set a student's level: centre staff and the student's 辅导员 (Cap.SCORES over them)."""
    user = _user(request)
    student, held = get_student_for_user(request, pk)
    if Cap.SCORES not in held:
        raise PermissionDenied
    back = _next_url(request, reverse("student-detail", args=[student.pk]))
    form = RiskLevelForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(back)
    data = form.cleaned_data
    RiskEntry.set_level(student, data["level"], by=user, reason=data["reason"],
                        review_on=data["review_on"])
    audit(request, "risk.set", student, detail=f"level={data['level']}")
    messages.success(request, _("The risk level is recorded."))
    return redirect(back)


@require_POST
@login_required
def follow_up_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Log a contact with a watched student; anyone holding the risk tier over them may."""
    user = _user(request)
    student, held = get_student_for_user(request, pk)
    if Cap.RISK not in held:
        raise PermissionDenied
    back = _next_url(request, reverse("student-detail", args=[student.pk]))
    form = FollowUpForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(back)
    FollowUp.record(student, by=user, note=form.cleaned_data["note"])
    audit(request, "followup.record", student)
    messages.success(request, _("Follow-up recorded."))
    return redirect(back)


# --- cases --------------------------------------------------------------------------------------


@require_GET
@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not uses_case_list(user):
        raise PermissionDenied
    closed = request.GET.get("status") == "closed"
    qs = visible_cases(user).select_related("student__user", "student__klass", "lead")
    qs = qs.filter(status=CaseStatus.CLOSED) if closed else qs.exclude(status=CaseStatus.CLOSED)
    page = _page(request, qs.order_by("-opened_at"))
    cases = list(page)
    if cases:
        audit(request, "case.list", object_type="care.case", object_id="list",
              detail=f"page={page.number};rows={len(cases)}{';closed' if closed else ''}")
    return render(request, "care/case_list.html", {
        "page": page, "cases": cases, "closed": closed,
        "places": _places([c.student for c in cases]),
    })


@require_POST
@login_required
def case_new(request: HttpRequest) -> HttpResponse:
    """Open a crisis case for a student (centre staff), optionally from one of their alerts."""
    user = _user(request)
    raw = request.POST.get("student", "")
    student = visible_students(user, Cap.RISK).filter(pk=int(raw)).select_related("klass").first() \
        if raw.isdigit() else None
    if student is None:
        audit(request, "case.open", object_type="network.student", object_id=raw[:64] or "-",
              result=AuditResult.DENIED)
        raise Http404
    if not is_centre_staff_for(user, student):
        raise PermissionDenied
    current = Case.objects.filter(student=student).exclude(status=CaseStatus.CLOSED).first()
    if current is not None:  # one crisis case at a time: send the user to it (or its glass)
        messages.info(request, _("This student already has an open crisis case."))
        return redirect(current)
    alert = None
    raw_alert = request.POST.get("alert", "")
    if raw_alert.isdigit():
        alert = visible_alerts(user).filter(pk=int(raw_alert), student=student).first()
    case = Case.open_for(student, by=user, alert=alert)
    audit(request, "case.open", case)
    messages.success(request, _("The crisis case is open. You lead it; add the team below."))
    return redirect(case)


def _case_for_writing(request: HttpRequest, pk: int) -> Case:
    try:
        case, _can_write = get_case_for_user(request, pk)
    except NeedsBreakGlass as needs:
        raise PermissionDenied from needs
    return case


def _break_glass_page(request: HttpRequest, case: Case, form: BreakGlassForm,
                      status: int) -> HttpResponse:
    return render(request, "care/break_glass.html", {
        "case": case, "student": case.student, "form": form,
        "window": int(BreakGlass.WINDOW.total_seconds() // 60),
    }, status=status)


@require_GET
@login_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        case, _can_write = get_case_for_user(request, pk)
    except NeedsBreakGlass as needs:
        return _break_glass_page(request, needs.case, BreakGlassForm(), 403)
    return _case_page(request, case)


def _case_page(request: HttpRequest, case: Case, *, bound: dict[str, Any] | None = None,
               status: int = 200) -> HttpResponse:
    user = _user(request)
    student = case.student
    bound = bound or {}
    records = []
    for record in case.records.select_related("author"):
        form_class = DISPLAY_FORMS.get(record.kind)
        rows = form_class.rows(record.content) if form_class else []
        records.append((record, rows))
    candidates = _team_candidates(case)
    team_form = bound.get("team") or TeamForm(
        candidates=candidates, initial={"lead": case.lead_id,
                                        "members": list(case.members.values_list("pk", flat=True))})
    record_forms = [(kind, bound.get(kind) or cls(prefix=kind, student=student))
                    for kind, cls in RECORD_FORMS.items()]
    on_team = case.on_team(user)
    grant = None if on_team or Cap.CASE in caps_over_student(user, student) \
        else BreakGlass.active_for(case, user)
    return render(request, "care/case_detail.html", {
        "case": case, "student": student, "records": records,
        "record_forms": record_forms, "open_kind": next(iter(bound), ""),
        "members": list(case.members.all()),
        "guardians": list(student.guardians.order_by("-is_primary", "pk")),
        "place": _places([student]).get(student.klass_id, ""),
        "team_form": team_form, "may_edit_team": may_edit_team(user, case),
        "may_close": may_review_closure(user, case),
        "closure_form": bound.get("closure") or ClosureRequestForm(prefix="closure"),
        "review_form": bound.get("review") or ClosureReviewForm(prefix="review"),
        "reopen_form": bound.get("reopen") or ReopenForm(prefix="reopen"),
        "is_closed": case.status == CaseStatus.CLOSED,
        "grant": grant,
    }, status=status)


def _team_candidates(case: Case) -> QuerySet[User]:
    current = [case.lead_id, *case.members.values_list("pk", flat=True)]
    return (case_team_candidates(case.student) | User.objects.filter(pk__in=current)) \
        .distinct().order_by("full_name")


def _refuse_if_closed(request: HttpRequest, case: Case) -> HttpResponse | None:
    if case.status == CaseStatus.CLOSED:
        messages.error(request, _(CLOSED_MESSAGE))
        return redirect(case)
    return None


@require_POST
@login_required
def case_record(request: HttpRequest, pk: int, kind: str) -> HttpResponse:
    """Add one record to a case. A guardian notification is an explicit, audited disclosure."""
    if kind not in RECORD_FORMS:
        raise Http404
    user = _user(request)
    case = _case_for_writing(request, pk)
    refused = _refuse_if_closed(request, case)
    if refused:
        return refused
    form = RECORD_FORMS[kind](request.POST, prefix=kind, student=case.student)
    if not form.is_valid():
        return _case_page(request, case, bound={kind: form}, status=400)
    try:
        with transaction.atomic():
            case.add_record(kind, author=user, data=form.record_data())
            if kind == RecordKind.GUARDIAN:
                guardian = form.guardian_id  # type: ignore[attr-defined]
                audit(request, "case.guardian_notified", case,
                      detail=f"guardian={guardian or 'other'};how={form.cleaned_data['how']}")
            elif kind == RecordKind.FOLLOW_UP:
                FollowUp.record(case.student, by=user, note=form.cleaned_data["note"], case=case)
    except CareError as error:
        messages.error(request, _error_text(error))
        return redirect(case)
    messages.success(request, _("Record added."))
    return redirect(f"{case.get_absolute_url()}#records-end")


@require_POST
@login_required
def case_team(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    case = _case_for_writing(request, pk)
    if not may_edit_team(user, case):
        raise PermissionDenied
    refused = _refuse_if_closed(request, case)
    if refused:
        return refused
    form = TeamForm(request.POST, candidates=_team_candidates(case))
    if not form.is_valid():
        return _case_page(request, case, bound={"team": form}, status=400)
    try:
        case.set_team(user, lead=form.cleaned_data["lead"], members=list(form.cleaned_data["members"]))
    except CareError as error:
        messages.error(request, _error_text(error))
        return redirect(case)
    audit(request, "case.team", case, detail=f"members={case.members.count()}")
    messages.success(request, _("The case team is saved."))
    return redirect(case)


def _case_verb(request: HttpRequest, pk: int, name: str, form_class: type, verb: str,
               done: str, *, director_only: bool = False) -> HttpResponse:
    user = _user(request)
    case = _case_for_writing(request, pk)
    if director_only and not may_review_closure(user, case):
        raise PermissionDenied
    form = form_class(request.POST, prefix=name)
    if not form.is_valid():
        return _case_page(request, case, bound={name: form}, status=400)
    text = next(iter(form.cleaned_data.values()))
    try:
        getattr(case, verb)(user, text)
    except CareError as error:
        messages.error(request, _error_text(error))
        return redirect(case)
    audit(request, f"case.{verb}", case)
    messages.success(request, done)
    return redirect(case)


@require_POST
@login_required
def case_request_closure(request: HttpRequest, pk: int) -> HttpResponse:
    return _case_verb(request, pk, "closure", ClosureRequestForm, "request_closure",
                      _("Closure requested: the centre director reviews it."))


@require_POST
@login_required
def case_close(request: HttpRequest, pk: int) -> HttpResponse:
    """Closing needs the centre director's review; anyone else gets 403."""
    return _case_verb(request, pk, "review", ClosureReviewForm, "close", _("The case is closed."),
                      director_only=True)


@require_POST
@login_required
def case_reopen(request: HttpRequest, pk: int) -> HttpResponse:
    return _case_verb(request, pk, "reopen", ReopenForm, "reopen", _("The case is open again."))


@require_POST
@login_required
def case_break_glass(request: HttpRequest, pk: int) -> HttpResponse:
    """Open a case outside one's team: a typed reason, a short window, the director told."""
    try:
        case, _can_write = get_case_for_user(request, pk)
    except NeedsBreakGlass as needs:
        case = needs.case
    else:
        return redirect(case)  # already allowed in: nothing to break
    form = BreakGlassForm(request.POST)
    if not form.is_valid():
        return _break_glass_page(request, case, form, 400)
    grant = break_glass(request, case, form.cleaned_data["reason"])
    messages.warning(request, _("Break-glass access until %(time)s. This is recorded and the "
                                "centre director has been told.")
                     % {"time": timezone.localtime(grant.expires_at).strftime("%H:%M")})
    return redirect(case)

