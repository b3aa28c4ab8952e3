"""Sweep rows for two-step verification (xinlian/web/views_twofactor.py; see tests/test_sweep.py
and tests/test_access_trio.py). The sweep's personas log in with ``force_login``, which the
suite's fixture verifies (tests/conftest.py): the code page sends them on home."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.test_sweep import HOME, LOGIN, row

EXPECT: dict[str, dict[str, Any]] = {
    "two-step-verify": row(HOME, LOGIN),  # nothing left to verify: on to where they were going
    "two-step-enrol": row(200, LOGIN),  # from a verified session (or with no authenticator yet)
    "my-two-step": row(200, LOGIN),
    "my-two-step-codes": row(405, 405),  # POST only
    "my-two-step-off": row(405, 405),  # POST only
}


KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {}


def _none(t: Any) -> dict[str, Any]:
    return {}


WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "two-step-verify": (_none, ["put", "delete"]),
    "two-step-enrol": (_none, ["put", "delete"]),
    "my-two-step": (_none, ["post", "put", "delete"]),
    "my-two-step-codes": (_none, ["get", "put", "delete"]),
    "my-two-step-off": (_none, ["get", "put", "delete"]),
}


def setup(cls: Any) -> None:
    """Nothing to build."""
