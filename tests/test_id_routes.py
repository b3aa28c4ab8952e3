"""Ids that no row can have — beyond 64 bits, or digits Python's ``int`` reads but a URL never
carries — answer 404 (or 400 on the API), never 500, on every route and every id parameter.

Routes are walked from the resolver, as tests/test_sweep.py does, so that a route added later
is covered without anyone listing it here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.exceptions import Resolver404
from django.urls.resolvers import RegexPattern, RoutePattern

from xinlian.lib.converters import parse_id

from .base import NetworkTestCase
from .test_sweep import KWARGS, setup_extra

HUGE_IDS = (str(10**20), str(2**63), "9" * 23)
# Values for route arguments that are not ids: one valid value each. A new one fails
# test_every_argument_is_known until it is listed here.
OTHER_ARGUMENTS = {"kind": "note", "app_label": "network", "model_name": "student"}
ID_NAMES = re.compile(r"^(pk|id|object_id|unit|.*_id|.*_pk)$")
ADMIN = "admin/"


def _pieces(patterns: list, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str, list]]:
    """(name, route template with {arg} holes, [(arg, is_id)]) for every pattern."""
    for pattern in patterns:
        holes, template = _template(pattern.pattern)
        if isinstance(pattern, URLResolver):
            ns = namespace
            if pattern.namespace:
                ns = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            for name, rest, args in _pieces(pattern.url_patterns, "", ns):
                yield name, prefix + template + rest, holes + args
        elif isinstance(pattern, URLPattern):
            name = pattern.name and (f"{namespace}:{pattern.name}" if namespace else pattern.name)
            yield name or "", prefix + template, holes


def _template(pattern: RoutePattern | RegexPattern) -> tuple[list[tuple[str, bool]], str]:
    text = str(pattern)
    holes: list[tuple[str, bool]] = []
    if isinstance(pattern, RoutePattern):
        def route_hole(m: re.Match) -> str:
            converter, arg = m.group(1) or "str", m.group(2)
            holes.append((arg, converter in ("int", "id") or bool(ID_NAMES.match(arg))))
            return "{" + arg + "}"
        return holes, re.sub(r"<(?:(\w+):)?(\w+)>", route_hole, text)

    def regex_hole(m: re.Match) -> str:
        arg = m.group(1)
        holes.append((arg, bool(ID_NAMES.match(arg))))
        return "{" + arg + "}"
    text = re.sub(r"\(\?P<(\w+)>[^)]*\)", regex_hole, text)
    return holes, text.lstrip("^").rstrip("$").replace("\\", "")


def id_routes(include_admin: bool = False) -> list[tuple[str, str, list[tuple[str, bool]]]]:
    return [(name, template, args) for name, template, args in _pieces(get_resolver().url_patterns)
            if any(is_id for _arg, is_id in args)
            and (include_admin or not template.startswith(ADMIN))]


def url_for(template: str, args: list[tuple[str, bool]], huge: str) -> str:
    return "/" + template.format(**{arg: huge if is_id else OTHER_ARGUMENTS[arg] for arg, is_id in args})


class IdRouteTests(NetworkTestCase):
    def setUp(self) -> None:
        self.client.raise_request_exception = False  # a 500 is a finding to list, not a crash

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        setup_extra(cls)

    def test_the_walk_finds_the_id_routes(self):
        """The walk itself can fail: it must see page, API and router routes with ids."""
        names = {name for name, _t, _a in id_routes()}
        for name in ("student-detail", "screening:take", "screening:submit", "screening-api:submit",
                     "care-api:alert-detail", "care-api:alert-acknowledge", "api:student-detail",
                     "care-api:student-timeline", "inbox-read", "screening:campaign-unit"):
            self.assertIn(name, names)

    def test_every_argument_is_known(self):
        for name, _template, args in id_routes(include_admin=True):
            for arg, is_id in args:
                if not is_id:
                    self.assertIn(arg, OTHER_ARGUMENTS, f"{name}: give a value for {arg!r}")

    def test_ids_are_bounded_at_the_router(self):
        """Outside the admin (Django's own), a 19-digit id does not even reach a view, and a
        short one resolves to an int."""
        unbounded = []
        for name, template, args in id_routes():
            for huge in (*HUGE_IDS, "9" * 19):
                try:
                    resolve(url_for(template, args, huge))
                except Resolver404:
                    continue
                unbounded.append(f"{name} ({template}) accepts {huge}")
            match = resolve(url_for(template, args, "9" * 18))
            for arg, is_id in args:
                if is_id:  # an int from <id:…>, a string from the router's regex
                    self.assertEqual(str(match.kwargs[arg]), "9" * 18, name)
        self.assertEqual(unbounded, [], "\n" + "\n".join(unbounded))

    def test_huge_ids_answer_404_on_every_route(self):
        self.login("director")
        problems = []
        for name, template, args in id_routes(include_admin=True):
            for huge in HUGE_IDS[:2]:
                url = url_for(template, args, huge)
                for method in ("get", "post"):
                    status = getattr(self.client, method)(url).status_code
                    # The admin (Django's own) checks permissions first, then redirects to its index
                    # ("… does not exist"): anything but a 500 will do there.
                    allowed = (302, 403, 404) if template.startswith(ADMIN) else (404,)
                    if status not in allowed:
                        problems.append(f"{method.upper()} {url} ({name}): {status}")
        self.assertEqual(problems, [], "\n" + "\n".join(problems))

    def test_huge_ids_answer_404_to_a_student(self):
        """The respondent's own screening pages, where the 500 was first seen."""
        self.login("student_a1_user")
        problems = []
        for name, template, args in id_routes():
            if not name.startswith(("screening:", "screening-api:")):
                continue
            url = url_for(template, args, str(2**63))
            for method in ("get", "post"):
                status = getattr(self.client, method)(url).status_code
                if status != 404:
                    problems.append(f"{method.upper()} {url} ({name}): {status}")
        self.assertEqual(problems, [], "\n" + "\n".join(problems))


# Ids in query strings and form fields. "²" is a digit to str.isdigit() but not to int().
BAD_QUERY_IDS = ("99999999999999999999999", str(2**63), "²", "-1", "1e3")


def _kwargs(test: NetworkTestCase, name: str) -> dict[str, Any]:
    return KWARGS[name](test)


class QueryIdTests(NetworkTestCase):
    """Every id read from a query string or a form field, by the persona who may use it."""

    # (persona, url name, method, parameter, the answers a bad id may get)
    CASES: tuple[tuple[str, str, str, str, tuple[int, ...]], ...] = (
        ("counsellor_a", "concern-new", "get", "student", (404,)),
        ("counsellor_a", "concern-new", "post", "student", (404,)),
        ("committee_a1", "concern-new", "get", "student", (404,)),
        ("committee_a1", "concern-mine", "get", "sent", (200,)),  # a hint for the banner only
        ("director", "case-new", "post", "student", (404,)),
        ("director", "screening:campaign-report", "get", "unit", (200, 404)),
        ("director", "screening:interview-list", "get", "campaign", (200, 404)),
        ("director", "screening-api:result-list", "get", "campaign", (400,)),
        # a unit outside the scope lists nothing, like one that does not exist (no existence leak)
        ("director", "api:student-list", "get", "unit", (200, 400)),
        ("director", "api:student-list", "get", "page", (404,)),
        ("director", "care-api:alert-list", "get", "page", (200, 404)),
        ("director", "home", "get", "page", (200,)),
        ("director", "inbox", "get", "page", (200,)),
        ("director", "alert-inbox", "get", "page", (200,)),
        ("director", "screening:campaign-list", "get", "page", (200,)),
    )

    def setUp(self) -> None:
        self.client.raise_request_exception = False

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        setup_extra(cls)

    def url(self, name: str) -> str:
        return reverse(name, kwargs=_kwargs(self, name) if name in KWARGS else {})

    def test_bad_query_ids_never_give_500(self):
        problems = []
        for persona, name, method, param, allowed in self.CASES:
            self.client.logout()
            self.login(persona)
            url = self.url(name)
            for bad in BAD_QUERY_IDS:
                if method == "get":
                    response = self.client.get(url, {param: bad})
                else:
                    response = self.client.post(url, {param: bad})
                if response.status_code not in allowed:
                    problems.append(f"{persona} {method.upper()} {name} {param}={bad!r}: "
                                    f"{response.status_code}, expected one of {allowed}")
        self.assertEqual(problems, [], "\n" + "\n".join(problems))

    # Ids among other form fields: (persona, url name, the field, the other fields). The
    # answer is the owner's (a re-rendered form, a redirect); it is never a 500.
    FORM_CASES: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
        ("director", "case-new", "alert", {"student": "<student_a2>"}),
        ("director", "case-team", "lead", {}),
        ("director", "case-team", "members", {"lead": "<director>"}),
        ("student_a1_user", "screening:consent", "version", {"agree": "1"}),
    )

    def test_bad_ids_among_form_fields_never_give_500(self):
        problems = []
        for persona, name, field, others in self.FORM_CASES:
            self.client.logout()
            self.login(persona)
            data = {k: str(getattr(self, v[1:-1]).pk) if v.startswith("<") else v
                    for k, v in others.items()}
            for bad in BAD_QUERY_IDS:
                response = self.client.post(self.url(name), {**data, field: bad})
                if response.status_code >= 500:
                    problems.append(f"{persona} POST {name} {field}={bad!r}: {response.status_code}")
        self.assertEqual(problems, [], "\n" + "\n".join(problems))


