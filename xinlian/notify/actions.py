"""The verbs of notify's settings: the channel policy per level, the office hours, and each
person's own channels (WeCom / DingTalk user id, mobile) with a test message.

Each verb takes the request (the acting user and the address for the audit row), checks the
capability, validates everything before writing anything (a refusal is :class:`Invalid` with
the fields named, and nothing is half-written), writes in one transaction with its audit row.
The settings pages (``xinlian/web/views_settings.py``) are adapters over these.

Who keeps the centre's settings: the counselling-centre director (a ``Cap.MANAGE_NETWORK``
post at a school) and the installation's administrators (active superusers). The level
settings, the channel policy and the office hours are one per installation; the help and
hotline are per school (:mod:`xinlian.screening.settings_actions`)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from xinlian.access.models import AuditResult
from xinlian.access.policy import Cap, active_posts_of, audit, scope_units
from xinlian.lib.actions import Conflict, Invalid, NotAllowed
from xinlian.lib.converters import parse_id
from xinlian.network.models import Unit, UnitKind, User

from .models import Channel, ChannelPolicy, DayKind, Delivery, Holiday, OfficeHours, When
from .personal import dingtalk_configured, push_channel, wecom_configured
from .sms import mobile_of, sms_configured

LEVELS = ("red", "orange", "yellow")

# --- who keeps the centre's settings --------------------------------------------------------------


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def centre_schools(user: Any) -> list[Unit]:
    """The schools whose centre settings ``user`` keeps: a centre director's school(s); every
    school for an administrator; none for anyone else."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    if user.is_superuser:
        return list(Unit.objects.filter(kind=UnitKind.SCHOOL).order_by("path"))
    return [u for u in scope_units(user, Cap.MANAGE_NETWORK) if u.kind == UnitKind.SCHOOL]


def may_keep_centre_settings(user: Any) -> bool:
    return bool(centre_schools(user))


def require_centre(request: HttpRequest, action: str) -> list[Unit]:
    """The actor's schools, or NotAllowed (with a denied audit row) for anyone else."""
    schools = centre_schools(_user(request))
    if not schools:
        if getattr(request.user, "is_authenticated", False):
            audit(request, action, object_type="settings", object_id="centre",
                  result=AuditResult.DENIED)
        raise NotAllowed(_("Only the counselling-centre director or an administrator can change "
                           "the centre's settings."))
    return schools


def require_installation(request: HttpRequest, action: str) -> list[Unit]:
    """For the settings that are one per installation (levels, channels, office hours,
    holidays): the actor must keep the centre of EVERY school here. In an installation serving
    several schools (a bureau's), one school's director must not re-time the others' alerts;
    an administrator, or a post above all the schools, may."""
    schools = require_centre(request, action)
    if len(schools) < Unit.objects.filter(kind=UnitKind.SCHOOL).count():
        audit(request, action, object_type="settings", object_id="installation",
              result=AuditResult.DENIED)
        raise NotAllowed(_("These settings apply to every school in this installation: only an "
                           "administrator can change them."))
    return schools


def may_keep_installation_settings(user: Any) -> bool:
    schools = centre_schools(user)
    return bool(schools) and len(schools) >= Unit.objects.filter(kind=UnitKind.SCHOOL).count()


# --- phone numbers ----------------------------------------------------------------------------------

MOBILE_RE = re.compile(r"(?:\+?86)?1[3-9]\d{9}")
LANDLINE_RE = re.compile(r"0\d{2,3}\d{7,8}")
# 12356 (心理援助热线), 12355, 110/120, 95xxx / 96xxx service numbers, 400 / 800 numbers.
SERVICE_RE = re.compile(r"1\d{2}|1\d{4}|9[56]\d{3}|9[56]\d{5}|[48]00\d{7}")
PHONE_CHARS = re.compile(r"[\s\-()（）]")


def phone_error(value: str, *, service: bool = False, mobile_only: bool = False) -> str | None:
    """Why ``value`` is not a phone number to call (None when it is one). Accepted: a mainland
    mobile (+86 optional), a landline with its area code (0571-88886666), and with ``service``
    a short service number (12356, 110, 95xxx) or a 400 / 800 number."""
    digits = PHONE_CHARS.sub("", value or "")
    if MOBILE_RE.fullmatch(digits):
        return None
    if mobile_only:
        return str(_("Enter a mainland mobile number: 11 digits starting with 1 (e.g. 13800000000)."))
    if LANDLINE_RE.fullmatch(digits):
        return None
    if service and SERVICE_RE.fullmatch(digits):
        return None
    if service:
        return str(_("Enter a phone number: a mobile (13800000000), a landline with its area code "
                     "(0571-88886666) or a service number (12356, 400-123-4567)."))
    return str(_("Enter a phone number: a mobile (13800000000) or a landline with its area code "
                 "(0571-88886666)."))


