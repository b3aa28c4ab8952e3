"""Sweep rows for OpenID Connect single sign-on (tests/test_sweep.py). The sweep runs with OIDC off,
as a fresh install is: its two addresses are then a 404 for everyone; with OIDC on they are tested
against a real provider in tests/test_sso_oidc.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.test_sweep import row

EXPECT: dict[str, dict[str, Any]] = {
    "oidc-login": row(404, 404),
    "oidc-callback": row(404, 404),
}

KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {}


def _none(t: Any) -> dict[str, Any]:
    return {}


WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "oidc-login": (_none, ["put", "patch", "delete"]),
    "oidc-callback": (_none, ["put", "patch", "delete"]),
}


def setup(cls: Any) -> None:
    """No fixtures."""
