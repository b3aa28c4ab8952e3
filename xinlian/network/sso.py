"""The one mapping rule for every way in from outside (CAS, OpenID Connect, LDAP, ...).

An identity system answers with an id: the campus CAS user, an OIDC claim, an LDAP uid. That
id is the person's student or staff number, which is their ``username`` here, and nothing else
is looked at: no e-mail, no name. An id nobody holds is refused, never created (the roster is
the school's record of who belongs, and the network's scope hangs on it); so is a person who is
switched off or has graduated.

Every answer leaves one audit row: ``identity.sso_login`` for the person who got in, or
``identity.sso_refused`` (denied, without an actor when nobody matched) naming the method and
the reason. The row holds the id as the identity system sent it (cut to 64 characters), which
is a number, not a health record; never a ticket, token, password or code.

Each way in calls :func:`user_for_external_id` and, on :class:`Refused`, shows the page of
``xinlian.web.views_sso.refused`` with the reason's message."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from xinlian.access.models import AuditEvent, AuditResult
from xinlian.access.policy import client_ip

from .models import StudentStatus, User

# A way in names itself with one of these in its audit rows and on the refusal page.
METHODS = {
    "cas": _("campus single sign-on (CAS)"),
    "oidc": _("OpenID Connect"),
    "ldap": _("the school directory (LDAP)"),
    "wecom": _("WeCom (企业微信)"),
    "dingtalk": _("DingTalk (钉钉)"),
}

# The roster's own account ids a way in may name a person by, before the number.
ACCOUNT_FIELDS = {"wecom_userid", "dingtalk_userid"}

# What the person is told, by reason. The same words whatever the way in.
REASONS = {
    "unknown": _("This account is not in Xinlian's roster. Xinlian does not create accounts "
                 "from a login: ask your counsellor (辅导员) or the counselling centre to check "
                 "that your student or staff number is on the roster."),
    "disabled": _("This account is switched off in Xinlian. Ask the counselling centre if you "
                  "think this is a mistake."),
    "graduated": _("This account belongs to a student who has graduated, and can no longer log "
                   "in."),
    "invalid": _("The login could not be completed: the answer from the identity system was "
                 "not valid, was already used, or has expired. Please start the login again."),
    "unavailable": _("The identity system cannot be reached right now. Please try again in a "
                     "few minutes."),
}


class Refused(Exception):
    """An identity system's answer that lets nobody in; ``reason`` is a key of REASONS."""

    def __init__(self, reason: str, method: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.method = method

    @property
    def message(self) -> Any:
        return REASONS[self.reason]


def _clean(external_id: Any) -> str:
    return str(external_id or "").strip()


def refuse(request: HttpRequest | None, method: str, reason: str, external_id: Any = "", *,
           user: User | None = None) -> Refused:
    """Write the refusal's audit row and return the exception for the caller to raise.

    For refusals that are the way in's own (a replayed ticket, a bad state or nonce, a server
    that is down) as much as for the mapping's."""
    if reason not in REASONS:
        raise ValueError(f"unknown refusal reason {reason!r}")
    AuditEvent.objects.record(
        actor=user, anonymous=user is None, action="identity.sso_refused",
        object_type="identity.method", object_id=method, result=AuditResult.DENIED,
        ip=client_ip(request), detail=f"reason={reason};id={_clean(external_id)[:64]}",
    )
    return Refused(reason, method)


def user_for_external_id(request: HttpRequest | None, method: str, external_id: Any, *,
                         field: str | None = None) -> User:
    """The person an identity system's id names, or :class:`Refused` (with its audit row).

    With ``field`` (one of ACCOUNT_FIELDS: the roster's 企业微信/钉钉 account id), the person
    whose account id it is, else the one whose number it is; an account id two people hold
    names nobody (refused as unknown, never guessed).

    Does not log anyone in and writes no success row: the way in calls :func:`logged_in` once
    the session exists, so a login that fails after this (a lockout, a second factor) is not
    recorded as done."""
    number = _clean(external_id)
    if not number:
        raise refuse(request, method, "invalid")
    people = User.objects.select_related("student")
    user = None
    if field is not None:
        if field not in ACCOUNT_FIELDS:
            raise ValueError(f"not an account field: {field!r}")
        holders = list(people.filter(**{field: number})[:2])
        if len(holders) > 1:
            raise refuse(request, method, "unknown", number)
        user = holders[0] if holders else None
    if user is None:
        user = people.filter(username=number).first()
    if user is None:
        raise refuse(request, method, "unknown", number)
    if not user.is_active:
        raise refuse(request, method, "disabled", number, user=user)
    student = getattr(user, "student", None)
    if student is not None and student.status == StudentStatus.GRADUATED:
        raise refuse(request, method, "graduated", number, user=user)
    return user


def logged_in(request: HttpRequest, method: str, user: User) -> None:
    """The audit row of a completed login through ``method``."""
    AuditEvent.objects.record(actor=user, action="identity.sso_login", obj=user,
                              ip=client_ip(request), detail=f"method={method}")
