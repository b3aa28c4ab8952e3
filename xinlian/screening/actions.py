"""Every screening action, once: the respondent's (read my assignments, consent, save answers,
submit), the staff's (guardian consent, read one respondent's results, list results, read and
record an interview; create, edit and launch a campaign) and the audited reads of the staff pages
(progress by unit, the report, the export, the interview list, the instrument library). The
pages (views_student.py, views_staff.py) and the REST API (api.py) are adapters over these
functions: they parse their input, call the verb and map its outcome to HTML or JSON;
tests/test_parity_screening.py runs every action both have through both.

Each verb takes the request (its user acts; its address goes into the audit row) and does, in
this order:

1. the scoped lookup through :mod:`xinlian.screening.access` — outside the actor's scope (or
   missing, the two are never told apart) → :class:`~xinlian.lib.actions.NotFound`;
2. the capability check — in scope but not theirs to do → ``NotAllowed``;
3. the rule, in the model's verb (``Assignment.consent`` / ``save_answers`` / ``submit``,
   ``Interview.record``); a refusal there is a ``ScreeningError`` and leaves here as
   :class:`ScreeningConflict` (409: not in this state) or :class:`ScreeningInvalid` (400: the
   input breaks a rule), both carrying the model's stable ``code``;
4. the audit row of a staff action or a sensitive read, in the same transaction.

A respondent's own actions write no audit row: the assignment row records them itself (consent
version and time, submission time and key), and the submit — the busiest request of a freshman
week — must stay the few statements ``Assignment.submit_own`` sends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db import connection, transaction
from django.db.models import Count, Prefetch, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from xinlian.access.models import AuditResult
from xinlian.access.policy import Cap, audit, has_cap
from xinlian.access.ratelimit import refuse
from xinlian.lib import hotsql
from xinlian.lib.actions import Conflict, Invalid, NotAllowed, NotFound
from xinlian.lib.converters import parse_id
from xinlian.lib.spreadsheet import write_xlsx
from xinlian.network.models import Unit, UnitKind, User

from . import access, reports
from .engine import DefinitionError
from .forms import CampaignForm, GuardianConsentForm, InterviewForm
from .models import (
    OPEN_STATES,
    Assignment,
    AssignmentStatus,
    Campaign,
    CampaignInstrument,
    CampaignStatus,
    Instrument,
    Interview,
    InterviewStatus,
    Result,
    ScreeningError,
    SubmitOutcome,
    own_answers_rows,
    own_answers_sql,
)

# ScreeningError codes that mean "not in this state" (409). Every other code means the input
# breaks a rule (400): a missing key, an unknown question, a value not among the options,
# questions still unanswered at submit, no outcome chosen.
CONFLICT_CODES = frozenset({"closed", "not_open", "state", "submitted", "guardian", "version",
                            "done", "not_needed"})

# DRF's own words (translated in its catalogue): a refusal never says whether the object exists.
NOT_FOUND = gettext_lazy("Not found.")
Entry = tuple[int, int, Any, float | None]  # (campaign instrument pk, item, value, seconds)


class ScreeningConflict(Conflict):
    """A screening action refused in the record's current state; ``code`` is the stable reason
    (``closed``, ``submitted``, ``version``…)."""

    def __init__(self, message: Any, *, code: str, obj: Any = None) -> None:
        super().__init__(message, obj=obj)
        self.code = code


class ScreeningInvalid(Invalid):
    """A screening action refused for what was sent; ``code`` is the stable reason (``key``,
    ``bad_value``, ``incomplete``…)."""

    def __init__(self, message: Any = "", *, code: str, errors: dict[str, list[Any]] | None = None,
                 obj: Any = None) -> None:
        super().__init__(message, errors=errors, obj=obj)
        self.code = code


class ScreeningTooMany(ScreeningConflict):
    """Too many submissions by one person in the last hour (429; the page shows it by the form)."""

    status = 429


SUBMITS_LAST_HOUR = "submits_last_hour"


def _an_hour_ago() -> list[Any]:
    return [connection.ops.adapt_datetimefield_value(timezone.now() - dt.timedelta(hours=1))]


OWN_ANSWERS = "own_answers"


# For the submit views, loaded with the user (``hotsql.user_columns``): the person's
# submissions of the last hour (the rate limit's count, ``_check_submit_rate``), as
# ``Assignment.objects.filter(user=…, submitted_at__gte=an hour ago).count()`` would count them,
# and the saved answers of the person's open assignments, of which ``Assignment.submit_own``
# scores the one in the path (its own read otherwise): two round trips fewer.
with_submit_columns = hotsql.user_columns(**{
    SUBMITS_LAST_HOUR: (f"SELECT COUNT(*) FROM {Assignment._meta.db_table} a WHERE a.user_id = t.id "
                        "AND a.submitted_at >= %s", _an_hour_ago),
    OWN_ANSWERS: (own_answers_sql(connection.vendor), list(OPEN_STATES))})


def _check_submit_rate(request: HttpRequest, user: User, pk: int,
                       entries: Sequence[Entry]) -> SubmitOutcome | None:
    """At most SCREENING_SUBMIT_RATE_PER_HOUR submissions an hour per person, counted in the
    database: one indexed count before the submit. A replay of a submitted one still answers
    ``replay`` (it changes nothing); the answers sent with a refused submit are saved."""
    limit = settings.SCREENING_SUBMIT_RATE_PER_HOUR
    # Normally counted in the statement that loaded the user (the page's submit is marked with
    # ``with_submit_columns``), one round trip and one ORM compilation fewer; else counted here.
    used = hotsql.loaded_column(request, SUBMITS_LAST_HOUR, user)
    if used is None:
        since = timezone.now() - dt.timedelta(hours=1)
        used = Assignment.objects.filter(user=user, submitted_at__gte=since).count()
    if used < limit:
        return None
    assignment = my_assignment(request, pk)
    if assignment.status == AssignmentStatus.SUBMITTED:
        return SubmitOutcome(assignment, replay=True)
    if entries:
        try:
            assignment.save_answers(list(entries))
        except ScreeningError as error:
            raise refusal(error, assignment) from error
    refused = refuse(request, "screening_submit", used=used, limit=limit, message=_(
        "You have submitted %(n)d questionnaires in the last hour, the most allowed. Your answers "
        "are saved: please submit again later.") % {"n": used})
    raise ScreeningTooMany(refused.message, code=refused.code, obj=assignment)


def refusal(error: ScreeningError, obj: Any = None) -> ScreeningConflict | ScreeningInvalid:
    """The one mapping of a model's refusal to an action outcome, for both front-ends."""
    code = str(error.code or "invalid")
    message = " ".join(str(m) for m in error.messages)
    if code in CONFLICT_CODES:
        return ScreeningConflict(message, code=code, obj=obj)
    return ScreeningInvalid(message, code=code, obj=obj)


