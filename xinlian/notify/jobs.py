"""The worker's job list. Higher apps register their periodic jobs here in ``ready()``, so the
worker (in the lower ``notify`` app) runs them without importing those apps."""

from __future__ import annotations

from collections.abc import Callable

from django.db import close_old_connections

from .sending import send_due

JOBS: list[tuple[str, Callable[[], int]]] = [("deliveries", send_due)]


def register(name: str, job: Callable[[], int]) -> None:
    if all(n != name for n, _ in JOBS):
        JOBS.insert(0, (name, job))  # deadlines first: they write the deliveries sent after them


def run_all() -> dict[str, int]:
    """One pass over every job; returns how much each did."""
    close_old_connections()
    return {name: job() for name, job in JOBS}