class ParseIdTests(NetworkTestCase):
    def test_parse_id(self):
        self.assertEqual(parse_id("42"), 42)
        self.assertEqual(parse_id("9" * 18), 10**18 - 1)
        for bad in ("", "9" * 19, "²", "٣", "-1", "+1", " 1", "1 ", "1.0", "0x1", None):
            self.assertIsNone(parse_id(bad), bad)


def test_reverse_id_gives_the_path_reverse_gives():
    from django.urls import set_script_prefix

    from xinlian.lib.converters import reverse_id

    for name in ("screening:thanks", "screening:submit", "screening:take"):
        for pk in (1, 42, 10**17, 999_999_999_999_999_999):
            assert reverse_id(name, pk) == reverse(name, args=[pk]), (name, pk)
    try:  # served under a prefix (SCRIPT_NAME): the prefix is part of the path
        set_script_prefix("/xl/")
        assert reverse_id("screening:thanks", 7) == "/xl/screening/a/7/thanks/" == reverse("screening:thanks", args=[7])
    finally:
        set_script_prefix("/")
    assert reverse_id("screening:thanks", 7) == "/screening/a/7/thanks/"
    # A route of more than an id (or none): Django's reverse each time, which refuses as it does.
    with pytest.raises(NoReverseMatch):
        reverse_id("screening:campaign-unit", 3)