@contextmanager
def _rules(obj: Any = None) -> Iterator[None]:
    try:
        yield
    except ScreeningError as error:
        raise refusal(error, obj) from error


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _form_errors(form: Any) -> dict[str, list[Any]]:
    return {field: list(errors) for field, errors in form.errors.items()}


# --- the respondent -----------------------------------------------------------------------------


def my_assignments(request: HttpRequest) -> QuerySet[Assignment]:
    """Every screening the person is invited to (students, and staff when a campaign includes
    them), newest first."""
    return (Assignment.objects.filter(user=_user(request)).select_related("campaign")
            .order_by("-campaign__opens_at", "-pk"))


def my_assignment(request: HttpRequest, pk: int) -> Assignment:
    """The respondent's own assignment (the campaign loaded with it); anybody else's → NotFound."""
    assignment = access.own_assignment(_user(request), pk)
    if assignment is None:
        raise NotFound(NOT_FOUND)
    return assignment


def give_consent(request: HttpRequest, pk: int, agree: bool, version: int) -> Assignment:
    """Agree or decline the consent text of ``version``. Once submitted → Conflict
    ``submitted``; a changed text → Conflict ``version``; a closed window → Conflict ``closed``."""
    assignment = my_assignment(request, pk)
    if assignment.status == AssignmentStatus.SUBMITTED:
        raise ScreeningConflict(_("You have already completed this screening."), code="submitted",
                                obj=assignment)
    with _rules(assignment):
        assignment.consent(agree, version)
    return assignment


