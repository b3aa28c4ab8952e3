"""Small template helpers for the web pages: what the navbar may offer, durations in minutes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template

from xinlian.access.backoffice import may_use_back_office
from xinlian.access.policy import Cap, active_posts_of, caps_of

register = template.Library()


@register.simple_tag
def nav_for(user: Any) -> dict[str, bool]:
    """Which navbar items the user's posts allow (uses the policy's per-request post cache)."""
    if not getattr(user, "is_authenticated", False):
        return {}
    caps = caps_of(user)
    return {
        "network": bool(caps & {Cap.ROSTER, Cap.STATS}),
        # A student with no post has no duties: the item would only lead to an empty page.
        "my_posts": user.kind != "student" or bool(active_posts_of(user)),
        "roster_import": Cap.IMPORT_ROSTER in caps,
        # The back office lets in whom the policy lets in; the is_staff flag means nothing there.
        "admin": may_use_back_office(user),
    }


@register.filter
def minutes(value: Any) -> int:
    """A timedelta (or seconds) as whole minutes, rounded up: “try again in 15 minutes”."""
    if isinstance(value, dt.timedelta):
        seconds = value.total_seconds()
    else:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            return 0
    return int(-(-seconds // 60))
