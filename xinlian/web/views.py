"""The pages people use every day: home by role, the network tree, a unit, a student, my posts.

Every list of students comes from ``xinlian.access.policy``; the views only shape it. Pages
that may cover a whole bureau (the tree, a unit) run a constant number of queries: counts come
from one statement that counts each class through the student table's ``klass_id`` index,
summed up the tree in Python; posts from one query grouped in Python. The tree stops at
college/grade level on a big scope and loads a unit's classes on demand (``network_children``)."""

from __future__ import annotations

import datetime as dt
import html
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.core.paginator import Paginator
from django.db.models import Count, Func, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from xinlian.access.policy import (
    PEER_ROLES,
    ROLE_CAPS,
    Cap,
    audit,
    get_student_for_user,
    get_unit_for_user,
    scope_units,
    visible_students,
)
from xinlian.activities import work as activities_work
from xinlian.care import rota as care_rota
from xinlian.care import work as care_work
from xinlian.care.work import Work, WorkItem
from xinlian.counseling import work as counseling_work
from xinlian.duties import work as duties_work
from xinlian.network.catalogue import catalogue_duties
from xinlian.network.identity import may_issue_slips, may_reset_student
from xinlian.network.ldapauth import login_refusal as ldap_login_refusal
from xinlian.network.models import Duty, Post, Role, Student, StudentStatus, Unit, UnitKind, User
from xinlian.planning import work as planning_work
from xinlian.screening import work as screening_work
from xinlian.screening.models import Assignment, AssignmentStatus
from xinlian.screening.reports import student_screenings
from xinlian.training import work as training_work

STEP = Unit.steplen
PAGE_SIZE = 50
ROLE_ORDER = {value: i for i, value in enumerate(Role.values)}
# The tree always shows these kinds; classes and dormitories (thousands of them in a bureau)
# come on demand, one unit's children at a time.
UPPER_KINDS = (UnitKind.BUREAU, UnitKind.SCHOOL, UnitKind.COLLEGE, UnitKind.GRADE)
LAZY_KINDS = (UnitKind.CLASS, UnitKind.DORMITORY)
# A scope with at most this many units down to class level is drawn whole, classes included:
# a small school's tree is more useful open than folded, and it is cheap.
TREE_INLINE_LIMIT = 150
# A unit page lists this many child units, the rest behind “show all” (a college has hundreds).
CHILDREN_SHOWN = 6
UNIT_FIELDS = ("pk", "path", "kind", "name", "name_en", "numchild")


