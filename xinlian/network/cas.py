"""Campus single sign-on over CAS 2.0/3.0 (统一身份认证): the ticket's validation and mapping.

Built on django-cas-ng (with python-cas, its protocol client) rather than by hand. Weighed
against a small hand-written client (one GET to ``serviceValidate`` and an XML parse): the
library is kept up (5.1.1 of 2026-05, declares Django 5.2), and it brings what a hand-written
client would have to grow and get right: the login and logout URLs of each protocol version,
the attribute parsing of CAS 2 and 3, the ``logoutRequest`` of single logout, and a table of
service tickets by session (its ``SessionTicket``) so that a single-logout request ends the
right session. Where its defaults break Xinlian's rules it is overridden, not forked:

* it creates users (``CAS_CREATE_USER`` defaults to True): set False in settings, and this
  backend's ``authenticate`` never reaches its creation code anyway;
* its backend answers ``None`` for every failure, so a page could not say why: here a refusal
  is ``network.sso``'s :class:`~xinlian.network.sso.Refused` with its audit row, and the one
  mapping rule (:func:`~xinlian.network.sso.user_for_external_id`) decides who it is;
* python-cas waits for the CAS server without a time limit: its HTTP session gets one here
  (``CAS_TIMEOUT``), so a server that is down costs a person seconds, not a hung worker.

A replayed or forged ticket is refused by the CAS server itself (a service ticket validates
once, for the service it was issued to); this backend turns that answer into "invalid"."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import ParseError

import requests
from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django_cas_ng.backends import CASBackend as LibraryCASBackend
from django_cas_ng.utils import get_cas_client

from .models import User
from .sso import refuse, user_for_external_id

METHOD = "cas"


def enabled() -> bool:
    return bool(settings.CAS_SERVER_URL)


class _TimedSession(requests.Session):
    """python-cas's HTTP session, with a time limit on every call to the CAS server."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", settings.CAS_TIMEOUT)
        return super().request(*args, **kwargs)


def client(request: HttpRequest | None, service_url: str | None = None) -> Any:
    """django-cas-ng's client for the configured server, with the time limit."""
    cas = get_cas_client(service_url=service_url, request=request)
    cas.session = _TimedSession()
    return cas


def _number(user: str | None, attributes: dict[str, Any] | None) -> tuple[str, str]:
    """(the number to map, the id to name in a refusal) from the CAS server's answer."""
    attribute = settings.CAS_NUMBER_ATTRIBUTE
    if not attribute:
        return user or "", user or ""
    value = (attributes or {}).get(attribute)
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value or ""), str(value or user or "")


class CASBackend(LibraryCASBackend):
    """A CAS service ticket in, the roster's person out, or :class:`~xinlian.network.sso.Refused`.

    Its ``get_user`` is Django's ``ModelBackend``'s: a session made through CAS is looked up like
    any other (and an account switched off later is logged out like any other)."""

    def authenticate(self, request: HttpRequest | None, ticket: str,  # type: ignore[override]
                     service: str) -> User | None:
        if not enabled():
            return None
        cas = client(request, service)
        try:
            user, attributes, _pgtiou = cas.verify_ticket(ticket)
        except requests.RequestException as exc:  # refused, timed out, TLS, ...
            raise refuse(request, METHOD, "unavailable") from exc
        except (ParseError, IndexError, AttributeError) as exc:  # not a CAS answer at all
            raise refuse(request, METHOD, "unavailable") from exc
        if not user:  # INVALID_TICKET and friends: used already, expired, forged, other service
            raise refuse(request, METHOD, "invalid")
        number, named = _number(user, attributes)
        if not number:  # the attribute that carries the number is missing from the answer
            raise refuse(request, METHOD, "invalid", named)
        return user_for_external_id(request, METHOD, number)


def button_label() -> Any:
    """The login page's button: the school's own words if set, else 校园统一身份认证登录."""
    return settings.CAS_BUTTON_LABEL or _("Log in with campus single sign-on")
