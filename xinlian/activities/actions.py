"""The actions of activities, the 5·25 campaign and the course, each written once.

The pages (``views.py``) and the REST API (``api.py``) parse their input, call one of these and
map its outcome: a result, or NotFound (404), NotAllowed (403), Conflict (409) or Invalid (400)
from :mod:`xinlian.lib.actions`. Each takes the request first (the audit row records its
address), does the scoped lookup, the capability check, the rule and the audit row in the
same transaction as the change.

Who may do what:
- the centre (centre director, psychology teachers, at the school) plans activities for the
  school and sees every assignment's status; a college (its lead and 辅导员) plans for its
  units and sees its own;
- the assignee unit's people record it: the 辅导员 and college lead over the unit, the 班主任,
  the 心理委员 or dorm liaison of it;
- the organisers (the planner's side, the assignee unit's staff, the centre) open the sign-in
  and see who signed in; everyone else sees the count only;
- a person in the activity's audience (a student of an assigned unit, someone posted there)
  signs in once by scanning the organiser's rotating code.

Sign-in codes are signed with ``SECRET_KEY`` (``django.core.signing``) and hold the activity
and the time they were shown: no table keeps them. A code is taken for ``SIGN_IN_CODE_SECONDS``
after it was shown and the screen shows a new one every 30 seconds, so a screenshot shared in a
group chat stops working within a minute and a half; and it works only for people of the
units the activity is assigned to, who are logged in — a classmate who is not there can still
sign in within that window, which the organiser's list of names makes visible."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Sum
from django.db.models.functions import Substr
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from xinlian.access.models import AuditResult
from xinlian.access.policy import active_posts_of, audit
from xinlian.lib.actions import Conflict, Invalid, NotAllowed, NotFound
from xinlian.lib.converters import id_of as _id
from xinlian.network.models import Post, Role, Student, Unit, UnitKind, User

from . import photos as photo_files
from .models import (
    PHOTOS_MAX,
    Activity,
    ActivityKind,
    Assignment,
    AssignmentStatus,
    Campaign,
    Course,
    Lesson,
    Photo,
    Record,
    SignIn,
)

CENTRE_ROLES = frozenset({Role.CENTRE_DIRECTOR, Role.COUNSELLOR})
COLLEGE_ROLES = frozenset({Role.COLLEGE_LEAD, Role.FUDAOYUAN})
PLANNER_ROLES = CENTRE_ROLES | COLLEGE_ROLES
STAFF_RECORDERS = frozenset({Role.COLLEGE_LEAD, Role.FUDAOYUAN, Role.HEAD_TEACHER})
RECORDER_ROLES = STAFF_RECORDERS | {Role.COMMITTEE_MEMBER, Role.DORM_LIAISON}
SEER_ROLES = CENTRE_ROLES | RECORDER_ROLES
ASSIGNABLE_KINDS = (UnitKind.COLLEGE, UnitKind.GRADE, UnitKind.CLASS, UnitKind.DORMITORY)
SIGN_IN_SALT = "xinlian.activities.sign-in"
SIGN_IN_CODE_SECONDS = 90
TEXT_MAX = 2000
LINE_MAX = 120


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _posts(user: User, roles: frozenset[str]) -> list[Post]:
    return [p for p in active_posts_of(user) if p.role in roles]


def _over(user: User, roles: frozenset[str], unit: Unit) -> bool:
    """A post with one of ``roles`` at ``unit`` or above it."""
    return any(unit.path.startswith(p.unit.path) for p in _posts(user, roles))


def _denied(request: HttpRequest, action: str, kind: str, pk: Any) -> NotFound:
    audit(request, action, object_type=kind, object_id=str(pk)[:64] or "-", result=AuditResult.DENIED)
    return NotFound()


# --- who sees what --------------------------------------------------------------------------------


def visible_assignments(user: User) -> QuerySet[Assignment]:
    """Assignments under a unit where the user is centre, college or one of the unit's people,
    and those of activities their side planned."""
    q = Q(pk__in=[])
    for post in _posts(user, SEER_ROLES):
        q |= Q(unit__path__startswith=post.unit.path)
    for post in _posts(user, PLANNER_ROLES):
        q |= Q(activity__planner_unit__path__startswith=post.unit.path)
    return Assignment.objects.filter(q)


def visible_activities(user: User) -> QuerySet[Activity]:
    q = Q(pk__in=visible_assignments(user).values("activity_id"))
    for post in _posts(user, PLANNER_ROLES):
        q |= Q(planner_unit__path__startswith=post.unit.path)
    return Activity.objects.filter(q)


def may_plan(user: User, activity: Activity) -> bool:
    return _over(user, PLANNER_ROLES, activity.planner_unit)


def may_record(user: User, assignment: Assignment) -> bool:
    return _over(user, RECORDER_ROLES, assignment.unit)


def is_organiser(user: User, assignment: Assignment) -> bool:
    """Who opens the sign-in and reads the attendees' names: the planner's side, the assignee
    unit's staff and the centre."""
    return (may_plan(user, assignment.activity) or _over(user, STAFF_RECORDERS, assignment.unit)
            or _over(user, CENTRE_ROLES, assignment.unit))


