from __future__ import annotations

from typing import Any

from django import template

from xinlian.access.policy import PEER_ROLES, active_posts_of

from ..models import MINUTES_ROLES, PLAN_READER_ROLES

register = template.Library()


@register.simple_tag
def planning_nav(user: Any) -> str:
    """Where the account menu's planning entry leads: the plans for the leadership group and
    the centre staff, "my tasks and action items" for other staff with a post (a task or an
    action item may be theirs), nothing for students. Read from the policy's per-request post
    cache: no query of its own on every page."""
    if not getattr(user, "is_authenticated", False):
        return ""
    roles = {p.role for p in active_posts_of(user)}
    if roles & (PLAN_READER_ROLES | MINUTES_ROLES):
        return "plans"
    if roles - PEER_ROLES and getattr(user, "kind", "") != "student":
        return "mine"
    return ""
