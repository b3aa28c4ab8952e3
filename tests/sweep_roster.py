"""Sweep rows for the roster import API (see tests/test_sweep.py; the roster pages are in its own
table). The import is POST only: signed in, a GET is 405; anonymous, the API's 403 comes first.
tests/test_parity_roster.py sends the POSTs: 200/400 for the director, 403 for everyone else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.test_sweep import row

EXPECT: dict[str, dict[str, Any]] = {
    "api:roster-import": row(405, 403),
}
KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {}


def _none(t: Any) -> dict[str, Any]:
    return {}


# For tests/test_access_trio.py: methods the URL must refuse with 405 (sent as the director).
WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "api:roster-import": (_none, ["get", "put", "delete"]),
}


def setup(cls: Any) -> None:
    """No fixtures: the import URL takes no arguments."""
