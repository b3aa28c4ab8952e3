"""Sweep rows for a person's API tokens: the page /me/tokens/ and /api/v1/me/tokens/ (see
tests/test_sweep.py and tests/test_access_trio.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.test_sweep import API, LOGIN, row

EXPECT: dict[str, dict[str, Any]] = {
    "my-tokens": row(200, LOGIN),  # every signed-in person keeps their own
    "my-tokens-revoke-all": row(405, 405),  # POST only
    "my-token-revoke": row(405, 405),  # POST only
    "api:my-tokens": row(200, API),
    "api:my-token": row(405, API),  # DELETE only
    "api:auth-logout": row(405, API),  # POST only, with a token
}


def _unknown_token(t: Any) -> dict[str, Any]:
    return {"token_id": "0" * 18}


KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "my-token-revoke": _unknown_token,
    "api:my-token": _unknown_token,
}


def _none(t: Any) -> dict[str, Any]:
    return {}


WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "my-tokens": (_none, ["put", "delete"]),
    "my-tokens-revoke-all": (_none, ["get", "put", "delete"]),
    "my-token-revoke": (_unknown_token, ["get", "put", "delete"]),
    "api:my-tokens": (_none, ["put", "patch"]),
    "api:my-token": (_unknown_token, ["get", "post", "put", "patch"]),
    "api:auth-logout": (_none, ["get", "put", "delete"]),
}


def setup(cls: Any) -> None:
    """Nothing to build: each persona has no token until a test makes one."""