def sees_activities(user: User) -> bool:
    return bool(_posts(user, SEER_ROLES))


def plan_units(user: User) -> list[Unit]:
    """The units the user plans for: the school for the centre, the college for its people."""
    units: list[Unit] = []
    for post in _posts(user, PLANNER_ROLES):
        wanted = UnitKind.SCHOOL if post.role in CENTRE_ROLES else UnitKind.COLLEGE
        if post.unit.kind == wanted and post.unit not in units:
            units.append(post.unit)
    return units


def _assignment_qs() -> QuerySet[Assignment]:
    return Assignment.objects.select_related("activity__planner_unit", "activity__campaign", "unit")


def assignment_for(request: HttpRequest, pk: Any, action: str) -> Assignment:
    user = _user(request)
    number = _id(pk)
    found = (_assignment_qs().filter(pk=number, pk__in=visible_assignments(user).values("pk")).first()
             if number else None)
    if found is None:
        raise _denied(request, action, "activities.assignment", pk)
    return found


def activity_for(request: HttpRequest, pk: Any, action: str) -> Activity:
    user = _user(request)
    number = _id(pk)
    found = (Activity.objects.select_related("planner_unit", "campaign")
             .filter(pk=number, pk__in=visible_activities(user).values("pk")).first() if number else None)
    if found is None:
        raise _denied(request, action, "activities.activity", pk)
    return found


def my_assignments(user: User) -> QuerySet[Assignment]:
    """What the user's units owe: assignments they may record, to-do first, due first."""
    q = Q(pk__in=[])
    for post in _posts(user, RECORDER_ROLES):
        q |= Q(unit__path__startswith=post.unit.path)
    return (_assignment_qs().filter(q).annotate(n_photos=Count("record__photos"))
            .order_by("status", "due_on", "unit__path", "pk"))


# --- planning -------------------------------------------------------------------------------------


@dataclass
class PlanInput:
    kind: Any
    title: Any
    description: Any = ""
    unit: Any = None          # the planner unit (school or college); default the first the user has
    campaign: Any = None


def _text(value: Any, name: str, errors: dict[str, list[Any]], *, limit: int = LINE_MAX,
          required: bool = True) -> str:
    text = str(value or "").strip()
    if required and not text:
        errors.setdefault(name, []).append(_("This field is required."))
    elif len(text) > limit:
        errors.setdefault(name, []).append(_("Keep it under %(n)d characters.") % {"n": limit})
    return text


