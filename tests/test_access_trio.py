"""The 404 / 403 / 405 trio for every web page and API endpoint.

* an object outside the caller's scope is missing (404), never forbidden;
* an action page the caller may not use (no capability anywhere) is 403;
* a method the URL does not serve is 405 — even for someone who may use it.

Every URL name outside the admin must appear in ``WRONG_METHODS`` (or say in ``NO_405`` why
not), so a new view cannot skip its method check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.urls import reverse

from xinlian.network.models import Post

from .base import NetworkTestCase
from .test_sweep import EXTRA_MODULES, setup_extra, swept_names

Kwargs = Callable[[NetworkTestCase], dict[str, Any]]


def class_a1(t: NetworkTestCase) -> dict[str, Any]:
    return {"pk": t.class_a1.pk}


def student_a1(t: NetworkTestCase) -> dict[str, Any]:
    return {"pk": t.student_a1.pk}


def head_teacher_staff(t: NetworkTestCase) -> dict[str, Any]:
    return {"pk": t.head_teacher_a1.staff.pk}


def head_teacher_post(t: NetworkTestCase) -> dict[str, Any]:
    return {"pk": Post.objects.get(person=t.head_teacher_a1).pk}


def no_args(t: NetworkTestCase) -> dict[str, Any]:
    return {}


# (url name, kwargs, persona) → 404: each object is in class A1's scope, the persona is not.
OUT_OF_SCOPE: list[tuple[str, Kwargs, str]] = [
    ("unit-detail", class_a1, "outsider_b"),
    ("unit-detail", class_a1, "student_a1_user"),
    ("network-children", class_a1, "outsider_b"),
    ("network-children", class_a1, "student_a1_user"),
    ("student-detail", student_a1, "outsider_b"),
    ("student-detail", student_a1, "bureau_viewer"),
    ("api:unit-detail", class_a1, "outsider_b"),
    ("api:student-detail", student_a1, "outsider_b"),
    ("api:staff-detail", head_teacher_staff, "outsider_b"),
    ("api:post-detail", head_teacher_post, "outsider_b"),
]

# (url name, method, persona) → 403: logged in, in the network, but without the capability.
WITHOUT_CAPABILITY: list[tuple[str, str, str]] = [
    ("roster-import", "get", "head_teacher_a1"),      # no Cap.IMPORT_ROSTER
    ("roster-import", "post", "counsellor_a"),
    ("roster-template", "get", "committee_a1"),
    ("roster-export", "get", "committee_a1"),         # no Cap.EXPORT_ROSTER
    ("roster-export", "get", "bureau_viewer"),
    ("roster-export", "get", "student_a1_user"),
]

DETAIL = ["post", "put", "patch", "delete"]
LIST = ["post", "put", "patch", "delete"]
# url name → (kwargs, methods that must answer 405). Sent as the director, who may use them all.
WRONG_METHODS: dict[str, tuple[Kwargs, list[str]]] = {
    "home": (no_args, ["post", "put", "delete"]),
    "network-tree": (no_args, ["post", "put", "delete"]),
    "my-posts": (no_args, ["post", "delete"]),
    "unit-detail": (class_a1, ["post", "put", "delete"]),
    "network-children": (class_a1, ["post", "put", "delete"]),
    "student-detail": (student_a1, ["post", "put", "delete"]),
    "roster-import": (no_args, ["put", "patch", "delete"]),
    "roster-template": (no_args, ["post", "delete"]),
    "roster-export": (no_args, ["post", "delete"]),
    "logout": (no_args, ["get"]),
    "login": (no_args, ["delete", "patch"]),
    "api:me": (no_args, ["post", "put", "patch", "delete"]),
    "api:auth-token": (no_args, ["get", "put", "delete"]),
    "api:unit-list": (no_args, LIST),
    "api:unit-detail": (class_a1, DETAIL),
    "api:student-list": (no_args, LIST),
    "api:student-detail": (student_a1, DETAIL),
    "api:staff-list": (no_args, LIST),
    "api:staff-detail": (head_teacher_staff, DETAIL),
    "api:post-list": (no_args, LIST),
    "api:post-detail": (head_teacher_post, DETAIL),
    "api-schema": (no_args, ["post", "delete"]),
    "api-docs": (no_args, ["post", "delete"]),
}
NO_405 = {
    "set_language": "Django's own view: a GET is a harmless redirect back",
}
# Each app's sweep module (tests/sweep_<app>.py) may bring its rows for this table too.
for _mod in EXTRA_MODULES:
    WRONG_METHODS.update(getattr(_mod, "WRONG_METHODS", {}))
# These are answered before the login check, so they are sent anonymously.
ANONYMOUS_METHODS = {"login"}


class TrioTests(NetworkTestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        setup_extra(cls)  # the objects the merged WRONG_METHODS rows point at

    def call(self, method: str, url: str):
        return getattr(self.client, method)(url)

    def test_out_of_scope_is_404(self):
        for name, kwargs, persona in OUT_OF_SCOPE:
            with self.subTest(name=name, persona=persona):
                self.login(persona)
                url = reverse(name, kwargs=kwargs(self))
                self.assertEqual(self.client.get(url).status_code, 404)

    def test_in_scope_is_not_404(self):
        """The 404s above come from scope, not from a broken URL: the director gets each one."""
        self.login("director")
        for name, kwargs, _persona in OUT_OF_SCOPE:
            with self.subTest(name=name):
                self.assertEqual(self.client.get(reverse(name, kwargs=kwargs(self))).status_code, 200)

    def test_without_capability_is_403(self):
        for name, method, persona in WITHOUT_CAPABILITY:
            with self.subTest(name=name, method=method, persona=persona):
                self.login(persona)
                self.assertEqual(self.call(method, reverse(name)).status_code, 403)

    def test_wrong_method_is_405(self):
        for name, (kwargs, methods) in WRONG_METHODS.items():
            self.client.logout()
            if name not in ANONYMOUS_METHODS:
                self.login("director")
            url = reverse(name, kwargs=kwargs(self))
            for method in methods:
                with self.subTest(name=name, method=method):
                    self.assertEqual(self.call(method, url).status_code, 405)

    def test_every_view_has_a_method_check(self):
        names = [n for n in swept_names() if not n.startswith("admin:")]
        missing = [n for n in names if n not in WRONG_METHODS and n not in NO_405]
        self.assertEqual(missing, [], "add these URL names to WRONG_METHODS in tests/test_access_trio.py")
