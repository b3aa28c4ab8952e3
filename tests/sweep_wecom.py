"""Sweep rows for 企业微信 (WeCom) and 钉钉 (DingTalk) login (tests/test_sweep.py). The sweep runs
with both off, as a fresh install is: their addresses are then a 404 for everyone; with them on
they are tested against local API servers in tests/test_sso_wecom.py and test_sso_dingtalk.py."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.test_sweep import row

EXPECT: dict[str, dict[str, Any]] = {
    "wecom-login": row(404, 404),
    "wecom-callback": row(404, 404),
    "dingtalk-login": row(404, 404),
    "dingtalk-callback": row(404, 404),
}

KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {}


def _none(t: Any) -> dict[str, Any]:
    return {}


WRONG_METHODS: dict[str, tuple[Callable[[Any], dict[str, Any]], list[str]]] = {
    "wecom-login": (_none, ["put", "patch", "delete"]),
    "wecom-callback": (_none, ["put", "patch", "delete"]),
    "dingtalk-login": (_none, ["put", "patch", "delete"]),
    "dingtalk-callback": (_none, ["put", "patch", "delete"]),
}


def setup(cls: Any) -> None:
    """No fixtures."""
