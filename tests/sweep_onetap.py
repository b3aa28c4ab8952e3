"""Sweep rows for the one-tap acknowledgement link (see tests/test_sweep.py).

The swept link was sent to a person who is none of the personas: for every persona it is
someone else's link (403, nothing acknowledged); a visitor is sent to log in first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.test_sweep import LOGIN, row

EXPECT: dict[str, dict[str, Any]] = {
    "alert-onetap": row(403, LOGIN),
}


def _token(t: Any) -> dict[str, Any]:
    from xinlian.notify.onetap import make_token

    return {"token": make_token(999999, t.onetap_owner.pk)}


KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {"alert-onetap": _token}

# For tests/test_access_trio.py: methods each URL must refuse with 405 (sent as the director).
WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "alert-onetap": (_token, ["post", "put", "delete"]),
}


def setup(cls: Any) -> None:
    from tests.base import make_staff

    cls.onetap_owner = make_staff("T9990", "值班老师")
