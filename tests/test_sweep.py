"""The sweep: every URL of the project, as every persona and as an anonymous visitor.

``EXPECT[url name][persona]`` is the status each one must get for a GET. A URL name without an
entry fails the suite — so a new page cannot ship without someone deciding who may open it —
and every 200 body is searched for the names and numbers of students the persona may not see.
Every answer is also searched for the tier markers of tests/markers.py: a marker the access
policy does not let the persona read about its student fails the sweep, and a marker never
shown to a persona who may read it fails it too (the markers must be rendered to be tested).

The admin is one prefix: its index and a few changelists stand for all of it."""

from __future__ import annotations

import importlib
import io
import pkgutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.http import HttpResponse, JsonResponse
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from openpyxl import load_workbook

from xinlian.access.policy import visible_students
from xinlian.network.models import Post, Student

from .base import NetworkTestCase
from .markers import RECORD_FIELDS, Marker, write_markers

ANON = "anonymous"
# The leader (组长 at the school, tests/markers.py) holds the roster tier of the whole school.
LEADER = "leader"
PERSONAS = (*NetworkTestCase.PERSONAS, LEADER, ANON)
STAFF_VIEWERS = ("counsellor_a", "head_teacher_a1", "committee_a1", "director", LEADER)

# Expectation values: a status code, or a redirect given as (302, url name it must point at).
LOGIN = (302, "login")
ADMIN_LOGIN = (302, "admin:login")
HOME = (302, "home")
ANY_REDIRECT = (302, None)
Expectation = int | tuple[int, str | None]


def row(logged_in: Expectation, anonymous: Expectation, **persona: Expectation) -> dict[str, Expectation]:
    """One table row: ``logged_in`` for every persona unless overridden by name."""
    unknown = set(persona) - set(PERSONAS)
    assert not unknown, f"unknown personas {unknown}"
    return {**{p: logged_in for p in PERSONAS if p != ANON}, ANON: anonymous, **persona}


def only(allowed: tuple[str, ...], yes: Expectation, no: Expectation, anonymous: Expectation):
    return {**{p: (yes if p in allowed else no) for p in PERSONAS if p != ANON}, ANON: anonymous}


# Who sees the class-A1 unit, student S0001 (张小明, dorm 101), and head teacher 吴老师's post.
SEES_CLASS_A1 = ("counsellor_a", "head_teacher_a1", "committee_a1", "director", LEADER)
SEES_STUDENT_A1 = ("counsellor_a", "head_teacher_a1", "committee_a1", "liaison_a1", "student_a1_user",
                   "director", LEADER)

WEB_PAGE = row(200, LOGIN)
API = 403  # session authentication first: an anonymous API call is 403, not 401

EXPECT: dict[str, dict[str, Expectation]] = {
    # --- web
    "login": row(HOME, 200),
    "logout": row(405, 405),  # POST only (Django 5)
    "set_language": row(ANY_REDIRECT, ANY_REDIRECT),  # a GET changes nothing and sends you back
    "home": WEB_PAGE,
    "network-tree": WEB_PAGE,
    "my-posts": WEB_PAGE,
    # A bureau viewer's statistics scope shows the class page with counts, never names.
    "unit-detail": only((*SEES_CLASS_A1, "bureau_viewer"), 200, 404, LOGIN),
    "network-children": only((*SEES_CLASS_A1, "bureau_viewer"), 200, 404, LOGIN),  # as unit-detail
    "student-detail": only(SEES_STUDENT_A1, 200, 404, LOGIN),
    "roster-import": only(("director",), 200, 403, LOGIN),
    "roster-template": only(("director",), 200, 403, LOGIN),
    # Every holder of Cap.EXPORT_ROSTER, each for their own scope (outsider_b is 辅导员 of college B).
    "roster-export": only(("director", "counsellor_a", "head_teacher_a1", "outsider_b"), 200, 403, LOGIN),
    # --- API
    "api:me": row(200, API),
    "api:auth-token": row(405, 405),  # POST only
    "api:unit-list": row(200, API),
    "api:unit-detail": only((*SEES_CLASS_A1, "bureau_viewer"), 200, 404, API),
    "api:student-list": row(200, API),
    "api:student-detail": only(SEES_STUDENT_A1, 200, 404, API),
    "api:staff-list": row(200, API),
    "api:staff-detail": only(STAFF_VIEWERS, 200, 404, API),
    "api:post-list": row(200, API),
    "api:post-detail": only(STAFF_VIEWERS, 200, 404, API),
    "api-schema": row(200, API),
    "api-docs": row(200, API),
    # --- admin (one prefix; these stand for the rest)
    "admin:index": only(("director",), 200, ADMIN_LOGIN, ADMIN_LOGIN),
    "admin:network_student_changelist": only(("director",), 200, ADMIN_LOGIN, ADMIN_LOGIN),
    "admin:network_unit_changelist": only(("director",), 200, ADMIN_LOGIN, ADMIN_LOGIN),
    "admin:network_user_changelist": only(("director",), 200, ADMIN_LOGIN, ADMIN_LOGIN),
    "admin:access_auditevent_changelist": only(("director",), 200, ADMIN_LOGIN, ADMIN_LOGIN),
}


