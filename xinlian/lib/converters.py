"""Ids in URLs: one bound for the whole project.

A primary key is a 64-bit integer. A longer string of digits is no row's id, and passed on it
reaches the database driver as an integer it cannot bind (OverflowError, a 500). Every route
therefore takes ids through the ``id`` path converter or the :class:`IdRouter`, which accept
at most 18 ASCII digits (below 2**63 - 1, far above any real id), so that anything else is a
404 before a view runs. Ids read from query strings and form fields go through
:func:`parse_id`: ``str.isdigit`` is no check, since "²" passes it and ``int`` refuses it.
"""

from __future__ import annotations

import re
from typing import Any

from django.urls import get_script_prefix, get_urlconf, register_converter, reverse
from rest_framework.routers import SimpleRouter

ID_REGEX = "[0-9]{1,18}"
_ID = re.compile(ID_REGEX)


def parse_id(raw: Any) -> int | None:
    """The id in ``raw`` (a query-string or form value), or None when it is not one."""
    if isinstance(raw, str) and _ID.fullmatch(raw):
        return int(raw)
    return None


def id_of(value: Any) -> int | None:
    """The id in a verb's argument: a JSON integer (from the API) or a string (from a form or a
    query string); None for anything else — a bool, a float, a number beyond 64 bits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 < value < 2**63 else None
    return parse_id(value.strip() if isinstance(value, str) else value)


class IdConverter:
    """``<id:pk>`` in a path(): like ``<int:pk>``, but bounded."""

    regex = ID_REGEX

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int | str) -> str:
        return str(value)


class IdRouter(SimpleRouter):
    """The DRF router of every ``api_urls.py``: detail routes take a bounded id, whatever the
    viewset's ``lookup_value_regex`` says (``\\d+`` would let 10**20 through)."""

    def get_lookup_regex(self, viewset: Any, lookup_prefix: str = "") -> str:
        lookup_field = getattr(viewset, "lookup_field", "pk")
        lookup_url_kwarg = getattr(viewset, "lookup_url_kwarg", None) or lookup_field
        return f"(?P<{lookup_prefix}{lookup_url_kwarg}>{ID_REGEX})"


# An id put in a path by ``reverse`` once, then replaced by the real one: 18 digits (what a route
# takes), far beyond any row's id.
_SLOT = 918_273_645_546_372_819
_PATHS_OF_ID: dict[tuple[str, Any, str], str] = {}


def reverse_id(name: str, pk: int) -> str:
    """``reverse(name, args=[pk])`` for a route whose one argument is an id: Django's reverse
    once per route, URL configuration and script prefix, then the id put in its place. Django's
    reverse walks the URL configuration each time: 29 µs against 5, on the busiest redirect (a
    questionnaire's submit to its thank-you page)."""
    key = (name, get_urlconf(), get_script_prefix())
    path = _PATHS_OF_ID.get(key)
    if path is None:
        path = reverse(name, args=[_SLOT])
        if path.count(str(_SLOT)) != 1:  # not a route of one id: Django's reverse every time
            return reverse(name, args=[pk])
        _PATHS_OF_ID[key] = path
    return path.replace(str(_SLOT), str(int(pk)), 1)


# Importing this module (every urls.py does) registers the converter, once per process.
register_converter(IdConverter, "id")