def plan(request: HttpRequest, data: PlanInput) -> Activity:
    """The centre plans an activity for the school, a college for itself."""
    user = _user(request)
    units = plan_units(user)
    if not units:
        audit(request, "activities.plan", result=AuditResult.DENIED, object_type="activities.activity",
              object_id="-")
        raise NotAllowed(_("Activities are planned by the centre or a college."))
    unit = units[0]
    if data.unit not in (None, ""):
        unit = next((u for u in units if u.pk == _id(data.unit)), None)  # type: ignore[assignment]
        if unit is None:
            raise Invalid(errors={"unit": [_("You plan activities only for your own school or college.")]})
    errors: dict[str, list[Any]] = {}
    if data.kind not in ActivityKind.values:
        errors["kind"] = [_("Choose what kind of activity it is.")]
    title = _text(data.title, "title", errors)
    description = _text(data.description, "description", errors, limit=TEXT_MAX, required=False)
    campaign = None
    if data.campaign not in (None, ""):
        number = _id(data.campaign)
        campaign = Campaign.objects.filter(pk=number).select_related("school").first() if number else None
        if campaign is None or not unit.path.startswith(campaign.school.path):
            errors["campaign"] = [_("Choose one of your school's campaigns.")]
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        activity = Activity.objects.create(kind=data.kind, title=title, description=description,
                                           planner_unit=unit, planned_by=user, campaign=campaign)
        audit(request, "activities.plan", activity, detail=f"kind={activity.kind}")
    return activity


def _date(value: Any, name: str, errors: dict[str, list[Any]]) -> dt.date | None:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value or "").strip())
    except ValueError:
        errors.setdefault(name, []).append(_("Enter a date like 2026-05-25."))
        return None


def assign(request: HttpRequest, activity_id: Any, *, units: list[Any], due_on: Any) -> list[Assignment]:
    """Assign an activity to units within its planner's unit, each due on a day. A unit that
    already has it keeps its assignment (the due day moves)."""
    user = _user(request)
    activity = activity_for(request, activity_id, "activities.assign")
    if not may_plan(user, activity):
        audit(request, "activities.assign", activity, result=AuditResult.DENIED)
        raise NotAllowed(_("Only the activity's planner assigns it."))
    errors: dict[str, list[Any]] = {}
    due = _date(due_on, "due_on", errors)
    ids = [_id(u) for u in units or []]
    if not ids:
        errors["units"] = [_("Choose at least one unit.")]
    elif len(ids) > 2000:
        errors["units"] = [_("Too many units at once.")]
    found = Unit.objects.in_bulk([i for i in ids if i])
    chosen: list[Unit] = []
    for number in ids:
        unit = found.get(number) if number else None
        if unit is None or not unit.path.startswith(activity.planner_unit.path) or unit.kind not in ASSIGNABLE_KINDS \
                or unit.pk == activity.planner_unit_id:
            errors.setdefault("units", []).append(_("Assign only colleges, classes or dormitories within the planner's unit."))
            break
        if unit not in chosen:
            chosen.append(unit)
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        existing = {a.unit_id: a for a in Assignment.objects.select_for_update().filter(activity=activity)}
        out = []
        for unit in chosen:
            assignment = existing.get(unit.pk)
            if assignment is None:
                assignment = Assignment.objects.create(activity=activity, unit=unit, due_on=due, assigned_by=user)
            elif assignment.due_on != due:
                assignment.due_on = due
                assignment.save(update_fields=["due_on"])
            out.append(assignment)
        audit(request, "activities.assign", activity, detail=f"units={len(out)}")
    return out


# --- records --------------------------------------------------------------------------------------


@dataclass
class RecordInput:
    held_on: Any
    place: Any
    audience: Any
    attendance: Any
    summary: Any
    key: Any = None


def _key(value: Any) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value or "").strip())
    except ValueError:
        raise Invalid(errors={"key": [_("The form is out of date: open it again.")]}) from None