def _head_teacher_post(t: NetworkTestCase) -> Post:
    return Post.objects.get(person=t.head_teacher_a1)


# URL arguments: always an object in class A1's scope.
KWARGS: dict[str, Callable[[NetworkTestCase], dict[str, Any]]] = {
    "unit-detail": lambda t: {"pk": t.class_a1.pk},
    "network-children": lambda t: {"pk": t.class_a1.pk},
    "student-detail": lambda t: {"pk": t.student_a1.pk},
    "api:unit-detail": lambda t: {"pk": t.class_a1.pk},
    "api:student-detail": lambda t: {"pk": t.student_a1.pk},
    "api:staff-detail": lambda t: {"pk": t.head_teacher_a1.staff.pk},
    "api:post-detail": lambda t: {"pk": _head_teacher_post(t).pk},
}

# Each app's pages bring their own rows, URL arguments and fixtures in a module of their own
# (tests/sweep_<app>.py with EXPECT, KWARGS and setup(test_class)), merged here.
EXTRA_MODULES = [importlib.import_module(f"tests.{m.name}") for m in
                 pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name.startswith("sweep_")]
for _mod in EXTRA_MODULES:
    _clash = set(_mod.EXPECT) & set(EXPECT)
    assert not _clash, f"{_mod.__name__} redefines {_clash}"
    EXPECT.update(_mod.EXPECT)
    KWARGS.update(_mod.KWARGS)


def setup_extra(cls: type[NetworkTestCase]) -> None:
    for mod in EXTRA_MODULES:
        mod.setup(cls)


# Markers no swept URL shows to anyone, each with why. The positive control checks the rest.
NOT_SWEPT: dict[str, str] = {
    f"MKR-T3-follow_up-{number}": "a follow-up's note is stored but no page or API shows it yet"
    for number in ("S0001", "S0004", "S0005")}
# (marker, persona): the persona may read the marker, yet no swept URL shows it to them.
NOT_SHOWN: dict[tuple[str, str], str] = {
    ("MKR-T3-concern-S0001", "liaison_a1"):
        "a reporter's list of their reports shows each one's status, not what they wrote",
}

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ADMIN_PREFIX = "admin/"
EXCLUDED_PREFIXES = ("static/", "media/")