def save_answers(request: HttpRequest, pk: int, entries: Sequence[Entry]) -> tuple[Assignment, dict[int, list[int]]]:
    """Keep a batch of answers, all or none; returns the assignment and, per questionnaire, the
    items now asked (skip logic). Without consent, after submitting or outside the window →
    Conflict; a bad value or an unknown question → Invalid."""
    assignment = my_assignment(request, pk)
    with _rules(assignment):
        visible = assignment.save_answers(list(entries))
    return assignment, visible


def submit(request: HttpRequest, pk: int, key: str, entries: Sequence[Entry] = ()) -> SubmitOutcome:
    """Save the answers sent with the submit (if any), then submit once: a double tap, a retry or
    a replay — with any key — gets ``replay=True`` and changes nothing.

    With no answers sent (the questionnaire's script saved them all already) the claim and the
    scoring go first, without loading the assignment and its campaign through the ORM
    (``Assignment.submit_own``: freshman week's busiest request). Anything but a clean first
    submit takes the long way, which says why:
    someone else's → NotFound; missing key or unanswered questions → Invalid (``key``,
    ``incomplete``); closed, not consented → Conflict. The refusal carries the assignment
    (``obj``), re-read, for the page to show the questionnaire again."""
    user = _user(request)
    limited = _check_submit_rate(request, user, pk, entries)
    if limited is not None:
        return limited
    if not entries:
        outcome = Assignment.submit_own(pk, user, key, found=own_answers_rows(
            hotsql.loaded_column(request, OWN_ANSWERS, user), pk))
        if outcome is not None:
            return outcome
    assignment = my_assignment(request, pk)
    if assignment.status == AssignmentStatus.SUBMITTED:
        return SubmitOutcome(assignment, replay=True)
    try:
        if entries:
            assignment.save_answers(list(entries))
        return assignment.submit(key)
    except ScreeningError as error:
        assignment.refresh_from_db()
        if assignment.status == AssignmentStatus.SUBMITTED:  # meanwhile, e.g. by a double tap
            return SubmitOutcome(assignment, replay=True)
        raise refusal(error, assignment) from error


# --- staff: guardian consent --------------------------------------------------------------------


def record_guardian_consent(request: HttpRequest, pk: int, data: Mapping[str, Any]) -> Assignment:
    """Record how a guardian consented for a student under 14 (``data["note"]``), by anyone
    holding the risk tier over the student (head teacher, 辅导员, the centre). Out of that
    scope → NotFound (audited); not needed → Conflict ``not_needed``; no note → Invalid."""
    user = _user(request)
    assignment = access.guardian_consent_assignment(user, pk)
    if assignment is None:
        audit(request, "screening.guardian_consent", object_type="screening.assignment",
              object_id=str(pk), result=AuditResult.DENIED)
        raise NotFound(NOT_FOUND)
    assert assignment.student is not None
    if not assignment.needs_guardian_consent:
        raise ScreeningConflict(_("No guardian consent is needed for %(name)s.")
                                % {"name": assignment.student.name}, code="not_needed", obj=assignment)
    form = GuardianConsentForm(data)
    if not form.is_valid():
        raise ScreeningInvalid(code="note", errors=_form_errors(form), obj=assignment)
    with transaction.atomic():
        assignment.record_guardian_consent(user, form.cleaned_data["note"])
        audit(request, "screening.guardian_consent", assignment)
    return assignment


# --- staff: results (tier 3) --------------------------------------------------------------------


@dataclass
class ResultsRead:
    assignment: Assignment
    results: list[Result]
    interview: Interview | None
    interview_open: bool  # the reader may open the interview too


def read_results(request: HttpRequest, pk: int) -> ResultsRead:
    """One respondent's results (assignment ``pk``), tier 3. Every read is an audit row, a denied
    one too; outside the reader's scope → NotFound."""
    user = _user(request)
    assignment = (Assignment.objects.select_related("campaign__school", "student__user", "student__klass", "user")
                  .filter(pk=pk).first())
    visible = access.visible_results(user)
    if assignment is None or not visible.filter(assignment=assignment).exists():
        audit(request, "screening.result.view", object_type="screening.assignment", object_id=str(pk),
              result=AuditResult.DENIED)
        raise NotFound(NOT_FOUND)
    audit(request, "screening.result.view", assignment)
    results = list(visible.filter(assignment=assignment)
                   .select_related("instrument", "response__campaign_instrument",
                                   "assignment__user", "student__klass")
                   .order_by("response__campaign_instrument__order", "pk"))
    interview = Interview.objects.filter(assignment=assignment).first()
    interview_open = bool(interview and access.visible_interviews(user).filter(pk=interview.pk).exists())
    return ResultsRead(assignment, results, interview, interview_open)


