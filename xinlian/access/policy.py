"""The one access policy. Every sensitive read in Xinlian asks this module.

A post grants its role's capabilities over the subtree of the post's unit. Capabilities
climb the five tiers of DESIGN.md; peer reporters get the roster of their class or
dormitory and nothing else; a student sees only their own record. Out-of-scope objects
are reported as missing (404), never as forbidden."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest

from xinlian.network.models import Post, Role, Student, Unit, User

from .models import AuditEvent, AuditResult


class Cap(StrEnum):
    ROSTER = "roster"            # tier 1: names, class, dorm
    RISK = "risk"                # tier 2: risk level, watch-list status, special groups
    SCORES = "scores"            # tier 3: screening scores and item answers
    CASE = "case"                # tier 4: case details, guardian contacts
    NOTES = "notes"              # tier 5: counselling notes
    STATS = "stats"              # de-identified aggregates
    EXPORT_ROSTER = "export_roster"
    IMPORT_ROSTER = "import_roster"
    MANAGE_NETWORK = "manage_network"
    REPORT = "report"            # may file a concern about students in scope
    GUARDIANS = "guardians"      # guardian contacts (tier 4 data) — those who make the calls


T1 = {Cap.ROSTER, Cap.REPORT}
ROLE_CAPS: dict[str, frozenset[Cap]] = {
    # Everyone in the network can report a concern (issue 10): the leadership, the parent and
    # student representatives too, about students under their post's unit (by student number
    # where they hold no roster). Staff without any post report by number (care.access).
    Role.LEADER: frozenset({Cap.ROSTER, Cap.STATS, Cap.REPORT}),
    Role.DEPUTY_LEADER: frozenset({Cap.ROSTER, Cap.STATS, Cap.REPORT}),
    Role.LEADERSHIP_MEMBER: frozenset({Cap.STATS, Cap.REPORT}),
    Role.CENTRE_DIRECTOR: frozenset({*T1, Cap.RISK, Cap.SCORES, Cap.CASE, Cap.NOTES, Cap.STATS, Cap.GUARDIANS,
                                     Cap.EXPORT_ROSTER, Cap.IMPORT_ROSTER, Cap.MANAGE_NETWORK}),
    Role.COUNSELLOR: frozenset({*T1, Cap.RISK, Cap.SCORES, Cap.STATS}),
    Role.COLLEGE_LEAD: frozenset({*T1, Cap.RISK, Cap.STATS, Cap.EXPORT_ROSTER}),
    # The 辅导员 and 班主任 read their students' guardian contacts: they make the calls.
    Role.FUDAOYUAN: frozenset({*T1, Cap.RISK, Cap.SCORES, Cap.EXPORT_ROSTER, Cap.GUARDIANS}),
    Role.HEAD_TEACHER: frozenset({*T1, Cap.RISK, Cap.EXPORT_ROSTER, Cap.GUARDIANS}),
    Role.COMMITTEE_MEMBER: frozenset(T1),
    Role.DORM_LIAISON: frozenset(T1),
    Role.PARENT_REP: frozenset({Cap.REPORT}),
    Role.STUDENT_REP: frozenset({Cap.REPORT}),
    Role.BUREAU_VIEWER: frozenset({Cap.STATS}),
}
PEER_ROLES = frozenset({Role.COMMITTEE_MEMBER, Role.DORM_LIAISON})


def _posts(user: User) -> list[Post]:
    """The user's active posts, cached on the user object for the length of a request."""
    if not getattr(user, "is_authenticated", False):
        return []
    cached = getattr(user, "_xinlian_posts", None)
    if cached is None:
        cached = list(Post.objects.active().filter(person=user).select_related("unit"))
        user._xinlian_posts = cached  # type: ignore[attr-defined]
    return cached


def active_posts_of(user: User) -> list[Post]:
    """The user's posts in force today, read once per request (the same cache the policy uses)."""
    return _posts(user)


def scope_units(user: User, cap: Cap) -> list[Unit]:
    """The units whose subtrees ``cap`` reaches for ``user``, without nested duplicates."""
    units = [p.unit for p in _posts(user) if cap in ROLE_CAPS[p.role]]
    units.sort(key=lambda u: len(u.path))
    kept: list[Unit] = []
    for unit in units:
        if not any(unit.path.startswith(k.path) for k in kept):
            kept.append(unit)
    return kept


def scope_label(user: User, cap: Cap) -> str:
    """The codes of the units ``cap`` reaches for ``user`` — what an export covered, for its audit row."""
    return ",".join(u.code for u in scope_units(user, cap))[:64] or "-"


