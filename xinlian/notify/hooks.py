"""Questions notify asks the apps above it, answered by callables they register in ``ready()``
(notify never imports them)."""

from __future__ import annotations

from collections.abc import Callable

_alert_is_open: Callable[[int], bool] | None = None


def register_alert_is_open(check: Callable[[int], bool]) -> None:
    """care answers whether an alert still waits for its acknowledgement."""
    global _alert_is_open
    _alert_is_open = check


def alert_is_open(alert_id: int) -> bool:
    # Nobody answering: send (a needless message is better than a missing one).
    return True if _alert_is_open is None else bool(_alert_is_open(alert_id))
