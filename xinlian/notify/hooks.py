"""Questions notify asks the apps above it, answered by callables they register in ``ready()``
(notify never imports them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_alert_is_open: Callable[[int], bool] | None = None


def register_alert_is_open(check: Callable[[int], bool]) -> None:
    """care answers whether an alert still waits for its acknowledgement."""
    global _alert_is_open
    _alert_is_open = check


def alert_is_open(alert_id: int) -> bool:
    # Nobody answering: send (a needless message is better than a missing one).
    return True if _alert_is_open is None else bool(_alert_is_open(alert_id))


_inbox_summaries: Callable[[Any, list[Any]], dict[int, Any]] | None = None


def register_inbox_summaries(describe: Callable[[Any, list[Any]], dict[int, Any]]) -> None:
    """care describes the alerts behind inbox messages (level, status, and what it is about where
    the reader may know it), keyed by delivery id."""
    global _inbox_summaries
    _inbox_summaries = describe


def inbox_summaries(request: Any, deliveries: list[Any]) -> dict[int, Any]:
    # Nobody answering: each message shows what it says, nothing more.
    return {} if _inbox_summaries is None else _inbox_summaries(request, deliveries)