CAMPAIGN_ID_MESSAGE = gettext_lazy("Give a campaign id (a number).")


def list_results(request: HttpRequest, campaign: str,
                 paginate: Callable[[Any], Iterable[Result] | None]) -> list[Result]:
    """The results the reader may read (tier 3), optionally of one campaign, one page at a time
    (``paginate`` cuts the page). Each page read is one audit row with the number of results
    shown, never what they say; an empty page writes none."""
    qs = access.visible_results(_user(request))
    campaign = campaign.strip()
    if campaign:
        campaign_id = parse_id(campaign)
        if campaign_id is None:
            raise Invalid(errors={"campaign": [CAMPAIGN_ID_MESSAGE]})
        qs = qs.filter(campaign_id=campaign_id)
    # The page's keys first, through the visibility joins alone (the database walks the
    # campaign index and stops at the page, where joining everything the rows show made it sort
    # every result in scope), then those rows; the instrument's code only, not its definition.
    keys = list(paginate(qs.order_by("campaign_id", "pk").values_list("pk", flat=True)) or [])
    found = (Result.objects.select_related("assignment__user", "student__klass", "instrument")
             .defer("instrument__definition", "instrument__wording").in_bulk(keys))
    rows = [found[k] for k in keys]
    if rows:
        audit(request, "screening.result.list",
              object_type="screening.campaign" if campaign else "screening.result",
              object_id=campaign or "list", detail=f"results:{len(rows)}")
    return rows


# --- staff: interviews --------------------------------------------------------------------------


@dataclass
class InterviewRead:
    interview: Interview
    can_record: bool  # the assigned counsellor, or centre staff over the student
    reasons: list[Result]  # the results behind it that the reader may read


def read_interview(request: HttpRequest, pk: int) -> InterviewRead:
    """Why the student is on the interview list (tier 3) and whether the reader records the
    outcome. The read is audited (and the results it shows); outside the scope → NotFound."""
    user = _user(request)
    interview, can_record = access.interview_in_scope(user, pk)
    if interview is None:
        audit(request, "screening.interview.view", object_type="screening.interview", object_id=str(pk),
              result=AuditResult.DENIED)
        raise NotFound(NOT_FOUND)
    audit(request, "screening.interview.view", interview)
    reasons = list(access.visible_results(user).filter(assignment_id=interview.assignment_id)
                   .select_related("instrument").order_by("pk"))
    if reasons:
        audit(request, "screening.result.view", interview.assignment, detail="interview reasons")
    return InterviewRead(interview, can_record, reasons)


@dataclass
class InterviewInput:
    outcome: str
    notes: str
    review_on: dt.date | None


def record_interview(request: HttpRequest, pk: int, data: Mapping[str, Any]) -> Interview:
    """Record the outcome of an interview (``outcome``: a risk level, ``notes``, ``review_on``),
    which sets the student's risk level in ``care`` — or clears it (``none``). Outside the scope
    → NotFound; not the assigned counsellor nor centre staff → NotAllowed (both audited);
    already recorded → Conflict ``done``; a bad outcome or a past review date → Invalid. The
    fields are those of :class:`~xinlian.screening.forms.InterviewForm`, for both front-ends."""
    user = _user(request)
    interview, can_record = access.interview_in_scope(user, pk)
    if interview is None:
        audit(request, "screening.interview.record", object_type="screening.interview",
              object_id=str(pk), result=AuditResult.DENIED)
        raise NotFound(NOT_FOUND)
    if not can_record:
        audit(request, "screening.interview.record", interview, result=AuditResult.DENIED)
        raise NotAllowed(_("Only the assigned counsellor or the centre records this interview."))
    if interview.status != InterviewStatus.PENDING:
        raise ScreeningConflict(_("This interview is already recorded."), code="done", obj=interview)
    form = InterviewForm(data)
    if not form.is_valid():
        raise ScreeningInvalid(code="outcome", errors=_form_errors(form), obj=interview)
    got = InterviewInput(**form.cleaned_data)
    with transaction.atomic(), _rules(interview):
        interview.record(user, got.outcome, got.notes, review_on=got.review_on)
        audit(request, "screening.interview.record", interview, detail=f"outcome={got.outcome}")
    return interview