class LoginForm(AuthenticationForm):
    """Django's login form with the labels people know: 学号/工号 (the username is that number)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("This student or staff number and password do not match. "
                           "Check both and try again."),
    }

    username = forms.CharField(
        label=_("Student or staff number"), max_length=150,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username",
                                      "autocapitalize": "none", "spellcheck": "false",
                                      "class": "form-control form-control-lg"}),
    )
    password = forms.CharField(
        label=_("Password"), strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password",
                                          "class": "form-control form-control-lg"}),
    )

    def clean(self) -> dict[str, Any]:
        try:
            return super().clean()
        except forms.ValidationError:
            # The school directory was down, or accepted a person the roster lacks: say that
            # rather than "do not match" (network/ldapauth.py).
            refusal = ldap_login_refusal(self.request)
            if refusal is None:
                raise
            raise forms.ValidationError(refusal, code="directory") from None


# --------------------------------------------------------------------------- helpers


def _within(path: str, roots: Iterable[Unit]) -> bool:
    return any(path.startswith(r.path) for r in roots)


def _roots(units: Iterable[Unit]) -> list[Unit]:
    """Drop units nested inside another of the list (same rule as the policy's scopes)."""
    kept: list[Unit] = []
    for unit in sorted(units, key=lambda u: len(u.path)):
        if not _within(unit.path, kept):
            kept.append(unit)
    return kept


def _ancestor_paths(path: str) -> list[str]:
    return [path[:i] for i in range(STEP, len(path) + 1, STEP)]


def _english() -> bool:
    return (get_language() or "").startswith("en")


def _students_per_unit(fk: str) -> Subquery:
    """COUNT(*) of the students whose ``fk`` ("klass" or "dorm") is the outer unit. As an
    annotation it counts every unit of a list in ONE statement, each unit through the foreign
    key's index (index-only on SQLite and PostgreSQL): no join of the student rows to the unit
    table, no GROUP BY over the whole subtree. EXPLAIN on 100,000 students: 7 ms for a school's
    2,631 classes on either database, against 14 ms (SQLite) and 30 ms (PostgreSQL) grouped."""
    counted = (Student.objects.filter(**{fk: OuterRef("pk")}).order_by()
               .annotate(n=Func(template="COUNT(*)", output_field=IntegerField())).values("n"))
    return Subquery(counted, output_field=IntegerField())


def _counted(units: QuerySet[Unit], kind: str, fields: tuple[str, ...]) -> list[tuple[Any, ...]]:
    """``fields`` of the units of ``kind`` (class or dormitory) in ``units``, each row ending with
    its number of students. A student sits in a class (and maybe a dormitory of that class)."""
    fk = "dorm" if kind == UnitKind.DORMITORY else "klass"
    return list(units.filter(kind=kind).annotate(n=_students_per_unit(fk)).values_list(*fields, "n"))


def _roll_up(class_rows: Iterable[tuple[Any, ...]], path_at: int = 0) -> dict[str, int]:
    """Class counts summed into every ancestor: path → students in that subtree."""
    counts: dict[str, int] = defaultdict(int)
    for row in class_rows:
        n = row[-1]
        for prefix in _ancestor_paths(row[path_at]):
            counts[prefix] += n
    return counts


def _unit_counts(unit: Unit) -> dict[str, int]:
    """Students in ``unit`` and in each unit below it, by path: one or two statements."""
    if unit.kind == UnitKind.DORMITORY:
        return dict(_counted(Unit.objects.filter(pk=unit.pk), unit.kind, ("path",)))
    counts = _roll_up(_counted(Unit.objects.subtree_of([unit]), UnitKind.CLASS, ("path",)))
    if unit.kind == UnitKind.CLASS:  # its dormitories are shown with their own counts
        counts.update(_counted(Unit.objects.subtree_of([unit]), UnitKind.DORMITORY, ("path",)))
    return counts


def _in_unit(students: QuerySet[Student], unit: Unit) -> QuerySet[Student]:
    """Narrow a policy queryset to ``unit`` (as ``in_units([unit])``) in a shape the databases
    answer from the student table's own indexes: ``klass_id IN (the subtree's classes)`` instead
    of a join on the unit path, so the count and the page need no unit join of their own."""
    if unit.kind in (UnitKind.BUREAU, UnitKind.SCHOOL):
        # Such a unit holds (nearly) every student in scope: with the path join SQLite walks the
        # student-number index and stops after the page, where class ids would make it sort
        # them all (0.4 ms against 80 ms for page 1 of 100,000).
        return students.in_units([unit])
    if unit.kind == UnitKind.DORMITORY:
        return students.filter(dorm_id=unit.pk)  # a dormitory is a leaf
    if unit.kind == UnitKind.CLASS:
        return students.filter(klass_id=unit.pk)  # only dormitories sit below a class
    return students.filter(klass__in=Unit.objects.subtree_of([unit]).filter(kind=UnitKind.CLASS)
                           .order_by().values("pk"))


def _post_counts(posts: list[Post]) -> dict[int, int]:
    """Students under each post's unit, all posts in ONE aggregate query."""
    wanted = [p for p in posts if ROLE_CAPS[p.role] & {Cap.ROSTER, Cap.STATS}]
    if not wanted:
        return {}
    aggregates: dict[str, Any] = {}
    where = Q()
    for post in wanted:
        lookup = "dorm__path__startswith" if post.unit.kind == UnitKind.DORMITORY else "klass__path__startswith"
        cond = Q(**{lookup: post.unit.path})
        aggregates[f"p{post.pk}"] = Count("pk", filter=cond)
        where |= cond
    row = Student.objects.filter(where).aggregate(**aggregates)
    return {p.pk: row[f"p{p.pk}"] for p in wanted}


def _post_context(posts: list[Post]) -> tuple[dict[int, list[Duty]], dict[int, str]]:
    """Each post's duty catalogue (its school's duties for its role; a post above any school, a
    bureau viewer's, reads the catalogue itself) and its unit's place (“计算机学院 2023级1班”,
    as Unit.breadcrumb) — two queries for any number of posts."""
    if not posts:
        return {}, {}
    candidates = {prefix for p in posts for prefix in _ancestor_paths(p.unit.path)}
    ancestors = {u.path: u for u in Unit.objects.filter(path__in=candidates)}
    school_of: dict[int, int] = {}
    places: dict[int, str] = {}
    for post in posts:
        chain = [ancestors[a] for a in _ancestor_paths(post.unit.path) if a in ancestors]
        schools = [u.pk for u in chain if u.kind == UnitKind.SCHOOL]
        if schools:
            school_of[post.pk] = schools[-1]
        places[post.pk] = " ".join(u.display_name for u in chain
                                   if u.kind not in (UnitKind.BUREAU, UnitKind.SCHOOL)) \
            or post.unit.display_name
    by_key: dict[tuple[int, str], list[Duty]] = defaultdict(list)
    if school_of:
        duties = Duty.objects.filter(school_id__in=set(school_of.values()),
                                     role__in={p.role for p in posts})
        for duty in duties:
            by_key[(duty.school_id, duty.role)].append(duty)
    return {p.pk: by_key.get((school_of[p.pk], p.role), []) if p.pk in school_of else catalogue_duties(p.role)
            for p in posts}, places


@dataclass
class DutyLine:
    """A duty with the person's items due under it. ``tracked``: the duty names what fulfils it
    and its post is in force, so "nothing due now" is a true statement when ``items`` is empty."""

    duty: Duty
    items: list[WorkItem] = field(default_factory=list)
    tracked: bool = False


def _duty_lines(posts: list[Post], duties: dict[int, list[Duty]], work: Work,
                owing: set[int]) -> dict[int, list[DutyLine]]:
    """Each post's duties with the items of the gathered work that fulfil them: an item goes
    under the duties whose ``fulfilled_by`` is its kind, of the post it names (``post_id``) or,
    when it names none, of every post. Only posts in ``owing`` (in force today) owe anything.
    Pure Python over what the page already has: no query."""
    by_kind: dict[str, list[WorkItem]] = defaultdict(list)
    for item in work.items:
        by_kind[item.kind].append(item)
    lines: dict[int, list[DutyLine]] = {}
    for post in posts:
        lines[post.pk] = []
        for duty in duties.get(post.pk, []):
            tracked = bool(duty.fulfilled_by) and post.pk in owing
            items = [i for i in by_kind.get(duty.fulfilled_by, ()) if i.post_id in (None, post.pk)] if tracked else []
            lines[post.pk].append(DutyLine(duty, items, tracked))
    return lines


def _url_maker(name: str = "unit-detail"):
    """URLs of ``name`` (one int argument) without one reverse() per row."""
    sample = reverse(name, args=[987654321])
    head, tail = sample.split("987654321")
    return lambda pk: f"{head}{pk}{tail}"


def _kind_labels() -> dict[str, str]:
    return {k: str(label) for k, label in UnitKind.choices}


@dataclass
class Scope:
    """Where the user's names reach (roster) and where only their counts do (stats)."""

    roster: list[Unit]
    stats: list[Unit]

    @classmethod
    def of(cls, user: User) -> Scope:
        return cls(roster=scope_units(user, Cap.ROSTER), stats=scope_units(user, Cap.STATS))

    @property
    def roots(self) -> list[Unit]:
        return _roots([*self.roster, *self.stats])

    def names_at(self, path: str) -> bool:
        return _within(path, self.roster)


def _unit_for_user(request: HttpRequest, pk: int) -> tuple[Unit, bool]:
    """The unit and whether the user may see names there. Stats-only scope gives counts only;
    anything else goes through the policy's ``get_unit_for_user`` (404 and audit when out)."""
    scope = Scope.of(request.user)  # type: ignore[arg-type]
    stats_only = [u for u in scope.stats if not scope.names_at(u.path)]
    if stats_only:
        unit = Unit.objects.subtree_of(stats_only).filter(pk=pk).first()
        if unit is not None and not scope.names_at(unit.path):
            return unit, False
    unit = get_unit_for_user(request, pk)
    return unit, scope.names_at(unit.path)


@dataclass
class PostGroup:
    role: str
    label: str
    names: list[str] = field(default_factory=list)
    count: int = 0


def _role_labels() -> dict[str, str]:
    """Role labels in the active language, translated once per request (not once per post)."""
    return {value: str(label) for value, label in Role.choices}


def _group_posts(rows: Iterable[tuple[str, str]], names: bool,
                 labels: dict[str, str] | None = None) -> list[PostGroup]:
    """(role, person name) rows → one entry per role, names only where the user may see them."""
    labels = labels if labels is not None else _role_labels()
    groups: dict[str, PostGroup] = {}
    for role, name in sorted(rows, key=lambda r: (ROLE_ORDER.get(r[0], 99), r[1])):
        group = groups.get(role)
        if group is None:
            group = groups[role] = PostGroup(role, labels.get(role, role))
        group.count += 1
        if names:
            group.names.append(name)
    return list(groups.values())


# --------------------------------------------------------------------------- pages


def screenings_to_take(user: User) -> list[Any]:
    """Open screenings the user has not finished (students, and staff when a campaign includes
    them): the first thing their home page shows."""
    now = timezone.now()
    return list(Assignment.objects.filter(
        user=user, status__in=(AssignmentStatus.INVITED, AssignmentStatus.IN_PROGRESS),
        campaign__launched_at__isnull=False, campaign__opens_at__lte=now, campaign__closes_at__gt=now,
    ).select_related("campaign").order_by("campaign__closes_at"))


HTMX_STOP_POLLING = 286  # htmx stops an `every …` trigger when answered with this status


def _work(request: HttpRequest) -> Work:
    """What the user owes now, gathered from the apps that own it, most urgent first."""
    work = care_work.work_for(request)
    work.add(screening_work.work_for(request))
    work.add(counseling_work.work_for(request))
    work.add(duties_work.work_for(request))
    work.add(activities_work.work_for(request))
    work.add(planning_work.work_for(request))
    work.add(training_work.work_for(request))
    return work.sorted()


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The person's work: what they owe now, most urgent first, then each active post with its
    duties and the size of its scope. htmx refreshes the work list every minute (``?part=work``)."""
    if request.GET.get("part") == "work" and request.headers.get("HX-Request") == "true":
        return _home_work(request)
    return _home_page(request)


def _home_work(request: HttpRequest) -> HttpResponse:
    """The work list alone, for the minute's refresh. A background poll is not the user's
    activity: the session is dropped once answered (as notify's badge does), so an open tab
    does not keep an idle session alive; signed out meanwhile, the poll stops."""
    if not request.user.is_authenticated:
        return HttpResponse(status=HTMX_STOP_POLLING)
    response = render(request, "web/home_work.html", {"work": _work(request)})
    patch_vary_headers(response, ["HX-Request"])
    if hasattr(request, "session"):
        del request.session
    return response


@login_required
def _home_page(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    posts = list(user.active_posts().order_by("unit__path", "role"))
    duties, places = _post_context(posts)
    counts = _post_counts(posts)
    work = _work(request)
    lines = _duty_lines(posts, duties, work, {p.pk for p in posts})
    cards = []
    for post in posts:
        caps = ROLE_CAPS[post.role]
        cards.append({
            "post": post,
            "place": places.get(post.pk, ""),
            "duties": lines.get(post.pk, []),
            "count": counts.get(post.pk),
            "peer": post.role in PEER_ROLES,
            "stats_only": Cap.STATS in caps and Cap.ROSTER not in caps,
            "names": Cap.ROSTER in caps,
        })
    student = (Student.objects.filter(user=user).select_related("klass", "dorm").first()
               if user.kind == "student" else None)
    response = render(request, "web/home.html", {
        "cards": cards, "student": student, "to_take": screenings_to_take(user),
        "duty": _duty_section(user), "work": work,
        "reporter": any(post.role in PEER_ROLES for post in posts),
    })
    patch_vary_headers(response, ["HX-Request"])
    return response


def _duty_section(user: User) -> dict[str, Any] | None:
    """The duty rota on the home page: my next shifts, and for those who keep a rota its gaps."""
    if user.kind != "staff":
        return None
    today = timezone.localdate()
    units = care_rota.editable_units(user)
    upcoming = care_rota.upcoming_for(user, today)
    if not units and not upcoming:
        return None
    return {"upcoming": upcoming, "keeps": bool(units),
            "gaps": care_rota.gaps_by_unit(units, today) if units else []}


@dataclass
class TreeNode:
    pk: int
    name: str
    kind: str
    kind_label: str
    url: str  # "" when the unit page is outside the user's scope
    count: int | None  # None: the user sees no counts here
    posts: list[PostGroup]
    depth: int = 0
    has_children: bool = False  # children follow in the list
    open: bool = True
    closes: int = 0
    more_url: str = ""  # children not in the list: network_children loads them on demand
    path: str = ""


def _render_tree(nodes: list[TreeNode], students_label: str) -> str:
    """The nested list as one HTML string. Building it in Python is several times faster than a
    template loop over hundreds of units, and every value is escaped here.

    A unit whose children are not in the list gets an htmx branch: opening its ``<details>``
    fetches them once in place of its ``.xl-more`` placeholder. Without JavaScript the
    placeholder links to the unit page, which lists the same children.

    The unit's name (a link) stands beside its ``<summary>``, never inside it: a link inside a
    toggle is one interactive element nested in another, which screen readers cannot reach
    (WCAG 4.1.2). The summary holds only the arrow and, for screen readers, "units inside …"."""
    esc = html.escape
    students = esc(students_label)
    on_page = esc(gettext("See what is inside on the unit page"))  # seen only without JavaScript
    inside = gettext("Units inside %(unit)s")
    labels: dict[str, str] = {}  # escaped once, used hundreds of times
    out: list[str] = []
    add = out.append
    for n in nodes:
        branch = n.has_children or bool(n.more_url)
        if branch:
            # hx-target="find .xl-more" and hx-swap are inherited from the tree's root list.
            lazy = f' hx-get="{esc(n.more_url)}" hx-trigger="toggle once"' if n.more_url else ""
            add('<li class="xl-branch">')
        else:
            add('<li class="xl-leaf">')
        kind = labels.get(n.kind_label) or labels.setdefault(n.kind_label, esc(n.kind_label))
        name = (f'<a href="{esc(n.url)}" class="xl-node-name">{esc(n.name)}</a>' if n.url
                else f'<span class="xl-node-name">{esc(n.name)}</span>')
        add(f'<span class="xl-node">{name} '
            f'<span class="badge xl-kind xl-kind-{esc(n.kind)}">{kind}</span>')
        if n.count is not None:
            add(f' <span class="xl-node-count">{n.count}&nbsp;{students}</span>')
        if n.posts:
            add('<span class="xl-posts">')
            for g in n.posts:
                role = labels.get(g.label) or labels.setdefault(g.label, esc(g.label))
                who = (" " + esc("、".join(g.names)) if g.names
                       else (f" ×{g.count}" if g.count > 1 else ""))
                add(f'<span class="xl-post"><span class="xl-post-role">{role}</span>{who}</span>')
            add("</span>")
        add("</span>")
        if branch:
            add(f'<details{" open" if n.open else ""}{lazy}><summary>'
                f'<span class="visually-hidden">{esc(inside % {"unit": n.name})}</span>'
                '</summary><ul>')
            if n.more_url:
                # The first .xl-more inside the <details>: its children are emitted after it.
                add('<li class="xl-leaf xl-more">'
                    + (f'<a href="{esc(n.url)}">{on_page}</a>' if n.url else "…") + "</li>")
            if not n.has_children:
                add("</ul></details></li>")
        else:
            add("</li>")
        add("</ul></details></li>" * n.closes)
        add("\n")
    return mark_safe("".join(out))  # every interpolated value is escaped above


def _holder_name() -> Subquery:
    """The post holder's name as a per-row primary-key lookup. A join lets PostgreSQL hash the
    whole user table when its statistics are stale (just after a bulk import: 30 ms for a
    college's 526 posts, against 4 ms this way); with statistics both plans cost the same."""
    return Subquery(User.objects.filter(pk=OuterRef("person_id")).values("full_name")[:1])


def _posts_at(unit_ids: Iterable[int]) -> dict[int, list[tuple[str, str]]]:
    """Active posts at these units as (role, holder's name), one query."""
    by_unit: dict[int, list[tuple[str, str]]] = defaultdict(list)
    rows = (Post.objects.active().filter(unit_id__in=list(unit_ids)).order_by()
            .annotate(holder=_holder_name()).values_list("unit_id", "role", "holder"))
    for unit_id, role, name in rows:
        by_unit[unit_id].append((role, name))
    return by_unit


def _make_nodes(rows: list[tuple[Any, ...]], scope: Scope, *, counts: dict[str, int] | None,
                more: set[str], linkable: list[Unit]) -> list[TreeNode]:
    """Tree nodes from (pk, path, kind, name, name_en, …) rows in path order (= depth-first);
    ``more``: paths of units whose children are fetched on demand."""
    posts_by_unit = _posts_at(r[0] for r in rows)
    kinds = _kind_labels()
    labels = _role_labels()
    url = _url_maker()
    children_url = _url_maker("network-children")
    english = _english()
    nodes: list[TreeNode] = []
    stack: list[str] = []
    for pk, path, kind, name, name_en, *_rest in rows:
        while stack and not path.startswith(stack[-1]):
            stack.pop()
        nodes.append(TreeNode(
            pk=pk, path=path, name=(name_en if english and name_en else name), kind=kind,
            kind_label=kinds.get(kind, kind), url=url(pk) if _within(path, linkable) else "",
            count=None if counts is None else counts.get(path, 0),
            posts=_group_posts(posts_by_unit.get(pk, ()), scope.names_at(path), labels),
            depth=len(stack), more_url=children_url(pk) if path in more else "",
        ))
        stack.append(path)
    for i, node in enumerate(nodes):
        next_depth = nodes[i + 1].depth if i + 1 < len(nodes) else 0
        node.has_children = next_depth > node.depth
        node.closes = 0 if node.has_children else node.depth - next_depth
    return nodes


def _tree_nodes(scope: Scope, roots: list[Unit]) -> tuple[list[TreeNode], dict[str, int], int]:
    """The scope's tree: bureau ► school ► college/grade always; classes as well when the scope is
    small or lies inside a college/grade (a 辅导员 sees their classes at once); dormitories only
    under a class root (a head teacher's own rooms). Every other branch is loaded on demand.
    Four queries at most, whatever the size: upper units, classes with their counts,
    dormitories with theirs (class and dormitory roots only), posts."""
    root_paths = {r.path for r in roots}
    under = Unit.objects.subtree_of(roots)
    upper = list(under.filter(kind__in=UPPER_KINDS).values_list(*UNIT_FIELDS))
    classes = _counted(under, UnitKind.CLASS, UNIT_FIELDS)  # (…UNIT_FIELDS, n)
    small_roots = [r for r in roots if r.kind in LAZY_KINDS]
    dorms = (_counted(Unit.objects.subtree_of(small_roots), UnitKind.DORMITORY, UNIT_FIELDS)
             if small_roots else [])
    counts = _roll_up(classes, path_at=1)
    counts.update((row[1], row[-1]) for row in dorms)

    inline_all = len(upper) + len(classes) <= TREE_INLINE_LIMIT
    expanded = [r.path for r in roots if r.kind not in (UnitKind.BUREAU, UnitKind.SCHOOL)]
    shown_classes = [c for c in classes if inline_all or any(c[1].startswith(p) for p in expanded)]
    shown = {c[1] for c in shown_classes}
    # Units whose classes are not drawn, and classes whose dormitories are not: fetched on demand.
    more = {c[1][:-STEP] for c in classes if c[1] not in shown}
    more |= {c[1] for c in shown_classes if c[5] and c[1] not in root_paths}
    rows = sorted([*upper, *shown_classes, *dorms], key=lambda r: r[1])
    nodes = _make_nodes(rows, scope, counts=counts, more=more, linkable=roots)
    for node in nodes:
        # Lazy branches start closed: an open <details> would fetch at once.
        node.open = not node.more_url and (
            inline_all or node.path in root_paths or node.kind in (UnitKind.BUREAU, UnitKind.SCHOOL))
    return nodes, counts, len(upper) + len(classes) + len(dorms)


@require_GET
@login_required
def network_tree(request: HttpRequest) -> HttpResponse:
    """The visible network in a constant number of queries, down to college/grade level on a big
    scope (classes come on demand). Stats-only scope (bureau viewer, leadership members) shows
    counts and roles, never names."""
    user: User = request.user  # type: ignore[assignment]
    scope = Scope.of(user)
    roots = scope.roots
    nodes, counts, unit_count = _tree_nodes(scope, roots) if roots else ([], {}, 0)
    return render(request, "web/network_tree.html", {
        "nodes": nodes,
        "tree_html": _render_tree(nodes, gettext("students")),
        "total": sum(counts.get(r.path, 0) for r in roots),
        "unit_count": unit_count,
        "stats_only": bool(roots) and not scope.roster,
    })


@require_GET
@login_required
def network_children(request: HttpRequest, pk: int) -> HttpResponse:
    """The classes of a college or grade, or the dormitories of a class, as tree items: what the
    tree fetches when a branch is opened. Same scope as the unit page (404 outside); counts and
    names follow the same rules as the tree. After the scope check, two queries whatever the
    size of the unit: the children with their counts, and their posts."""
    user: User = request.user  # type: ignore[assignment]
    unit, names = _unit_for_user(request, pk)
    scope = Scope.of(user)
    show_counts = names or _within(unit.path, scope.stats)
    kind = UnitKind.DORMITORY if unit.kind == UnitKind.CLASS else UnitKind.CLASS
    rows = (_counted(Unit.objects.get_children(unit), kind, UNIT_FIELDS)
            if unit.kind != UnitKind.DORMITORY else [])
    counts = {row[1]: row[-1] for row in rows} if show_counts else None
    more = {row[1] for row in rows if row[2] == UnitKind.CLASS and row[5]}
    nodes = _make_nodes(rows, scope, counts=counts, more=more, linkable=scope.roots)
    for node in nodes:
        node.open = False
    return render(request, "web/_network_children.html", {
        "tree_html": _render_tree(nodes, gettext("students")), "nodes": nodes, "unit": unit,
    })


def _render_children(unit: Unit, scope: Scope, counts: dict[str, int] | None) -> tuple[str, str, int]:
    """The unit page's “units inside” as ``<li>`` items, split after the first CHILDREN_SHOWN:
    (first, rest, how many). A college has hundreds of classes; built in Python like the tree
    (a template loop spent 20 ms on them), every value escaped here. One query."""
    esc = html.escape
    kinds = _kind_labels()
    url = _url_maker()
    english = _english()
    linkable = scope.roots
    compact = unit.kind == UnitKind.CLASS  # dormitories: chips with a bare number
    students = esc(gettext("students"))
    items: list[str] = []
    for pk, path, kind, name, name_en in (Unit.objects.get_children(unit)
                                          .values_list("pk", "path", "kind", "name", "name_en")):
        label = esc(name_en if english and name_en else name)
        text = f'<a href="{esc(url(pk))}">{label}</a>' if _within(path, linkable) else label
        if not compact:
            text += f' <span class="badge xl-kind xl-kind-{esc(kind)}">{esc(kinds.get(kind, kind))}</span>'
        if counts is not None:
            n = counts.get(path, 0)
            text += (f' <span class="xl-node-count">{n}</span>' if compact
                     else f' <span class="xl-node-count">{n}&nbsp;{students}</span>')
        items.append(f"<li>{text}</li>")
    if compact:
        return mark_safe("".join(items)), "", len(items)  # a handful of rooms: never folded
    return (mark_safe("\n".join(items[:CHILDREN_SHOWN])), mark_safe("\n".join(items[CHILDREN_SHOWN:])),
            len(items))  # every value escaped above


@require_GET
@login_required
def unit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A unit: where it sits, what is under it, who holds posts there and (with roster scope)
    its students, 50 a page. Query count does not grow with the number of students."""
    user: User = request.user  # type: ignore[assignment]
    unit, names = _unit_for_user(request, pk)
    if names and request.headers.get("HX-Request") == "true":
        # Live search and paging swap only the list: skip the rest of the page's queries.
        response = render(request, "web/_unit_students.html", _student_page(request, user, unit))
        patch_vary_headers(response, ["HX-Request"])
        return response

    scope = Scope.of(user)
    linkable = scope.roots
    # Counts need roster or statistics scope; a post without either (parent representative)
    # shows the unit's shape only.
    show_counts = names or _within(unit.path, scope.stats)
    ancestors = ([(a, _within(a.path, linkable)) for a in Unit.objects.get_ancestors(unit)]
                 if unit.depth > 1 else [])
    counts = _unit_counts(unit) if show_counts else {}
    children, more_children, child_count = _render_children(unit, scope, counts if show_counts else None)
    posts = _group_posts(
        Post.objects.active().filter(unit=unit).order_by().annotate(holder=_holder_name())
        .values_list("role", "holder"),
        names)
    total = counts.get(unit.path, 0)
    ctx: dict[str, Any] = {
        "unit": unit, "ancestors": ancestors, "posts": posts, "names": names,
        "children": children, "more_children": more_children, "child_count": child_count,
        "show_counts": show_counts, "total": total, "q": "",
        "may_print_slips": names and may_issue_slips(user, unit),
    }
    if names:
        ctx.update(_student_page(request, user, unit, total=total))
    response = render(request, "web/unit_detail.html", ctx)
    patch_vary_headers(response, ["HX-Request"])
    return response


@dataclass(slots=True)
class StudentRow:
    """One line of a unit's student list, every value ready for the template."""

    pk: int
    url: str
    number: str
    name: str
    class_label: str
    dorm: str
    status: str
    status_label: str
    groups: list[str]


# The columns the list shows: a page of 50 reads nothing else (no password hashes, no dates),
# as tuples rather than four model instances a row.
ROW_FIELDS = ("pk", "status", "user__username", "user__full_name",
              "klass__path", "klass__name", "klass__name_en", "dorm__name", "dorm__name_en")


def _student_page(request: HttpRequest, user: User, unit: Unit, *,
                  total: int | None = None) -> dict[str, Any]:
    """One page of the unit's students in student-number order (``user.username``: unique, so
    indexed). ``total``, when the caller has already counted the unit, spares the COUNT(*).

    The page is read in one statement: the policy's queryset, narrowed to the unit, picks the
    page's 50 ids (ORDER BY number with OFFSET: the sort carries two narrow columns), and only
    those 50 rows are read, with only the columns shown. Reading whole rows while paging made
    the sort carry every column of 10,000 students and their accounts: 63 ms for page 200 of a
    college on SQLite, now 6 ms (PostgreSQL: 47 → 17 ms)."""
    q = request.GET.get("q", "").strip()[:64]
    risk = _within(unit.path, scope_units(user, Cap.RISK))
    students = _in_unit(visible_students(user, Cap.ROSTER), unit)
    if q:
        students = students.filter(Q(user__username__icontains=q) | Q(user__full_name__icontains=q))
    paginator = Paginator(students.order_by("user__username").values_list("pk", flat=True), PAGE_SIZE)
    if total is not None and not q:
        # The same set (the unit lies inside the user's roster scope). Paginator.count is a
        # cached property: the number counted for the page header stands in for a COUNT(*).
        paginator.count = total  # type: ignore[misc]
    page = paginator.get_page(request.GET.get("page"))
    count = paginator.count
    bottom = (page.number - 1) * PAGE_SIZE
    top = min(bottom + PAGE_SIZE, count)
    if bottom > count - top:
        # Nearer the end: count from there. An OFFSET costs every row it skips when the
        # database walks the student-number index, so the last page is as cheap as the first.
        ids = students.order_by("-user__username").values_list("pk", flat=True)[count - top:count - bottom]
    else:
        ids = page.object_list
    listed = list(Student.objects.filter(pk__in=ids)  # the page's ids, as a subquery
                  .order_by("user__username").values_list(*ROW_FIELDS))
    groups: dict[int, list[str]] = defaultdict(list)
    if risk and listed:
        english = _english()
        for student_id, name, name_en in (
                Student.special_groups.through.objects.filter(student_id__in=[r[0] for r in listed])
                .order_by("specialgroup_id")
                .values_list("student_id", "specialgroup__name", "specialgroup__name_en")):
            groups[student_id].append(name_en if english and name_en else name)
    rows = _student_rows(unit, listed, groups)
    if risk and rows:
        # Special groups are tier 2: the read is on the record, with no names in the detail.
        audit(request, "unit.students", unit,
              detail=f"risk;page={page.number};rows={len(rows)}{';filtered' if q else ''}")
    return {"page": page, "rows": rows, "risk": risk, "q": q,
            "show_class": unit.kind not in (UnitKind.CLASS, UnitKind.DORMITORY)}


def _student_rows(unit: Unit, listed: list[tuple[Any, ...]],
                  groups: dict[int, list[str]]) -> list[StudentRow]:
    """Plain rows for the template: labels translated once, URLs without reverse() per row.
    Above college level “2023级1班” is ambiguous: the class's parent (college or grade) is
    prefixed, fetched for the whole page in one query."""
    english = _english()
    parents = {p for p in (r[4][:-STEP] for r in listed) if p.startswith(unit.path) and p != unit.path}
    parent_names = ({path: (name_en if english and name_en else name) for path, name, name_en in
                     Unit.objects.filter(path__in=parents).values_list("path", "name", "name_en")}
                    if parents else {})
    statuses = {k: str(label) for k, label in StudentStatus.choices}
    url = _url_maker("student-detail")
    rows = []
    for pk, status, number, name, class_path, class_name, class_en, dorm_name, dorm_en in listed:
        klass = class_en if english and class_en else class_name
        parent = parent_names.get(class_path[:-STEP])
        rows.append(StudentRow(
            pk=pk, url=url(pk), number=number, name=name,
            class_label=f"{parent} {klass}" if parent else klass,
            dorm=(dorm_en if english and dorm_en else dorm_name) or "",
            status=status, status_label=statuses.get(status, status), groups=groups.get(pk, []),
        ))
    return rows


@require_GET
@login_required
def student_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One student at the tiers the user holds over them (the policy audits tier 2+ reads)."""
    user: User = request.user  # type: ignore[assignment]
    student, held = get_student_for_user(request, pk)
    roster = scope_units(user, Cap.ROSTER)
    ctx: dict[str, Any] = {
        "student": student,
        "is_self": student.user_id == user.pk,
        "tier2": Cap.RISK in held,
        "tier4": Cap.CASE in held,
        "class_link": _within(student.klass.path, roster),
        "class_label": student.klass.breadcrumb(),
        "dorm_link": bool(student.dorm) and _within(student.dorm.path, roster),
        "may_reset": may_reset_student(user, student),
    }
    if ctx["tier2"]:
        ctx["special_groups"] = list(student.special_groups.all())
        ctx["screenings"] = student_screenings(user, student)
    if ctx["tier4"]:
        ctx["guardians"] = list(student.guardians.order_by("-is_primary", "pk"))
    return render(request, "web/student_detail.html", ctx)


@require_GET
@login_required
def my_posts(request: HttpRequest) -> HttpResponse:
    """Every post the user holds or held, with its term and duty catalogue; under each duty of a
    post in force, the items due now that fulfil it (from the home page's gathered work)."""
    user: User = request.user  # type: ignore[assignment]
    posts = list(Post.objects.filter(person=user).select_related("unit").order_by("-starts_on", "role"))
    duties, places = _post_context(posts)
    today = timezone.localdate()
    states = {p.pk: _post_state(p, today) for p in posts}
    owing = {pk for pk, state in states.items() if state == "active"}
    lines = _duty_lines(posts, duties, _work(request) if owing else Work(), owing)
    rows = [{"post": p, "place": places.get(p.pk, ""), "duties": lines.get(p.pk, []),
             "state": states[p.pk]} for p in posts]
    return render(request, "web/my_posts.html", {"rows": rows})


def _post_state(post: Post, today: dt.date) -> str:
    if post.starts_on > today:
        return "upcoming"
    return "active" if post.is_active(today) else "ended"