def _recordable(request: HttpRequest, assignment_id: Any, action: str) -> Assignment:
    user = _user(request)
    assignment = assignment_for(request, assignment_id, action)
    if not may_record(user, assignment):
        audit(request, action, assignment, result=AuditResult.DENIED)
        raise NotAllowed(_("You record only the activities assigned to your own class, dormitory or college."))
    return assignment


def record(request: HttpRequest, assignment_id: Any, data: RecordInput) -> tuple[Record, bool]:
    """Write the assignment's record (date, place, audience, attendance, summary); the
    assignment is done. A second record edits the first; the same submission key twice is
    one write. Returns (record, created)."""
    user = _user(request)
    assignment = _recordable(request, assignment_id, "activities.record")
    key = _key(data.key)
    errors: dict[str, list[Any]] = {}
    held_on = _date(data.held_on, "held_on", errors)
    if held_on and held_on > timezone.localdate():
        errors.setdefault("held_on", []).append(_("The date is in the future: record an activity after it is held."))
    place = _text(data.place, "place", errors)
    audience = _text(data.audience, "audience", errors)
    summary = _text(data.summary, "summary", errors, limit=TEXT_MAX)
    try:
        attendance = int(str(data.attendance).strip())
        if not 0 <= attendance <= 100000:
            raise ValueError
    except (TypeError, ValueError):
        errors["attendance"] = [_("Attendance is a number of people.")]
        attendance = 0
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        locked = Assignment.objects.select_for_update().get(pk=assignment.pk)
        current = Record.objects.filter(assignment=locked).first()
        same_key = Record.objects.filter(key=key).exclude(assignment=locked).exists()
        if same_key:
            raise Conflict(_("This submission was already used for another activity: open the form again."))
        created = current is None
        rec = current or Record(assignment=locked, recorded_by=user)
        if current is not None and current.key == key and (current.held_on, current.place, current.audience,
                                                           current.attendance, current.summary) == \
                (held_on, place, audience, attendance, summary):
            return current, False  # a retried submission: already written
        rec.key, rec.held_on, rec.place, rec.audience = key, held_on, place, audience
        rec.attendance, rec.summary = attendance, summary
        try:
            with transaction.atomic():
                rec.save()
        except IntegrityError:
            raise Conflict(_("This activity was recorded at the same moment by someone else: open it again.")) from None
        if locked.status != AssignmentStatus.DONE:
            locked.status = AssignmentStatus.DONE
            locked.save(update_fields=["status"])
        assignment.status = locked.status
        audit(request, "activities.record", assignment, detail="created" if created else "edited")
    return rec, created


def read_assignment(request: HttpRequest, pk: Any) -> AssignmentView:
    """An assignment with its record, photos and sign-ins (names for organisers only)."""
    user = _user(request)
    assignment = assignment_for(request, pk, "activities.assignment.view")
    rec = Record.objects.filter(assignment=assignment).first()
    shots = list(rec.photos.all()) if rec else []
    organiser = is_organiser(user, assignment)
    signs = SignIn.objects.filter(assignment=assignment)
    names = list(signs.select_related("person").order_by("at")) if organiser else []
    if names:
        audit(request, "activities.sign_ins.view", assignment, detail=f"names={len(names)}")
    return AssignmentView(assignment, rec, shots, organiser, signs.count(), names,
                          may_record(user, assignment))


@dataclass
class AssignmentView:
    assignment: Assignment
    record: Record | None
    photos: list[Photo]
    organiser: bool
    signed_in: int
    sign_ins: list[SignIn]
    can_record: bool


# --- photos ---------------------------------------------------------------------------------------


