"""The one-tap acknowledgement link of a personal message (WeCom, DingTalk, SMS).

``/care/t/<token>/``: after login (and back), the link acknowledges the alert through the one
verb (:func:`xinlian.care.actions.acknowledge_alert`) as the person signed in, and opens the
alert. The token (:mod:`xinlian.notify.onetap`) is signed, short-lived, bound to its recipient
and used once. An expired link, a second use, someone else's link or a token that is not ours
acknowledges nothing: the page says why in both languages, an audit row records the refusal,
and the alert's page is linked when the reader may open it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from xinlian.access.models import AuditResult
from xinlian.access.policy import audit
from xinlian.lib.actions import Conflict, NotAllowed, NotFound
from xinlian.notify.onetap import OneTapError, OneTapExpired, claim, read_token

from . import actions
from .access import visible_alerts

ACTION = "alert.onetap"
REFUSALS = {
    "expired": (410, gettext_noop("This acknowledgement link has expired. Open the alert and "
                                  "acknowledge it there.")),
    "used": (410, gettext_noop("This acknowledgement link has already been used. Each link "
                               "works once.")),
    "other_user": (403, gettext_noop("This acknowledgement link was sent to someone else and "
                                     "does not work for your account.")),
    "invalid": (400, gettext_noop("This acknowledgement link is not valid. Copy the whole link, "
                                  "or open the alert from your inbox.")),
}


def _refused(request: HttpRequest, reason: str, alert_id: int | None) -> HttpResponse:
    status, msgid = REFUSALS[reason]
    audit(request, ACTION, object_type="care.alert",
          object_id=str(alert_id) if alert_id is not None else "unknown",
          result=AuditResult.DENIED, detail=f"one-tap link refused: {reason}")
    alert = (visible_alerts(request.user).filter(pk=alert_id).first()  # type: ignore[arg-type]
             if alert_id is not None else None)
    texts = []
    for language in ("zh-hans", "en"):
        with translation.override(language):
            texts.append((language, _(msgid)))
    return render(request, "care/onetap_refused.html",
                  {"texts": texts, "alert": alert}, status=status)


@require_GET
@never_cache
@login_required
def alert_onetap(request: HttpRequest, token: str) -> HttpResponse:
    try:
        tap = read_token(token)
    except OneTapExpired as exc:
        return _refused(request, "expired", exc.tap.alert_id)  # type: ignore[attr-defined]
    except OneTapError:
        return _refused(request, "invalid", None)
    if tap.user_id != request.user.pk:
        return _refused(request, "other_user", tap.alert_id)
    if not claim(tap):
        return _refused(request, "used", tap.alert_id)
    try:
        alert = actions.acknowledge_alert(request, tap.alert_id)
    except Conflict as exc:  # acknowledged already (by someone else, or on the page)
        messages.info(request, exc.text)
        return redirect("alert-detail", pk=tap.alert_id)
    except (NotFound, NotAllowed):
        # The verb wrote its refusal's audit row; the link acknowledges nothing.
        messages.warning(request, _("This alert is not yours to acknowledge."))
        return _refused_scope(request, tap.alert_id)
    messages.success(request, _("Alert acknowledged. Decide what happens next below."))
    return redirect(alert.get_absolute_url())


def _refused_scope(request: HttpRequest, alert_id: int) -> HttpResponse:
    if visible_alerts(request.user).filter(pk=alert_id).exists():  # type: ignore[arg-type]
        return redirect("alert-detail", pk=alert_id)
    return redirect("alert-inbox")