def has_cap(user: User, cap: Cap) -> bool:
    return bool(scope_units(user, cap))


def caps_of(user: User) -> set[Cap]:
    return {c for p in _posts(user) for c in ROLE_CAPS[p.role]}


def is_peer_only(user: User) -> bool:
    posts = _posts(user)
    return bool(posts) and all(p.role in PEER_ROLES for p in posts)


def visible_units(user: User, cap: Cap = Cap.ROSTER) -> QuerySet[Unit]:
    return Unit.objects.subtree_of(scope_units(user, cap))


def visible_students(user: User, cap: Cap = Cap.ROSTER) -> QuerySet[Student]:
    """Students ``user`` may see at ``cap``. A student always sees their own record (tier 1)."""
    units = scope_units(user, cap)
    if cap == Cap.ROSTER and getattr(user, "kind", None) == "student":
        # Own record plus (for peer reporters) the class or dormitory roster, in one filter.
        return Student.objects.filter(Q(pk__in=Student.objects.in_units(units).values("pk"))
                                      | Q(user_id=user.pk))
    return Student.objects.in_units(units)


def visible_posts(user: User) -> QuerySet[Post]:
    """Posts at units in the user's roster scope, and the user's own posts."""
    units = scope_units(user, Cap.ROSTER)
    q = Q(person_id=user.pk)
    for unit in units:
        q |= Q(unit__path__startswith=unit.path)
    return Post.objects.filter(q)


def client_ip(request: HttpRequest | None) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


def audit(request: HttpRequest | None, action: str, obj: Any = None, *,
          result: str = AuditResult.ALLOWED, user: User | None = None, **kw: Any) -> AuditEvent:
    actor = user if user is not None else request.user  # type: ignore[union-attr]
    return AuditEvent.objects.record(actor=actor, action=action, obj=obj, result=result,
                                     ip=client_ip(request), **kw)


TIER_CAPS = (Cap.RISK, Cap.SCORES, Cap.CASE, Cap.NOTES)


def caps_over_student(user: User, student: Student) -> set[Cap]:
    """The tiers ``user`` holds over one student (roster included when they can see them at all).

    Only posts at a unit that holds the student count: a capability reaches a post's subtree."""
    unit_ids = {u.pk for u in student.units()}
    held: set[Cap] = set()
    for post in _posts(user):
        if post.unit_id in unit_ids:
            held |= ROLE_CAPS[post.role]
    held &= {Cap.ROSTER, *TIER_CAPS, Cap.GUARDIANS}
    if student.user_id == getattr(user, "pk", None):
        held.add(Cap.ROSTER)
    return held


def reads_guardian_contacts(held: set[Cap]) -> bool:
    """Guardian contacts: the case tier, and the 辅导员 and 班主任 of the student (Cap.GUARDIANS)."""
    return Cap.CASE in held or Cap.GUARDIANS in held


def get_student_for_user(request: HttpRequest, pk: int) -> tuple[Student, set[Cap]]:
    """The student ``pk`` and the tiers the user holds over them; 404 (audited) when out of scope.

    Reading tier 2+ writes an audit row; a denied look writes one too."""
    user: User = request.user  # type: ignore[assignment]
    student = visible_students(user, Cap.ROSTER).select_related("user", "klass", "dorm").filter(pk=pk).first()
    if student is None:
        if user.is_authenticated:
            audit(request, "student.view", object_type="network.student", object_id=str(pk),
                  result=AuditResult.DENIED)
        raise Http404
    held = caps_over_student(user, student)
    held.add(Cap.ROSTER)  # visible_students said so (own record, or a peer reporter's roster)
    if held & {*TIER_CAPS, Cap.GUARDIANS}:
        audit(request, "student.view", student, detail=",".join(sorted(held)))
    return student, held


def get_unit_for_user(request: HttpRequest, pk: int) -> Unit:
    """A unit in the user's roster scope (or the unit of one of their posts); else 404."""
    user: User = request.user  # type: ignore[assignment]
    unit = visible_units(user, Cap.ROSTER).filter(pk=pk).first()
    if unit is None:
        unit = next((p.unit for p in _posts(user) if p.unit_id == pk), None)
    if unit is None:
        if user.is_authenticated:
            audit(request, "unit.view", object_type="network.unit", object_id=str(pk),
                  result=AuditResult.DENIED)
        raise Http404
    return unit