def add_photo(request: HttpRequest, assignment_id: Any, upload: Any, filename: str = "") -> Photo:
    """Add a photo to the assignment's record (at most nine). The photo is checked and
    re-encoded first; a refusal leaves no file and no row."""
    user = _user(request)
    assignment = _recordable(request, assignment_id, "activities.photo.add")
    if upload is None:
        raise Invalid(errors={"photo": [_("Choose a photo.")]})
    clean = photo_files.clean(upload, filename[:80])
    name = photo_files.new_name(clean.suffix)
    with transaction.atomic():
        rec = Record.objects.select_for_update().filter(assignment=assignment).first()
        if rec is None:
            raise Conflict(_("Record the activity first, then add its photos."))
        if rec.photos.count() >= PHOTOS_MAX:
            raise Invalid(errors={"photo": [_("A record has at most %(n)d photos: remove one first.")
                                            % {"n": PHOTOS_MAX}]})
        photo_files.write(name, clean)
        try:
            photo = Photo.objects.create(record=rec, name=name, content_type=clean.content_type,
                                         width=clean.width, height=clean.height, size=len(clean.data),
                                         uploaded_by=user)
            audit(request, "activities.photo.add", assignment, detail=f"photo={photo.pk}")
        except BaseException:
            photo_files.delete(name)
            raise
    return photo


def _photo_for(request: HttpRequest, pk: Any, action: str) -> tuple[Photo, Assignment]:
    user = _user(request)
    number = _id(pk)
    photo = (Photo.objects.select_related("record__assignment__activity__planner_unit", "record__assignment__unit")
             .filter(pk=number, record__assignment__in=visible_assignments(user).values("pk")).first()
             if number else None)
    if photo is None:
        raise _denied(request, action, "activities.photo", pk)
    return photo, photo.record.assignment


def remove_photo(request: HttpRequest, pk: Any) -> Assignment:
    user = _user(request)
    photo, assignment = _photo_for(request, pk, "activities.photo.remove")
    if not may_record(user, assignment):
        audit(request, "activities.photo.remove", assignment, result=AuditResult.DENIED)
        raise NotAllowed(_("You record only the activities assigned to your own class, dormitory or college."))
    name = photo.name
    with transaction.atomic():
        deleted, _rows = Photo.objects.filter(pk=photo.pk).delete()
        audit(request, "activities.photo.remove", assignment, detail=f"photo={pk}")
        if deleted:
            transaction.on_commit(lambda: photo_files.delete(name))
    return assignment


def open_photo(request: HttpRequest, pk: Any) -> Photo:
    """A photo the actor may see (the planner, the assignee unit's people, the centre)."""
    photo, assignment = _photo_for(request, pk, "activities.photo.view")
    return photo


# --- sign-in --------------------------------------------------------------------------------------


@dataclass
class SignInCode:
    activity: Activity
    assignment: Assignment
    code: str
    expires_at: dt.datetime
    signed_in: int


def open_sign_in(request: HttpRequest, assignment_id: Any) -> SignInCode:
    """A fresh sign-in code for the assignment's activity (the organiser's screen shows it as a
    QR code and asks for a new one every 30 seconds)."""
    user = _user(request)
    assignment = assignment_for(request, assignment_id, "activities.sign_in.open")
    if not is_organiser(user, assignment):
        audit(request, "activities.sign_in.open", assignment, result=AuditResult.DENIED)
        raise NotAllowed(_("Only the activity's organisers show its sign-in code."))
    code = signing.dumps({"a": assignment.activity_id}, salt=SIGN_IN_SALT, compress=False)
    count = SignIn.objects.filter(activity_id=assignment.activity_id).count()
    return SignInCode(assignment.activity, assignment, code,
                      timezone.now() + dt.timedelta(seconds=SIGN_IN_CODE_SECONDS), count)


def read_code(code: Any) -> int:
    """The activity a code is for; Invalid when it is not a code of ours or has expired."""
    text = str(code or "").strip()
    if not text or len(text) > 200:
        raise Invalid(errors={"code": [_("This is not a sign-in code: scan the code on the organiser's screen.")]})
    try:
        value = signing.loads(text, salt=SIGN_IN_SALT, max_age=SIGN_IN_CODE_SECONDS)
    except signing.SignatureExpired:
        raise Invalid(errors={"code": [_("This sign-in code has expired: scan the code on the organiser's screen again.")]}) from None
    except signing.BadSignature:
        raise Invalid(errors={"code": [_("This is not a sign-in code: scan the code on the organiser's screen.")]}) from None
    number = _id(value.get("a")) if isinstance(value, dict) else None
    if number is None:
        raise Invalid(errors={"code": [_("This is not a sign-in code: scan the code on the organiser's screen.")]})
    return number


