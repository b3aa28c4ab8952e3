"""The pages people use every day: home by role, the network tree, a unit, a student, my posts.

Every list of students comes from ``xinlian.access.policy``; the views only shape it. Pages
that may cover a whole bureau (the tree, a unit) run a constant number of queries: counts come
from one grouped query summed up the tree in Python, posts from one query grouped in Python."""

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
from django.db.models import Count, Q, QuerySet
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
from xinlian.network.models import Duty, Post, Role, Student, Unit, UnitKind, User

STEP = Unit.steplen
PAGE_SIZE = 50
ROLE_ORDER = {value: i for i, value in enumerate(Role.values)}
# Tree pages above this many units start with colleges folded, so a bureau stays scannable.
TREE_OPEN_ALL_BELOW = 150


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


def _student_counts(students: QuerySet[Student], *, with_dorms: bool = False) -> dict[str, int]:
    """Students per unit path, summed up the tree: ONE grouped query, whatever the size."""
    fields = ["klass__path", "dorm__path"] if with_dorms else ["klass__path"]
    counts: dict[str, int] = defaultdict(int)
    for row in students.order_by().values(*fields).annotate(n=Count("pk")):
        n = row["n"]
        for prefix in _ancestor_paths(row["klass__path"]):
            counts[prefix] += n
        if with_dorms and row["dorm__path"]:
            counts[row["dorm__path"]] += n  # a dormitory is a leaf below its class
    return counts


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
    """Each post's duty catalogue (its school's duties for its role) and its unit's place
    (“计算机学院 2023级1班”, as Unit.breadcrumb) — two queries for any number of posts."""
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
    return {p.pk: by_key.get((school_of.get(p.pk, 0), p.role), []) for p in posts}, places


def _unit_url_maker():
    """unit-detail URLs without one reverse() per node (the tree may hold thousands)."""
    sample = reverse("unit-detail", args=[987654321])
    return lambda pk: sample.replace("987654321", str(pk))


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


@require_GET
@login_required
def home(request: HttpRequest) -> HttpResponse:
    """What I owe, whom I watch: each active post with its duties and the size of its scope."""
    user: User = request.user  # type: ignore[assignment]
    posts = list(user.active_posts().order_by("unit__path", "role"))
    duties, places = _post_context(posts)
    counts = _post_counts(posts)
    cards = []
    for post in posts:
        caps = ROLE_CAPS[post.role]
        cards.append({
            "post": post,
            "place": places.get(post.pk, ""),
            "duties": duties.get(post.pk, []),
            "count": counts.get(post.pk),
            "peer": post.role in PEER_ROLES,
            "stats_only": Cap.STATS in caps and Cap.ROSTER not in caps,
            "names": Cap.ROSTER in caps,
        })
    student = (Student.objects.filter(user=user).select_related("klass", "dorm").first()
               if user.kind == "student" else None)
    return render(request, "web/home.html", {"cards": cards, "student": student})


@dataclass
class TreeNode:
    pk: int
    name: str
    kind: str
    kind_label: str
    url: str
    count: int
    posts: list[PostGroup]
    depth: int = 0
    has_children: bool = False
    open: bool = True
    closes: int = 0


def _render_tree(nodes: list[TreeNode], students_label: str) -> str:
    """The nested list as one HTML string. A bureau has thousands of units: building the string
    in Python is several times faster than a template loop, and every value is escaped here."""
    esc = html.escape
    students = esc(students_label)
    labels: dict[str, str] = {}  # escaped once, used thousands of times
    out: list[str] = []
    add = out.append
    for n in nodes:
        if n.has_children:
            add('<li role="treeitem"><details open><summary>' if n.open
                else '<li role="treeitem"><details><summary>')
        else:
            add('<li role="treeitem" class="xl-leaf">')
        kind = labels.get(n.kind_label) or labels.setdefault(n.kind_label, esc(n.kind_label))
        add(f'<span class="xl-node"><a href="{esc(n.url)}" class="xl-node-name">{esc(n.name)}</a> '
            f'<span class="badge xl-kind xl-kind-{esc(n.kind)}">{kind}</span> '
            f'<span class="xl-node-count">{n.count}&nbsp;{students}</span>')
        if n.posts:
            add('<span class="xl-posts">')
            for g in n.posts:
                role = labels.get(g.label) or labels.setdefault(g.label, esc(g.label))
                who = (" " + esc("、".join(g.names)) if g.names
                       else (f" ×{g.count}" if g.count > 1 else ""))
                add(f'<span class="xl-post"><span class="xl-post-role">{role}</span>{who}</span>')
            add("</span>")
        add("</span>")
        add('</summary><ul role="group">' if n.has_children else "</li>")
        add("</ul></details></li>" * n.closes)
        add("\n")
    return mark_safe("".join(out))  # every interpolated value is escaped above


