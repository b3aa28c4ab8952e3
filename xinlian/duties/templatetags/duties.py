from __future__ import annotations

from typing import Any

from django import template

from xinlian.access.policy import active_posts_of

from ..models import COMPLETENESS_ROLES, REPORT_ROLES

register = template.Library()


@register.simple_tag
def duties_nav(user: Any) -> bool:
    """Whether the navbar offers the report pages: reporters, reviewers and whoever sees the
    completeness tables (the policy's per-request post cache: no query of its own)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return any(p.role in REPORT_ROLES or p.role in COMPLETENESS_ROLES for p in active_posts_of(user))