def audience_assignment(user: User, activity: Activity) -> Assignment | None:
    """The assignment whose unit holds the person: as a student of it, or posted at it or below."""
    assignments = list(Assignment.objects.filter(activity=activity).select_related("unit"))
    paths: list[str] = []
    student = Student.objects.filter(user_id=user.pk).select_related("klass", "dorm").first()
    if student is not None:
        paths += [student.klass.path] + ([student.dorm.path] if student.dorm_id else [])
    paths += [p.unit.path for p in active_posts_of(user)]
    for assignment in sorted(assignments, key=lambda a: -len(a.unit.path)):
        if any(path.startswith(assignment.unit.path) for path in paths):
            return assignment
    return None


@dataclass
class SignInResult:
    sign_in: SignIn
    created: bool
    activity: Activity


def sign_in_preview(request: HttpRequest, code: Any) -> Activity:
    """What the scan landing page shows before the one-tap confirm (the code checked)."""
    number = read_code(code)
    activity = Activity.objects.filter(pk=number).first()
    if activity is None:
        raise Invalid(errors={"code": [_("This is not a sign-in code: scan the code on the organiser's screen.")]})
    return activity


def sign_in(request: HttpRequest, code: Any, activity_id: Any = None) -> SignInResult:
    """Sign the actor in to the code's activity, once: a second scan is not an error."""
    user = _user(request)
    number = read_code(code)
    if activity_id not in (None, "") and _id(activity_id) != number:
        audit(request, "activities.sign_in", object_type="activities.activity", object_id=str(activity_id)[:64],
              result=AuditResult.DENIED)
        raise Invalid(errors={"code": [_("This code is for another activity: scan the code of the one you are at.")]})
    activity = Activity.objects.filter(pk=number).first()
    if activity is None:
        raise Invalid(errors={"code": [_("This is not a sign-in code: scan the code on the organiser's screen.")]})
    assignment = audience_assignment(user, activity)
    if assignment is None:
        audit(request, "activities.sign_in", activity, result=AuditResult.DENIED)
        raise NotAllowed(_("This activity is for the people of the units it is assigned to: you are not among them."))
    existing = SignIn.objects.filter(activity=activity, person=user).first()
    if existing is not None:
        return SignInResult(existing, False, activity)
    try:
        with transaction.atomic():
            row = SignIn.objects.create(activity=activity, assignment=assignment, person=user)
            audit(request, "activities.sign_in", activity, detail=f"assignment={assignment.pk}")
    except IntegrityError:
        return SignInResult(SignIn.objects.get(activity=activity, person=user), False, activity)
    return SignInResult(row, True, activity)


# --- the "which units have done it" tables ---------------------------------------------------------


def activity_table(request: HttpRequest, activity_id: Any) -> tuple[Activity, list[Assignment]]:
    """Each visible assignment of an activity with its status, record, photos and sign-ins
    counted in one query."""
    user = _user(request)
    activity = activity_for(request, activity_id, "activities.table")
    rows = list(visible_assignments(user).filter(activity=activity).select_related("unit", "record")
                .annotate(n_photos=Count("record__photos", distinct=True),
                          n_signed=Count("sign_ins", distinct=True))
                .order_by("unit__path"))
    audit(request, "activities.table", activity, detail=f"rows={len(rows)}")
    return activity, rows