# --- channel policy ---------------------------------------------------------------------------------

POLICY_FIELDS = ("email", "push", "sms", "sms_after_minutes", "hold_in_quiet_hours")
MAX_SMS_DELAY = 24 * 60


def _level(value: Any) -> str:
    if value not in LEVELS:
        raise Invalid(errors={"level": [str(_("Choose red, orange or yellow."))]})
    return value


def set_channel_policy(request: HttpRequest, level: Any, data: dict[str, Any]) -> ChannelPolicy:
    """Which channels an alert of ``level`` takes, day and night."""
    require_installation(request, "settings.channels")
    level = _level(level)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    for name in ("email", "push", "sms"):
        value = str(data.get(name, "") or "")
        if value not in When.values:
            errors[name] = [str(_("Choose when this channel is used."))]
        values[name] = value
    raw = str(data.get("sms_after_minutes", "") or "0").strip()
    if not raw.isascii() or not raw.isdigit() or int(raw) > MAX_SMS_DELAY:
        errors["sms_after_minutes"] = [str(_("Enter whole minutes from 0 to 1440."))]
    else:
        values["sms_after_minutes"] = int(raw)
    values["hold_in_quiet_hours"] = str(data.get("hold_in_quiet_hours", "")).lower() in {"1", "on", "true", "yes"}
    if level == "red" and not errors and values["hold_in_quiet_hours"]:
        # A red alert that waits for the morning is the failure this whole path exists to avoid.
        errors["hold_in_quiet_hours"] = [str(_("A red alert is never held until office hours."))]
    if not errors and values["push"] == When.NEVER and values["sms"] == When.NEVER and level == "red":
        errors["push"] = [str(_("A red alert must reach people's phones: choose push or SMS."))]
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        policy, _created = ChannelPolicy.objects.update_or_create(level=level, defaults=values)
        audit(request, "settings.channels", policy,
              detail=",".join(f"{k}={values[k]}" for k in POLICY_FIELDS))
    return policy


def channel_policies() -> list[ChannelPolicy]:
    return [ChannelPolicy.for_level(level) for level in LEVELS]


# --- office hours ---------------------------------------------------------------------------------------


def _time(value: Any) -> dt.time | None:
    try:
        return dt.time.fromisoformat(str(value or "").strip()[:5])
    except ValueError:
        return None


def set_office_hours(request: HttpRequest, *, start: Any, end: Any, weekdays: Any) -> OfficeHours:
    """The centre's office hours (Asia/Shanghai). ``weekdays``: an iterable of "1" … "7"."""
    require_installation(request, "settings.hours")
    errors: dict[str, list[str]] = {}
    begin, finish = _time(start), _time(end)
    if begin is None:
        errors["start"] = [str(_("Enter a time as HH:MM."))]
    if finish is None:
        errors["end"] = [str(_("Enter a time as HH:MM."))]
    if begin is not None and finish is not None and begin >= finish:
        errors["end"] = [str(_("Office hours must end after they begin."))]
    days = sorted({str(d) for d in (weekdays or [])})
    if not days or not set(days) <= {str(n) for n in range(1, 8)}:
        errors["weekdays"] = [str(_("Choose at least one office day."))]
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        row = OfficeHours.objects.select_for_update().order_by("pk").first() or OfficeHours()
        row.start, row.end, row.weekdays = begin, finish, ",".join(days)
        row.save()
        audit(request, "settings.hours", row, detail=str(row)[:200])
    return row


# --- holidays and make-up workdays ------------------------------------------------------------

MAX_IMPORT_LINES = 400
DATE_RE = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")


def _date(value: Any) -> dt.date | None:
    match = DATE_RE.fullmatch(str(value or "").strip())
    if not match:
        return None
    try:
        return dt.date(*(int(g) for g in match.groups()))
    except ValueError:
        return None


def _day_kind(value: Any) -> str | None:
    value = str(value or "").strip().lower()
    aliases = {"": DayKind.HOLIDAY, "holiday": DayKind.HOLIDAY, "假": DayKind.HOLIDAY,
               "休": DayKind.HOLIDAY, "放假": DayKind.HOLIDAY, "节假日": DayKind.HOLIDAY,
               "workday": DayKind.WORKDAY, "班": DayKind.WORKDAY, "上班": DayKind.WORKDAY,
               "调休": DayKind.WORKDAY, "补班": DayKind.WORKDAY}
    return aliases.get(value)


