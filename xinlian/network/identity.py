"""Identity verbs: first-login slips for a unit, and a teacher's password reset for one person.

Each verb follows the convention of ``actions.py``: scoped lookup through ``access`` (outside
the actor's scope: NotFound), the capability (NotAllowed), the rule (Invalid / Conflict), and
one audit row in the same transaction. The plain codes exist only in what the verb returns,
for the response that prints them: never in an audit row, a log line, a URL or an error page.

Who may issue codes (never the person themselves, never by e-mail):
- the 班主任 for the students of their class, the 辅导员 for those of their college (a post of
  either role at a unit that holds the student);
- the centre director (``Cap.MANAGE_NETWORK``) and administrators for anyone in their scope,
  staff included."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from xinlian.access.models import AuditResult
from xinlian.access.policy import (
    Cap,
    active_posts_of,
    audit,
    scope_units,
    visible_students,
    visible_units,
)
from xinlian.lib.actions import Conflict, Invalid, NotAllowed, NotFound
from xinlian.lib.spreadsheet import write_xlsx

from . import slipcodes
from .models import Post, Role, Staff, Student, StudentStatus, Unit, User

RESPONSIBLE_ROLES = frozenset({Role.HEAD_TEACHER, Role.FUDAOYUAN})
MAX_DAYS = 90


@dataclass(frozen=True, slots=True)
class Slip:
    """One printed slip: who, where, the code (shown once) and until when."""

    user_id: int
    name: str
    number: str
    klass: str
    code: str
    expires_at: dt.datetime


@dataclass(slots=True)
class SlipBatch:
    unit: Unit | None
    slips: list[Slip]
    days: int


def _actor(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _within(path: str, units: Sequence[Unit]) -> bool:
    return any(path.startswith(u.path) for u in units)


def _centre_units(actor: User) -> list[Unit]:
    return scope_units(actor, Cap.MANAGE_NETWORK)


def _teacher_units(actor: User) -> list[Unit]:
    return [p.unit for p in active_posts_of(actor) if p.role in RESPONSIBLE_ROLES]


def is_centre_for(actor: User, path: str) -> bool:
    return bool(actor.is_superuser) or _within(path, _centre_units(actor))


def may_issue_slips(actor: User, unit: Unit) -> bool:
    """Whether ``actor`` may print first-login slips for ``unit`` (for the page's button)."""
    return is_centre_for(actor, unit.path) or _within(unit.path, _teacher_units(actor))


def may_reset_student(actor: User, student: Student) -> bool:
    """Whether ``actor`` is responsible for ``student``'s password (for the page's action)."""
    if student.user_id == actor.pk:
        return False
    if actor.is_superuser:
        return True
    unit_ids = {u.pk for u in student.units()}
    return any(p.unit_id in unit_ids and (p.role in RESPONSIBLE_ROLES or p.role == Role.CENTRE_DIRECTOR)
               for p in active_posts_of(actor))


def _days(days: int | str | None) -> int:
    if days in (None, ""):
        return slipcodes.default_days()
    try:
        value = int(days)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = 0
    if not 1 <= value <= MAX_DAYS:
        raise Invalid(errors={"days": [_("Enter a number of days from 1 to %(max)d.") % {"max": MAX_DAYS}]})
    return value


def _student_label(student: Student) -> str:
    return student.klass.breadcrumb()


def _slips(issued: list[slipcodes.Issued], labels: dict[int, str]) -> list[Slip]:
    return [Slip(user_id=i.user.pk, name=i.user.full_name, number=i.user.username,
                 klass=labels.get(i.user.pk, ""), code=i.shown, expires_at=i.expires_at) for i in issued]


def _staff_in(unit: Unit, actor: User) -> list[tuple[User, str]]:
    """Staff whose department lies in ``unit``'s subtree or who hold a post there today."""
    posted = Post.objects.active().filter(unit__path__startswith=unit.path).values("person_id")
    staff = (Staff.objects.filter(Q(department__path__startswith=unit.path) | Q(user_id__in=posted))
             .exclude(user_id=actor.pk).filter(user__is_active=True).select_related("user", "department")
             .order_by("user__username"))
    if not actor.is_superuser:
        staff = staff.exclude(user__is_superuser=True)
    return [(s.user, s.department.display_name if s.department else "") for s in staff]


def slip_unit_for(request: HttpRequest, unit_id: int, *, staff: bool = False) -> Unit:
    """The unit whose slips the actor may print, or the refusal with its audit row: NotFound
    outside the actor's roster scope; NotAllowed unless the actor is the 班主任 / 辅导员 over the
    unit or the centre (``staff``: the centre alone). The page's options form asks this too."""
    actor = _actor(request)
    unit = (Unit.objects.filter(pk=unit_id).first() if actor.is_superuser
            else visible_units(actor, Cap.ROSTER).filter(pk=unit_id).first())
    if unit is None:
        audit(request, "identity.slips", object_type="network.unit", object_id=str(unit_id),
              result=AuditResult.DENIED)
        raise NotFound(_("No such unit."))
    centre = is_centre_for(actor, unit.path)
    if not (centre or _within(unit.path, _teacher_units(actor))) or (staff and not centre):
        audit(request, "identity.slips", unit, result=AuditResult.DENIED)
        raise NotAllowed(_("Only the unit's 班主任 or 辅导员, or the counselling centre, may print its slips."))
    return unit


def complete_first_login(request: HttpRequest, user: User, code_id: int, save_password: Any) -> bool:
    """Consume the code and set the new password in one transaction, with the audit row: of two
    submits (a double click, two tabs) exactly one succeeds. ``save_password`` is the validated
    SetPasswordForm's ``save``; False when the code was used meanwhile (nothing saved)."""
    with transaction.atomic():
        if not slipcodes.consume(code_id, user.pk):
            return False
        save_password()
        audit(request, "identity.first_login", user, user=user)
    return True


def issue_slips(request: HttpRequest, unit_id: int, days: int | str | None = None, *,
                everyone: bool = False, staff: bool = False) -> SlipBatch:
    """New one-time codes for the people of a unit who have never logged in (``everyone``: for
    all of them, which replaces the passwords' role until they log in with the code).

    NotFound outside the actor's roster scope; NotAllowed unless the actor is the 班主任 /
    辅导员 over the unit or the centre; ``staff`` (the unit's staff too) is the centre's alone;
    Invalid for a number of days outside 1–90. One ``identity.slips`` audit row with the count."""
    actor = _actor(request)
    unit = slip_unit_for(request, unit_id, staff=staff)
    valid_days = _days(days)

    students = Student.objects.in_units([unit]).exclude(status=StudentStatus.GRADUATED)
    if not actor.is_superuser:
        students = students.filter(pk__in=visible_students(actor, Cap.ROSTER).values("pk"))
    students = (students.filter(user__is_active=True).exclude(user_id=actor.pk)
                .select_related("user", "klass").order_by("klass__path", "user__username"))
    labels: dict[int, str] = {}  # one breadcrumb per class, not one ancestors query per student
    people: list[tuple[User, str]] = []
    for s in students:
        if s.klass_id not in labels:
            labels[s.klass_id] = _student_label(s)
        people.append((s.user, labels[s.klass_id]))
    if staff:
        people += _staff_in(unit, actor)
    if not everyone:
        people = [(u, label) for u, label in people if u.last_login is None]
    with transaction.atomic():
        issued = slipcodes.issue([u for u, _label in people], days=valid_days, issued_by=actor)
        audit(request, "identity.slips", unit,
              detail=f"count={len(issued)};days={valid_days};everyone={int(everyone)};staff={int(staff)}")
    return SlipBatch(unit=unit, slips=_slips(issued, {u.pk: label for u, label in people}), days=valid_days)


def reset_password(request: HttpRequest, user_id: int, days: int | str | None = None) -> SlipBatch:
    """One new one-time code for one person, from the teacher responsible for them.

    NotFound when the person is outside the actor's scope; NotAllowed for oneself (never
    self-service), for a peer reporter or anyone not responsible, and for staff unless the
    actor is the centre; Conflict for a disabled account. One ``identity.reset`` audit row."""
    actor = _actor(request)
    student = (visible_students(actor, Cap.ROSTER) if not actor.is_superuser else Student.objects.all()) \
        .select_related("user", "klass", "dorm").filter(user_id=user_id).first()
    target: User | None = student.user if student else None
    label = _student_label(student) if student else ""
    if target is None:
        member = Staff.objects.filter(user_id=user_id).select_related("user", "department").first()
        if member is not None and (actor.is_superuser or any(
                member.user.pk == u.pk for u, _label in _staff_in_centre_scope(actor, member))):
            target = member.user
            label = member.department.display_name if member.department else ""
    if target is None:
        audit(request, "identity.reset", object_type="network.user", object_id=str(user_id),
              result=AuditResult.DENIED)
        raise NotFound(_("No such person."))
    if target.pk == actor.pk:
        audit(request, "identity.reset", target, result=AuditResult.DENIED)
        raise NotAllowed(_("You cannot reset your own password here; ask your 班主任, 辅导员 or the centre."))
    allowed = may_reset_student(actor, student) if student else True  # staff: found in centre scope
    if not allowed or (target.is_superuser and not actor.is_superuser):
        audit(request, "identity.reset", target, result=AuditResult.DENIED)
        raise NotAllowed(_("Only the person's 班主任 or 辅导员, or the counselling centre, may reset their password."))
    if not target.is_active:
        raise Conflict(_("This account is disabled; it cannot be given a code."))
    valid_days = _days(days)
    with transaction.atomic():
        issued = slipcodes.issue([target], days=valid_days, issued_by=actor)
        audit(request, "identity.reset", target, detail=f"days={valid_days}")
    return SlipBatch(unit=student.klass if student else None, slips=_slips(issued, {target.pk: label}),
                     days=valid_days)


def _staff_in_centre_scope(actor: User, member: Staff) -> list[tuple[User, str]]:
    """``member`` if the actor's centre scope covers their department or one of their posts."""
    units = _centre_units(actor)
    paths = [member.department.path] if member.department else []
    paths += [p.unit.path for p in Post.objects.active().filter(person_id=member.user_id).select_related("unit")]
    if any(_within(path, units) for path in paths):
        return [(member.user, "")]
    return []


def slip_rows(batch: SlipBatch, login_address: str) -> list[dict[str, str]]:
    """The batch as plain rows (the API's JSON, the spreadsheet's lines)."""
    return [{"user_id": s.user_id, "name": s.name, "number": s.number, "class": s.klass, "code": s.code,
             "valid_until": timezone.localtime(s.expires_at).strftime("%Y-%m-%d %H:%M"),
             "login_address": login_address} for s in batch.slips]


def slips_xlsx(batch: SlipBatch, login_address: str) -> bytes:
    header = [_("Name"), _("Student or staff number"), _("Class"), _("One-time code"), _("Valid until"), _("Login address")]
    rows = ([r["name"], r["number"], r["class"], r["code"], r["valid_until"], r["login_address"]]
            for r in slip_rows(batch, login_address))
    return write_xlsx([(_("First-login slips"), header, rows)],
                      widths={_("First-login slips"): [16, 16, 24, 16, 18, 40]})
