from __future__ import annotations

from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.translation import gettext

from xinlian.access.policy import active_posts_of

from .. import actions
from ..models import ORGANISER_ROLES

register = template.Library()


@register.simple_tag
def training_nav(user: Any) -> bool:
    """Whether the menu offers the training pages: anyone with a post (each post holder has
    trainings of their own). The policy's per-request post cache: no query."""
    if not getattr(user, "is_authenticated", False):
        return False
    return bool(active_posts_of(user))


@register.simple_tag
def training_status(user: Any, unit: Any) -> dict[tuple[str, str], bool]:
    """(role, name) → trained for the posts at ``unit`` that need pre-service training; empty,
    without a query, for someone who does not oversee training."""
    if not getattr(user, "is_authenticated", False) or unit is None:
        return {}
    if not any(p.role in ORGANISER_ROLES for p in active_posts_of(user)):
        return {}
    return actions.status_at(user, unit)


@register.simple_tag
def training_badge(status: dict[tuple[str, str], bool], role: str, name: str) -> str:
    """A small "trained" / "not yet trained" badge beside a post holder's name."""
    trained = status.get((role, name)) if status else None
    if trained is None:
        return ""
    if trained:
        return format_html('<span class="badge text-bg-success xl-trained" data-trained="1">{}</span>',
                           gettext("trained"))
    return format_html('<span class="badge text-bg-warning xl-trained" data-trained="0">{}</span>',
                       gettext("not yet trained"))
