"""Two-step verification: a TOTP authenticator app (django-otp) and single-use recovery codes.

Who must use it (:func:`requires_second_factor`): whoever reads tier 4–5 — a post whose role
holds ``Cap.CASE`` or ``Cap.NOTES`` (the centre director), the psychology teachers
(``Role.COUNSELLOR``: they read session notes), the team of an open crisis case (answered by care
through :func:`register_case_team_check`: access never imports care), and superusers (the back
office shows them everything). ``XINLIAN_2FA_REQUIRED=off`` makes it optional for everyone.
Anyone else may turn it on at ``/me/two-step/``; once on, it is asked for like a required one.

The second step is enforced per request, after any way in (password, slip code, CAS, OIDC,
LDAP: they all end in ``django.contrib.auth.login``), by ``xinlian.web.twofactor_middleware``,
which asks :func:`session_needs`. A session remembers its verification under django-otp's own key
(``otp_device_id``) and the time it was last confirmed (:data:`CHECKED_KEY`); the state is
confirmed again at most once a minute (``SESSION_RENEW_SECONDS``), so a device removed by a reset,
or a person newly put on a case team, is noticed within that minute. Confirming costs no query of
its own for a session not verified (most of them: students): what the person's second step asks
comes with the user, in the statement that loads it (:func:`state_columns`); a verified session
looks its device up once a minute per process.

Recovery codes are django-otp static tokens stored as a keyed HMAC (like first-login codes,
``xinlian.network.slipcodes``): a database dump holds no usable code. Changing
``XINLIAN_SECRET_KEY`` voids them. A wrong code is throttled by django-otp (1, 2, 4, 8 … seconds
after each successive failure, per device) and audited as ``identity.2fa_failed`` (never the code);
a TOTP code is accepted once (django-otp's ``last_t``)."""

from __future__ import annotations

import time
from base64 import b32decode
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import django_otp
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from xinlian.lib import hotsql
from xinlian.lib.actions import Conflict, Invalid, NotAllowed, NotFound
from xinlian.network import slipcodes
from xinlian.network.models import Post, Role, User

from .models import AuditEvent, AuditResult
from .policy import ROLE_CAPS, Cap, active_posts_of, client_ip

# django-otp's session key: the persistent id of the device that verified this session.
DEVICE_KEY = django_otp.DEVICE_ID_SESSION_KEY
# When this session's state was last confirmed (int seconds): verified, or nothing needed.
CHECKED_KEY = "xinlian_2fa_checked"
RECOVERY_COUNT = 10
RECOVERY_SALT = "xinlian.access.twofactor.recovery-code"
TOTP_NAME = "authenticator"
STATIC_NAME = "recovery codes"
USER_TYPE = "network.user"
TIER_READERS = frozenset({Cap.CASE, Cap.NOTES})

VERIFY = "verify"
ENROL = "enrol"


# --- who must -------------------------------------------------------------------------------------

_case_team_check: Callable[[User], bool] | None = None
_case_team_sql: tuple[str, list[Any]] | None = None


def register_case_team_check(check: Callable[[User], bool], sql: tuple[str, list[Any]] | None = None) -> None:
    """care answers whether a person is on the team (lead or member) of a crisis case not closed:
    ``check(user)``, and the same question as a SQL condition over the user row ``t`` with its
    parameters, asked with the user of every request (:func:`state_columns`)."""
    global _case_team_check, _case_team_sql
    _case_team_check = check
    _case_team_sql = sql


def requires_second_factor(user: Any) -> bool:
    """Whether ``user`` reads tier 4–5 and so must give a second factor. Posts come from the
    policy's per-request cache; the case-team question is one indexed query, asked only for staff
    who hold no such post (case teams are staff: ``care.access.case_team_choices``)."""
    if not settings.TWO_FACTOR_REQUIRED or not getattr(user, "is_authenticated", False):
        return False
    if user.is_superuser:
        return True
    for post in active_posts_of(user):
        if post.role == Role.COUNSELLOR or ROLE_CAPS[post.role] & TIER_READERS:
            return True
    if user.kind == "student" or _case_team_check is None:
        return False
    return bool(_case_team_check(user))


