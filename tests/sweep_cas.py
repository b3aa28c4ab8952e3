"""Sweep rows for campus CAS single sign-on (tests/test_sweep.py). The sweep runs with CAS off,
as a fresh install is: its login address is then a 404 for everyone; with CAS on it is tested
against a real CAS server in tests/test_sso_cas.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.test_sweep import row

EXPECT: dict[str, dict[str, Any]] = {
    "cas-login": row(404, 404),
}

KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {}


def _none(t: Any) -> dict[str, Any]:
    return {}


WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "cas-login": (_none, ["put", "patch", "delete"]),
}


def setup(cls: Any) -> None:
    """No fixtures."""
