from __future__ import annotations

from typing import Any

from django import template

from ..access import is_counselling_staff

register = template.Library()


@register.simple_tag
def counseling_nav(user: Any) -> str:
    """Where the navbar offers counselling: "main" for students (who book) and counselling staff
    (whose daily work it is), "menu" under the name for other staff (who may book as clients but
    open it now and then), "" when logged out. The policy's cached posts: no query of its own."""
    if not getattr(user, "is_authenticated", False):
        return ""
    if getattr(user, "kind", "") == "student" or is_counselling_staff(user):
        return "main"
    return "menu"


@register.simple_tag
def in_counselling_ids(rows: Any) -> set[int]:
    """For care's register rows and case page (students on the register or in a case only): the
    ids of those in counselling now (one query), shown as "in counselling" — never more.
    ``rows``: register entries (anything with ``student_id``) or one student."""
    from ..access import in_counselling

    if rows is None:
        return set()
    if hasattr(rows, "klass_id"):  # one student
        return in_counselling([rows.pk])
    return in_counselling([getattr(r, "student_id", None) for r in rows])
