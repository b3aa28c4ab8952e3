from __future__ import annotations

from typing import Any

from django import template

from xinlian.access.policy import active_posts_of

from ..actions import SEER_ROLES

register = template.Library()


@register.simple_tag
def activities_nav(user: Any) -> bool:
    """Whether the menu offers the activity pages: the centre, colleges and the units' people
    who record activities (the policy's per-request post cache: no query of its own)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return any(p.role in SEER_ROLES for p in active_posts_of(user))
