"""Per-user limits on the actions that raise alerts (report a concern, submit a screening), so
that one account cannot flood the network. Enforced in the verbs, so the page and the API share
them.

What is counted is what the action wrote: the verb counts its own rows of the last hour in the
database (the concerns a user reported, the screenings they submitted), which every server
process shares and which no restart forgets — no extra table and no extra write. A refusal is a
:class:`TooMany` (429 on the API; the pages show its text by the form) and an audit row."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from xinlian.lib.actions import Conflict

from .models import AuditResult
from .policy import audit


class TooMany(Conflict):
    """Refused for now: the user did this too often in the last hour."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: Any, *, obj: Any = None) -> None:
        super().__init__(message, obj=obj)


def refuse(request: HttpRequest, action: str, *, used: int, limit: int, obj: Any = None,
           extra: str = "", message: Any = None) -> TooMany:
    """Write the audit row of a refusal and return the exception for the verb to raise (outside
    any transaction that would roll the row back)."""
    user = request.user
    audit(request, f"ratelimit.{action}", object_type="network.user", object_id=str(user.pk),
          result=AuditResult.DENIED, detail=f"{used}/{limit} per hour{extra}")
    text = ngettext("You have done this %(n)d time in the last hour, the most allowed. Please "
                    "try again later.",
                    "You have done this %(n)d times in the last hour, the most allowed. Please "
                    "try again later.", used) % {"n": used}
    return TooMany(message or text, obj=obj)


def concern_refusal(request: HttpRequest, *, used: int, limit: int, urgent: bool) -> TooMany:
    exc = refuse(request, "concern", used=used, limit=limit, extra=" urgent" if urgent else "")
    if not urgent:
        exc.message = _("You have reported %(n)d concerns in the last hour, the most allowed. If a "
                        "student is in danger now, report it as “Urgent — now” or call the duty "
                        "line.") % {"n": used}
    else:
        exc.message = _("You have reported %(n)d concerns in the last hour, the most allowed. If a "
                        "student is in danger now, call the duty line, or 120 or 110.") % {"n": used}
    return exc
