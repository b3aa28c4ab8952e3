"""The verb that changes an alert level's name, colour and deadlines (care.LevelSetting).

The deadline is per step of the escalation ladder: an alert not acknowledged within it climbs
one rung, and the next rung gets the same time again. An alert already open keeps the deadline
it was given; the new one applies from its next step, and to every alert raised afterwards.
Who may change it: whoever keeps every school's centre settings
(:func:`xinlian.notify.actions.require_installation`)."""

from __future__ import annotations

import re
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from xinlian.access.policy import audit
from xinlian.lib.actions import Invalid
from xinlian.notify.actions import require_installation

from .models import DEFAULT_LEVELS, AlertStatus, Level, LevelSetting

HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
MAX_ACK_MINUTES = 30 * 24 * 60  # a month: beyond that an alert is no alert
MAX_FOLLOW_UP_DAYS = 365


def _whole(value: Any, low: int, high: int) -> int | None:
    raw = str(value if value is not None else "").strip()
    if not raw.isascii() or not raw.isdigit():
        return None
    number = int(raw)
    return number if low <= number <= high else None


def set_level(request: HttpRequest, level: Any, data: dict[str, Any]) -> LevelSetting:
    """Rename, recolour and re-time one level. ``ack_hours`` and ``ack_minutes`` together are
    the deadline of each escalation step."""
    require_installation(request, "settings.level")
    if level not in Level.values:
        raise Invalid(errors={"level": [str(_("Choose red, orange or yellow."))]})
    errors: dict[str, list[str]] = {}
    name = str(data.get("name", "") or "").strip()
    name_en = str(data.get("name_en", "") or "").strip()
    colour = str(data.get("colour", "") or "").strip().lower()
    for field, value in (("name", name), ("name_en", name_en)):
        if not value:
            errors[field] = [str(_("Enter a name."))]
        elif len(value) > 32:
            errors[field] = [str(_("At most 32 characters."))]
    if not HEX_COLOUR.fullmatch(colour):
        errors["colour"] = [str(_("Enter a colour as #rrggbb."))]
    hours = _whole(data.get("ack_hours", "0") or "0", 0, MAX_ACK_MINUTES // 60)
    minutes = _whole(data.get("ack_minutes", "0") or "0", 0, 59)
    if hours is None or minutes is None:
        errors["ack_minutes"] = [str(_("Enter whole hours (up to 720) and minutes (0 to 59)."))]
    elif not 1 <= hours * 60 + minutes <= MAX_ACK_MINUTES:
        errors["ack_minutes"] = [str(_("A step needs at least one minute and at most 30 days."))]
    follow_up = _whole(data.get("follow_up_days"), 1, MAX_FOLLOW_UP_DAYS)
    if follow_up is None:
        errors["follow_up_days"] = [str(_("Enter whole days from 1 to 365."))]
    if errors:
        raise Invalid(errors=errors)
    values = {"name": name, "name_en": name_en, "colour": colour,
              "ack_minutes": hours * 60 + minutes, "follow_up_days": follow_up}  # type: ignore[operator]
    with transaction.atomic():
        setting = LevelSetting.objects.select_for_update().filter(level=level).first()
        before = setting.ack_minutes if setting else DEFAULT_LEVELS[level]["ack_minutes"]
        setting, _created = LevelSetting.objects.update_or_create(level=level, defaults=values)
        audit(request, "settings.level", setting,
              detail=f"ack_minutes {before}->{setting.ack_minutes}; follow_up_days {setting.follow_up_days}")
    return setting


def open_alert_counts() -> dict[str, int]:
    """How many alerts of each level are open now (they keep their current deadline)."""
    from django.db.models import Count

    from .models import Alert

    rows = Alert.objects.filter(status=AlertStatus.OPEN).values("level").annotate(n=Count("pk"))
    return {r["level"]: r["n"] for r in rows}