# --- staff: campaigns (the centre director of the school) ---------------------------------------


@dataclass
class CampaignList:
    page: Page
    totals: dict[int, reports.Tally]  # campaign pk → progress of the students the reader follows
    may_create: bool


def list_campaigns(request: HttpRequest, page: Any) -> CampaignList:
    """The campaigns of the schools where the reader follows students up (risk tier) or runs the
    centre, each with the progress of the students they follow; nobody else → NotAllowed."""
    user = _user(request)
    schools = access.managed_schools(user)
    if not (has_cap(user, Cap.RISK) or schools):
        raise NotAllowed
    cis = CampaignInstrument.objects.select_related("instrument")
    listed = Paginator(access.visible_campaigns(user).select_related("school")
                       .prefetch_related(Prefetch("campaign_instruments", queryset=cis)), PAGE_SIZE).get_page(page)
    campaigns = list(listed)
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
    return CampaignList(listed, totals, bool(schools))


def schools_to_run(request: HttpRequest) -> list[Unit]:
    """The schools whose campaigns the actor runs; none → NotAllowed (only the centre director
    creates campaigns)."""
    schools = access.managed_schools(_user(request))
    if not schools:
        raise NotAllowed
    return schools


def campaign_to_manage(request: HttpRequest, pk: int) -> Campaign:
    """A campaign the actor manages: out of sight → NotFound, seen but not managed → NotAllowed."""
    campaign, manages = access.campaign_in_scope(_user(request), pk)
    if campaign is None:
        raise NotFound(NOT_FOUND)
    if not manages:
        raise NotAllowed
    return campaign


def create_campaign(request: HttpRequest, data: Mapping[str, Any]) -> Campaign:
    """A draft campaign of one of the actor's schools (the fields of ``CampaignForm``). Invalid
    input → Invalid with the bound form as ``obj`` (the page shows it again)."""
    user = _user(request)
    form = CampaignForm(data, schools=schools_to_run(request), user=user)
    if not form.is_valid():
        raise Invalid(errors=_form_errors(form), obj=form)
    with transaction.atomic():
        campaign = form.save()
        audit(request, "screening.campaign.create", campaign)
    return campaign


@dataclass
class CampaignEdited:
    campaign: Campaign
    consent_asked_again: bool  # the purpose of a launched campaign changed: a new consent version


def edit_campaign(request: HttpRequest, pk: int, data: Mapping[str, Any]) -> CampaignEdited:
    """Change a campaign (after launch: name, closing time, purpose only — the form's rule)."""
    campaign = campaign_to_manage(request, pk)
    form = CampaignForm(data, instance=campaign, schools=[campaign.school], user=_user(request))
    if not form.is_valid():
        raise Invalid(errors=_form_errors(form), obj=form)
    bumped = form.launched and "purpose" in form.changed_data
    with transaction.atomic():
        campaign = form.save()
        audit(request, "screening.campaign.edit", campaign, detail=",".join(form.changed_data)[:200])
    return CampaignEdited(campaign, bumped)


@dataclass
class Launched:
    campaign: Campaign
    first: bool  # the first launch (else newcomers were invited)
    invited: int


def launch_campaign(request: HttpRequest, pk: int) -> Launched:
    """Invite the audience; again later, invite newcomers (nobody is invited twice). A closed
    window or no questionnaire → Conflict."""
    campaign = campaign_to_manage(request, pk)
    if campaign.status() == CampaignStatus.CLOSED:
        raise ScreeningConflict(_("This campaign has closed; extend the closing time first."),
                                code="closed", obj=campaign)
    if not campaign.campaign_instruments.exists():
        raise ScreeningConflict(_("Choose at least one questionnaire before launching."),
                                code="no_instruments", obj=campaign)
    first = campaign.launched_at is None
    with transaction.atomic():
        n = campaign.launch(_user(request))
        audit(request, "screening.campaign.launch", campaign, detail=f"invited={n}")
    return Launched(campaign, first, n)