def _tree_nodes(scope: Scope, roots: list[Unit]) -> tuple[list[TreeNode], dict[str, int]]:
    """Units of the scope down to class level (dormitories only where one is a scope root),
    with student counts and posts: three queries whatever the size of the tree."""
    root_paths = [r.path for r in roots]
    units = list(
        Unit.objects.subtree_of(roots)
        .filter(~Q(kind=UnitKind.DORMITORY) | Q(path__in=root_paths))
        .values_list("pk", "path", "kind", "name", "name_en")
    )
    with_dorms = any(r.kind == UnitKind.DORMITORY for r in roots)
    counts = _student_counts(Student.objects.in_units(roots), with_dorms=with_dorms)
    unit_ids = {u[0] for u in units}
    post_q = Q()
    for path in root_paths:
        post_q |= Q(unit__path__startswith=path)
    posts_by_unit: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for unit_id, role, name in (Post.objects.active().filter(post_q).order_by()
                                .values_list("unit_id", "role", "person__full_name")):
        if unit_id in unit_ids:
            posts_by_unit[unit_id].append((role, name))

    kinds = {k: str(label) for k, label in UnitKind.choices}
    labels = _role_labels()
    url = _unit_url_maker()
    english = _english()
    nodes: list[TreeNode] = []
    stack: list[str] = []
    for pk, path, kind, name, name_en in units:  # path order is depth-first order
        while stack and not path.startswith(stack[-1]):
            stack.pop()
        nodes.append(TreeNode(
            pk=pk, name=(name_en if english and name_en else name), kind=kind,
            kind_label=kinds.get(kind, kind), url=url(pk), count=counts.get(path, 0),
            posts=_group_posts(posts_by_unit.get(pk, ()), scope.names_at(path), labels),
            depth=len(stack),
        ))
        stack.append(path)
    fold = len(nodes) > TREE_OPEN_ALL_BELOW
    for i, node in enumerate(nodes):
        next_depth = nodes[i + 1].depth if i + 1 < len(nodes) else 0
        node.has_children = next_depth > node.depth
        node.open = not fold or node.depth == 0 or node.kind in (UnitKind.BUREAU, UnitKind.SCHOOL)
        node.closes = 0 if node.has_children else node.depth - next_depth
    return nodes, counts


@require_GET
@login_required
def network_tree(request: HttpRequest) -> HttpResponse:
    """The visible network down to class level in a constant number of queries. Stats-only
    scope (bureau viewer, leadership members) shows counts and roles, never names."""
    user: User = request.user  # type: ignore[assignment]
    scope = Scope.of(user)
    roots = scope.roots
    nodes, counts = _tree_nodes(scope, roots) if roots else ([], {})
    return render(request, "web/network_tree.html", {
        "nodes": nodes,
        "tree_html": _render_tree(nodes, gettext("students")),
        "total": sum(counts.get(r.path, 0) for r in roots),
        "unit_count": len(nodes),
        "stats_only": bool(roots) and not scope.roster,
    })


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
    children = list(Unit.objects.get_children(unit))
    counts: dict[str, int] = {}
    if show_counts:
        with_dorms = unit.kind in (UnitKind.CLASS, UnitKind.DORMITORY)
        counts = _student_counts(Student.objects.in_units([unit]), with_dorms=with_dorms)
    child_rows = [(c, counts.get(c.path, 0), _within(c.path, linkable)) for c in children]
    posts = _group_posts(
        Post.objects.active().filter(unit=unit).order_by().values_list("role", "person__full_name"),
        names)
    ctx: dict[str, Any] = {
        "unit": unit, "ancestors": ancestors, "children": child_rows, "posts": posts,
        "names": names, "show_counts": show_counts, "total": counts.get(unit.path, 0), "q": "",
    }
    if names:
        ctx.update(_student_page(request, user, unit))
    response = render(request, "web/unit_detail.html", ctx)
    patch_vary_headers(response, ["HX-Request"])
    return response


def _student_page(request: HttpRequest, user: User, unit: Unit) -> dict[str, Any]:
    q = request.GET.get("q", "").strip()[:64]
    risk = _within(unit.path, scope_units(user, Cap.RISK))
    students = (visible_students(user, Cap.ROSTER).in_units([unit])
                .select_related("user", "klass", "dorm"))
    if q:
        students = students.filter(Q(user__username__icontains=q) | Q(user__full_name__icontains=q))
    if risk:
        students = students.prefetch_related("special_groups")
    page = Paginator(students, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    _label_classes(unit, rows)
    if risk and rows:
        # Special groups are tier 2: the read is on the record, with no names in the detail.
        audit(request, "unit.students", unit,
              detail=f"risk;page={page.number};rows={len(rows)}{';filtered' if q else ''}")
    return {"page": page, "rows": rows, "risk": risk, "q": q,
            "show_class": unit.kind not in (UnitKind.CLASS, UnitKind.DORMITORY)}


def _label_classes(unit: Unit, rows: list[Student]) -> None:
    """Above college level “2023级1班” is ambiguous: prefix the class's parent (college or
    grade), fetched for the whole page in one query."""
    parents = {p for p in (s.klass.path[:-STEP] for s in rows)
               if p.startswith(unit.path) and p != unit.path}
    names = ({p: u.display_name for p, u in ((u.path, u) for u in Unit.objects.filter(path__in=parents))}
             if parents else {})
    for s in rows:
        parent = names.get(s.klass.path[:-STEP])
        s.class_label = f"{parent} {s.klass.display_name}" if parent else s.klass.display_name  # type: ignore[attr-defined]


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
    }
    if ctx["tier2"]:
        ctx["special_groups"] = list(student.special_groups.all())
    if ctx["tier4"]:
        ctx["guardians"] = list(student.guardians.order_by("-is_primary", "pk"))
    return render(request, "web/student_detail.html", ctx)


@require_GET
@login_required
def my_posts(request: HttpRequest) -> HttpResponse:
    """Every post the user holds or held, with its term and duty catalogue."""
    user: User = request.user  # type: ignore[assignment]
    posts = list(Post.objects.filter(person=user).select_related("unit").order_by("-starts_on", "role"))
    duties, places = _post_context(posts)
    today = timezone.localdate()
    rows = [{"post": p, "place": places.get(p.pk, ""), "duties": duties.get(p.pk, []),
             "state": _post_state(p, today)} for p in posts]
    return render(request, "web/my_posts.html", {"rows": rows})


def _post_state(post: Post, today: dt.date) -> str:
    if post.starts_on > today:
        return "upcoming"
    return "active" if post.is_active(today) else "ended"
