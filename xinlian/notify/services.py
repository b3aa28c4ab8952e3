"""Turning care events into deliveries — called inside the event's transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.translation import gettext_noop

from xinlian.network.models import UnitKind, User

from .hours import is_out_of_hours, next_office_hours_start
from .models import Channel, ChannelPolicy, Delivery, DeliveryStatus, Robot, When
from .onetap import onetap_link
from .personal import dingtalk_configured, push_channel, wecom_configured
from .sms import mobile_of, sms_configured

if TYPE_CHECKING:
    from xinlian.care.models import Alert

# Only the level, the place and a link: never a name or a category of concern.
RAISED = gettext_noop("A %(level_label)s alert for a student in %(place)s needs your acknowledgement.")
ESCALATED = gettext_noop(
    "A %(level_label)s alert for a student in %(place)s was not acknowledged in time and is now yours.")
LEVEL_LABELS = {"red": gettext_noop("red"), "orange": gettext_noop("orange"),
                "yellow": gettext_noop("yellow")}


def _fan_out(alert: Alert, people: Iterable[User], message: str) -> list[Delivery]:
    student = alert.student
    # The units that hold the student (the ladder has just read them: no query) give both the
    # place and the robots' units.
    units = student.units()
    place = " ".join(u.display_name for u in reversed(units)  # as Unit.breadcrumb() of the class
                     if u.kind not in (UnitKind.BUREAU, UnitKind.SCHOOL, UnitKind.DORMITORY))
    unit_ids = [u.pk for u in units]
    params = {"level_label": LEVEL_LABELS[alert.level], "place": place}
    link = alert.get_absolute_url()
    policy = ChannelPolicy.for_level(alert.level)
    now = timezone.now()
    night = is_out_of_hours(now)
    held_until = next_office_hours_start(now) if night and policy.hold_in_quiet_hours else now
    rows: list[Delivery] = []
    for user in people:
        rows.append(Delivery(channel=Channel.INBOX, recipient=user, message=message,
                             params=params, link=link, status="sent"))
        if user.email and When.holds(policy.email, night):
            rows.append(Delivery(channel=Channel.EMAIL, recipient=user, address=user.email,
                                 message=message, params=params, link=link,
                                 next_attempt_at=held_until))
        rows += personal_deliveries(alert.pk, user, policy, night, message, params, link,
                                    now=now, held_until=held_until)
    for robot in Robot.objects.filter(unit_id__in=unit_ids, is_active=True):
        if robot.hears(alert.level):
            rows.append(Delivery(channel=Channel.WEBHOOK, robot=robot, message=message,
                                 params=params, link=link))
    return Delivery.objects.bulk_create(rows)


UNREACHABLE = "no WeCom/DingTalk id and no mobile"


def personal_channels_configured() -> bool:
    return wecom_configured() or dingtalk_configured() or sms_configured()


def personal_link(alert_id: int | None, user_id: int | None, fallback: str = "") -> str:
    """A fresh one-tap link for this person and alert (each message its own, each used once)."""
    if alert_id is None or user_id is None:
        return fallback
    return onetap_link(alert_id, user_id)


def personal_deliveries(alert_id: int, user: User, policy: ChannelPolicy, night: bool, message: str,
                        params: dict, link: str, *, now: dt.datetime,
                        held_until: dt.datetime) -> list[Delivery]:
    """The messages to one person's phone that the policy asks for: push (WeCom, else DingTalk)
    and SMS — at once, or later and only if the alert is still open by then. A push that cannot
    get through hands over to SMS; a person nothing reaches is recorded as a failed delivery,
    so that the centre sees whom to fix."""
    want_push = When.holds(policy.push, night)
    want_sms = When.holds(policy.sms, night)
    if not (want_push or want_sms) or not personal_channels_configured():
        return []  # a deployment without personal channels: nobody is "unreachable" by them
    push = push_channel(user) if want_push else None
    can_sms = sms_configured() and bool(mobile_of(user))
    sms_at_once = want_sms and policy.sms_after_minutes == 0
    rows: list[Delivery] = []

    def row(channel: str, **kw) -> Delivery:  # noqa: ANN003
        kw.setdefault("next_attempt_at", now)
        return Delivery(channel=channel, recipient=user, message=message, params=params,
                        alert_id=alert_id, link=personal_link(alert_id, user.pk, link), **kw)

    if push:
        rows.append(row(push, address=getattr(user, f"{push.split('_')[0]}_userid"),
                        fallback=Channel.SMS if can_sms and not sms_at_once else "",
                        next_attempt_at=held_until))
    if can_sms and (sms_at_once or (want_push and not push)):
        rows.append(row(Channel.SMS))
    elif can_sms and want_sms:
        rows.append(row(Channel.SMS, only_if_open=True,
                        next_attempt_at=now + dt.timedelta(minutes=policy.sms_after_minutes)))
    if not push and not can_sms:
        rows.append(Delivery(channel=Channel.UNREACHABLE, recipient=user, message=message,
                             params=params, link=link, alert_id=alert_id,
                             status=DeliveryStatus.FAILED, last_error=UNREACHABLE))
    return rows


def alert_raised(alert: Alert, people: Iterable[User]) -> list[Delivery]:
    return _fan_out(alert, people, RAISED)


def alert_escalated(alert: Alert, people: Iterable[User]) -> list[Delivery]:
    return _fan_out(alert, people, ESCALATED)


BREAK_GLASS = gettext_noop(
    "Break-glass access was used on a crisis case in %(place)s. Review it in the audit trail.")


def break_glass_used(case, directors: Iterable[User]) -> list[Delivery]:  # noqa: ANN001
    place = case.student.klass.breadcrumb()
    rows = [Delivery(channel=Channel.INBOX, recipient=u, message=BREAK_GLASS,
                     params={"place": place}, link=case.get_absolute_url(), status="sent")
            for u in directors]
    rows += [Delivery(channel=Channel.EMAIL, recipient=u, address=u.email, message=BREAK_GLASS,
                      params={"place": place}, link=case.get_absolute_url())
             for u in directors if u.email]
    return Delivery.objects.bulk_create(rows)


def notify_users(people: Iterable[User], message: str, params: dict, link: str) -> list[Delivery]:
    """A plain message to named people (inbox, and e-mail where they have one). ``message`` is
    a msgid (marked with gettext_noop by the caller) rendered in each reader's language; params
    must never carry a name or anything sensitive."""
    rows: list[Delivery] = []
    for user in people:
        rows.append(Delivery(channel=Channel.INBOX, recipient=user, message=message,
                             params=params, link=link, status="sent"))
        if user.email:
            rows.append(Delivery(channel=Channel.EMAIL, recipient=user, address=user.email,
                                 message=message, params=params, link=link))
    return Delivery.objects.bulk_create(rows)