def activity_list(request: HttpRequest) -> QuerySet[Activity]:
    user = _user(request)
    visible = visible_assignments(user)
    return (visible_activities(user).select_related("planner_unit", "campaign")
            .annotate(n_assigned=Count("assignments", filter=Q(assignments__in=visible.values("pk")), distinct=True),
                      n_done=Count("assignments", filter=Q(assignments__in=visible.values("pk"),
                                                           assignments__status=AssignmentStatus.DONE), distinct=True))
            .order_by("-created_at", "-pk"))


# --- the 5·25 campaign ----------------------------------------------------------------------------


def _centre_school(request: HttpRequest, action: str) -> Unit:
    user = _user(request)
    schools = [p.unit for p in _posts(user, CENTRE_ROLES) if p.unit.kind == UnitKind.SCHOOL]
    if not schools:
        audit(request, action, object_type="activities.campaign", object_id="-", result=AuditResult.DENIED)
        raise NotAllowed(_("Only the centre does this."))
    return schools[0]


def create_campaign(request: HttpRequest, *, name: Any, starts_on: Any, ends_on: Any) -> Campaign:
    user = _user(request)
    school = _centre_school(request, "activities.campaign.create")
    errors: dict[str, list[Any]] = {}
    title = _text(name, "name", errors)
    start = _date(starts_on, "starts_on", errors)
    end = _date(ends_on, "ends_on", errors)
    if start and end and end < start:
        errors["ends_on"] = [_("The campaign ends before it starts.")]
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        campaign = Campaign.objects.create(school=school, name=title, starts_on=start, ends_on=end, created_by=user)
        audit(request, "activities.campaign.create", campaign)
    return campaign


def visible_campaigns(user: User) -> QuerySet[Campaign]:
    """The centre's school's campaigns, and those with an activity the user sees."""
    q = Q(pk__in=visible_activities(user).filter(campaign__isnull=False).values("campaign_id"))
    for post in _posts(user, CENTRE_ROLES):
        q |= Q(school__path__startswith=post.unit.path)
    return Campaign.objects.filter(q)


@dataclass
class CollegeProgress:
    unit: Unit
    assigned: int
    done: int

    @property
    def complete(self) -> bool:
        return self.assigned > 0 and self.done >= self.assigned

    @property
    def rate(self) -> int:
        return round(100 * self.done / self.assigned) if self.assigned else 0


@dataclass
class Progress:
    campaign: Campaign
    rows: list[CollegeProgress] = field(default_factory=list)
    activities: int = 0

    @property
    def assigned(self) -> int:
        return sum(r.assigned for r in self.rows)

    @property
    def done(self) -> int:
        return sum(r.done for r in self.rows)


def campaign_progress(request: HttpRequest, campaign_id: Any) -> Progress:
    """Per college: the campaign's assignments under it and how many are done. Counted in the
    database (a fixed number of queries whatever the size of the school)."""
    user = _user(request)
    number = _id(campaign_id)
    campaign = (visible_campaigns(user).select_related("school").filter(pk=number).first() if number else None)
    if campaign is None:
        raise _denied(request, "activities.campaign.progress", "activities.campaign", campaign_id)
    width = len(campaign.school.path) + Unit.steplen
    grouped = (visible_assignments(user).filter(activity__campaign=campaign)
               .annotate(key=Substr("unit__path", 1, width)).values("key")
               .annotate(assigned=Count("pk"), done=Count("pk", filter=Q(status=AssignmentStatus.DONE)))
               .order_by("key"))
    counts = {g["key"]: g for g in grouped}
    colleges = {u.path: u for u in Unit.objects.filter(path__in=list(counts))}
    rows = [CollegeProgress(colleges[k], g["assigned"], g["done"]) for k, g in counts.items() if k in colleges]
    n = Activity.objects.filter(campaign=campaign).count()
    return Progress(campaign, rows, n)


# --- the course -----------------------------------------------------------------------------------


@dataclass
class CourseInput:
    title: Any
    term: Any
    teacher: Any
    classes: list[Any]
    hours_planned: Any


