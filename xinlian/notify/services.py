"""Turning care events into deliveries — called inside the event's transaction."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.utils.translation import gettext_noop

from xinlian.network.models import UnitKind, User

from .models import Channel, Delivery, Robot

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
    rows: list[Delivery] = []
    for user in people:
        rows.append(Delivery(channel=Channel.INBOX, recipient=user, message=message,
                             params=params, link=link, status="sent"))
        if user.email:
            rows.append(Delivery(channel=Channel.EMAIL, recipient=user, address=user.email,
                                 message=message, params=params, link=link))
    for robot in Robot.objects.filter(unit_id__in=unit_ids, is_active=True):
        if robot.hears(alert.level):
            rows.append(Delivery(channel=Channel.WEBHOOK, robot=robot, message=message,
                                 params=params, link=link))
    return Delivery.objects.bulk_create(rows)


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
