"""Password guessing from one address across many accounts: slowed, then blocked.

django-axes locks a *user and address* pair after ``AXES_FAILURE_LIMIT`` failures. That stops
guessing one account's password, not one address trying a few passwords on each of thousands of
accounts. This handler (``AXES_HANDLER``) adds a second rule, counted in the database
(axes' ``AccessFailureLog``, one row per failure, shared by every server process):

- after ``LOGIN_IP_SLOW_AFTER`` failures from one address within ``LOGIN_IP_WINDOW``, that
  address waits ``LOGIN_IP_SLOW_SECONDS`` after each failure before it may try again (slowed);
- after ``LOGIN_IP_FAILURE_LIMIT`` failures within the window it is refused until the oldest of
  them leaves the window (blocked), whatever account it names, the right password included.

Addresses in ``LOGIN_TRUSTED_NETWORKS`` (a school's own NAT, where thousands of students share
one address) are exempt from the address rule only; the per-account lockout still applies.
The refusal is axes' own lockout (the web page is :func:`lockout_response`, 429; the token
login answers it itself)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from functools import lru_cache
from typing import Any

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from axes.models import AccessFailureLog
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

SLOWED = "slowed"
BLOCKED = "blocked"


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in spec)


def trusted(ip: str | None) -> bool:
    nets = _networks(tuple(settings.LOGIN_TRUSTED_NETWORKS))
    if not ip or not nets:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in net for net in nets)


def address_key(ip: str | None) -> str | None:
    """The address failures are counted by: an IPv4 address itself, an IPv6 address as its /64
    network (one home or phone line holds a whole /64 and picks addresses in it at will, so
    counting each address would let one guesser try 2^64 times as often)."""
    if not ip:
        return ip
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address)
    return str(address)


def client_address(request: HttpRequest) -> str | None:
    """``AXES_CLIENT_IP_CALLABLE``: the address axes records and locks out by, grouped by
    :func:`address_key`, so both of its rules and this module's count a /64 as one address."""
    return address_key(request.META.get("REMOTE_ADDR"))


def address_refusal(ip: str | None, now: dt.datetime | None = None) -> tuple[str, int] | None:
    """``(SLOWED, seconds to wait)`` or ``(BLOCKED, seconds to wait)`` for an address that must
    not try a password now; None when it may."""
    if not ip or trusted(ip):
        return None
    now = now or timezone.now()
    window: dt.timedelta = settings.LOGIN_IP_WINDOW
    recent = AccessFailureLog.objects.filter(ip_address=ip, attempt_time__gte=now - window)
    times = list(recent.order_by("-attempt_time").values_list("attempt_time", flat=True)
                 [:settings.LOGIN_IP_FAILURE_LIMIT])
    if not times or len(times) < settings.LOGIN_IP_SLOW_AFTER:
        return None
    if len(times) >= settings.LOGIN_IP_FAILURE_LIMIT:
        # Blocked until the oldest of the last LIMIT failures leaves the window.
        return BLOCKED, max(1, int((times[-1] + window - now).total_seconds()))
    wait = times[0] + dt.timedelta(seconds=settings.LOGIN_IP_SLOW_SECONDS) - now
    if wait.total_seconds() > 0:
        return SLOWED, max(1, int(wait.total_seconds()) + 1)
    return None


class AddressThrottleHandler(AxesDatabaseHandler):
    """axes' database handler; an address over its limit counts as locked out."""

    def get_failures(self, request: HttpRequest, credentials: dict | None = None) -> int:
        failures = super().get_failures(request, credentials)
        refusal = address_refusal(getattr(request, "axes_ip_address", None))
        if refusal is None:
            return failures
        request.xinlian_address_refusal = refusal  # type: ignore[attr-defined]
        return max(failures, get_failure_limit(request, credentials))


def refusal_text(request: HttpRequest) -> str:
    """The one-line refusal for the token login (translated, no account named)."""
    refusal = getattr(request, "xinlian_address_refusal", None)
    if refusal is None:
        return _("Too many failed logins; try again later.")
    kind, seconds = refusal
    minutes = max(1, (seconds + 59) // 60)
    if kind == SLOWED:
        return ngettext("Too many failed logins from this network address: wait %(n)d second "
                        "before the next try.",
                        "Too many failed logins from this network address: wait %(n)d seconds "
                        "before the next try.", seconds) % {"n": seconds}
    return ngettext("Too many failed logins from this network address: logins from it are "
                    "blocked for %(n)d minute.",
                    "Too many failed logins from this network address: logins from it are "
                    "blocked for %(n)d minutes.", minutes) % {"n": minutes}


def lockout_response(request: HttpRequest, original_response: HttpResponse | None = None,
                     credentials: dict | None = None) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: the address page when the address rule refused, else the
    account page axes would have shown (same template and context)."""
    status = settings.AXES_HTTP_RESPONSE_CODE
    refusal = getattr(request, "xinlian_address_refusal", None)
    if refusal is not None:
        kind, seconds = refusal
        return render(request, "registration/locked_out_address.html", {
            "slowed": kind == SLOWED, "seconds": seconds,
            "minutes": max(1, (seconds + 59) // 60),
        }, status=status)
    context: dict[str, Any] = {
        "failure_limit": get_failure_limit(request, credentials),
        "username": get_client_username(request, credentials) or "",
    }
    cool_off = get_cool_off(request)
    if cool_off:
        context["cooloff_timedelta"] = cool_off
    return render(request, settings.AXES_LOCKOUT_TEMPLATE, context, status=status)