def _check_day(day: dt.date | None, kind: str | None, note: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if day is None:
        errors["date"] = [str(_("Enter a date as YYYY-MM-DD."))]
    elif not 2000 <= day.year <= 2100:
        errors["date"] = [str(_("Enter a date between 2000 and 2100."))]
    if kind is None:
        errors["kind"] = [str(_("Choose holiday or make-up workday."))]
    if len(note) > 64:
        errors["note"] = [str(_("At most %(n)d characters.") % {"n": 64})]
    return errors


def add_holiday(request: HttpRequest, *, date: Any, kind: Any = DayKind.HOLIDAY, note: Any = "") -> Holiday:
    """Mark one date as a holiday or a make-up workday (a date marked before is changed)."""
    require_installation(request, "settings.holiday")
    day, day_kind, text = _date(date), _day_kind(kind), str(note or "").strip()
    errors = _check_day(day, day_kind, text)
    if errors:
        raise Invalid(errors=errors)
    with transaction.atomic():
        row, _created = Holiday.objects.update_or_create(date=day, defaults={"kind": day_kind, "note": text})
        audit(request, "settings.holiday", row, detail=f"{day:%Y-%m-%d} {day_kind}")
    return row


def remove_holiday(request: HttpRequest, pk: Any) -> None:
    require_installation(request, "settings.holiday")
    number = pk if isinstance(pk, int) else parse_id(pk)
    row = Holiday.objects.filter(pk=number).first() if number is not None else None
    if row is None:
        raise Invalid(_("This date is no longer in the calendar."))
    with transaction.atomic():
        audit(request, "settings.holiday.remove", row, detail=f"{row.date:%Y-%m-%d} {row.kind}")
        row.delete()


def import_holidays(request: HttpRequest, text: Any) -> list[Holiday]:
    """Dates pasted as text, one a line: "2027-01-01", optionally followed by the kind
    ("holiday" / "workday", or 休 / 班) and a note. All or nothing: any bad line and nothing is
    kept, each bad line named."""
    require_installation(request, "settings.holiday")
    lines = [(n, line.strip()) for n, line in enumerate(str(text or "").splitlines(), start=1)
             if line.strip() and not line.strip().startswith("#")]
    if not lines:
        raise Invalid(errors={"text": [str(_("Paste at least one date, one a line (2027-01-01)."))]})
    if len(lines) > MAX_IMPORT_LINES:
        raise Invalid(errors={"text": [str(_("At most %(n)d lines at once.") % {"n": MAX_IMPORT_LINES})]})
    problems: list[str] = []
    found: dict[dt.date, tuple[str, str]] = {}
    for number, line in lines:
        parts = re.split(r"[\s,;，；\t]+", line, maxsplit=2)
        day = _date(parts[0])
        kind = _day_kind(parts[1] if len(parts) > 1 else "")
        note = parts[2].strip() if len(parts) > 2 else ""
        errors = _check_day(day, kind, note)
        if kind is None:  # a typo such as "workdya" must not quietly become a holiday
            errors["kind"] = [str(_("After the date write holiday (休) or workday (班), or nothing."))]
        if not errors and day in found:
            errors = {"date": [str(_("This date is listed twice."))]}
        if errors:
            message = " ".join(m for ms in errors.values() for m in ms)
            problems.append(str(_("Line %(n)d: %(message)s") % {"n": number, "message": message}))
            continue
        found[day] = (kind, note)  # type: ignore[index]
    if problems:
        raise Invalid(errors={"text": problems})
    with transaction.atomic():
        rows = [Holiday.objects.update_or_create(date=day, defaults={"kind": kind, "note": note})[0]
                for day, (kind, note) in sorted(found.items())]
        audit(request, "settings.holiday.import", object_type="notify.holiday", object_id="import",
              detail=f"{len(rows)} dates {min(found):%Y-%m-%d}..{max(found):%Y-%m-%d}")
    return rows


# --- a person's own channels ----------------------------------------------------------------------

USERID_RE = re.compile(r"[A-Za-z0-9_.@\-]{1,64}")
TEST_MESSAGE = gettext_noop("Test message from Xinlian (%(place)s): alerts will reach you on this channel.")
TEST_LEVEL = gettext_noop("test")
TEST_INTERVAL = dt.timedelta(minutes=5)


def set_my_channels(request: HttpRequest, *, wecom_userid: Any, dingtalk_userid: Any,
                    phone: Any) -> User:
    """The acting user's own WeCom user id, DingTalk user id and mobile. The audit row names the
    fields that changed, never the number."""
    user = User.objects.get(pk=_user(request).pk)
    values = {"wecom_userid": str(wecom_userid or "").strip(),
              "dingtalk_userid": str(dingtalk_userid or "").strip(),
              "phone": PHONE_CHARS.sub("", str(phone or ""))}
    errors: dict[str, list[str]] = {}
    for name in ("wecom_userid", "dingtalk_userid"):
        if values[name] and not USERID_RE.fullmatch(values[name]):
            errors[name] = [str(_("A user id has 1 to 64 letters, digits or the signs _ . @ -."))]
    if values["phone"]:
        problem = phone_error(values["phone"])
        if problem:
            errors["phone"] = [problem]
    if errors:
        raise Invalid(errors=errors)
    changed = [name for name, value in values.items() if getattr(user, name) != value]
    if changed:
        with transaction.atomic():
            for name in changed:
                setattr(user, name, values[name])
            user.save(update_fields=changed)
            audit(request, "me.channels", user, detail=",".join(changed))
    request.user = user  # the page shows what was stored
    return user


@dataclass(frozen=True)
class Reach:
    """How one alert level reaches a person out of office hours."""

    level: str
    channels: list[str]          # channel labels, in the order they are tried
    held: bool                   # e-mail and push wait for office hours
    sms_after_minutes: int       # the SMS goes only when not acknowledged by then (0: at once)


def my_push_channels(user: Any) -> list[str]:
    """The personal channels that reach ``user`` on this installation, in the order tried."""
    found = []
    if user.wecom_userid and wecom_configured():
        found.append(Channel.WECOM_APP)
    if user.dingtalk_userid and dingtalk_configured():
        found.append(Channel.DINGTALK_APP)
    if sms_configured() and mobile_of(user):
        found.append(Channel.SMS)
    return found


def reach_at_night(user: Any) -> list[Reach]:
    """Per level, the channels an alert to ``user`` takes at night under the centre's policy (the
    same rules as :func:`xinlian.notify.services.personal_deliveries`)."""
    from .services import personal_channels_configured

    reach: list[Reach] = []
    push = push_channel(user)
    can_sms = sms_configured() and bool(mobile_of(user))
    for policy in channel_policies():
        labels = [str(Channel.INBOX.label)]
        if user.email and When.holds(policy.email, True):
            labels.append(str(Channel.EMAIL.label))
        want_push, want_sms = When.holds(policy.push, True), When.holds(policy.sms, True)
        sms_after = 0
        if personal_channels_configured() and (want_push or want_sms):
            if want_push and push:
                labels.append(str(Channel(push).label))
            sms_at_once = want_sms and policy.sms_after_minutes == 0
            if can_sms and (sms_at_once or (want_push and not push)):
                labels.append(str(Channel.SMS.label))
            elif can_sms and want_sms:
                labels.append(str(Channel.SMS.label))
                sms_after = policy.sms_after_minutes
        reach.append(Reach(level=policy.level, channels=labels,
                           held=policy.hold_in_quiet_hours and len(labels) > 1,
                           sms_after_minutes=sms_after))
    return reach


def send_test_message(request: HttpRequest) -> list[Delivery]:
    """Queue one test message to each personal channel the user has set, through the outbox (the
    worker sends it, with retries, as it sends alerts). At most one test every five minutes: an
    SMS costs money and a button can be pressed many times."""
    user = User.objects.get(pk=_user(request).pk)
    channels = my_push_channels(user)
    if not channels:
        raise Invalid(_("Nothing to test: set a WeCom or DingTalk user id or a mobile number first "
                        "(and the server must have that channel set up)."))
    now = timezone.now()
    if Delivery.objects.filter(recipient=user, message=TEST_MESSAGE, created_at__gt=now - TEST_INTERVAL).exists():
        raise Conflict(_("A test message was sent less than five minutes ago. Wait a few minutes "
                         "and try again."))
    posts = active_posts_of(user)
    place = posts[0].unit.display_name if posts else "心联"
    link = reverse("my-notifications")
    rows = []
    for channel in channels:
        address = {Channel.WECOM_APP: user.wecom_userid, Channel.DINGTALK_APP: user.dingtalk_userid}.get(channel, "")
        rows.append(Delivery(channel=channel, recipient=user, address=address, message=TEST_MESSAGE,
                             params={"level_label": TEST_LEVEL, "place": place}, link=link,
                             next_attempt_at=now, created_at=now))
    with transaction.atomic():
        created = Delivery.objects.bulk_create(rows)
        audit(request, "me.test_message", user, detail=",".join(channels))
    return created
