"""Template helpers of the care pages: the navbar items, level badges, chronology lines, and the
care section of the student page (``{% load care %}{% student_care student %}``), which asks the
policy itself so that the student view needs to pass nothing but the student."""

from __future__ import annotations

from typing import Any

from django import template

from xinlian.access.policy import Cap, caps_of, caps_over_student
from xinlian.network.models import Student

from ..access import (
    chronology_for,
    guardian_contacts,
    is_centre_staff_for,
    may_report,
    reportable_students,
    sees_clinical,
    uses_alert_inbox,
    visible_cases,
)
from ..forms import FollowUpForm, RiskLevelForm
from ..models import (
    Case,
    CaseStatus,
    FollowUp,
    LevelSetting,
    RiskEntry,
    RiskLevel,
    TimelineEntry,
)

register = template.Library()

NEUTRAL_COLOUR = "#adb5bd"


def level_settings() -> dict[str, LevelSetting]:
    return LevelSetting.all_levels()


def entry_text(entry: TimelineEntry, levels: dict[str, LevelSetting] | None = None) -> str:
    return entry.render(levels)


@register.simple_tag
def care_nav(user: Any) -> dict[str, bool]:
    """Which care items the navbar offers (the policy's per-request post cache; ≤ 1 query)."""
    if not getattr(user, "is_authenticated", False):
        return {}
    caps = caps_of(user)
    risk = Cap.RISK in caps
    inbox = uses_alert_inbox(user)
    report = may_report(user)
    return {
        "report": report,
        "inbox": inbox,
        "register": risk,
        "cases": risk and user.kind == "staff",
        # The top bar stays short: people with an inbox reach the rest from the care sub-menu.
        "mine": report and not inbox,
    }


@register.inclusion_tag("care/_level.html")
def level_badge(level: str, levels: dict[str, LevelSetting] | None = None) -> dict[str, Any]:
    """A dot in the centre's colour and the level's name: readable whatever colour is chosen."""
    if level in ("red", "orange", "yellow"):
        setting = (levels or {}).get(level) or LevelSetting.for_level(level)
        return {"colour": setting.colour, "name": setting.display_name, "level": level}
    return {"colour": NEUTRAL_COLOUR, "name": dict(RiskLevel.choices).get(level, level),
            "level": level}


@register.simple_tag
def timeline_text(entry: TimelineEntry, levels: dict[str, LevelSetting] | None = None) -> str:
    return entry_text(entry, levels)


@register.filter
def colour_of(level: str, levels: dict[str, LevelSetting]) -> str:
    setting = levels.get(level) if levels else None
    return setting.colour if setting else NEUTRAL_COLOUR


@register.inclusion_tag("care/_student_care.html", takes_context=True)
def student_care(context: template.Context, student: Student, held: set[Cap] | None = None
                 ) -> dict[str, Any]:
    """The student page's care section: current level and what to do, the level's history,
    follow-ups, cases, the forms the reader may use, and the chronology at the reader's tier."""
    request = context["request"]
    user = request.user
    held = set(held) if held is not None else caps_over_student(user, student)
    if Cap.RISK not in held:
        return {"show": False}
    levels = level_settings()
    entry = RiskEntry.current_for(student)
    clinical = sees_clinical(held)
    chronology = [(e, entry_text(e, levels)) for e in chronology_for(request, student, held)[:100]]
    cases = list(visible_cases(user).filter(student=student).order_by("-opened_at")[:10])
    return {
        "show": True,
        "request": request,
        "student": student,
        "entry": entry,
        "levels": levels,
        "clinical": clinical,
        "history": list(RiskEntry.objects.filter(student=student).select_related("set_by")[:20]),
        "follow_ups": list(FollowUp.objects.filter(student=student).select_related("by")[:5]),
        "cases": cases,
        # One crisis case at a time (its existence is tier 2, like its chronology line).
        "open_case": Case.objects.filter(student=student).exclude(status=CaseStatus.CLOSED).exists(),
        "may_set_level": Cap.SCORES in held,
        "may_open_case": is_centre_staff_for(user, student),
        "may_report": reportable_students(user).filter(pk=student.pk).exists(),
        "level_form": RiskLevelForm(initial={"level": entry.level if entry else None},
                                    auto_id="id_risk_%s"),
        "follow_up_form": FollowUpForm(auto_id="id_fu_%s"),
        "chronology": chronology,
        # The 辅导员 and 班主任 make the calls (Cap.GUARDIANS). Holders of the case tier have the
        # student file's own guardians section (web), so they are not shown the list twice.
        "guardians": guardian_contacts(request, student, held) if Cap.CASE not in held else None,
        "next": request.get_full_path(),
    }