def _hours(value: Any, name: str, errors: dict[str, list[Any]], high: Decimal) -> Decimal | None:
    try:
        hours = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        hours = None
    if hours is None or not hours.is_finite() or hours <= 0 or hours > high or hours != hours.quantize(Decimal("0.1")):
        errors.setdefault(name, []).append(_("Hours are a number like 1.5 (more than 0, at most %(n)s).")
                                           % {"n": high})
        return None
    return hours


def set_course(request: HttpRequest, course_id: Any, data: CourseInput) -> Course:
    """The centre sets a course (a new one without ``course_id``): its classes, teacher and
    hours planned."""
    school = _centre_school(request, "activities.course.set")
    course = None
    if course_id not in (None, ""):
        number = _id(course_id)
        course = Course.objects.filter(pk=number, school__path__startswith=school.path).first() if number else None
        if course is None:
            raise _denied(request, "activities.course.set", "activities.course", course_id)
    errors: dict[str, list[Any]] = {}
    title = _text(data.title, "title", errors)
    term = _text(data.term, "term", errors, limit=32)
    hours = _hours(data.hours_planned, "hours_planned", errors, Decimal("999"))
    teacher_id = _id(data.teacher)
    teacher = (User.objects.filter(pk=teacher_id, kind="staff", posts__in=Post.objects.active().filter(
        unit__path__startswith=school.path)).distinct().first() if teacher_id else None)
    if teacher is None:
        errors["teacher"] = [_("Choose a teacher of the school.")]
    ids = [_id(c) for c in data.classes or []]
    classes = list(Unit.objects.filter(pk__in=[i for i in ids if i], kind=UnitKind.CLASS,
                                       path__startswith=school.path))
    if not ids or len(classes) != len(set(ids)):
        errors["classes"] = [_("Choose the course's classes from the school's classes.")]
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        if course is None:
            course = Course.objects.create(school=school, title=title, term=term, teacher=teacher,
                                           hours_planned=hours)
        else:
            course.title, course.term, course.teacher, course.hours_planned = title, term, teacher, hours
            course.save()
        course.classes.set(classes)
        audit(request, "activities.course.set", course, detail=f"classes={len(classes)}")
    return course


def visible_courses(user: User) -> QuerySet[Course]:
    q = Q(teacher_id=user.pk)
    for post in _posts(user, CENTRE_ROLES):
        q |= Q(school__path__startswith=post.unit.path)
    for post in _posts(user, STAFF_RECORDERS):
        q |= Q(Exists(Course.classes.through.objects.filter(course_id=OuterRef("pk"),
                                                            unit__path__startswith=post.unit.path)))
    return Course.objects.filter(q)


def course_list(request: HttpRequest) -> QuerySet[Course]:
    return (visible_courses(_user(request)).select_related("teacher", "school")
            .annotate(delivered=Sum("lessons__hours")).prefetch_related("classes")
            .order_by("-term", "title", "pk"))


def record_hours(request: HttpRequest, course_id: Any, *, held_on: Any, hours: Any) -> Lesson:
    """The teacher records the hours delivered on a day (the same day again edits it)."""
    user = _user(request)
    number = _id(course_id)
    course = visible_courses(user).filter(pk=number).first() if number else None
    if course is None:
        raise _denied(request, "activities.course.hours", "activities.course", course_id)
    if course.teacher_id != user.pk:
        audit(request, "activities.course.hours", course, result=AuditResult.DENIED)
        raise NotAllowed(_("Only the course's teacher records the hours delivered."))
    errors: dict[str, list[Any]] = {}
    day = _date(held_on, "held_on", errors)
    if day and day > timezone.localdate():
        errors.setdefault("held_on", []).append(_("The date is in the future: record hours after the lesson."))
    amount = _hours(hours, "hours", errors, Decimal("12"))
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        lesson, _created = Lesson.objects.update_or_create(
            course=course, held_on=day, defaults={"hours": amount, "recorded_by": user})
        audit(request, "activities.course.hours", course, detail=f"{day}:{amount}")
    return lesson