def totp_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def has_device(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


# --- the state, loaded with the user ----------------------------------------------------------------

# What the person's second step asks of an unverified session, as loaded with the user of every
# request (``hotsql.register_user_columns``): nothing, a code, or setting an authenticator up.
STATE_COLUMN = "two_step_state"
STATE_NONE, STATE_VERIFY, STATE_ENROL = 0, 1, 2


def tier_roles() -> list[str]:
    """The roles whose posts require the second step (:func:`requires_second_factor`)."""
    return [role.value for role in Role if role == Role.COUNSELLOR or ROLE_CAPS[role] & TIER_READERS]


def state_columns() -> dict[str, tuple[str, Any]]:
    """:func:`has_device` and :func:`requires_second_factor` as one SQL expression over the user
    row ``t``, so the check of a session that is not verified costs no statement of its own: a
    poll landing on a process that had not checked its session within the minute used to pay two
    queries (the authenticator, the posts), and a poll never saves the time of its check."""
    from django.db import connection

    q = connection.ops.quote_name
    devices = TOTPDevice._meta
    posts = Post._meta
    roles = tier_roles()
    team_sql, team_params = _case_team_sql or ("", [])
    team = f" OR (t.{q('kind')} <> %s AND {team_sql})" if team_sql else ""
    sql = (f"CASE WHEN EXISTS (SELECT 1 FROM {q(devices.db_table)} d WHERE d.{q('user_id')} = t.{q('id')} "
           f"AND d.{q('confirmed')}) THEN {STATE_VERIFY} "
           f"WHEN %s = 1 AND (t.{q('is_superuser')} OR EXISTS (SELECT 1 FROM {q(posts.db_table)} p "
           f"WHERE p.{q('person_id')} = t.{q('id')} AND p.{q('role')} IN ({', '.join(['%s'] * len(roles))}) "
           f"AND p.{q('starts_on')} <= %s AND (p.{q('ends_on')} IS NULL OR p.{q('ends_on')} >= %s)){team}) "
           f"THEN {STATE_ENROL} ELSE {STATE_NONE} END")

    def params() -> list[Any]:
        today = connection.ops.adapt_datefield_value(timezone.localdate())
        required = [int(bool(settings.TWO_FACTOR_REQUIRED)), *roles, today, today]
        return required + (["student", *team_params] if team_sql else [])

    return {STATE_COLUMN: (sql, params)}


# --- the session ----------------------------------------------------------------------------------


def session_verified(request: HttpRequest) -> bool:
    return bool(request.session.get(DEVICE_KEY))


def session_needs(request: HttpRequest, user: Any = None) -> str | None:
    """None when this authenticated session may go on; :data:`VERIFY` (a code is due) or
    :data:`ENROL` (an authenticator must be set up first). No query while the session's state
    was confirmed less than ``SESSION_RENEW_SECONDS`` ago."""
    session = request.session
    now = int(time.time())
    checked = session.get(CHECKED_KEY)
    if isinstance(checked, int) and 0 <= now - checked < settings.SESSION_RENEW_SECONDS:
        return None
    user = user if user is not None else request.user
    if not session.get(DEVICE_KEY):
        state = hotsql.loaded_column(request, STATE_COLUMN, user)
        if state is not None:  # known from this request's first statement: no query, nothing kept
            return VERIFY if state == STATE_VERIFY else ENROL if state == STATE_ENROL else None
    # A poll (the inbox badge) never saves its session, so the time written below would be lost
    # and every poll after the first minute would ask again: remember it in the process too.
    memo_key = (session.session_key, user.pk)
    seen = _passed.get(memo_key)
    if seen is not None and 0 <= now - seen < settings.SESSION_RENEW_SECONDS:
        return None
    device_id = session.get(DEVICE_KEY)
    if device_id:
        device = Device.from_persistent_id(str(device_id))
        if device is not None and device.user_id == user.pk and device.confirmed:
            session[CHECKED_KEY] = now
            _remember(memo_key, now)
            return None
        del session[DEVICE_KEY]  # reset or removed since: this session is no longer verified
    if has_device(user):
        session.pop(CHECKED_KEY, None)
        return VERIFY
    if requires_second_factor(user):
        session.pop(CHECKED_KEY, None)
        return ENROL
    session[CHECKED_KEY] = now
    _remember(memo_key, now)
    return None


# Sessions that passed the check in this process, and when: bounded, dropped whole when full
# (a dropped entry costs one check again, never a pass that was not earned).
_passed: dict[tuple[str | None, Any], int] = {}
_PASSED_MAX = 20_000


def _remember(key: tuple[str | None, Any], now: int) -> None:
    if key[0] is None:
        return
    if len(_passed) >= _PASSED_MAX:
        _passed.clear()
    _passed[key] = now


@receiver(user_logged_in, dispatch_uid="xinlian-2fa-login")
def _state_at_login(sender: type, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Decide the session's state as it logs in (any way in), so that the login's own session
    write carries it and the next request asks nothing. A token login has no such session."""
    session = getattr(request, "session", None)
    if session is None or str(session.get(auth.SESSION_KEY)) != str(getattr(user, "pk", None)):
        return
    session.pop(CHECKED_KEY, None)
    session_needs(request, user)  # type: ignore[arg-type]


def _mark_verified(request: HttpRequest, device: Device) -> None:
    # A step up in privilege: a new session key, as at login (the old key could have been seen).
    request.session.cycle_key()
    django_otp.login(request, device)
    request.session[CHECKED_KEY] = int(time.time())


def mark_session_verified(session: Any, device: Device) -> None:
    """For a session verified outside a request (the test client's ``force_login``)."""
    session[DEVICE_KEY] = device.persistent_id
    session[CHECKED_KEY] = int(time.time())


def mark_session_checked(session: Any) -> None:
    session[CHECKED_KEY] = int(time.time())


# --- codes ----------------------------------------------------------------------------------------


def recovery_hash(user_id: int, code: str) -> str:
    # 64 bits of a keyed HMAC: StaticToken.token holds 16 characters; the codes carry ~49.5 bits.
    return salted_hmac(RECOVERY_SALT, f"{user_id}:{code}", algorithm="sha256").hexdigest()[:16]


def _audit(request: HttpRequest | None, actor: User, action: str, target: User, *,
           result: str = AuditResult.ALLOWED, detail: str = "") -> None:
    AuditEvent.objects.record(actor=actor, action=action, object_type=USER_TYPE,
                              object_id=str(target.pk), result=result, ip=client_ip(request),
                              detail=detail)


def _wait_text(seconds: int) -> str:
    return ngettext("Too many wrong codes: wait %(n)d second, then try again.",
                    "Too many wrong codes: wait %(n)d seconds, then try again.", seconds) % {"n": seconds}


def _wrong_text() -> str:
    return _("That code is not right. Type the 6 digits your authenticator app shows now, "
             "or one of your recovery codes.")


def _replay_text() -> str:
    return _("That code was just used. Wait for the next one (a new code every 30 seconds).")


def _throttled(devices: list[Device]) -> int:
    """Seconds to wait when a device refuses to verify now (django-otp's throttling), else 0."""
    now = timezone.now()
    wait = 0
    for device in devices:
        allowed, info = device.verify_is_allowed()
        if not allowed and info and info.get("locked_until"):
            wait = max(wait, int((info["locked_until"] - now).total_seconds()) + 1)
    return wait


def _is_replay(device: TOTPDevice, token: str) -> bool:
    """The code was valid in the window but its step was already used (``last_t``)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    matched = totp.verify(int(token), device.tolerance, 0)
    return bool(matched) and totp.t() <= device.last_t


def _refuse(request: HttpRequest | None, user: User, detail: str, text: str, field: str) -> Invalid:
    _audit(request, user, "identity.2fa_failed", user, result=AuditResult.DENIED, detail=detail)
    return Invalid(text, errors={field: [text]})


def check_code(request: HttpRequest | None, user: User, typed: str, *, field: str = "code",
               device: TOTPDevice | None = None) -> Device:
    """The device that accepts ``typed`` for ``user`` (the TOTP app's 6 digits, or a recovery
    code, which is then used up), or :class:`Invalid` — audited, never with the code. ``device``:
    check that (unconfirmed) TOTP device only, as enrolment does."""
    typed = (typed or "").strip()
    digits = typed.replace(" ", "")
    totp = device if device is not None else totp_device(user)
    static = None if device is not None else StaticDevice.objects.filter(user=user, confirmed=True).first()
    wait = _throttled([d for d in (totp, static) if d is not None])
    if wait:
        raise _refuse(request, user, "throttled", _wait_text(wait), field)
    # django-otp locks the device row while it checks (select_for_update): two requests with
    # one code cannot both pass. The refusal's audit row is written after the transaction.
    failure = "wrong"
    with transaction.atomic():
        if totp is not None and len(digits) == totp.digits and digits.isascii() and digits.isdigit():
            verified = django_otp.verify_token(user, totp.persistent_id, digits)
            if verified is not None:
                return verified
            totp.refresh_from_db()
            if _is_replay(totp, digits):
                failure = "replay"
        else:
            code = slipcodes.normalise(typed)
            if static is not None and len(code) == slipcodes.LENGTH:
                verified = django_otp.verify_token(user, static.persistent_id,
                                                   recovery_hash(user.pk, code))
                if verified is not None:
                    _audit(request, user, "identity.2fa_recovery_used", user,
                           detail=f"left={verified.token_set.count()}")
                    return verified
            elif static is not None:
                static.throttle_increment()  # any wrong input counts against the throttle
            elif totp is not None:
                totp.throttle_increment()
    if failure == "replay":
        raise _refuse(request, user, "replay", _replay_text(), field)
    raise _refuse(request, user, "wrong", _wrong_text(), field)


def verify_session(request: HttpRequest, typed: str) -> Device:
    """The second step of a login: the code checks, and the session is marked verified."""
    user: User = request.user  # type: ignore[assignment]
    device = check_code(request, user, typed)
    _mark_verified(request, device)
    return device


# --- enrolment, recovery codes, removal -------------------------------------------------------------


def may_enrol(request: HttpRequest) -> None:
    """A person with an authenticator sets up another only from a session it verified: a
    password alone must never replace the second factor."""
    if has_device(request.user) and not session_verified(request):  # type: ignore[arg-type]
        raise NotAllowed(_("Give a code from your current authenticator first."))


def pending_device(request: HttpRequest) -> TOTPDevice:
    """The authenticator being set up (unconfirmed until a code proves it), kept across reloads
    so that the QR code on the page stays the same."""
    may_enrol(request)
    user: User = request.user  # type: ignore[assignment]
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def _new_recovery_codes(user: User) -> list[str]:
    device, _created = StaticDevice.objects.get_or_create(user=user, name=STATIC_NAME,
                                                          defaults={"confirmed": True})
    StaticDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.token_set.all().delete()
    codes = [slipcodes.new_code() for _i in range(RECOVERY_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=recovery_hash(user.pk, c))
                                     for c in codes])
    device.throttle_reset()
    return [slipcodes.display(c) for c in codes]


def confirm_enrolment(request: HttpRequest, typed: str) -> list[str]:
    """A code from the app being set up confirms it: it replaces any earlier authenticator, the
    session is verified, and 10 new recovery codes are returned (shown once)."""
    may_enrol(request)
    user: User = request.user  # type: ignore[assignment]
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        raise Conflict(_("The set-up expired: scan the new QR code and try again."))
    verified = check_code(request, user, typed, device=device)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=verified.pk).delete()
        TOTPDevice.objects.filter(pk=verified.pk).update(confirmed=True)
        verified.confirmed = True
        codes = _new_recovery_codes(user)
        _audit(request, user, "identity.2fa_enrolled", user)
    _mark_verified(request, verified)
    return codes


def renew_recovery_codes(request: HttpRequest, typed: str) -> list[str]:
    """Ten new recovery codes for a code from the app; the old ones stop working."""
    user: User = request.user  # type: ignore[assignment]
    if not has_device(user):
        raise Conflict(_("Two-step verification is not on."))
    check_code(request, user, typed)
    with transaction.atomic():
        codes = _new_recovery_codes(user)
        _audit(request, user, "identity.2fa_recovery_renewed", user)
    return codes


def _remove_devices(user: User) -> int:
    deleted = TOTPDevice.objects.filter(user=user).delete()[0]
    deleted += StaticDevice.objects.filter(user=user).delete()[0]
    return deleted


def remove_own(request: HttpRequest, typed: str) -> None:
    """Turn it off, for a code: only for those who need not use it."""
    user: User = request.user  # type: ignore[assignment]
    if requires_second_factor(user):
        raise NotAllowed(_("Your role reads case details or counselling notes: two-step "
                           "verification stays on. To move it to a new phone, set it up again."))
    if not has_device(user):
        raise Conflict(_("Two-step verification is not on."))
    check_code(request, user, typed)
    with transaction.atomic():
        _remove_devices(user)
        _audit(request, user, "identity.2fa_removed", user)
    request.session.pop(DEVICE_KEY, None)


def may_reset(actor: User, target: User) -> bool:
    from .admin import people_in_scope  # the back office's scope of people

    if actor.is_superuser:
        return True
    return people_in_scope(actor).filter(pk=target.pk).exists()


def reset_for(request: HttpRequest, person_id: int) -> User:
    """An administrator or the centre director (for people they manage) clears another person's
    two-step verification — a lost phone. Never one's own: that takes a code (``remove_own``).
    Their verified sessions lose the verification within a minute (:func:`session_needs`)."""
    actor: User = request.user  # type: ignore[assignment]
    target = User.objects.filter(pk=person_id).first()
    if target is None or not (actor.is_superuser or may_reset(actor, target)):
        AuditEvent.objects.record(actor=actor, action="identity.2fa_reset", object_type=USER_TYPE,
                                  object_id=str(person_id), result=AuditResult.DENIED,
                                  ip=client_ip(request))
        raise NotFound(_("No such person."))
    if target.pk == actor.pk:
        _audit(request, actor, "identity.2fa_reset", target, result=AuditResult.DENIED, detail="self")
        raise NotAllowed(_("You cannot reset your own two-step verification: use a recovery "
                           "code, or ask another administrator."))
    if target.is_superuser and not actor.is_superuser:
        _audit(request, actor, "identity.2fa_reset", target, result=AuditResult.DENIED)
        raise NotFound(_("No such person."))
    with transaction.atomic():
        removed = _remove_devices(target)
        _audit(request, actor, "identity.2fa_reset", target, detail=f"devices={removed}")
    return target


# --- the token login --------------------------------------------------------------------------------


def check_token_login(request: HttpRequest | None, user: User, otp: str | None) -> None:
    """``POST /api/v1/auth/token/``: a person who must give a second step sends ``otp`` (the
    app's code or a recovery code) with the password; one who must but has not set it up is
    sent to the web first (a token would otherwise skip the second step for good)."""
    if not (has_device(user) or requires_second_factor(user)):
        return
    if not has_device(user):
        _audit(request, user, "identity.2fa_failed", user, result=AuditResult.DENIED, detail="not set up")
        raise NotAllowed(_("This account must use two-step verification: set it up on the web "
                           "(/me/two-step/) before asking for an API token."))
    if not (otp or "").strip():
        text = _("This account uses two-step verification: send the 6-digit code from the "
                 "authenticator app as otp.")
        raise Invalid(text, errors={"otp": [text]})
    check_code(request, user, otp or "", field="otp")


# --- the page's view of it ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    on: bool
    required: bool
    recovery_left: int
    since: Any


def status_of(user: User) -> Status:
    device = totp_device(user)
    return Status(on=device is not None, required=requires_second_factor(user),
                  recovery_left=recovery_left(user) if device is not None else 0,
                  since=getattr(device, "created_at", None))


def issuer() -> str:
    return settings.OTP_TOTP_ISSUER


# --- the demo -----------------------------------------------------------------------------------------

# Published in the README and printed by `xinlian seed-demo`: the demo's own accounts only.
DEMO_KEY = "XINLIANDEMOKEYXINLIANDEMOKEY2345"


def seed_demo_devices(users: Any) -> list[str]:
    """``xinlian seed-demo``: each demo account that must use two-step verification gets an
    authenticator with the published demo key, so that a visitor sees the code page as a director
    would and can answer it (any authenticator app, or ``oathtool --totp -b KEY``)."""
    names = []
    for user in users:
        if requires_second_factor(user) and not has_device(user):
            TOTPDevice.objects.create(user=user, name="demo", confirmed=True,
                                      key=b32decode(DEMO_KEY).hex())
            names.append(user.username)
    return names


def demo_device_holders(users: Any) -> list[str]:
    key = b32decode(DEMO_KEY).hex()
    return sorted(TOTPDevice.objects.filter(user__in=users, key=key, confirmed=True)
                  .values_list("user__username", flat=True))