def walk(patterns: list, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str | None]]:
    """(route, fully namespaced name or None) for every pattern, recursively."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            ns = namespace
            if pattern.namespace:
                ns = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from walk(pattern.url_patterns, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            name = pattern.name and (f"{namespace}:{pattern.name}" if namespace else pattern.name)
            yield prefix + str(pattern.pattern).lstrip("^"), name


def project_urls() -> list[tuple[str, str | None]]:
    return [(route, name) for route, name in walk(get_resolver().url_patterns)
            if not route.startswith(EXCLUDED_PREFIXES)]


def swept_names() -> list[str]:
    """Every name the sweep must cover: all non-admin names, and the admin samples."""
    names = {name for route, name in project_urls()
             if name and not route.startswith(ADMIN_PREFIX) and not name.startswith("admin:")}
    return sorted(names | {n for n in EXPECT if n.startswith("admin:")})


class SweepTableTests(NetworkTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        setup_extra(cls)

    def test_every_url_has_an_expectation(self):
        missing = [name for name in swept_names() if name not in EXPECT]
        self.assertEqual(missing, [], "add these URL names to EXPECT in tests/test_sweep.py")

    def test_every_url_outside_the_admin_is_named(self):
        unnamed = [route for route, name in project_urls()
                   if not name and not route.startswith(ADMIN_PREFIX)]
        self.assertEqual(unnamed, [], "name these URL patterns so that the sweep can cover them")

    def test_no_stale_expectations(self):
        names = {name for _route, name in project_urls() if name}
        self.assertEqual(sorted(set(EXPECT) - names), [])

    def test_every_expectation_names_every_persona(self):
        for name, expected in EXPECT.items():
            self.assertEqual(set(expected), set(PERSONAS), name)

    def test_urls_with_arguments_have_kwargs(self):
        resolver = get_resolver()
        for name in swept_names():
            possibilities = resolver.reverse_dict.getlist(name.split(":")[-1])
            needs_args = any(params for _bits, _pattern, _defaults, _converters in possibilities
                             for _s, params in _bits if params)
            if needs_args:
                self.assertIn(name, KWARGS, f"{name} takes arguments: add a KWARGS entry")


class SweepTests(NetworkTestCase):
    """Every URL as every persona: the status, no out-of-scope student's name or number, and no
    marker (tests/markers.py) that the policy does not let the persona read about its student."""

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        setup_extra(cls)
        cls.markers = write_markers(cls)

    def setUp(self) -> None:
        self.marker_seen: dict[str, set[str]] = {m.text: set() for m in self.markers}

    def marker_readers(self) -> dict[str, set[str]]:
        """Marker → the personas the policy lets read it (asked afresh, never hand-copied)."""
        students = Student.objects.in_bulk([m.student for m in self.markers])
        users = {p: self.persona(p) for p in PERSONAS if p != ANON}
        return {m.text: {p for p, user in users.items() if m.allows(user, students[m.student])}
                for m in self.markers}

    def forbidden_markers(self, persona: str, readers: dict[str, set[str]]) -> list[Marker]:
        return [m for m in self.markers if persona not in readers[m.text]]

    def forbidden_words(self, persona: str) -> dict[str, str]:
        """Names and numbers of every student the persona may not see → which student (asked
        once per persona and test: nothing the sweep does changes who sees whom)."""
        cache = self.__dict__.setdefault("_words_by_persona", {})
        if persona not in cache:
            cache[persona] = self._forbidden_words(persona)
        return cache[persona]

    def _forbidden_words(self, persona: str) -> dict[str, str]:
        if persona == ANON:
            visible: set[int] = set()
        else:
            visible = set(visible_students(self.persona(persona)).values_list("pk", flat=True))
        words: dict[str, str] = {}
        for student in Student.objects.exclude(pk__in=visible).select_related("user"):
            words[student.user.full_name] = student.number
            words[student.number] = student.number
        return words

    @staticmethod
    def text_of(response) -> str:
        """The words a person would read: the page, or every cell of a spreadsheet download
        (a streamed body is read once: ``check_markers`` keeps what it read)."""
        if getattr(response, "_sweep_text", None) is not None:
            return response._sweep_text
        content = b"".join(response.streaming_content) if response.streaming else response.content
        if response.get("Content-Type", "").startswith(XLSX):
            book = load_workbook(io.BytesIO(content), read_only=True)
            return "\n".join(str(cell) for sheet in book.worksheets
                             for cells in sheet.iter_rows(values_only=True) for cell in cells
                             if cell is not None)
        return content.decode("utf-8", errors="replace")

    def check_markers(self, name: str, persona: str, url: str, response, forbidden: list[Marker],
                      problems: list[str]) -> None:
        """Any answer (an error page too): no marker above the persona's tier for its student.
        JSON and HTML are read as text (the markers are plain ASCII, escaped by neither);
        a spreadsheet cell by cell."""
        body = self.text_of(response)
        response._sweep_text = body
        for marker in self.markers:
            if marker.text in body and (marker.urls is None or name in marker.urls):
                self.marker_seen[marker.text].add(persona)
        for marker in forbidden:
            if marker.text in body and (marker.urls is None or name in marker.urls):
                problems.append(f"{name} as {persona}: shows tier-{marker.tier} marker {marker.text} ({url})")

    def check(self, name: str, persona: str, url: str, problems: list[str],
              forbidden: list[Marker] | None = None) -> None:
        expected = EXPECT[name][persona]
        response = self.client.get(url)
        self.check_markers(name, persona, url, response, forbidden or [], problems)
        code = expected[0] if isinstance(expected, tuple) else expected
        if response.status_code != code:
            problems.append(f"{name} as {persona}: {response.status_code}, expected {code} ({url})")
            return
        if isinstance(expected, tuple) and expected[1] is not None:
            target = reverse(expected[1])
            location = response.get("Location", "")
            if location.split("?")[0] != target:
                problems.append(f"{name} as {persona}: redirects to {location}, expected {target}")
        if response.status_code == 200:
            self.check_students(name, persona, self.text_of(response), problems)

    def check_students(self, name: str, persona: str, body: str, problems: list[str]) -> None:
        for word, number in self.forbidden_words(persona).items():
            if word in body:
                problems.append(f"{name} as {persona}: body shows out-of-scope student {number}")

    def test_sweep(self):
        problems: list[str] = []
        readers = self.marker_readers()
        for persona in PERSONAS:
            self.client.logout()
            if persona != ANON:
                self.login(persona)
            forbidden = self.forbidden_markers(persona, readers)
            for name in swept_names():
                if name not in EXPECT:
                    continue  # reported by SweepTableTests
                kwargs = KWARGS[name](self) if name in KWARGS else {}
                self.check(name, persona, reverse(name, kwargs=kwargs), problems, forbidden)
            for name, kwargs in self.marker_urls:  # S0004's and S0005's objects
                url = reverse(name, kwargs=kwargs)
                response = self.client.get(url)
                self.check_markers(name, persona, url, response, forbidden, problems)
                if response.status_code == 200:
                    self.check_students(name, persona, self.text_of(response), problems)
        problems += self.positive_control(readers)
        self.assertEqual(problems, [], "\n" + "\n".join(problems))

    def positive_control(self, readers: dict[str, set[str]]) -> list[str]:
        """Every persona the policy lets read a marker is shown it somewhere, so a marker that is
        never rendered (or a sweep that reads nothing) cannot pass unnoticed."""
        problems = []
        for text, seen in sorted(self.marker_seen.items()):
            if text in NOT_SWEPT:
                if seen:
                    problems.append(f"marker {text} is in NOT_SWEPT but shown to {sorted(seen)}")
                continue
            missing = readers[text] - seen - {p for t, p in NOT_SHOWN if t == text}
            if missing:
                problems.append(f"marker {text} is shown nowhere to {sorted(missing)}, who may read it")
        problems += [f"{persona} now sees {text}: remove it from NOT_SHOWN"
                     for text, persona in NOT_SHOWN if persona in self.marker_seen.get(text, ())]
        return problems

    def test_sweep_checks_bodies(self):
        """The body check itself can fail: a persona who may not see 陈静 would be caught."""
        words = self.forbidden_words("head_teacher_a1")
        self.assertIn("陈静", words)
        self.assertIn("S0005", words)
        self.assertNotIn("张小明", words)
        student_words = self.forbidden_words("student_a1_user")
        self.assertIn("李华", student_words)
        self.assertNotIn("S0001", student_words)

    def test_marker_readers_come_from_the_policy(self):
        """Spot checks of what the policy answers (tiers over each student, the clinical rule,
        the case team, a writer's own words)."""
        readers = self.marker_readers()
        self.assertEqual(readers["MKR-T3-concern-S0001"], {"counsellor_a", "director", "liaison_a1"})
        self.assertEqual(readers["MKR-T3-reason-S0004"], {"counsellor_a", "director"})
        self.assertEqual(readers["MKR-T3-flag-S0005"], {"outsider_b", "director"})
        self.assertEqual(readers["MKR-T4-note.text-S0001"], {"director"})  # the case lead
        # Guardian contacts: the case tier, and the 辅导员 and 班主任 who make the calls.
        self.assertEqual(readers["13900000001"], {"director", "counsellor_a", "head_teacher_a1"})
        self.assertEqual(readers["MKR-T2-campaign-S_0001"], {"counsellor_a", "head_teacher_a1", "director"})

    def test_every_sensitive_field_is_marked_for_each_student(self):
        fields = {"T3": ["concern", "alert_note", "reason", "follow_up", "flag", "clause", "interview"],
                  "T4": ["guardian_name", "closure_summary",
                         *(f"{kind}.{name}" for kind, names in RECORD_FIELDS.items() for name in names)]}
        texts = {m.text for m in self.markers}
        for number in ("S0001", "S0004", "S0005"):
            for label, names in fields.items():
                for name in names:
                    self.assertIn(f"MKR-{label}-{name}-{number}", texts)
            self.assertIn(f"1390000{number[1:]}", texts)  # the guardian's phone

    def test_a_marker_above_the_tier_is_reported(self):
        """The marker check itself can fail: a body with a forbidden marker is a problem, on an
        error page too, and a marker restricted to some URLs counts only there."""
        restricted = next(m for m in self.markers if m.urls)
        concern = next(m for m in self.markers if m.text == "MKR-T3-concern-S0001")
        problems: list[str] = []
        page = HttpResponse(f"<p>{concern.text} {restricted.text}</p>", status=404)
        self.check_markers("screening:campaign-list", "committee_a1", "/x/", page,
                           [concern, restricted], problems)
        self.assertEqual(problems, ["screening:campaign-list as committee_a1: shows tier-3 marker "
                                    "MKR-T3-concern-S0001 (/x/)"])
        self.check_markers("care-api:student-timeline", "leader", "/y/",
                           JsonResponse({"text": restricted.text}), [restricted], problems)
        self.assertIn(restricted.text, problems[-1])

    def test_positive_control_fails_when_markers_are_not_rendered(self):
        problems = self.positive_control(self.marker_readers())  # nothing swept: nothing seen
        self.assertIn("marker MKR-T3-concern-S0001 is shown nowhere to ['counsellor_a', 'director'], "
                      "who may read it", problems)
        self.assertEqual(len(problems), len({m.text for m in self.markers} - set(NOT_SWEPT)))

    def test_spreadsheet_downloads_are_read_as_text(self):
        self.login("head_teacher_a1")
        text = self.text_of(self.client.get(reverse("roster-export")))
        self.assertIn("张小明", text)
        self.assertNotIn("陈静", text)
