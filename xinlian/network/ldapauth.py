"""LDAP bind: the school's directory answers the password form on /login/.

Why ldap3 and a small backend, and not django-auth-ldap or django-python3-ldap:

- django-auth-ldap (5.x, well kept) sits on python-ldap, which PyPI ships only as source: it
  compiles against libldap2-dev and libsasl2-dev, so ``make demo`` would need a compiler and
  system headers. A runtime dependency here must install from a wheel.
- django-python3-ldap (pure Python, on ldap3) creates or updates a Django user for every
  successful bind (``update_or_create``) and turns "server down" into "wrong password" (it logs
  and returns None). Xinlian never creates people from a login, maps ids by one rule
  (``network.sso``) and must tell a person that the directory cannot be reached.
- ldap3 (pure Python, a wheel, strictly RFC 4511, used by both above and by many others) gives
  what is needed in about a hundred lines: bind as the person by a DN template, or search with
  a service account and then bind, StartTLS or ldaps:// with certificate checking, connect and
  receive timeouts. Its last release is from 2021; the protocol it speaks does not move, and
  the tests run it against a real OpenLDAP ``slapd`` (tests/ldap_server.py) so that a change
  that breaks it shows.

The order of the backends (settings.AUTHENTICATION_BACKENDS): axes first (a locked-out number
or address is refused before any password is checked; every failure here is counted), then the
local password (Django's ModelBackend), then this one. Local first because the accounts with a
Xinlian password are the back office and the demo: they get in without touching the directory
and without waiting out its timeout when it is down. People imported from the roster have no
usable local password, so for them the local check fails at once and the directory answers.

What a person sees (the password form, ``login_refusal`` read by ``web.views.LoginForm``):

- number unknown to the directory, or a wrong password: the usual "number and password do not
  match" message (nothing says whether the number exists anywhere);
- the directory accepts the password but Xinlian's roster has nobody with that id (or the
  person is switched off or has graduated): the mapping rule's refusal, with its audit row;
  nobody is created;
- the directory cannot be reached (connection refused, timeout, a TLS failure): a message that
  the school directory cannot be reached, and an ``identity.sso_refused`` row with
  ``reason=unavailable``. Local passwords keep working.

Neither passwords nor anything the directory returns beyond the id attribute are kept or
logged; the audit row of an unreachable directory holds the typed number only when it is a
number Xinlian knows (a person may type their password into the number field)."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import BaseBackend
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ldap3 import ANONYMOUS, BASE, NONE, SIMPLE, SUBTREE, Connection, Server, Tls
from ldap3.core.exceptions import LDAPException
from ldap3.core.results import RESULT_BUSY, RESULT_UNAVAILABLE
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from .models import User
from .sso import Refused, logged_in, refuse, user_for_external_id

METHOD = "ldap"
BACKEND = f"{__name__}.LDAPBackend"
logger = logging.getLogger(__name__)

# On the login page when the directory does not answer; REASONS["unavailable"] is worded for
# the single sign-on pages, this one for the password form.
UNAVAILABLE = _("The school directory (LDAP) cannot be reached right now, so your school "
                "password could not be checked. Please try again in a few minutes. Accounts "
                "with their own Xinlian password can still log in.")

_REFUSAL = "_xinlian_ldap_refusal"


class DirectoryUnavailable(Exception):
    """The directory did not answer: refused connection, timeout, TLS failure, busy."""


@dataclass(frozen=True, slots=True)
class LdapConfig:
    url: str
    user_dn_template: str
    search_base: str
    search_filter: str
    bind_dn: str
    bind_password: str
    id_attribute: str
    start_tls: bool
    ca_file: str
    timeout: int


def config() -> LdapConfig | None:
    """The settings of the directory, or None when LDAP is off (XINLIAN_LDAP_URL empty)."""
    if not settings.LDAP_URL:
        return None
    return LdapConfig(
        url=settings.LDAP_URL, user_dn_template=settings.LDAP_USER_DN_TEMPLATE,
        search_base=settings.LDAP_SEARCH_BASE, search_filter=settings.LDAP_SEARCH_FILTER,
        bind_dn=settings.LDAP_BIND_DN, bind_password=settings.LDAP_BIND_PASSWORD,
        id_attribute=settings.LDAP_ID_ATTRIBUTE, start_tls=settings.LDAP_START_TLS,
        ca_file=settings.LDAP_CA_FILE, timeout=settings.LDAP_TIMEOUT,
    )


def _server(cfg: LdapConfig) -> Server:
    tls = None
    if cfg.start_tls or cfg.url.lower().startswith("ldaps://"):
        # The certificate is checked against the system's CAs or XINLIAN_LDAP_CA_FILE, and its
        # name against the URL's host: a password never goes to a directory that cannot prove it.
        tls = Tls(validate=ssl.CERT_REQUIRED, version=ssl.PROTOCOL_TLS_CLIENT,
                  ca_certs_file=cfg.ca_file or None)
    return Server(cfg.url, get_info=NONE, tls=tls, connect_timeout=cfg.timeout)


def _close(conn: Connection) -> None:
    try:
        conn.unbind()
    except (LDAPException, OSError):
        pass  # a connection the server or TLS already dropped


def _bound(cfg: LdapConfig, dn: str | None, password: str | None) -> Connection | None:
    """A connection bound as ``dn`` (anonymously when None), or None when the directory says
    the credentials are wrong. DirectoryUnavailable when it cannot be asked."""
    conn = Connection(_server(cfg), user=dn, password=password,
                      authentication=SIMPLE if dn else ANONYMOUS, auto_bind=False,
                      receive_timeout=cfg.timeout, raise_exceptions=False, read_only=True)
    try:
        conn.open()
        if cfg.start_tls and not conn.start_tls():
            raise DirectoryUnavailable("StartTLS refused")
        if conn.bind():
            return conn
        code = (conn.result or {}).get("result")
    except (LDAPException, OSError) as exc:
        _close(conn)
        raise DirectoryUnavailable(type(exc).__name__) from None
    _close(conn)
    if code in (RESULT_BUSY, RESULT_UNAVAILABLE):
        raise DirectoryUnavailable(f"result {code}")
    return None


def _first(entry: dict[str, Any], attribute: str) -> str:
    value = (entry.get("attributes") or {}).get(attribute)
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value or "")


def _search(conn: Connection, base: str, scope: str, search_filter: str, attribute: str) -> list[dict]:
    try:
        conn.search(base, search_filter, search_scope=scope, attributes=[attribute], size_limit=2)
    except (LDAPException, OSError) as exc:
        raise DirectoryUnavailable(type(exc).__name__) from None
    return [e for e in (conn.response or []) if e.get("type") == "searchResEntry"]


def directory_id(number: str, password: str) -> str | None:
    """The directory's id (XINLIAN_LDAP_ID_ATTRIBUTE) of the person whose number and password
    it accepts; None when it does not accept them. DirectoryUnavailable when it cannot be asked.

    The id is read from the directory rather than taken as typed: directories compare ``uid``
    without regard to case, and the mapping rule compares the number exactly."""
    cfg = config()
    if cfg is None or not number or not password:
        return None  # an empty password would be an anonymous bind, which "succeeds"
    if cfg.user_dn_template:
        dn = cfg.user_dn_template.replace("{number}", escape_rdn(number))
        conn = _bound(cfg, dn, password)
        if conn is None:
            return None
        try:
            entries = _search(conn, dn, BASE, "(objectClass=*)", cfg.id_attribute)
        finally:
            _close(conn)
        return (_first(entries[0], cfg.id_attribute) if entries else "") or number
    service = _bound(cfg, cfg.bind_dn or None, cfg.bind_password or None)
    if service is None:
        logger.warning("LDAP: the service account's bind was refused; check XINLIAN_LDAP_BIND_DN")
        raise DirectoryUnavailable("service bind refused")
    try:
        found = _search(service, cfg.search_base, SUBTREE,
                        cfg.search_filter.replace("{number}", escape_filter_chars(number)),
                        cfg.id_attribute)
    finally:
        _close(service)
    if len(found) != 1:
        return None  # nobody, or an ambiguous filter: never guess which person it is
    person = _bound(cfg, found[0]["dn"], password)
    if person is None:
        return None
    _close(person)
    return _first(found[0], cfg.id_attribute) or number


def _note(request: HttpRequest | None, refused: Refused) -> None:
    if request is not None:
        setattr(request, _REFUSAL, refused)


def login_refusal(request: HttpRequest | None) -> Any | None:
    """What the login form says instead of "do not match" after this backend refused, or None."""
    refused: Refused | None = getattr(request, _REFUSAL, None)
    if refused is None:
        return None
    return UNAVAILABLE if refused.reason == "unavailable" else refused.message


class LDAPBackend(BaseBackend):
    """Authenticates a student or staff number with the password the school's directory holds,
    and maps it to the person by ``network.sso.user_for_external_id``. Off when XINLIAN_LDAP_URL
    is empty."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None,
                     password: str | None = None, **kwargs: Any) -> User | None:
        if config() is None or not username or not password:
            return None
        number = username.strip()[:150]
        try:
            found = directory_id(number, password)
        except DirectoryUnavailable as exc:
            logger.warning("LDAP: the directory cannot be reached (%s)", exc)
            known = User.objects.filter(username=number).exists()
            _note(request, refuse(request, METHOD, "unavailable", number if known else ""))
            return None
        if found is None:
            return None
        try:
            user = user_for_external_id(request, METHOD, found)
        except Refused as refused:
            _note(request, refused)
            return None
        return user

    def get_user(self, user_id: Any) -> User | None:
        user = User._default_manager.filter(pk=user_id).first()
        return user if user is not None and user.is_active else None


@receiver(user_logged_in, dispatch_uid="xinlian.network.ldapauth.logged_in")
def _audit_login(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    """The ``identity.sso_login`` row, once the session exists (Django names the backend)."""
    if request is not None and getattr(user, "backend", None) == BACKEND:
        logged_in(request, METHOD, user)