# --- staff: progress, the report, the export (audited reads) ------------------------------------


@dataclass
class CampaignView:
    campaign: Campaign
    manages: bool
    roots: list[Unit]  # where the reader follows the campaign's students up


def campaign_view(request: HttpRequest, pk: int) -> CampaignView:
    """A campaign the reader follows up (risk tier in its school, or the centre); else NotFound."""
    user = _user(request)
    campaign, manages = access.campaign_in_scope(user, pk)
    if campaign is None:
        raise NotFound(NOT_FOUND)
    return CampaignView(campaign, manages, access.progress_roots(user, campaign, manages))


def first_table(roots: list[Unit]) -> tuple[Unit | None, list[Unit]]:
    """(the unit the first table is about, its rows): one unit's children, or the reader's units
    themselves when there are several or the one is a class."""
    if len(roots) == 1 and roots[0].kind != UnitKind.CLASS:
        return roots[0], reports.child_units(roots[0])
    return None, roots


def unit_in_reach(request: HttpRequest, view: CampaignView, pk: int) -> Unit:
    """A unit of the campaign's school that the reader may open (their units, those inside, or
    above them); anything else → NotFound, audited."""
    unit = access.unit_in_reach(view.campaign, view.roots, pk)
    if unit is None:
        audit(request, "screening.progress.view", object_type="network.unit", object_id=str(pk),
              result=AuditResult.DENIED)
        raise NotFound(NOT_FOUND)
    return unit


def waiting_in_class(request: HttpRequest, view: CampaignView, place: Unit) -> list[Assignment]:
    """Who in a class has not finished, with their consent status (names: audited with the
    number of rows, never the names)."""
    assignments = access.progress_assignments(_user(request), view.campaign)
    waiting = list(assignments.filter(student__klass=place)
                   .exclude(status=AssignmentStatus.SUBMITTED).select_related("student__user")
                   .order_by("status", "student__user__username"))
    for a in waiting:
        a.campaign = view.campaign  # needs_guardian_consent reads the window: no query per row
    if waiting:
        audit(request, "screening.progress.view", place,
              detail=f"campaign={view.campaign.pk};rows={len(waiting)}")
    return waiting


def results_view(request: HttpRequest, pk: int) -> CampaignView:
    """A campaign whose results the reader reads (report, export): out of sight → NotFound; seen
    but no results tier there (a head teacher) → NotAllowed."""
    view = campaign_view(request, pk)
    if not access.may_read_results(_user(request), view.campaign):
        raise NotAllowed
    return view


@dataclass
class ReportRead:
    view: CampaignView
    level: Unit | None  # the unit the rows are about (None: the reader's own units)
    at_school: bool
    rows: list[reports.UnitRow]
    total: reports.UnitRow
    summaries: Any
    quality: Any


def read_report(request: HttpRequest, pk: int, unit: str) -> ReportRead:
    """The campaign's summary by unit for tier-3 readers, at the reader's units or one unit
    (``unit``) in reach: completion, positives, critical items, interviews, band distributions
    (plain columns only), and the answers-to-check list, which names students — one audit row
    with how many were shown."""
    user = _user(request)
    view = results_view(request, pk)
    campaign = view.campaign
    unit_id = parse_id(unit)
    level: Unit | None
    if unit_id is not None:
        level = unit_in_reach(request, view, unit_id)
        units = [level] if level.kind == UnitKind.CLASS else reports.child_units(level)
    else:
        level, units = first_table(view.roots)
    at_school = level is not None and level.pk == campaign.school_id
    results = access.visible_results(user).filter(campaign=campaign)
    progress = access.progress_assignments(user, campaign)
    interviews = access.interviews_of_visible_results(user).filter(campaign=campaign)
    if level is not None and not at_school:
        progress = reports.under(progress, level)
        results = reports.under(results, level)
        interviews = reports.under(interviews, level)
    by = reports.new_tallies()
    reports.collect_progress(by, progress)
    reports.collect_results(by, results)
    reports.collect_interviews(by, interviews)
    rows, total = reports.roll_up(by, units, staff=at_school)
    quality = reports.quality_rows(results)
    audit(request, "screening.report.view", campaign,
          detail=f"unit={level.pk if level else 'scope'};quality_rows={len(quality[0])}")
    return ReportRead(view, level, at_school, rows, total,
                      reports.instrument_summaries(results, campaign.ordered_instruments()), quality)


