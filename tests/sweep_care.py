"""Sweep rows for the care pages (see tests/test_sweep.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

EXPECT: dict[str, dict[str, Any]] = {}
KWARGS: dict[str, Callable[[Any], dict[str, Any]]] = {}


def setup(cls: Any) -> None:
    """Create the care objects the rows above point at (an alert and a case on student_a1)."""
