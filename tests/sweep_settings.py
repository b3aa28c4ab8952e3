"""Sweep rows for the centre's settings pages and each person's notification settings (see
tests/test_sweep.py and tests/test_access_trio.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.test_sweep import LOGIN, only, row

# The centre's settings: the centre director (and administrators); everyone else is refused.
CENTRE = only(("director",), 200, 403, LOGIN)

EXPECT: dict[str, dict[str, Any]] = {
    "settings-levels": CENTRE,
    "settings-channels": CENTRE,
    "settings-hours": CENTRE,
    "settings-help": CENTRE,
    "my-notifications": row(200, LOGIN),  # every signed-in person keeps their own
    "my-notifications-test": row(405, 405),  # POST only
}

KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {}


def _none(t: Any) -> dict[str, Any]:
    return {}


WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "settings-levels": (_none, ["put", "delete"]),
    "settings-channels": (_none, ["put", "delete"]),
    "settings-hours": (_none, ["put", "delete"]),
    "settings-help": (_none, ["put", "delete"]),
    "my-notifications": (_none, ["put", "delete"]),
    "my-notifications-test": (_none, ["get", "put", "delete"]),
}


def setup(cls: Any) -> None:
    """Nothing to build: the pages read the installation's settings."""
