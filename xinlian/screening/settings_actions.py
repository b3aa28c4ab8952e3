"""The verb that sets a school's help resources and hotline (screening.CentreSettings): what a
student sees after a screening, what the urgent path offers to call.

Scope: the schools of the centre's keepers (:func:`xinlian.notify.actions.centre_schools`); a
school outside it is missing (NotFound). Every number is checked before anything is written."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from xinlian.access.models import AuditResult
from xinlian.access.policy import audit
from xinlian.lib.actions import Invalid, NotFound
from xinlian.lib.converters import parse_id
from xinlian.network.models import Unit
from xinlian.notify.actions import phone_error, require_centre

from .models import NATIONAL_HOTLINE, CentreSettings, clear_local_cache

HELP_FIELDS = ("help_phone", "help_hours", "help_place", "help_text", "hotline")
MAX_LENGTHS = {"help_phone": 64, "help_hours": 128, "help_place": 128, "help_text": 2000, "hotline": 32}


def school_for(request: HttpRequest, school_id: Any) -> Unit:
    """One of the actor's schools, by id; NotFound (audited) for any other."""
    schools = require_centre(request, "settings.help")
    pk = school_id if isinstance(school_id, int) else parse_id(school_id)
    school = next((s for s in schools if s.pk == pk), None)
    if school is None:
        audit(request, "settings.help", object_type="network.unit", object_id=str(school_id)[:64],
              result=AuditResult.DENIED)
        raise NotFound
    return school


def set_help(request: HttpRequest, school_id: Any, data: dict[str, Any]) -> CentreSettings:
    """The school's centre phone, opening hours, place, other help, and the hotline."""
    school = school_for(request, school_id)
    values = {name: str(data.get(name, "") or "").strip() for name in HELP_FIELDS}
    errors: dict[str, list[str]] = {}
    for name, limit in MAX_LENGTHS.items():
        if len(values[name]) > limit:
            errors[name] = [str(_("At most %(n)d characters.") % {"n": limit})]
    if values["help_phone"] and "help_phone" not in errors:
        problem = phone_error(values["help_phone"], service=True)
        if problem:
            errors["help_phone"] = [problem]
    if not values["hotline"]:
        values["hotline"] = NATIONAL_HOTLINE  # never empty: the thank-you page always shows one
    elif "hotline" not in errors:
        problem = phone_error(values["hotline"], service=True)
        if problem:
            errors["hotline"] = [problem]
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        settings, _created = CentreSettings.objects.update_or_create(school=school, defaults=values)
        audit(request, "settings.help", school,
              detail=",".join(n for n in HELP_FIELDS if values[n]))
    clear_local_cache()
    return settings