def export_results(request: HttpRequest, pk: int) -> tuple[Campaign, bytes]:
    """The results in the reader's scope as .xlsx (formula-safe), audited with the row count."""
    view = results_view(request, pk)
    sheets, n = reports.export_sheets(access.visible_results(_user(request)).filter(campaign=view.campaign))
    if not sheets:
        sheets = [(_("Results"), [_("Number"), _("Name"), _("Class"), _("Instrument")], [])]
    data = write_xlsx(sheets)
    audit(request, "screening.export", view.campaign, detail=f"{n} rows")
    return view.campaign, data


INTERVIEW_FILTERS = ("pending", "overdue", "mine", "done", "all")
PAGE_SIZE = 25


@dataclass
class InterviewList:
    tier3: bool  # reasons and names (tier 3), else the status list only
    show: str
    campaign: Campaign | None
    page: Page | None = None  # tier 3: the interviews with their reasons
    spage: Page | None = None  # risk tier: their students' interview status, nothing more


def list_interviews(request: HttpRequest, show: str, campaign: str, page: Any, spage: Any) -> InterviewList:
    """复核访谈. Tier-3 readers and assigned counsellors: the interviews with their reasons,
    urgent first, then by due date, one audit row per page shown. Holders of the risk tier only
    (head teachers, college leads): their students' interview status, pending or done, ordered
    so that nothing hints at an urgent one. Nobody else → NotAllowed."""
    user = _user(request)
    full = access.visible_interviews(user)
    tier3 = has_cap(user, Cap.SCORES) or full.exists()
    risk = has_cap(user, Cap.RISK)
    if not (tier3 or risk):
        raise NotAllowed
    show = show if show in INTERVIEW_FILTERS else "pending"
    campaign_id = parse_id(campaign)
    chosen = access.visible_campaigns(user).filter(pk=campaign_id).first() if campaign_id is not None else None
    out = InterviewList(tier3, show, chosen)
    today = timezone.localdate()
    if tier3:
        qs = full.select_related("student__user", "student__klass", "campaign", "assigned_to")
        if chosen is not None:
            qs = qs.filter(campaign=chosen)
        if show == "pending":
            qs = qs.filter(status=InterviewStatus.PENDING)
        elif show == "overdue":
            qs = qs.filter(status=InterviewStatus.PENDING, due_on__lt=today)
        elif show == "mine":
            qs = qs.filter(assigned_to=user, status=InterviewStatus.PENDING)
        elif show == "done":
            qs = qs.filter(status=InterviewStatus.DONE).order_by("-done_at", "-pk")
        out.page = Paginator(qs, PAGE_SIZE).get_page(page)
        rows = len(out.page.object_list)
        if rows:
            audit(request, "screening.interview.list", object_type="screening.interview", object_id="list",
                  detail=f"show={show};page={out.page.number};rows={rows}")
    if risk:
        status_qs = (Interview.objects.filter(student__in=access.interview_status_students(user))
                     .exclude(pk__in=full.values("pk"))
                     .select_related("student__user", "student__klass", "campaign")
                     .order_by("student__klass__path", "student__user__username", "campaign_id"))
        if chosen is not None:
            status_qs = status_qs.filter(campaign=chosen)
        out.spage = Paginator(status_qs, PAGE_SIZE).get_page(spage)
    return out


# --- staff: the instrument library (centre staff) -----------------------------------------------


@dataclass
class Library:
    instruments: list[Instrument]
    may_upload: bool  # the centre director loads a centre's own instruments


def _require_centre(user: User) -> None:
    if not (access.centre_units(user) or access.managed_schools(user)):
        raise NotAllowed


def instrument_library(request: HttpRequest) -> Library:
    """Every instrument version, for centre staff; anybody else → NotAllowed."""
    user = _user(request)
    _require_centre(user)
    instruments = list(Instrument.objects.select_related("uploaded_by").order_by("code", "-created_at"))
    return Library(instruments, bool(access.managed_schools(user)))


