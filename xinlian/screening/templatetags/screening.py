"""Navbar items of the screening pages (``{% load screening %}{% screening_nav user as snav %}``)."""

from __future__ import annotations

from typing import Any

from django import template

from xinlian.access.policy import Cap, caps_of

from ..access import managed_schools

register = template.Library()


@register.simple_tag
def screening_nav(user: Any) -> dict[str, bool]:
    """Which screening items the navbar offers, from the policy's per-request post cache (no
    query of its own): students take screenings; people who follow students up see campaigns;
    readers of results (centre staff, 辅导员) see the interview list."""
    if not getattr(user, "is_authenticated", False):
        return {}
    caps = caps_of(user)
    return {
        "mine": user.kind == "student",
        "campaigns": Cap.RISK in caps or bool(managed_schools(user)),
        "interviews": Cap.SCORES in caps,
    }