def upload_instrument(request: HttpRequest, text: bytes, filename: str) -> Instrument:
    """A centre's own instrument file (the centre director's). A malformed file is Invalid with
    every error listed (capped by the engine: a hostile file once made an 82 MB page) in
    ``errors["file"]``; ``obj`` is the total count. Nothing is saved unless the file is sound."""
    user = _user(request)
    if not access.managed_schools(user):
        raise NotAllowed
    try:
        inst = Instrument.upload(text, by=user, filename=filename)
    except DefinitionError as error:
        shown = list(error.errors)
        if error.hidden:
            shown.append(_("… and %(n)d more.") % {"n": error.hidden})
        raise ScreeningInvalid(code="definition", errors={"file": shown}, obj=error.total) from error
    except ScreeningError as error:
        raise ScreeningInvalid(code=error.code or "definition", errors={"file": list(error.messages)},
                               obj=len(error.messages)) from error
    audit(request, "screening.instrument.upload", inst)
    return inst


def read_instrument(request: HttpRequest, pk: int) -> Instrument:
    """One instrument version, for centre staff (NotAllowed for anybody else; NotFound if none)."""
    _require_centre(_user(request))
    inst = Instrument.objects.select_related("uploaded_by").filter(pk=pk).first()
    if inst is None:
        raise NotFound(NOT_FOUND)
    return inst


# --- what students are told (the consent text) -----------------------------------------------

# How a student is told of each role in the network (the roles' own labels are for staff).
STUDENT_WORDS: dict[str, Any] = {
    "fudaoyuan": gettext_lazy("your 辅导员"),
    "head_teacher": gettext_lazy("your head teacher"),
    "college_lead": gettext_lazy("your college's mental-health lead"),
    "centre_director": gettext_lazy("the counselling-centre director"),
    "counsellor": gettext_lazy("the centre's psychology teachers"),
    "leader": gettext_lazy("the school's leadership"),
    "deputy_leader": gettext_lazy("the school's leadership"),
}


def _people(roles: Iterable[str]) -> str:
    from xinlian.network.models import Role

    words: list[str] = []
    for role in roles:
        word = str(STUDENT_WORDS.get(role) or dict(Role.choices).get(role, role))
        if word not in words:
            words.append(word)
    if len(words) <= 1:
        return "".join(words)
    from django.utils.translation import get_language

    comma = ", " if (get_language() or "").startswith("en") else "、"
    return _("%(some)s and %(last)s") % {"some": comma.join(words[:-1]), "last": words[-1]}


def who_learns_what(visibility: str, *, staff_respondent: bool = False) -> list[str]:
    """The consent text's "who learns what", written from the rules themselves: who reads
    results is the access policy (the roles holding the screening tier; a centre-only campaign
    keeps to the centre's roles), and who is alerted by a critical answer is the alert routing
    (:func:`xinlian.care.network.routing` of a red alert, which
    :meth:`~xinlian.care.models.Alert.raise_for` routes by). Change either and the text follows."""
    from xinlian.access.policy import ROLE_CAPS
    from xinlian.care.network import routing
    from xinlian.network.models import ROLE_UNIT_KINDS

    from .models import Visibility

    centre = [r for r, caps in ROLE_CAPS.items() if Cap.SCORES in caps and ROLE_UNIT_KINDS.get(r) == {UnitKind.SCHOOL}]
    readers = [r for r, caps in ROLE_CAPS.items() if Cap.SCORES in caps]
    if staff_respondent or visibility == Visibility.CENTRE_ONLY:
        readers = centre
    lines = [_("Your answers and results are read by %(who)s.") % {"who": _people(readers)}]
    if staff_respondent:
        return lines
    route = routing("red")
    lines.append(_("If an answer shows you may be at risk of harming yourself, %(first)s are alerted at "
                   "once so that someone checks on you; they learn which question raised it, not your "
                   "other answers.") % {"first": _people(route["first"])})
    if route["later"]:
        lines.append(_("If nobody responds in time, the alert goes on to %(later)s.")
                     % {"later": _people(route["later"])})
    completion_only = [r for r in route["first"] if r not in readers]
    if completion_only:
        lines.append(_("Otherwise %(who)s see only whether you have finished.")
                     % {"who": _people(completion_only)})
    lines.append(_("Your classmates never see anything."))
    return lines
